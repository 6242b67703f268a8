"""Fixtures and options every test layer may use.

``keystone``: one real Keystone per pytest session (see
tests/harness/keystone.py), started on first use; starting takes 14-25 s.

``--glance-server=uwsgi|eventlet`` chooses how the session serves
glance-api (tests/harness/server_kind.py; default uwsgi, or
``$GLANCE_BASEREF_SERVER``). Tests marked ``eventlet_server`` check glance's
eventlet server itself: they run only in a session that chose it, and are
deselected (counted as such by pytest) in the others.
"""

import importlib
import os
import pathlib
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _import_the_installed_package():
    """Import glance_baseref from site-packages, before any test does.

    pytest puts the repository first on sys.path (``tests`` is a
    package), where the source tree would shadow the installed wheel.
    Imported here first, with the repository left out, the package's
    ``__path__`` is the wheel's, so every ``glance_baseref.*`` module a
    test imports comes from the wheel, and one missing from it fails.
    """
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path
                   if pathlib.Path(p or os.getcwd()).resolve() != REPO_ROOT]
    try:
        package = importlib.import_module('glance_baseref')
    finally:
        sys.path[:] = saved
    where = pathlib.Path(package.__file__).resolve()
    if REPO_ROOT in where.parents and '.tox' not in where.parts:
        raise RuntimeError('glance_baseref was imported from the source '
                           'tree (%s), not from the installed wheel' % where)


if os.environ.get('GLANCE_BASEREF_TEST_INSTALLED'):
    _import_the_installed_package()

from tests.harness import keystone as keystone_harness  # noqa: E402

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
