"""Fixtures every test layer may use.

``keystone``: one real Keystone per pytest session (see
tests/harness/keystone.py), started on first use; starting takes 14-25 s.
"""

import pytest

from tests.harness import keystone as keystone_harness


@pytest.fixture(scope='session')
def keystone(tmp_path_factory):
    """Keystone 30 under uWSGI on MariaDB, with the test users."""
    deployment = keystone_harness.Keystone.start(
        tmp_path_factory.mktemp('keystone'))
    yield deployment
    deployment.stop()
