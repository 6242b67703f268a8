"""Checks of a glance-api-paste.ini with baseref: the file, and its
pipelines as paste.deploy loads them through glance's own loader."""

FLAVORS = ('default', 'caching', 'cachemanagement', 'keystone',
           'keystone+caching', 'keystone+cachemanagement')
CONTEXT_FILTERS = ('context', 'unauthenticated-context')


def assert_shipped_plus_baseref(ours, shipped):
    """``ours`` is ``shipped`` (configparsers) plus baseref, nothing else."""
    assert set(ours.sections()) - set(shipped.sections()) == {
        'filter:baseref'}
    for section in shipped.sections():
        if section != 'composite:api':
            assert dict(ours[section]) == dict(shipped[section]), section
    for flavor in FLAVORS:
        words = ours['composite:api'][flavor].split()
        assert words.count('baseref') == 1, flavor
        at = words.index('baseref')
        assert words[at - 1] in CONTEXT_FILTERS
        assert [w for w in words if w != 'baseref'] == \
            shipped['composite:api'][flavor].split(), flavor
    assert ours['filter:baseref']['use'] == 'egg:glance_baseref#baseref'


def chain(app):
    """The objects of a loaded pipeline, outermost first."""
    found = []
    while app is not None and len(found) < 30:
        found.append(app)
        if hasattr(app, 'applications'):  # paste's URLMap: follow '/'
            app = dict((path, sub) for (_domain, path), sub
                       in app.applications).get('')
        else:
            app = (getattr(app, 'application', None)
                   or getattr(app, 'app', None)
                   or getattr(app, '_app', None))
    return found


def load_flavor(env, paste_ini, flavor):
    """The pipeline of ``flavor`` in ``paste_ini``, loaded by glance."""
    from glance.common import config
    from oslo_config import cfg
    # glance's pipeline_factory picks the pipeline from CONF, not from the
    # composite the loader was asked for.
    name = '' if flavor == 'default' else flavor
    cfg.CONF.set_override('flavor', name, group='paste_deploy')
    cfg.CONF.set_override('image_cache_dir', str(env.base_dir / 'cache'))
    try:
        return chain(config.load_paste_app('glance-api',
                                           conf_file=str(paste_ini)))
    finally:
        cfg.CONF.clear_override('flavor', group='paste_deploy')
        cfg.CONF.clear_override('image_cache_dir')


def assert_baseref_after_context(loaded, middleware):
    from glance.api.middleware import context
    filters = [i for i, obj in enumerate(loaded)
               if isinstance(obj, middleware.BaseRefFilter)]
    assert len(filters) == 1, [type(o).__name__ for o in loaded]
    assert isinstance(loaded[filters[0] - 1], context.BaseContextMiddleware)
