"""Store images uploaded from volumes in every store of their base image.

Cinder (since Ussuri) sends ``x-openstack-base-image-ref: <uuid>`` when it
uploads a volume to glance: the image the volume was created from. This
filter makes the upload land in every store of glance where that base image
lives, so that images stay next to their parents in a multi-store glance.
Cinder needs no change: the same request gets the same answer.

What the filter does with ``PUT /v2/images/{id}/file``:

* no ``x-openstack-base-image-ref``, ``enabled = false``, or a glance
  without ``enabled_backends``: nothing, the request passes straight on
  (but see ``use_base_image_property``);
* ``x-image-meta-store`` present: nothing, the caller's store wins;
* a header that is not one UUID: 400 naming the header, before any byte
  of the image is read; the image stays ``queued``;
* the base image is looked up with the caller's own rights. When it is
  missing, invisible to the caller, not active, or in no usable store, the
  upload goes to glance's default store and the reason is logged at INFO;
* a base image the caller can see (whatever its status and stores, and
  not the image itself) is recorded in the new image's ``base_image_ref``
  property, as the caller, before the data is written
  (``record_base_image``); a refusal by glance is a WARNING, not an error;
* one usable store: the upload is steered there (``x-image-meta-store``);
* several: the upload is staged and imported with ``glance-direct`` into
  all of them; the caller gets glance's 204 when ``respond_after`` says:
  once every store is written (``all_stores``, the default: 204 means the
  image is active, a failed import is answered 500), once the image is
  active in its first store (``first_store``), or once glance has staged
  the data and accepted the import (``staged``: the image is still
  importing, and a failed import is not reported to the uploader; the
  filter deletes an image that ends up not active once glance's task
  stops, as it does for every import it no longer waits for).

With ``use_base_image_property`` an upload without the header and without
``x-image-meta-store`` (a Nova snapshot) whose image carries
``base_image_ref`` is treated as if the header named that image; a value
that is not one UUID, names the image itself, or a missing or invisible
image never fails the upload: it goes to the default store and the INFO
line says why. The header wins over the property.

``POST /v2/images/{id}/import`` with the header and no ``stores`` or
``all_stores`` gets the base image's usable stores as its ``stores``;
when the image was staged on another glance-api node, which glance then
hands the import to, only the stores that node has (see stage_host).
Every other request passes straight through.

With ``mode = report`` the filter decides all of this as usual, logs the
decision line prefixed ``would:`` (the stores and how, the property it
would set, or the 400 it would answer), and passes every request on
untouched: no steering, staging, 400 or property written.

Usable stores are the base image's stores, in its order, that are enabled
here, writable, not reserved (``os_glance_*``), and in ``allowed_stores``
when that is set.

Where it goes: right after the context filter, before ``cache`` and
``rootapp``, in every pipeline of glance-api-paste.ini::

    [composite:api]
    paste.composite_factory = glance.api:pipeline_factory
    keystone = cors http_proxy_to_wsgi versionnegotiation osprofiler \
authtoken context baseref rootapp
    ...

    [filter:baseref]
    use = egg:glance_baseref#baseref

Options come from the ``[glance_baseref]`` group of glance-api.conf; a key
of the same name in ``[filter:baseref]`` wins (``etc/paste.ini`` is a
complete file):

* ``enabled`` (true): false passes every request on untouched, silently;
* ``mode`` (enforce): ``report`` only logs what the filter would do;
* ``allowed_stores`` (empty = all): the stores the filter may choose;
* ``respond_after`` (all_stores): ``all_stores``, ``first_store`` or
  ``staged``, see above;
* ``wait_for_all_stores``: deprecated; true is ``respond_after =
  all_stores``, false ``first_store``; ``respond_after`` wins when both
  are set; using it logs one deprecation warning;
* ``all_stores_must_succeed`` (false): handed to glance's import;
* ``import_timeout`` (3600 s): past it the answer is 504 and the image is
  deleted once glance's import task stops, or after ``watch_timeout``
  (3600 s);
* ``poll_interval`` (1.0 s): the longest pause between looks at an
  importing image; a cheap check of glance's staged file every 0.05 s
  notices the end of the import sooner;
* ``use_base_image_property`` (false): follow ``base_image_ref`` of
  uploads without the header; costs such uploads one in-process GET;
* ``record_base_image`` (true): record the header's base image in
  ``base_image_ref``;
* ``lookup_timeout`` (10 s): past it the upload goes to the default store.

Glance needs ``enabled_backends``; writing several stores also needs
``glance-direct`` in ``enabled_import_methods`` and a staging store, and is
fastest with ``[image_import_opts] max_parallel_stores`` set to the number
of stores.

How glance-api is served matters (see serving, doc/scaling-out.md and
doc/compatibility.md). With ``respond_after = all_stores`` or
``first_store`` a co-located upload holds the thread that serves it until
glance has written the stores. Under uWSGI with one thread per process
(``threads`` unset) that process serves nothing else meanwhile, so the
filter logs one WARNING at start-up: give each process several threads,
or use ``respond_after = staged``. Under glance's eventlet server
(``glance-api`` of glance 28-32) requests wait on green threads and hold
no thread, so ``all_stores`` is the right mode there and the filter logs
one INFO line; ``staged`` and ``first_store`` get a WARNING instead,
because a worker that SIGHUP retires exits without waiting for imports
that outlive their request, and glance's import dies with it.
"""

import dataclasses
import logging
import re
import threading
import time

import webob.exc

from glance_baseref import baseref
from glance_baseref import colocate
from glance_baseref import import_request
from glance_baseref import inprocess
from glance_baseref import lineage
from glance_baseref import lookup
from glance_baseref import serving
from glance_baseref import settings as settings_mod
from glance_baseref import stage_host
from glance_baseref import stores

LOG = logging.getLogger(__name__)

# Glance image ids are UUIDs; anything else is left for glance to refuse.
_UPLOAD_PATH = re.compile(r'^/v2/images/([0-9A-Za-z-]+)/file$')
_IMPORT_PATH = re.compile(r'^/v2/images/([0-9A-Za-z-]+)/import$')


class BaseRefFilter:
    """The WSGI filter; see the module docstring.

    Deliberately not an oslo.middleware ``ConfigurableMiddleware``: that
    base class looks options up per request and, for a key set in paste,
    registers it on the global CONF (``_conf_get``). This filter reads and
    checks its settings once, when paste builds it, and never changes
    CONF (see :mod:`glance_baseref.settings`).
    """

    def __init__(self, app, local_conf=None):
        self.app = app
        self.settings = settings_mod.load(local_conf or {})
        self._catalog = stores.StoreCatalogCache()
        self._lookup = lookup.BaseImageLookup(self.settings.lookup_timeout)
        self._colocated = colocate.ColocatedUpload(self.settings)
        self._stage_host = stage_host.StageHostRule(
            self.settings.lookup_timeout)
        self._warned = set()
        self._warned_lock = threading.Lock()
        if not self.settings.enabled:
            LOG.info('glance_baseref: disabled; every request passes on '
                     'untouched')
        elif self.settings.report_only:
            LOG.info('glance_baseref: report mode; decisions are logged '
                     'with would: and every request passes on untouched')
        serving.check(self.settings)

    def __call__(self, environ, start_response):
        route = self._route(environ)
        if route is None:
            return self.app(environ, start_response)
        handler, image_id = route
        started = time.monotonic()
        glance, catalog, early = self._prepare(environ, start_response,
                                               image_id)
        if early is not None:
            return early
        return handler(environ, start_response, image_id, glance, catalog,
                       started)

    def _route(self, environ):
        """``(handler, image_id)`` for a request the filter looks at."""
        if not self.settings.enabled:
            return None
        has_header = baseref.BASE_IMAGE_ENVIRON_KEY in environ
        method = environ.get('REQUEST_METHOD')
        path = environ.get('PATH_INFO', '')
        match = None
        if method == 'PUT' and (
                has_header or self.settings.use_base_image_property):
            match, handler = _UPLOAD_PATH.match(path), self._upload
        elif method == 'POST' and has_header:
            match, handler = _IMPORT_PATH.match(path), self._import
        if match is None:
            return None
        if baseref.STORE_ENVIRON_KEY in environ:
            if has_header:
                LOG.info('%simage %s: x-image-meta-store %r wins over the '
                         'base image', self.settings.log_prefix,
                         match.group(1), environ[baseref.STORE_ENVIRON_KEY])
            return None
        return handler, match.group(1)

    def _warn_once(self, key, msg, *args):
        with self._warned_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        LOG.warning(msg, *args)

    def _prepare(self, environ, start_response, image_id):
        """What both paths need before deciding, or an early answer.

        Returns ``(glance, catalog, None)`` to go on, or
        ``(None, None, response_iter)`` to answer at once.
        """
        if inprocess.request_context(environ) is None:
            self._warn_once(
                'context', 'glance_baseref: requests reach the filter '
                'without a request context; put baseref right after the '
                'context filter in glance-api-paste.ini. Passing them on.')
            return None, None, self.app(environ, start_response)
        glance = inprocess.InProcessGlance(self.app, environ)
        try:
            catalog = self._catalog.get(glance)
        except Exception as exc:
            LOG.info('%simage %s goes to the default store: the store list '
                     'could not be read: %s', self.settings.log_prefix,
                     image_id, exc)
            return None, None, self.app(environ, start_response)
        if not catalog.multistore:
            return None, None, self.app(environ, start_response)
        return glance, catalog, None

    def _base_from_header(self, environ, start_response, image_id):
        """``(base_id, None)``, or ``(None, answer)`` for a bad header."""
        try:
            return baseref.parse_base_image_ref(
                environ[baseref.BASE_IMAGE_ENVIRON_KEY]), None
        except baseref.InvalidBaseImageRef as exc:
            if self.settings.report_only:
                LOG.info('%simage %s refused with 400: %s',
                         self.settings.log_prefix, image_id, exc)
                return None, self.app(environ, start_response)
            LOG.info('glance_baseref: image %s refused: %s', image_id, exc)
            error = webob.exc.HTTPBadRequest(explanation=str(exc))
            return None, error(environ, start_response)

    def _upload(self, environ, start_response, image_id, glance, catalog,
                started):
        target = _TargetImage(glance, image_id)
        if baseref.BASE_IMAGE_ENVIRON_KEY in environ:
            base_id, early = self._base_from_header(environ, start_response,
                                                    image_id)
            if early is not None:
                return early
            source = ''
        else:
            base_id, why_not = lineage.base_from_property(
                target.get() or {}, image_id)
            if base_id is None:
                if why_not:
                    LOG.info('%simage %s: %s; stores default by upload to '
                             'the default store', self.settings.log_prefix,
                             image_id, why_not)
                return self.app(environ, start_response)
            source = ' (from its base_image_ref property)'

        targets = self._lookup.targets(glance, catalog, base_id,
                                       self.settings.allowed_stores)
        if (not source and self.settings.record_base_image
                and targets.base_visible and base_id != image_id
                and not target.unfit()):
            recorded = lineage.record(glance, target.get(), image_id,
                                      base_id, self.settings)
            if recorded:
                targets = dataclasses.replace(
                    targets, reason='%s; %s' % (targets.reason, recorded))
        if len(targets.stores) > 1 and not catalog.import_ready:
            self._warn_once(
                'import', 'glance_baseref: %s; uploads go to the first '
                'usable store of their base image only',
                catalog.import_unready_reason)
            targets = dataclasses.replace(targets,
                                          stores=targets.stores[:1])
        if len(targets.stores) > 1:
            unfit = target.unfit()
            if unfit:
                targets = dataclasses.replace(
                    targets, stores=targets.stores[:1],
                    reason='%s, but %s' % (targets.reason, unfit))
        base = base_id + source

        if len(targets.stores) > 1:
            if self.settings.report_only:
                return self._report(environ, start_response, image_id, base,
                                    targets, 'stage+import', started)
            response, outcome = self._colocated.run(glance, image_id,
                                                    targets.stores)
            self._log(image_id, base, targets, 'stage+import',
                      '%s, answered %s' % (outcome, response.status),
                      started)
            return response(environ, start_response)

        if targets.stores:
            how = 'upload to %s' % targets.stores[0]
        else:
            how = 'upload to the default store'
        if self.settings.report_only:
            return self._report(environ, start_response, image_id, base,
                                targets, how, started)
        if targets.stores:
            environ[baseref.STORE_ENVIRON_KEY] = targets.stores[0]
        result = self.app(environ, start_response)
        self._log(image_id, base, targets, how, 'handed on', started)
        return result

    def _report(self, environ, start_response, image_id, base, targets, how,
                started):
        """Report mode: say what would have happened, change nothing."""
        self._log(image_id, base, targets, how, 'handed on untouched',
                  started)
        return self.app(environ, start_response)

    def _import(self, environ, start_response, image_id, glance, catalog,
                started):
        base_id, early = self._base_from_header(environ, start_response,
                                                image_id)
        if early is not None:
            return early
        body = import_request.read_small_json_object(environ)
        if body is None or import_request.chooses_own_stores(body):
            return self.app(environ, start_response)
        targets = self._lookup.targets(glance, catalog, base_id,
                                       self.settings.allowed_stores)
        if targets.stores:
            targets = self._stage_host.narrow(glance.context, image_id, body,
                                              targets)
        if self.settings.report_only:
            return self._report(environ, start_response, image_id, base_id,
                                targets, 'import request', started)
        if targets.stores:
            body['stores'] = list(targets.stores)
            import_request.replace_body(environ, body)
        self._log(image_id, base_id, targets, 'import request',
                  'stores set' if targets.stores else 'left alone', started)
        return self.app(environ, start_response)

    def _log(self, image_id, base, targets, how, outcome, started):
        LOG.info('%simage %s base %s: %s; stores %s by %s; %s in %.3fs',
                 self.settings.log_prefix, image_id, base, targets.reason,
                 ','.join(targets.stores) or 'default', how, outcome,
                 time.monotonic() - started)


class _TargetImage:
    """The image being uploaded, read at most once and only when needed."""

    def __init__(self, glance, image_id):
        self._glance = glance
        self._image_id = image_id
        self._image = None
        self._error = None

    def get(self):
        """The image as the caller sees it, or None if it cannot be read."""
        if self._image is None and self._error is None:
            try:
                self._image = self._glance.get_image(self._image_id)
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


def filter_factory(global_conf, **local_conf):
    """Paste entry point: ``use = egg:glance_baseref#baseref``."""
    def _filter(app):
        return BaseRefFilter(app, local_conf)
    return _filter
