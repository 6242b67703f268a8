"""Finding the stores of the base image, as the caller sees it."""

import concurrent.futures
import dataclasses
import threading

from glance_baseref import inprocess
from glance_baseref import stores


@dataclasses.dataclass(frozen=True)
class Targets:
    """Where an upload should go; no stores means glance's default store."""

    stores: tuple
    reason: str
    # The caller could read the base image (whatever its status/stores).
    base_visible: bool = False


class BaseImageLookup:
    """Looks the base image up with a time limit.

    The lookup runs on a small pool of threads so that a hung database
    call costs the upload ``timeout`` seconds and a fallback to the default
    store, never the upload itself. The pool is made on first use so that
    every worker process gets its own.
    """

    _POOL_SIZE = 4

    def __init__(self, timeout):
        self._timeout = timeout
        self._pool = None
        self._lock = threading.Lock()

    def _executor(self):
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        self._POOL_SIZE,
                        thread_name_prefix='glance-baseref-lookup')
        return self._pool

    def targets(self, glance, catalog, base_id, allowed):
        future = self._executor().submit(glance.get_image, base_id)
        try:
            base = future.result(timeout=self._timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return Targets((), 'the base image lookup took more than %gs'
                           % self._timeout)
        except inprocess.GlanceError as exc:
            if exc.status_int == 404:
                # Missing and invisible read the same, on purpose.
                return Targets((), 'the base image was not found')
            return Targets((), 'the base image lookup failed: %s' % exc)
        except Exception as exc:
            return Targets((), 'the base image lookup failed: %s: %s'
                           % (type(exc).__name__, exc))

        return self._from_base(base, catalog, allowed)

    @staticmethod
    def _from_base(base, catalog, allowed):
        def visible(stores, reason):
            return Targets(tuple(stores), reason, base_visible=True)
        if base.get('status') != 'active':
            return visible((), 'the base image is %s, not active'
                           % base.get('status'))
        base_stores = stores.stores_of(base)
        if not base_stores:
            return visible((), 'the base image is in no store')
        usable = catalog.usable(base_stores, allowed)
        not_enabled = catalog.not_enabled(base_stores)
        absent = ''
        if not_enabled:
            absent = ' (%s %s not enabled here)' % (
                ','.join(not_enabled), 'is' if len(not_enabled) == 1
                else 'are')
        if not usable:
            return visible((), 'none of the base image stores (%s) is '
                           'usable here%s' % (','.join(base_stores), absent))
        return visible(usable, 'the base image is in %s%s'
                       % (','.join(base_stores), absent))
