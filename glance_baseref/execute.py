"""Carrying out a decision of :mod:`glance_baseref.decide`.

Only ``mode = enforce`` gets here: report mode logs the decision and hands
the request on, so nothing in this module asks which mode is on.
"""

import logging

import webob
import webob.exc

from glance_baseref import baseref
from glance_baseref import colocate
from glance_baseref import deadline as deadline_mod
from glance_baseref import decision as d
from glance_baseref import import_request
from glance_baseref import inprocess
from glance_baseref import lineage
from glance_baseref import resume
from glance_baseref import settle

LOG = logging.getLogger(__name__)


class Executor:
    def __init__(self, app, settings, reads, watcher):
        self.app = app
        self.settings = settings
        self._reads = reads
        self.colocated = colocate.ColocatedUpload(settings, watcher)

    def __call__(self, decision, environ, start_response, glance, deadline):
        """``(app_iter, outcome)``: the answer, and how it went."""
        action = decision.action
        if action == d.REFUSE:
            error = webob.exc.HTTPBadRequest(explanation=decision.refusal)
            return error(environ, start_response), 'refused'
        if action == d.FILL_IMPORT:
            import_request.replace_body(environ, decision.import_body)
            return self.app(environ, start_response), 'stores set'
        if action == d.RESUME:
            return self._resume(decision, environ, start_response, glance)
        if action == d.HAND_ON and decision.request == 'import':
            return self.app(environ, start_response), 'left alone'
        properties = {}
        if decision.record_base:
            properties[lineage.PROPERTY] = decision.record_base
        if action == d.COLOCATE:
            properties[settle.MARK] = settle.mark_value()
        written = self._write(glance, decision, properties, deadline)
        if action != d.COLOCATE:
            if action == d.STEER:
                environ[baseref.STORE_ENVIRON_KEY] = decision.stores[0]
            return self.app(environ, start_response), written + 'handed on'
        response, outcome = self.colocated.run(glance, decision)
        return response(environ, start_response), '%s%s, answered %s' % (
            written, outcome, response.status)

    def _resume(self, decision, environ, start_response, glance):
        """Set a dead import's image back to uploading, then hand on.

        Anything that goes wrong leaves the request as the caller sent it,
        for glance to answer (409 for an image still importing).
        """
        image_id = decision.image_id
        try:
            # The caller must be allowed to modify the image: glance's
            # own policy says so, through this PATCH as the caller.
            glance.set_properties(image_id,
                                  {settle.MARK: settle.mark_value()})
            resume.back_to_uploading(glance.context, image_id)
        except Exception as exc:
            LOG.warning('glance_baseref: image %s: the dead import could not '
                        'be resumed, the request goes on as sent: %s: %s',
                        image_id, type(exc).__name__, exc)
            return self.app(environ, start_response), 'not resumed'
        import_request.replace_body(environ, decision.import_body)
        response = webob.Request(environ).get_response(self.app)
        if response.status_int == 202:
            LOG.warning('glance_baseref: image %s: resumed the import that '
                        'a dead worker left, into %s', image_id,
                        ','.join(decision.stores))
            self.colocated.watcher.watch(glance, image_id, decision.stores)
        return response(environ, start_response), 'answered %s' % (
            response.status)

    def _write(self, glance, decision, properties, deadline):
        """Set the properties in one PATCH, as the caller; never fatal.

        Returns what went wrong, for the decision line ('' when nothing).
        """
        if not properties:
            return ''
        image_id = decision.image_id
        try:
            self._reads.run(
                lambda: glance.set_properties(image_id, properties),
                deadline)
            return ''
        except (inprocess.GlanceError, deadline_mod.TimedOut) as exc:
            error = exc
        if lineage.PROPERTY in properties:
            LOG.warning('glance_baseref: image %s: could not record its '
                        'base image %s in base_image_ref; the upload goes '
                        'on without it: %s', image_id,
                        properties[lineage.PROPERTY], error)
        if settle.MARK in properties:
            LOG.warning('glance_baseref: image %s: could not set %s; it is '
                        'imported without it, so after a crash of this '
                        'worker glance-baseref-audit cannot tell it was the '
                        'filter\'s: %s', image_id, settle.MARK, error)
        return ('base_image_ref not recorded; '
                if lineage.PROPERTY in properties else '')
