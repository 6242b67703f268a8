"""Settings: [glance_baseref] in glance-api.conf, beaten by paste keys."""

import importlib.metadata
import logging

import pytest

from glance_baseref import middleware
from glance_baseref import opts
from glance_baseref import settings
from tests.unit import fake_glance
from tests.unit import pipeline as pl

# name, value in the ConfigOpts group, paste string, what it becomes.
OPTIONS = [
    ('enabled', False, 'true', True),
    ('enabled', True, 'false', False),
    ('allowed_stores', ['cold'], ' fast , cheap ,', ('fast', 'cheap')),
    ('mode', 'enforce', 'report', 'report'),
    ('respond_after', 'all_stores', 'staged', 'staged'),
    ('respond_after', 'staged', 'first_store', 'first_store'),
    ('all_stores_must_succeed', False, '1', True),
    ('import_timeout', 100, '5', 5),
    ('watch_timeout', 200, '7', 7),
    ('poll_interval', 2.0, '0.25', 0.25),
    ('lookup_timeout', 3.0, '0.5', 0.5),
    ('use_base_image_property', False, 'yes', True),
    ('record_base_image', True, 'false', False),
    ('resume_imports', False, 'true', True),
]

DEFAULTS = settings.Settings(
    enabled=True, mode='enforce', allowed_stores=(),
    respond_after='all_stores', all_stores_must_succeed=False,
    import_timeout=3600, watch_timeout=3600, poll_interval=1.0,
    use_base_image_property=False, record_base_image=True,
    lookup_timeout=10.0, resume_imports=False)


def _build(conf=None, **local_conf):
    """Build the filter the way paste does, around a fake glance."""
    if conf is not None:
        local_conf[settings.CONF_OBJECT_KEY] = conf
    return middleware.filter_factory({}, **local_conf)(
        fake_glance.FakeGlance())


def _group_values(conf):
    return {opt.dest: getattr(conf[opts.GROUP], opt.dest)
            for opt in opts.OPTS}


def test_defaults(conf):
    assert _build(conf).settings == DEFAULTS


@pytest.mark.parametrize('name,group_value,raw,expected', OPTIONS)
def test_paste_key_beats_the_config_group(conf, name, group_value, raw,
                                          expected):
    conf.register_opts(opts.OPTS, group=opts.GROUP)
    conf.set_override(name, group_value, group=opts.GROUP)
    normalized = (tuple(group_value) if isinstance(group_value, list)
                  else group_value)

    assert getattr(_build(conf).settings, name) == normalized
    assert getattr(_build(conf, **{name: raw}).settings, name) == expected


def test_config_file_is_read_and_paste_still_wins(conf, tmp_path):
    path = tmp_path / 'glance-api.conf'
    path.write_text('[glance_baseref]\nimport_timeout = 42\n'
                    'allowed_stores = fast, cold\nenabled = false\n')
    conf(args=[], default_config_files=[str(path)])

    built = _build(conf, enabled='true').settings

    assert built.import_timeout == 42
    assert built.allowed_stores == ('fast', 'cold')
    assert built.enabled is True


def test_config_object_is_not_changed(conf):
    conf.register_opts(opts.OPTS, group=opts.GROUP)
    conf.set_override('import_timeout', 77, group=opts.GROUP)
    before = _group_values(conf)

    first = _build(conf, **{name: raw for name, _, raw, _ in OPTIONS[1:]
                            if name != 'all_stores_must_succeed'})
    second = _build(conf)

    assert _group_values(conf) == before
    assert first.settings.import_timeout == 5
    assert second.settings.import_timeout == 77
    assert second.settings == settings.Settings(
        **dict(vars(DEFAULTS), import_timeout=77))


def test_global_conf_is_used_only_without_a_config_object(conf,
                                                          global_conf):
    _build(conf, import_timeout='9')
    assert opts.GROUP not in global_conf

    global_conf.register_opts(opts.OPTS, group=opts.GROUP)
    global_conf.set_override('import_timeout', 9, group=opts.GROUP)
    assert _build().settings.import_timeout == 9


INVALID = [
    ('import_timeout', '0'),
    ('import_timeout', 'abc'),
    ('import_timeout', '1.5'),
    ('poll_interval', '0.01'),
    ('poll_interval', '61'),
    ('lookup_timeout', '0'),
    ('enabled', 'maybe'),
    ('wait_for_all_stores', ''),
    ('mode', 'audit'),
    ('mode', 'Report'),
    ('respond_after', 'never'),
    ('respond_after', ''),
    ('record_base_image', 'sometimes'),
    # Not from paste (always strings), but from code building the filter.
    ('import_timeout', 0),
    ('poll_interval', 0.0),
]


@pytest.mark.parametrize('name,raw', [
    pytest.param(name, raw, id='%s=%r' % (name, raw))
    for name, raw in INVALID])
def test_invalid_value_stops_the_factory(conf, name, raw):
    with pytest.raises(settings.ConfigError) as raised:
        _build(conf, **{name: raw})

    assert 'option %s=%r is invalid' % (name, raw) in str(raised.value)


def test_unknown_key_warns_and_is_ignored(conf, caplog):
    caplog.set_level(logging.INFO, logger='glance_baseref')

    built = _build(conf, import_timeuot='5')

    assert built.settings == DEFAULTS
    warning, = pl.messages(caplog, logging.WARNING)
    assert "unknown option 'import_timeuot'" in warning
    assert 'import_timeout' in warning


def test_list_opts_gives_fresh_copies():
    (group, first), = opts.list_opts()
    (_, second), = opts.list_opts()

    assert group == 'glance_baseref'
    assert [o.name for o in first] == [o.name for o in opts.OPTS] == [
        'enabled', 'mode', 'allowed_stores', 'respond_after',
        'wait_for_all_stores', 'all_stores_must_succeed', 'import_timeout',
        'watch_timeout', 'poll_interval', 'use_base_image_property',
        'record_base_image', 'lookup_timeout', 'resume_imports']
    for copy, other, original in zip(first, second, opts.OPTS):
        assert copy is not original and copy is not other
        assert copy.default == original.default
        assert copy.help == original.help
    first[0].default = 'changed'
    assert opts.OPTS[0].default is True
    assert second[0].default is True
    assert all(o.help for o in opts.OPTS)


@pytest.mark.parametrize('group,name,target', [
    ('paste.filter_factory', 'baseref', middleware.filter_factory),
    ('oslo.config.opts', 'glance_baseref', opts.list_opts),
])
def test_entry_points(group, name, target):
    found, = [e for e in importlib.metadata.entry_points(group=group)
              if e.name == name]
    assert found.load() is target


@pytest.mark.parametrize('respond_after', ['first_store', 'staged'])
@pytest.mark.parametrize('in_conf', ['respond_after',
                                     'all_stores_must_succeed', None])
def test_contradictory_options_stop_glance_naming_both(conf, respond_after,
                                                       in_conf):
    conf.register_opts(opts.OPTS, group=opts.GROUP)
    paste = {'respond_after': respond_after,
             'all_stores_must_succeed': 'true'}
    if in_conf:
        conf.set_override(in_conf, paste.pop(in_conf), group=opts.GROUP)

    with pytest.raises(settings.ConfigError) as raised:
        _build(conf, **paste)

    message = str(raised.value)
    assert 'respond_after = %s' % respond_after in message
    assert 'all_stores_must_succeed = true' in message


def test_settings_line_says_which_source_won(conf, caplog):
    conf.register_opts(opts.OPTS, group=opts.GROUP)
    conf.set_override('import_timeout', 77, group=opts.GROUP)
    conf.set_override('poll_interval', 3.0, group=opts.GROUP)
    caplog.set_level(logging.INFO, logger='glance_baseref')

    _build(conf, poll_interval='0.5', respond_after='staged')

    line, = [r.getMessage() for r in caplog.records
             if r.name == 'glance_baseref.settings']
    # set_override is not a file location: it reads as a default here.
    assert 'respond_after = staged (paste)' in line
    assert 'import_timeout = 77' in line
