"""The load test needs MariaDB: glance on sqlite cannot take concurrent writes.

Without MariaDB the test fails (it does not skip), saying what is missing.
"""

import pytest

from tests.harness import glance_env


@pytest.fixture(scope='session')
def mariadb():
    """Fail at once, and clearly, when MariaDB cannot be reached."""
    where = '%s@%s:%d' % (glance_env.MARIADB_USER, glance_env.MARIADB_HOST,
                          glance_env.MARIADB_PORT)
    try:
        import pymysql
        pymysql.connect(host=glance_env.MARIADB_HOST,
                        port=glance_env.MARIADB_PORT,
                        user=glance_env.MARIADB_USER,
                        connect_timeout=5).close()
    except Exception as exc:  # noqa: BLE001 - any reason fails the same way
        pytest.fail('The load test needs MariaDB at %s (no password) to put '
                    'glance\'s database in: sqlite fails concurrent writes '
                    'with "database is locked". Could not connect: %s: %s'
                    % (where, type(exc).__name__, exc), pytrace=False)
    return where
