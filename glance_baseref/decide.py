"""Deciding what to do with an upload or an import request: reads only.

Everything here reads glance in-process, as the caller (the store list,
the base image, the target image, the staging node's stores), under one
deadline, ``lookup_timeout``: a read that outlives it sends the upload to
glance's default store. Nothing is written and no request is answered
here; the result is a :class:`~glance_baseref.decision.Decision`.
"""

import json
import logging
import os
import threading

from glance_baseref import baseref
from glance_baseref import deadline as deadline_mod
from glance_baseref import decision as d
from glance_baseref import import_request
from glance_baseref import inprocess
from glance_baseref import lineage
from glance_baseref import lookup
from glance_baseref import resume
from glance_baseref import settle
from glance_baseref import stage_host
from glance_baseref import stores

LOG = logging.getLogger(__name__)

_COPY_METHOD = 'copy-image'
_MUST_SUCCEED = 'all_stores_must_succeed'


class Decider:
    """Computes decisions for one filter; holds what lives per process."""

    def __init__(self, settings):
        self.settings = settings
        self._catalog = stores.StoreCatalogCache()
        self._reads = deadline_mod.BoundedReads()
        self._stage_host = stage_host.StageHostRule(settings.lookup_timeout)
        self._warned = set()
        self._warned_lock = threading.Lock()

    @property
    def reads(self):
        return self._reads

    def warn_once(self, key, msg, *args):
        with self._warned_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        LOG.warning(msg, *args)

    def upload(self, glance, image_id, header, content_length, deadline):
        """The decision for ``PUT /v2/images/{image_id}/file``.

        ``header`` is the raw base-image header, or None (then the target
        image's ``base_image_ref`` is followed).
        """
        return self._within(deadline, image_id, 'upload', lambda: (
            self._upload(glance, image_id, header, content_length)), header)

    def import_request(self, glance, image_id, header, body, deadline):
        """The decision for ``POST /v2/images/{image_id}/import``."""
        return self._within(deadline, image_id, 'import', lambda: (
            self._import(glance, image_id, header, body)), header)

    def _within(self, deadline, image_id, request, decide, header):
        try:
            return self._reads.run(decide, deadline)
        except deadline_mod.TimedOut as exc:
            return d.passing(image_id, request=request, base=_shown(header),
                             reason='the decision (the base image lookup '
                             'included) took %s, past lookup_timeout' % exc)

    def _catalog_or_decision(self, glance, image_id, request):
        try:
            catalog = self._catalog.get(glance)
        except Exception as exc:
            return None, d.passing(
                image_id, request=request,
                reason='the store list could not be read: %s' % exc)
        if not catalog.multistore:
            return None, d.passing(image_id, request=request, quiet=True)
        return catalog, None

    def _upload(self, glance, image_id, header, content_length):
        catalog, early = self._catalog_or_decision(glance, image_id,
                                                   'upload')
        if early is not None:
            return early
        target = _TargetImage(glance, image_id)
        if header is not None:
            try:
                base_id = baseref.parse_base_image_ref(header)
            except baseref.InvalidBaseImageRef as exc:
                return d.Decision(d.REFUSE, image_id, refusal=str(exc))
            base = base_id
        else:
            base_id, why_not = lineage.base_from_property(
                target.get() or {}, image_id)
            if base_id is None:
                return d.passing(image_id, quiet=not why_not,
                                 reason=why_not)
            base = base_id + ' (from its base_image_ref property)'

        targets = lookup.targets(glance, catalog, base_id,
                                 self.settings.allowed_stores)
        reason, chosen = targets.reason, targets.stores
        record_base = ''
        if (header is not None and self.settings.record_base_image
                and targets.base_visible and base_id != image_id
                and not target.unfit()):
            record_base, note = lineage.planned_record(target.get(), base_id)
            if note:
                reason = '%s; %s' % (reason, note)
        if len(chosen) > 1:
            reason, chosen = self._one_store_only(
                catalog, target, content_length, reason, chosen)
        if len(chosen) > 1:
            action = d.COLOCATE
        elif chosen:
            action = d.STEER
        else:
            action = d.HAND_ON
        return d.Decision(action, image_id, reason=reason, base=base,
                          stores=tuple(chosen), record_base=record_base)

    def _one_store_only(self, catalog, target, content_length, reason,
                        chosen):
        """Why several stores must become one, before anything is sent."""
        if not catalog.import_ready:
            self.warn_once(
                'import', 'glance_baseref: %s; uploads go to the first '
                'usable store of their base image only',
                catalog.import_unready_reason)
            return '%s, but %s' % (reason, catalog.import_unready_reason), (
                chosen[:1])
        why = target.unfit()
        if why:
            return '%s, but %s' % (reason, why), chosen[:1]
        staging = stores.staging_cannot_take(content_length)
        if staging:
            # A fault an operator must hear of, on every upload it costs.
            LOG.warning('glance_baseref: image %s: %s; it goes to %s only, '
                        'as a plain upload', target.image_id, staging,
                        chosen[0])
            return '%s, but %s' % (reason, staging), chosen[:1]
        return reason, chosen

    def _import(self, glance, image_id, header, body):
        catalog, early = self._catalog_or_decision(glance, image_id,
                                                   'import')
        if early is not None:
            return early
        if self.settings.resume_imports and body is not None and (
                _method(body) == 'glance-direct'):
            resuming = self._resume(glance, image_id, body)
            if resuming is not None:
                return resuming
        if header is None:
            return d.passing(image_id, request='import', quiet=True)
        try:
            base_id = baseref.parse_base_image_ref(header)
        except baseref.InvalidBaseImageRef as exc:
            return d.Decision(d.REFUSE, image_id, refusal=str(exc),
                              request='import')
        if body is None or import_request.chooses_own_stores(body):
            return d.passing(image_id, request='import', quiet=True)
        targets = lookup.targets(glance, catalog, base_id,
                                 self.settings.allowed_stores)
        if targets.stores and _method(body) == _COPY_METHOD:
            targets = _without_stores_it_has(glance, image_id, targets)
        if targets.stores:
            targets = self._stage_host.narrow(glance.context, image_id,
                                              body, targets)
        if not targets.stores:
            return d.passing(image_id, reason=targets.reason, base=base_id,
                             request='import')
        new_body = dict(body, stores=list(targets.stores))
        new_body.setdefault(_MUST_SUCCEED,
                            self.settings.all_stores_must_succeed)
        return d.Decision(d.FILL_IMPORT, image_id, reason=targets.reason,
                          base=base_id, stores=targets.stores,
                          import_body=json.dumps(new_body),
                          request='import')

    def _resume(self, glance, image_id, body):
        """A decision to resume a dead import, or None (not one)."""
        try:
            image = glance.get_image(image_id)
        except inprocess.GlanceError:
            return None
        if settle.MARK not in image or image.get('status') != 'importing':
            return None
        staged = stores.staged_data_path(image_id)
        why_not = ''
        if stores.stores_of(image):
            why_not = 'it is in %s already' % image.get('stores')
        elif staged is None or not os.path.exists(staged):
            why_not = 'its staged data is not on this node (marked %r)' % (
                image[settle.MARK])
        elif settle.task_alive(glance, image_id,
                               self.settings.watch_timeout):
            why_not = 'its import task still works'
        wanted = resume.stores_to_resume(image, body.get('stores'))
        if not why_not and not wanted:
            why_not = 'no store is left to write'
        if why_not:
            return d.passing(image_id, request='import',
                             reason='not resumed: %s' % why_not)
        new_body = {'method': {'name': 'glance-direct'},
                    'stores': list(wanted),
                    _MUST_SUCCEED: body.get(
                        _MUST_SUCCEED, self.settings.all_stores_must_succeed)}
        return d.Decision(d.RESUME, image_id, request='import',
                          reason='the import marked %r died'
                          % image[settle.MARK], stores=wanted,
                          import_body=json.dumps(new_body))


def _shown(header):
    """The header's base image for a log line, or '' when unreadable."""
    try:
        return baseref.parse_base_image_ref(header) if header else ''
    except baseref.InvalidBaseImageRef:
        return ''


def _method(body):
    method = body.get('method')
    return method.get('name') if isinstance(method, dict) else None


def _without_stores_it_has(glance, image_id, targets):
    """copy-image targets less the stores the image is in already.

    Glance answers 400 to a copy into a store that has the image; the
    stores it still lacks are what the caller wants.
    """
    try:
        image = glance.get_image(image_id)
    except inprocess.GlanceError:
        return targets  # glance answers the import for itself
    has = stores.stores_of(image)
    lacking = tuple(s for s in targets.stores if s not in has)
    if len(lacking) == len(targets.stores):
        return targets
    reason = '%s; the image is in %s already' % (targets.reason,
                                                 ','.join(has))
    return lookup.Targets(lacking, reason, targets.base_visible)


class _TargetImage:
    """The image being uploaded, read at most once and only when needed."""

    def __init__(self, glance, image_id):
        self._glance = glance
        self.image_id = image_id
        self._image = None
        self._error = None

    def get(self):
        """The image as the caller sees it, or None if it cannot be read."""
        if self._image is None and self._error is None:
            try:
                self._image = self._glance.get_image(self.image_id)
            except inprocess.GlanceError as exc:
                self._error = exc
        return self._image

    def unfit(self):
        """Why glance would refuse data for this image, if it would.

        Staging consumes the body, so a refusal found only at import time
        could not fall back to a plain upload any more; and nothing is
        recorded on an image whose upload glance refuses.
        """
        image = self.get()
        if image is None:
            return ('the image itself could not be read (%s)'
                    % self._error.status_int)
        if image.get('status') != 'queued':
            return 'the image is %s' % image.get('status')
        missing = [f for f in ('disk_format', 'container_format')
                   if not image.get(f)]
        if missing:
            return 'the image has no %s' % ' or '.join(missing)
        return ''
