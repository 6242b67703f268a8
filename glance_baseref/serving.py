"""How glance-api serves requests here, and what the filter says about it.

A co-located upload with ``respond_after = all_stores`` (or
``first_store``) keeps its request, and so the thread serving it, until
glance has written the stores (or the first one). Under uWSGI with one
thread per process (``threads`` unset, as in glance's own uWSGI example,
kolla-ansible 2026.1 and openstack-ansible) the process then serves
nothing else meanwhile: requests that uWSGI gave to it wait. Measured
(doc/scaling-out.md): beside two co-located uploads, a GET of one image
waits seconds at 2 processes x 1 thread, tens of milliseconds at 2 x 4.
The filter sees this shape through the ``uwsgi`` module and logs one
WARNING at start-up (from the first worker, or the master). Under
mod_wsgi or another server it cannot read the shape and says nothing.

glance's eventlet server (``glance-api`` of glance 28-32, kolla-ansible up
to 2025.2) serves each request on a green thread: a waiting upload yields
to the hub and holds no thread, so ``all_stores`` costs no capacity there
and the filter logs one INFO line saying so. What does not work there is
answering before the import ends (``staged``, ``first_store``): on SIGHUP
glance retires a worker once its requests are answered, without waiting
for imports, and the import dies with it (measured on glance 30.2.0). The
filter logs one WARNING at start-up for that combination.
"""

import collections
import logging
import sys

from glance_baseref import settings as settings_mod

LOG = logging.getLogger(__name__)

#: How glance-api serves: ``server`` is 'uwsgi', 'eventlet' or 'other';
#: ``threads`` per process, when the filter can read it.
Shape = collections.namedtuple('Shape', 'server threads processes')

_HOLDING_MODES = (settings_mod.ALL_STORES, settings_mod.FIRST_STORE)


def green_threads():
    """Whether eventlet has monkey-patched threads in this process."""
    eventlet = sys.modules.get('eventlet')
    if eventlet is None:
        return False
    try:
        from eventlet import patcher
        return bool(patcher.is_monkey_patched('thread'))
    except Exception:  # noqa: BLE001 - an unusual eventlet: assume not
        return False


def _uwsgi_number(uwsgi, option, default):
    value = uwsgi.opt.get(option, uwsgi.opt.get(option.encode(), default))
    if isinstance(value, list):  # an option given more than once
        value = value[-1]
    if isinstance(value, bytes):
        value = value.decode('ascii', 'replace')
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def current_shape():
    """The serving shape of this process."""
    if green_threads():
        return Shape('eventlet', None, None)
    uwsgi = sys.modules.get('uwsgi')
    if uwsgi is None:
        try:
            import uwsgi  # only importable inside uWSGI
        except ImportError:
            return Shape('other', None, None)
    if not hasattr(uwsgi, 'opt'):
        return Shape('other', None, None)
    return Shape('uwsgi', _uwsgi_number(uwsgi, 'threads', 1),
                 getattr(uwsgi, 'numproc', None))


def _first_of_its_server():
    """Whether this is uWSGI's master or first worker (log only once)."""
    uwsgi = sys.modules.get('uwsgi')
    try:
        return uwsgi.worker_id() <= 1
    except Exception:  # noqa: BLE001 - no worker id: log anyway
        return True


def holds_the_only_thread(settings, shape):
    """Whether a co-located upload keeps its process from serving."""
    return (settings.enabled and not settings.report_only
            and shape.server == 'uwsgi' and shape.threads == 1
            and settings.respond_after in _HOLDING_MODES)


def _eventlet_message(settings):
    """What respond_after means under glance's eventlet server."""
    if settings.respond_after in (settings_mod.STAGED,
                                  settings_mod.FIRST_STORE):
        return logging.WARNING, (
            'glance_baseref: glance\'s eventlet server with respond_after '
            '= %s: the upload is answered while glance still imports it, '
            'and a worker that SIGHUP (a reload) retires exits without '
            'waiting for such imports, leaving the image locked in '
            'uploading or importing with its staged data. Under this '
            'server respond_after = all_stores holds no thread (requests '
            'wait on green threads) and a retiring worker finishes its '
            'imports first; see doc/compatibility.md'
            % settings.respond_after)
    return logging.INFO, (
        'glance_baseref: glance\'s eventlet server: co-located uploads '
        'wait for their imports on green threads of this worker and hold '
        'no thread (respond_after = all_stores)')


def check(settings, shape=None):
    """Log, once at start-up, what the serving shape means for the filter.

    Returns the message logged, or None.
    """
    shape = shape or current_shape()
    if holds_the_only_thread(settings, shape):
        if not _first_of_its_server():
            return None
        message = (
            'glance_baseref: uWSGI serves glance-api with 1 thread per '
            'process (%s processes) and respond_after = %s: a co-located '
            'upload holds its process until glance has written %s, and '
            'requests uWSGI gives that process meanwhile wait. Give each '
            'process several threads (threads = 4 or more, with '
            'enable-threads), or set respond_after = staged; see '
            'doc/scaling-out.md' % (
                shape.processes or 'unknown', settings.respond_after,
                'every store' if settings.respond_after
                == settings_mod.ALL_STORES else 'the first store'))
        LOG.warning(message)
        return message
    if (shape.server == 'eventlet' and settings.enabled
            and not settings.report_only):
        level, message = _eventlet_message(settings)
        LOG.log(level, message)
        return message
    return None
