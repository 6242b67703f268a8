"""glance-api 33 under uWSGI on 127.0.0.1, and clients that talk like Cinder.

The session-wide glance runs on sqlite with three file stores and the
filter from etc/paste.ini; tests that need other settings start their own
with ``make_glance``. Every server is stopped when its fixture ends.
"""

import pytest

from tests import harness

STORES = ('fast', 'cheap', 'cold')
DEFAULT_STORE = 'fast'


class Deployment:
    """One running glance: its files, its server, and clients for it."""

    def __init__(self, env, server):
        self.env = env
        self.server = server

    def client(self, project_id='p1', roles=('member', 'reader')):
        return harness.CinderLikeClient(self.server.url,
                                        project_id=project_id,
                                        user_id='u-%s' % project_id,
                                        roles=roles)

    def log(self):
        return self.env.log_path.read_text(encoding='utf-8',
                                           errors='replace')


def start_deployment(base_dir, **env_options):
    env_options.setdefault('stores', STORES)
    env_options.setdefault('default_store', DEFAULT_STORE)
    env = harness.GlanceEnv.create(base_dir, **env_options)
    server = harness.GlanceServer(env)
    try:
        server.start()
    except BaseException:
        env.destroy()
        raise
    return Deployment(env, server)


def stop_deployment(deployment):
    try:
        deployment.server.stop()
    finally:
        deployment.env.destroy()


@pytest.fixture(scope='session')
def glance(tmp_path_factory):
    """The shared glance: sqlite, three file stores, default settings."""
    deployment = start_deployment(tmp_path_factory.mktemp('e2e-glance'))
    yield deployment
    stop_deployment(deployment)


@pytest.fixture
def make_glance(tmp_path):
    """Start a glance with other GlanceEnv settings; stopped afterwards."""
    started = []

    def make(**env_options):
        deployment = start_deployment(
            tmp_path / ('glance-%d' % len(started)), **env_options)
        started.append(deployment)
        return deployment
    yield make
    for deployment in started:
        stop_deployment(deployment)


@pytest.fixture
def p1(glance):
    return glance.client('p1')


@pytest.fixture
def p2(glance):
    return glance.client('p2')
