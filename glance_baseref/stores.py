"""Which stores this glance has, and which of a base image's stores to use."""

import dataclasses
import logging
import os
import threading

from oslo_config import cfg

from glance_baseref import inprocess

LOG = logging.getLogger(__name__)

RESERVED_PREFIX = 'os_glance_'
IMPORT_METHOD = 'glance-direct'


@dataclasses.dataclass(frozen=True)
class StoreCatalog:
    """What ``GET /v2/info/stores`` and ``/v2/info/import`` say, once."""

    multistore: bool
    writable: tuple = ()
    read_only: tuple = ()
    default: str = None
    import_ready: bool = False
    import_unready_reason: str = ''

    def not_enabled(self, base_stores):
        """The base image's stores that this glance-api does not have.

        With several glance-api nodes a store is often added one node at a
        time; the log line then says why a store was left out.
        """
        known = self.writable + self.read_only
        return [s for s in base_stores
                if s not in known and not s.startswith(RESERVED_PREFIX)]

    def usable(self, base_stores, allowed):
        """The base image's stores, in its order, that may be written.

        A store must be enabled here, writable, not reserved, and listed in
        ``allowed`` when that is not empty.
        """
        usable = []
        for store in base_stores:
            if store.startswith(RESERVED_PREFIX) or store in usable:
                continue
            if store not in self.writable:
                continue
            if allowed and store not in allowed:
                continue
            usable.append(store)
        return usable


def split_stores_info(info):
    """Writable and read-only stores, and the default, of ``/v2/info/stores``.

    Returns ``(writable, read_only, default)``: two tuples of store ids in
    glance's order, reserved ``os_glance_*`` stores left out, and the id
    of the default store (None when glance names none). Glance writes the
    flags as strings (``"read-only": "true"``).
    """
    writable, read_only, default = [], [], None
    for store in info.get('stores', []):
        store_id = store.get('id', '')
        if store_id.startswith(RESERVED_PREFIX):
            continue
        if str(store.get('read-only', 'false')).lower() == 'true':
            read_only.append(store_id)
        else:
            writable.append(store_id)
        if str(store.get('default', 'false')).lower() == 'true':
            default = store_id
    return tuple(writable), tuple(read_only), default


def stores_of(image, key='stores'):
    """Store ids in an image dict's ``key``, in glance's order.

    Glance joins them with commas (``stores``, ``os_glance_failed_import``,
    ...); an image in no store, or a glance without multi-store, has none.
    """
    return [s for s in (image.get(key) or '').split(',') if s]


_UNKNOWN = object()


def _staging_dir():
    """Where glance's staging store keeps staged data on this node.

    The filter runs inside glance-api, so glance's own configuration says
    where staging lives. Outside glance (unit tests) nothing is known:
    :data:`_UNKNOWN`.
    """
    try:
        return cfg.CONF['os_glance_staging_store'].filesystem_store_datadir
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, KeyError):
        return _UNKNOWN


def staging_cannot_take(content_length):
    """Why glance's staging store on this node cannot take an upload now.

    '' when it can, or when that cannot be known (outside glance, or a
    staging store that is not a local directory). Checked for every
    upload into several stores, before anything is sent to glance: a
    staging disk lost or filled after glance started would otherwise
    refuse the stage, possibly after reading part of the body, which
    cannot be read again.
    """
    path = _staging_dir()
    if path is _UNKNOWN:
        return ''
    if not path:
        return 'glance has no staging directory (os_glance_staging_store)'
    if not os.path.isdir(path):
        return 'the staging directory %s is missing' % path
    if not os.access(path, os.W_OK | os.X_OK):
        return 'the staging directory %s is not writable' % path
    if content_length:
        try:
            stat = os.statvfs(path)
        except OSError as exc:
            return 'the staging directory %s cannot be read: %s' % (
                path, exc)
        free = stat.f_bavail * stat.f_frsize
        if free < content_length:
            return ('the staging directory %s has %d bytes free for %d'
                    % (path, free, content_length))
    return ''


def staged_data_path(image_id):
    """The file glance stages an image's data in, or None if unknown.

    Glance's import removes it after writing the last store, right before
    it ends the task, which makes its absence a cheap sign that the end is
    near.
    """
    path = _staging_dir()
    if path is _UNKNOWN or not path:
        return None
    return os.path.join(path, image_id)


class StoreCatalogCache:
    """Reads the catalog with the first caller's context and keeps it.

    The stores and import methods of a glance-api process only change with
    a restart. Failed reads are not kept, so a passing error costs one
    retry on the next upload rather than a wrong answer until restart.
    """

    def __init__(self):
        self._catalog = None
        self._lock = threading.Lock()

    def get(self, glance):
        catalog = self._catalog
        if catalog is None:
            with self._lock:
                if self._catalog is None:
                    self._catalog = self._read(glance)
                catalog = self._catalog
        return catalog

    @staticmethod
    def _read(glance):
        try:
            info = glance.stores_info()
        except inprocess.GlanceError as exc:
            if exc.status_int == 404:
                LOG.info('glance_baseref: glance has no multi-store '
                         'configuration (GET /v2/info/stores is 404); '
                         'uploads pass through untouched')
                return StoreCatalog(multistore=False)
            raise
        writable, read_only, default = split_stores_info(info)
        methods = glance.import_info().get('import-methods', {}).get(
            'value', [])
        reason = ''
        if IMPORT_METHOD not in methods:
            reason = ('%s is not in enabled_import_methods (%s)'
                      % (IMPORT_METHOD, ', '.join(methods) or 'none'))
        catalog = StoreCatalog(
            multistore=True, writable=writable, read_only=read_only,
            default=default,
            import_ready=not reason, import_unready_reason=reason)
        LOG.info('glance_baseref: writable stores %s, read-only %s, '
                 'default %s, multi-store import %s',
                 ','.join(catalog.writable) or '-',
                 ','.join(catalog.read_only) or '-', default,
                 'unavailable: %s' % reason if reason else 'ready')
        return catalog
