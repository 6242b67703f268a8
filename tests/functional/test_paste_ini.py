"""etc/paste.ini: glance 33's own file with baseref in all six pipelines."""

import configparser
import os
import sys

import pytest

from glance_baseref import middleware
from tests.harness import glance_env

FLAVORS = ('default', 'caching', 'cachemanagement', 'keystone',
           'keystone+caching', 'keystone+cachemanagement')
SHIPPED = os.path.join(sys.prefix, 'etc', 'glance', 'glance-api-paste.ini')


def read_ini(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


@pytest.mark.release
def test_only_change_to_glance_is_baseref_after_the_context_filter():
    ours, shipped = read_ini(glance_env.REPO_PASTE_INI), read_ini(SHIPPED)
    assert set(ours.sections()) - set(shipped.sections()) == {
        'filter:baseref'}
    for section in shipped.sections():
        if section != 'composite:api':
            assert dict(ours[section]) == dict(shipped[section]), section
    for flavor in FLAVORS:
        words = ours['composite:api'][flavor].split()
        assert words.count('baseref') == 1, flavor
        at = words.index('baseref')
        assert words[at - 1] in ('context', 'unauthenticated-context')
        assert [w for w in words if w != 'baseref'] == \
            shipped['composite:api'][flavor].split(), flavor
    assert ours['filter:baseref']['use'] == 'egg:glance_baseref#baseref'


def _chain(app):
    """The objects of a loaded pipeline, outermost first."""
    chain = []
    while app is not None and len(chain) < 30:
        chain.append(app)
        if hasattr(app, 'applications'):  # paste's URLMap: follow '/'
            app = dict((path, sub) for (_domain, path), sub
                       in app.applications).get('')
        else:
            app = (getattr(app, 'application', None)
                   or getattr(app, 'app', None)
                   or getattr(app, '_app', None))
    return chain


@pytest.mark.parametrize('flavor', FLAVORS)
def test_every_flavor_loads_with_the_filter_after_context(env, glance_app,
                                                          flavor):
    from glance.api.middleware import context
    from glance.common import config
    from oslo_config import cfg
    # glance's pipeline_factory picks the pipeline from CONF, not from the
    # composite the loader was asked for.
    name = '' if flavor == 'default' else flavor
    cfg.CONF.set_override('flavor', name, group='paste_deploy')
    cfg.CONF.set_override('image_cache_dir', str(env.base_dir / 'cache'))
    try:
        app = config.load_paste_app(
            'glance-api', conf_file=str(glance_env.REPO_PASTE_INI))
    finally:
        cfg.CONF.clear_override('flavor', group='paste_deploy')
        cfg.CONF.clear_override('image_cache_dir')
    chain = _chain(app)
    filters = [i for i, obj in enumerate(chain)
               if isinstance(obj, middleware.BaseRefFilter)]
    assert len(filters) == 1, [type(o).__name__ for o in chain]
    assert isinstance(chain[filters[0] - 1], context.BaseContextMiddleware)
