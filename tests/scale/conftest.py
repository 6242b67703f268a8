"""Two glance-api nodes on one MariaDB database, behind HAProxy.

MariaDB and haproxy are needed; without either the tests fail and say so.
"""

import pytest

from tests.harness import glance_env
from tests.harness import haproxy


@pytest.fixture(scope='session')
def scale_prerequisites():
    """Fail at once, and clearly, when MariaDB or haproxy is missing."""
    try:
        import pymysql
        pymysql.connect(host=glance_env.MARIADB_HOST,
                        port=glance_env.MARIADB_PORT,
                        user=glance_env.MARIADB_USER,
                        connect_timeout=5).close()
    except Exception as exc:  # noqa: BLE001 - any reason fails the same way
        pytest.fail('The scale-out tests put glance\'s database in MariaDB '
                    'at %s@%s:%d (no password): %s: %s'
                    % (glance_env.MARIADB_USER, glance_env.MARIADB_HOST,
                       glance_env.MARIADB_PORT,
                       type(exc).__name__, exc), pytrace=False)
    try:
        haproxy.haproxy_binary()
    except haproxy.HAProxyError as exc:
        pytest.fail(str(exc), pytrace=False)
