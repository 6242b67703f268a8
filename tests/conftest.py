"""Fixtures and options every test layer may use.

``keystone``: one real Keystone per pytest session (see
tests/harness/keystone.py), started on first use; starting takes 14-25 s.

``--glance-server=uwsgi|eventlet`` chooses how the session serves
glance-api (tests/harness/server_kind.py; default uwsgi, or
``$GLANCE_BASEREF_SERVER``). Tests marked ``eventlet_server`` check glance's
eventlet server itself: they run only in a session that chose it, and are
deselected (counted as such by pytest) in the others.
"""

import os

import pytest

from tests.harness import keystone as keystone_harness

EVENTLET_ONLY_MARKER = 'eventlet_server'


def pytest_addoption(parser):
    parser.addoption(
        '--glance-server', choices=('uwsgi', 'eventlet'), default=None,
        help='serve glance-api with uWSGI or with glance\'s eventlet '
             'server (glance 28-32); default $GLANCE_BASEREF_SERVER or uwsgi')


def pytest_configure(config):
    kind = config.getoption('--glance-server')
    if kind:
        os.environ['GLANCE_BASEREF_SERVER'] = kind
    if os.environ.get('GLANCE_BASEREF_SERVER') == 'eventlet':
        from tests.harness import release
        if not release.has_eventlet_server():
            raise pytest.UsageError(
                'glance %s has no eventlet server (glance 28-32 have)'
                % '.'.join(map(str, release.glance_version())))


def _server_kind():
    return os.environ.get('GLANCE_BASEREF_SERVER') or 'uwsgi'


def pytest_report_header(config):
    return 'glance-api server: %s' % _server_kind()


def pytest_collection_modifyitems(config, items):
    if _server_kind() == 'eventlet':
        return
    deselected = [item for item in items
                  if item.get_closest_marker(EVENTLET_ONLY_MARKER)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


@pytest.fixture(scope='session')
def keystone(tmp_path_factory):
    """Keystone 30 under uWSGI on MariaDB, with the test users."""
    deployment = keystone_harness.Keystone.start(
        tmp_path_factory.mktemp('keystone'))
    yield deployment
    deployment.stop()
