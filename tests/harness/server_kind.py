"""Which server a test session serves glance-api with: uWSGI or eventlet.

``uwsgi`` (the default): ``glance.wsgi.api:application`` under uWSGI, as
devstack, openstack-ansible and kolla-ansible from 2026.1 run it.
``eventlet``: glance's own ``glance-api`` script with two workers, as
kolla-ansible runs glance 2024.1 to 2025.2 (glance 28-32 only).

The choice comes from ``GLANCE_BASEREF_SERVER`` (set by pytest's
``--glance-server``, see tests/conftest.py), so that one tox env runs the
same tests under both servers, one pytest session each.
"""

import os

from tests.harness import eventlet_server
from tests.harness import uwsgi_server

VARIABLE = 'GLANCE_BASEREF_SERVER'
SERVERS = {
    'uwsgi': uwsgi_server.GlanceServer,
    'eventlet': eventlet_server.EventletGlanceServer,
}


def chosen():
    """The server kind of this session: ``'uwsgi'`` or ``'eventlet'``."""
    kind = os.environ.get(VARIABLE) or 'uwsgi'
    if kind not in SERVERS:
        raise ValueError('%s=%s: known are %s'
                         % (VARIABLE, kind, ', '.join(SERVERS)))
    return kind


def glance_server(env, **options):
    """A glance-api server of the session's kind for ``env`` (not started).

    ``options`` are the server class's (``port``, ``processes``,
    ``threads``); each kind has its own defaults: uWSGI 1 process of 4
    threads, eventlet 2 workers.
    """
    return SERVERS[chosen()](env, **options)
