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
  importing, and a failed import is not reported to the uploader). The
  image carries the property ``baseref_import`` (time and node) until it
  has settled; an import the upload no longer waits for is followed by a
  bounded watcher per worker process, which removes the mark from an active
  image and deletes one that ends up not active once glance's task stops.
  After a crash, ``glance-baseref-audit`` finds marked images.

Never worse than glance alone: when glance's staging cannot take the upload
(its directory on this node is missing, not writable or too full, seen
before anything is sent; or glance refuses the stage before reading a byte:
a quota, a policy), the upload goes to the first of the stores as a plain
upload and a WARNING says why. Once glance has read part of the body
nothing can be sent again, and the caller gets glance's answer. Any error
after the stage was accepted is a 500 naming the image, which is cleaned
up once glance's task stops.

With ``use_base_image_property`` an upload without the header and without
``x-image-meta-store`` (a Nova snapshot) whose image carries
``base_image_ref`` is treated as if the header named that image; a value
that is not one UUID, names the image itself, or a missing or invisible
image never fails the upload: it goes to the default store and the INFO
line says why. The header wins over the property.

``POST /v2/images/{id}/import`` with the header and no ``stores`` or
``all_stores`` gets the base image's usable stores as its ``stores`` (for
``copy-image``, less those the image is in already) and, unless the caller
set it, ``all_stores_must_succeed`` from this filter's option (glance's own
default there is true); when the image was staged on another glance-api
node, which glance then hands the import to, only the stores that node has
(see stage_host). Every other request passes straight through.

Each request the filter acts on is decided first, by reads only, under one
deadline (``lookup_timeout``), into a plain decision; the decision is logged
and then carried out.

With ``mode = report`` the filter decides all of this as usual, logs the
decision line prefixed ``would:`` (the stores and how, the property it
would set, or the 400 it would answer), and passes every request on
untouched: the decision is never handed to the part that acts.

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
* ``all_stores_must_succeed`` (false): handed to glance's import; true
  needs ``respond_after = all_stores`` (glance-api refuses to start
  otherwise, naming both);
* ``import_timeout`` (3600 s): past it an image active in some stores is
  answered 204 and the rest of the import followed; otherwise the answer
  is 504 and the image is deleted once glance's import task stops;
* ``watch_timeout`` (3600 s): how long glance's import task may go without
  progress before a watched import is taken as dead;
* ``poll_interval`` (1.0 s): the longest pause between looks at an
  importing image; a cheap check of glance's staged file every 0.05 s
  notices the end of the import sooner;
* ``use_base_image_property`` (false): follow ``base_image_ref`` of
  uploads without the header; costs such uploads one in-process GET;
* ``record_base_image`` (true): record the header's base image in
  ``base_image_ref``;
* ``resume_imports`` (false): a ``glance-direct`` import request resumes
  an import of the filter's whose worker died (see
  :mod:`glance_baseref.resume`);
* ``lookup_timeout`` (10 s): the deadline of the whole decision (store
  list, base and target image, the other node's stores, the property
  write); past it the upload goes to the default store.

At start-up one INFO line lists the settings that were set, and where each
came from (paste, glance-api.conf, or paste over glance-api.conf).

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

import logging
import re
import threading
import time

from glance_baseref import baseref
from glance_baseref import deadline as deadline_mod
from glance_baseref import decide
from glance_baseref import decision as d
from glance_baseref import execute
from glance_baseref import import_request
from glance_baseref import inprocess
from glance_baseref import serving
from glance_baseref import settings as settings_mod
from glance_baseref import watcher as watcher_mod

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

    Each request it looks at is decided first (:mod:`glance_baseref.decide`,
    reads only), then the decision is logged and, unless ``mode = report``,
    carried out (:mod:`glance_baseref.execute`).
    """

    def __init__(self, app, local_conf=None):
        self.app = app
        self.settings = settings_mod.load(local_conf or {})
        self.watcher = watcher_mod.ImportWatcher(self.settings)
        self.decider = decide.Decider(self.settings)
        self.executor = execute.Executor(app, self.settings,
                                         self.decider.reads, self.watcher)
        self._context_warned = threading.Event()
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
        request, image_id = route
        if inprocess.request_context(environ) is None:
            if not self._context_warned.is_set():
                self._context_warned.set()
                LOG.warning('glance_baseref: requests reach the filter '
                            'without a request context; put baseref right '
                            'after the context filter in '
                            'glance-api-paste.ini. Passing them on.')
            return self.app(environ, start_response)
        started = time.monotonic()
        deadline = deadline_mod.Deadline(self.settings.lookup_timeout)
        glance = inprocess.InProcessGlance(self.app, environ)
        header = environ.get(baseref.BASE_IMAGE_ENVIRON_KEY)
        if request == 'upload':
            decision = self.decider.upload(
                glance, image_id, header, _content_length(environ),
                deadline)
        else:
            decision = self.decider.import_request(
                glance, image_id, header,
                import_request.read_small_json_object(environ), deadline)
        if decision.quiet:
            return self.app(environ, start_response)
        if self.settings.report_only:
            self._log(decision, 'handed on untouched', started)
            return self.app(environ, start_response)
        result, outcome = self.executor(decision, environ, start_response,
                                        glance, deadline)
        self._log(decision, outcome, started)
        return result

    def _route(self, environ):
        """``(request, image_id)`` for a request the filter looks at."""
        if not self.settings.enabled:
            return None
        has_header = baseref.BASE_IMAGE_ENVIRON_KEY in environ
        method = environ.get('REQUEST_METHOD')
        path = environ.get('PATH_INFO', '')
        match = None
        if method == 'PUT' and (
                has_header or self.settings.use_base_image_property):
            match, request = _UPLOAD_PATH.match(path), 'upload'
        elif method == 'POST' and (
                has_header or self.settings.resume_imports):
            match, request = _IMPORT_PATH.match(path), 'import'
        if match is None:
            return None
        if baseref.STORE_ENVIRON_KEY in environ:
            if has_header:
                LOG.info('%simage %s: x-image-meta-store %r wins over the '
                         'base image', self.settings.log_prefix,
                         match.group(1), environ[baseref.STORE_ENVIRON_KEY])
            return None
        return request, match.group(1)

    def _log(self, decision, outcome, started):
        prefix = self.settings.log_prefix
        if decision.action == d.REFUSE:
            LOG.info('%simage %s refused with 400: %s', prefix,
                     decision.image_id, decision.refusal)
        elif not decision.base:
            LOG.info('%simage %s: %s; stores default by %s; %s in %.3fs',
                     prefix, decision.image_id, decision.reason,
                     decision.how, outcome, time.monotonic() - started)
        else:
            LOG.info('%simage %s base %s: %s; stores %s by %s; %s in %.3fs',
                     prefix, decision.image_id, decision.base,
                     decision.reason, ','.join(decision.stores) or 'default',
                     decision.how, outcome, time.monotonic() - started)


def _content_length(environ):
    try:
        return int(environ.get('CONTENT_LENGTH') or 0) or None
    except ValueError:
        return None


def filter_factory(global_conf, **local_conf):
    """Paste entry point: ``use = egg:glance_baseref#baseref``."""
    def _filter(app):
        return BaseRefFilter(app, local_conf)
    return _filter
