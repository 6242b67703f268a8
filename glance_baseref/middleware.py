"""Store images uploaded from volumes in every store of their base image.

Cinder (since Ussuri) sends ``x-openstack-base-image-ref: <uuid>`` when it
uploads a volume to glance: the image the volume was created from. This
filter makes the upload land in every store of glance where that base image
lives, so that images stay next to their parents in a multi-store glance.
Cinder needs no change: the same request gets the same answer.

What the filter does with ``PUT /v2/images/{id}/file``:

* no ``x-openstack-base-image-ref``, ``enabled = false``, or a glance
  without ``enabled_backends``: nothing, the request passes straight on;
* ``x-image-meta-store`` present: nothing, the caller's store wins;
* a header that is not one UUID: 400 naming the header, before any byte
  of the image is read; the image stays ``queued``;
* the base image is looked up with the caller's own rights. When it is
  missing, invisible to the caller, not active, or in no usable store, the
  upload goes to glance's default store and the reason is logged at INFO;
* one usable store: the upload is steered there (``x-image-meta-store``);
* several: the upload is staged and imported with ``glance-direct`` into
  all of them; the caller gets glance's 204 once the image is active
  (every store written, unless ``wait_for_all_stores = false``).

``POST /v2/images/{id}/import`` with the header and no ``stores`` or
``all_stores`` gets the base image's usable stores as its ``stores``.
Every other request passes straight through.

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

* ``enabled`` (true): false passes every request on untouched;
* ``allowed_stores`` (empty = all): the stores the filter may choose;
* ``wait_for_all_stores`` (true): answer when every store is written, or,
  when false, once the image is active in its first store;
* ``all_stores_must_succeed`` (false): handed to glance's import;
* ``import_timeout`` (3600 s): past it the answer is 504 and the image is
  deleted once glance's import task stops, or after ``watch_timeout``
  (3600 s);
* ``poll_interval`` (1.0 s): the longest pause between looks at an
  importing image;
* ``lookup_timeout`` (10 s): past it the upload goes to the default store.

Glance needs ``enabled_backends``; writing several stores also needs
``glance-direct`` in ``enabled_import_methods`` and a staging store, and is
fastest with ``[image_import_opts] max_parallel_stores`` set to the number
of stores.
"""

import logging
import re
import threading
import time

import webob.exc

from glance_baseref import baseref
from glance_baseref import colocate
from glance_baseref import import_request
from glance_baseref import inprocess
from glance_baseref import lookup
from glance_baseref import settings as settings_mod
from glance_baseref import stores

LOG = logging.getLogger(__name__)

# Glance image ids are UUIDs; anything else is left for glance to refuse.
_UPLOAD_PATH = re.compile(r'^/v2/images/([0-9A-Za-z-]+)/file$')
_IMPORT_PATH = re.compile(r'^/v2/images/([0-9A-Za-z-]+)/import$')


class BaseRefFilter:
    """The WSGI filter; see the module docstring."""

    def __init__(self, app, local_conf=None):
        self.app = app
        self.settings = settings_mod.load(local_conf or {})
        self._catalog = stores.StoreCatalogCache()
        self._lookup = lookup.BaseImageLookup(self.settings.lookup_timeout)
        self._colocated = colocate.ColocatedUpload(self.settings)
        self._warned = set()
        self._warned_lock = threading.Lock()
        if not self.settings.enabled:
            LOG.info('glance_baseref: disabled; every request passes on '
                     'untouched')

    def __call__(self, environ, start_response):
        if (not self.settings.enabled
                or baseref.BASE_IMAGE_ENVIRON_KEY not in environ):
            return self.app(environ, start_response)
        method = environ.get('REQUEST_METHOD')
        path = environ.get('PATH_INFO', '')
        if method == 'PUT':
            match = _UPLOAD_PATH.match(path)
            handler = self._upload
        elif method == 'POST':
            match = _IMPORT_PATH.match(path)
            handler = self._import
        else:
            match = None
        if match is None or baseref.STORE_ENVIRON_KEY in environ:
            if match is not None:
                LOG.info('glance_baseref: image %s: x-image-meta-store %r '
                         'wins over the base image', match.group(1),
                         environ[baseref.STORE_ENVIRON_KEY])
            return self.app(environ, start_response)
        started = time.monotonic()
        image_id = match.group(1)
        glance, catalog, base_id, early = self._prepare(
            environ, start_response, image_id)
        if early is not None:
            return early
        return handler(environ, start_response, image_id, glance, catalog,
                       base_id, started)

    def _warn_once(self, key, msg, *args):
        with self._warned_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        LOG.warning(msg, *args)

    def _prepare(self, environ, start_response, image_id):
        """Everything both paths need before deciding, or an early answer.

        Returns ``(glance, catalog, base_id, None)`` to go on, or
        ``(None, None, None, response_iter)`` to answer at once.
        """
        if inprocess.request_context(environ) is None:
            self._warn_once(
                'context', 'glance_baseref: requests reach the filter '
                'without a request context; put baseref right after the '
                'context filter in glance-api-paste.ini. Passing them on.')
            return None, None, None, self.app(environ, start_response)
        glance = inprocess.InProcessGlance(self.app, environ)
        try:
            catalog = self._catalog.get(glance)
        except Exception as exc:
            LOG.info('glance_baseref: image %s goes to the default store: '
                     'the store list could not be read: %s', image_id, exc)
            return None, None, None, self.app(environ, start_response)
        if not catalog.multistore:
            return None, None, None, self.app(environ, start_response)
        try:
            base_id = baseref.parse_base_image_ref(
                environ[baseref.BASE_IMAGE_ENVIRON_KEY])
        except baseref.InvalidBaseImageRef as exc:
            LOG.info('glance_baseref: image %s refused: %s', image_id, exc)
            error = webob.exc.HTTPBadRequest(explanation=str(exc))
            return None, None, None, error(environ, start_response)
        return glance, catalog, base_id, None

    def _upload(self, environ, start_response, image_id, glance,
                catalog, base_id, started):
        targets = self._lookup.targets(glance, catalog, base_id,
                                       self.settings.allowed_stores)
        if len(targets.stores) > 1 and not catalog.import_ready:
            self._warn_once(
                'import', 'glance_baseref: %s; uploads go to the first '
                'usable store of their base image only',
                catalog.import_unready_reason)
            targets = lookup.Targets(targets.stores[:1], targets.reason)
        if len(targets.stores) > 1:
            unfit = self._unfit_for_import(glance, image_id)
            if unfit:
                targets = lookup.Targets(targets.stores[:1],
                                         '%s, but %s' % (targets.reason,
                                                         unfit))

        if len(targets.stores) > 1:
            response, outcome = self._colocated.run(glance, image_id,
                                                    targets.stores)
            self._log(image_id, base_id, targets, 'stage+import',
                      '%s, answered %s' % (outcome, response.status),
                      started)
            return response(environ, start_response)

        if targets.stores:
            environ[baseref.STORE_ENVIRON_KEY] = targets.stores[0]
            how = 'upload to %s' % targets.stores[0]
        else:
            how = 'upload to the default store'
        result = self.app(environ, start_response)
        self._log(image_id, base_id, targets, how, 'handed on', started)
        return result

    @staticmethod
    def _unfit_for_import(glance, image_id):
        """Why glance would refuse to import this image, if it would.

        Staging consumes the body, so a refusal found only at import time
        could not fall back to a plain upload any more.
        """
        try:
            image = glance.get_image(image_id)
        except inprocess.GlanceError as exc:
            return 'the image itself could not be read (%s)' % exc.status_int
        if image.get('status') != 'queued':
            return 'the image is %s' % image.get('status')
        missing = [f for f in ('disk_format', 'container_format')
                   if not image.get(f)]
        if missing:
            return 'the image has no %s' % ' or '.join(missing)
        return ''

    def _import(self, environ, start_response, image_id, glance,
                catalog, base_id, started):
        body = import_request.read_small_json_object(environ)
        if body is None or import_request.chooses_own_stores(body):
            return self.app(environ, start_response)
        targets = self._lookup.targets(glance, catalog, base_id,
                                       self.settings.allowed_stores)
        if targets.stores:
            body['stores'] = list(targets.stores)
            import_request.replace_body(environ, body)
        self._log(image_id, base_id, targets, 'import request',
                  'stores set' if targets.stores else 'left alone', started)
        return self.app(environ, start_response)

    @staticmethod
    def _log(image_id, base_id, targets, how, outcome, started):
        LOG.info('glance_baseref: image %s base %s: %s; stores %s by %s; '
                 '%s in %.3fs', image_id, base_id, targets.reason,
                 ','.join(targets.stores) or 'default', how, outcome,
                 time.monotonic() - started)


def filter_factory(global_conf, **local_conf):
    """Paste entry point: ``use = egg:glance_baseref#baseref``."""
    def _filter(app):
        return BaseRefFilter(app, local_conf)
    return _filter
