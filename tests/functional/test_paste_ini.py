"""etc/paste.ini: glance 33's own file with baseref in all six pipelines."""

import configparser
import os
import sys

import pytest

from glance_baseref import middleware
from tests.functional import paste_check
from tests.harness import glance_env

SHIPPED = os.path.join(sys.prefix, 'etc', 'glance', 'glance-api-paste.ini')


def read_ini(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


@pytest.mark.release
def test_only_change_to_glance_is_baseref_after_the_context_filter():
    paste_check.assert_shipped_plus_baseref(
        read_ini(glance_env.REPO_PASTE_INI), read_ini(SHIPPED))


@pytest.mark.parametrize('flavor', paste_check.FLAVORS)
def test_every_flavor_loads_with_the_filter_after_context(env, glance_app,
                                                          flavor):
    paste_check.assert_baseref_after_context(
        paste_check.load_flavor(env, glance_env.REPO_PASTE_INI, flavor),
        middleware)
