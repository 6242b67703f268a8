"""glance-api under uWSGI (or glance's eventlet server, when the session
chose it: tests/harness/server_kind.py) on 127.0.0.1, and clients that
talk like Cinder.

Two identities (see doc/identity.md):

* ``headers``: glance's ``context`` filter trusts identity headers that
  the client sends (no Keystone). The shared glance (``header_glance``)
  runs on sqlite with three file stores and the filter from etc/paste.ini.
* ``keystone``: the shipped ``keystone`` paste flavor (``authtoken context
  baseref``) against the session's real Keystone, with real tokens
  (``keystone_glance``, on MariaDB, registered in Keystone's catalog).

A module chooses with ``pytestmark = pytest.mark.identities('keystone')``
(default: ``headers``); with several names each test runs once per
identity. ``glance``, ``make_glance``, ``p1`` and ``p2`` then follow it.
Every server is stopped when its fixture ends.
"""

import pytest

from tests import harness

STORES = ('fast', 'cheap', 'cold')
DEFAULT_STORE = 'fast'
#: identity -> (shared glance fixture, fixture that starts others)
IDENTITIES = {
    'headers': ('header_glance', 'make_header_glance'),
    'keystone': ('keystone_glance', 'make_keystone_glance'),
}


class Deployment:
    """One running glance: its files, its server, and clients for it."""

    def __init__(self, env, server, keystone=None):
        self.env = env
        self.server = server
        self.keystone = keystone

    @property
    def identity(self):
        return 'headers' if self.keystone is None else 'keystone'

    def client(self, project_id='p1', roles=('member', 'reader'),
               **keystone_options):
        """A Cinder-like client of a member (by default) of the project.

        On Keystone: a user with exactly these roles in the project named
        ``project_id``, through the catalog when this glance is the one
        registered there; ``keystone_options`` go to
        :meth:`~tests.harness.keystone.Keystone.client`.
        """
        if self.keystone is None:
            return harness.CinderLikeClient(self.server.url,
                                            project_id=project_id,
                                            user_id='u-%s' % project_id,
                                            roles=roles)
        registered = self.keystone.image_url == self.server.url
        return self.keystone.client(
            project_id, roles, url=None if registered else self.server.url,
            **keystone_options)

    def log(self):
        return self.env.log_path.read_text(encoding='utf-8',
                                           errors='replace')


def start_deployment(base_dir, keystone=None, server_options=None,
                     uwsgi_options=None, **env_options):
    """A glance with these GlanceEnv settings, started.

    With ``keystone`` it runs the keystone flavor against it;
    ``server_options`` go to the server (``processes``, ``threads``),
    ``uwsgi_options`` to :class:`~tests.harness.GlanceServer` (a test
    that sets them needs uWSGI, not the eventlet server).
    """
    env_options.setdefault('stores', STORES)
    env_options.setdefault('default_store', DEFAULT_STORE)
    if keystone is not None:
        env_options['authtoken'] = keystone.authtoken_options()
    env = harness.GlanceEnv.create(base_dir, **env_options)
    server_options = dict(server_options or {})
    if uwsgi_options:
        server_options['uwsgi_options'] = uwsgi_options
    server = harness.glance_server(env, **server_options)
    try:
        server.start()
    except BaseException:
        env.destroy()
        raise
    return Deployment(env, server, keystone)


def stop_deployment(deployment):
    try:
        deployment.server.stop()
    finally:
        deployment.env.destroy()


def pytest_generate_tests(metafunc):
    """One run per identity named by the ``identities`` marker."""
    marker = metafunc.definition.get_closest_marker('identities')
    if marker is None or 'identity' not in metafunc.fixturenames:
        return
    unknown = set(marker.args) - set(IDENTITIES)
    if unknown or not marker.args:
        raise ValueError('identities(%s): known are %s'
                         % (', '.join(marker.args), ', '.join(IDENTITIES)))
    metafunc.parametrize('identity', marker.args, indirect=True,
                         scope='module')


@pytest.fixture(scope='module')
def identity(request):
    """'headers' or 'keystone', from the ``identities`` marker."""
    return getattr(request, 'param', 'headers')


@pytest.fixture(scope='session')
def header_glance(tmp_path_factory):
    """The shared glance of the header identity: sqlite, three stores."""
    deployment = start_deployment(tmp_path_factory.mktemp('e2e-glance'))
    yield deployment
    stop_deployment(deployment)


@pytest.fixture(scope='session')
def keystone_glance(tmp_path_factory, keystone):
    """The shared glance of the keystone flavor, in Keystone's catalog."""
    deployment = start_deployment(tmp_path_factory.mktemp('keystone-glance'),
                                  keystone=keystone, database='mariadb')
    try:
        keystone.register_image_endpoint(deployment.server.url)
        yield deployment
    finally:
        stop_deployment(deployment)


@pytest.fixture(scope='module')
def glance(request, identity):
    """The shared glance of the module's identity."""
    return request.getfixturevalue(IDENTITIES[identity][0])


def _started_deployments(base_dir, keystone):
    """Yield a function that starts deployments; stop them afterwards."""
    started = []

    def make(**env_options):
        deployment = start_deployment(
            base_dir / ('glance-%d' % len(started)), keystone=keystone,
            **env_options)
        started.append(deployment)
        return deployment
    yield make
    for deployment in started:
        stop_deployment(deployment)


@pytest.fixture
def make_header_glance(tmp_path):
    """Start a header-identity glance with other GlanceEnv settings."""
    yield from _started_deployments(tmp_path, None)


@pytest.fixture
def make_keystone_glance(tmp_path, keystone):
    """Start a keystone-flavor glance with other GlanceEnv settings.

    It is not in the catalog: its clients are given its URL.
    """
    yield from _started_deployments(tmp_path, keystone)


@pytest.fixture
def make_glance(request, identity):
    """Start a glance of the module's identity with other settings;
    stopped when the test ends."""
    return request.getfixturevalue(IDENTITIES[identity][1])


@pytest.fixture
def p1(glance):
    return glance.client('p1')


@pytest.fixture
def p2(glance):
    return glance.client('p2')
