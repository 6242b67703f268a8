"""Glance-api nodes on one MariaDB database and shared stores, HAProxy.

Nodes ``a`` and ``b`` (uWSGI, two processes each) enable the stores
``fast`` (default), ``cheap`` and ``cold`` and sit behind HAProxy; node
``c`` lacks ``cold`` (a store being added one node at a time) and is
reached at its own URL. All run glance's ``keystone`` flavor on the
session's real Keystone. All three share one MariaDB database and the store
directories; staging is local to each node, ``worker_self_reference_url``
set on each. One such cluster serves the whole session.

MariaDB and haproxy are needed; without either the tests fail and say so.
"""

import pytest

from tests.harness import haproxy
from tests.harness import mariadb
from tests.harness import multinode
from tests.scale.checks import FULL
from tests.scale.checks import WITHOUT_COLD


@pytest.fixture(scope='session')
def scale_prerequisites():
    """Fail at once, and clearly, when MariaDB or haproxy is missing."""
    try:
        mariadb.execute('SELECT 1')
    except Exception as exc:  # noqa: BLE001 - any reason fails the same way
        pytest.fail('The scale-out tests put glance\'s database in MariaDB '
                    'at %s@%s:%d (no password): %s: %s'
                    % (mariadb.USER, mariadb.HOST, mariadb.PORT,
                       type(exc).__name__, exc), pytrace=False)
    try:
        haproxy.haproxy_binary()
    except haproxy.HAProxyError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope='session')
def cluster(tmp_path_factory, scale_prerequisites, keystone):
    """Nodes a, b (behind HAProxy) and c (without ``cold``).

    The ``keystone`` flavor on the real Keystone: glance proxies an import
    to the staging node with the caller's token and needs
    ``[keystone_authtoken]`` for that.
    """
    nodes = multinode.GlanceCluster(
        tmp_path_factory.mktemp('scale'),
        {'a': FULL, 'b': FULL, 'c': WITHOUT_COLD}, proxied=('a', 'b'),
        authtoken=keystone.authtoken_options(),
        max_parallel_stores=3, baseref_options={'poll_interval': 0.2},
        # c answers its own 504 before a short proxy timeout would; it
        # writes its stores one after the other, so an import takes long.
        node_options={'c': {'max_parallel_stores': 1,
                            'baseref_options': {'poll_interval': 0.2,
                                                'import_timeout': 1}}})
    nodes.start()
    yield nodes
    nodes.stop()


@pytest.fixture(scope='session')
def client(keystone):
    """``client(url)``: a Cinder-like client of p1's member at ``url``."""
    def make(url, project='p1'):
        return keystone.client(project, url=url)
    return make
