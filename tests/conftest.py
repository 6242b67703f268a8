"""Fixtures every test layer may use.

``keystone``: one real Keystone per pytest session (see
tests/harness/keystone.py), started on first use; starting takes 14-25 s.
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


@pytest.fixture(scope='session')
def keystone(tmp_path_factory):
    """Keystone 30 under uWSGI on MariaDB, with the test users."""
    deployment = keystone_harness.Keystone.start(
        tmp_path_factory.mktemp('keystone'))
    yield deployment
    deployment.stop()
