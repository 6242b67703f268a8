"""The filter's settings: glance-api.conf, overridden by paste local_conf.

Read once, when paste builds the filter. A key of ``[filter:baseref]`` wins
over the option of the same name in the ``[glance_baseref]`` group; it is
converted with that option's own type (so ranges, choices and booleans are
checked the same way), and the global CONF is never changed. Unknown keys
are logged and ignored so that a typo is visible but does not stop
glance-api. Paste's ``global_conf`` (the ``[DEFAULT]`` of
glance-api-paste.ini, shared by every filter of glance) is not read: only
``[filter:baseref]`` speaks for this filter.

The deprecated ``wait_for_all_stores`` becomes ``respond_after`` here:
``respond_after``, set in either place, wins; otherwise ``false`` means
``first_store`` and ``true`` ``all_stores``. oslo.config warns once when
glance-api.conf sets it; a paste key gets the same warning from here, once
per process.
"""

import dataclasses
import logging
import threading

from oslo_config import cfg

from glance_baseref import opts

LOG = logging.getLogger(__name__)

# A ConfigOpts object handed in by code that builds the filter itself
# (tests, tools); the same key keystonemiddleware uses.
CONF_OBJECT_KEY = 'oslo_config_config'

REPORT = 'report'
ALL_STORES = 'all_stores'
FIRST_STORE = 'first_store'
STAGED = 'staged'

_DEPRECATED = 'wait_for_all_stores'
_REPLACEMENT = 'respond_after'
_paste_deprecation_warned = threading.Event()


class ConfigError(ValueError):
    """A setting has a value its option refuses."""


@dataclasses.dataclass(frozen=True)
class Settings:
    enabled: bool
    mode: str
    allowed_stores: tuple
    respond_after: str
    all_stores_must_succeed: bool
    import_timeout: int
    watch_timeout: int
    poll_interval: float
    use_base_image_property: bool
    record_base_image: bool
    lookup_timeout: float
    resume_imports: bool

    @property
    def report_only(self):
        return self.mode == REPORT

    @property
    def log_prefix(self):
        """How the filter's decision lines start; report mode adds would:."""
        return 'glance_baseref: would: ' if self.report_only else (
            'glance_baseref: ')


def load(local_conf):
    """Build :class:`Settings` from the global CONF and paste local_conf."""
    local_conf = dict(local_conf)
    conf = local_conf.pop(CONF_OBJECT_KEY, None) or cfg.CONF
    conf.register_opts(opts.OPTS, group=opts.GROUP)

    values = _paste_values(local_conf)
    from_paste = set(values)
    group = conf[opts.GROUP]
    from_conf = set()
    for opt in opts.OPTS:
        if opt.dest in values:
            continue
        location = conf.get_location(opt.dest, opts.GROUP)
        if location.location != cfg.Locations.opt_default:
            from_conf.add(opt.dest)
        if opt.dest != _DEPRECATED or opt.dest in from_conf:
            # Reading a deprecated option that is set makes oslo.config
            # warn, once; one that is not set is not read at all.
            values[opt.dest] = getattr(group, opt.dest)

    wait_for_all = values.pop(_DEPRECATED, None)
    chosen = from_paste | from_conf
    if _REPLACEMENT not in chosen and wait_for_all is not None:
        values[_REPLACEMENT] = ALL_STORES if wait_for_all else FIRST_STORE
        source = 'paste' if _DEPRECATED in from_paste else 'glance-api.conf'
        sources = {_REPLACEMENT: '%s, from %s' % (_DEPRECATED, source)}
    else:
        sources = {}
    values['allowed_stores'] = tuple(
        s.strip() for s in values['allowed_stores'] or () if s.strip())
    for name in sorted(chosen - {_DEPRECATED}):
        sources.setdefault(name, _source(name, from_paste, conf))
    settings = Settings(**values)
    _refuse_contradictions(settings, sources)
    if sources:
        LOG.info('glance_baseref: settings: %s', '; '.join(
            '%s = %s (%s)' % (name, _shown(getattr(settings, name)), source)
            for name, source in sorted(sources.items())))
    return settings


def _source(name, from_paste, conf):
    if name not in from_paste:
        return 'glance-api.conf'
    location = conf.get_location(name, opts.GROUP)
    if location.location != cfg.Locations.opt_default:
        return 'paste, over glance-api.conf'
    return 'paste'


def _shown(value):
    return ','.join(value) if isinstance(value, tuple) else value


def _refuse_contradictions(settings, sources):
    """Settings that cannot both hold stop glance-api, naming both."""
    if settings.all_stores_must_succeed and (
            settings.respond_after != ALL_STORES):
        raise ConfigError(
            'glance_baseref: respond_after = %s (%s) answers 204 before '
            'every store is written, but all_stores_must_succeed = true '
            '(%s) makes glance undo the image when a later store fails: '
            'the uploader would be told the upload succeeded. Set '
            'respond_after = all_stores, or all_stores_must_succeed = '
            'false.' % (settings.respond_after,
                        sources.get(_REPLACEMENT, 'the default'),
                        sources.get('all_stores_must_succeed',
                                    'the default')))


def _paste_values(local_conf):
    """The paste keys this filter knows, converted by their options."""
    by_name = {opt.dest: opt for opt in opts.OPTS}
    values = {}
    for key, raw in local_conf.items():
        opt = by_name.get(key.replace('-', '_'))
        if opt is None:
            LOG.warning('glance_baseref: unknown option %r in the paste '
                        'configuration is ignored; known options: %s',
                        key, ', '.join(sorted(by_name)))
            continue
        try:
            # The option's own type converts paste's strings and checks
            # the ranges of values handed in by code alike.
            values[opt.dest] = opt.type(raw)
        except ValueError as exc:
            raise ConfigError('glance_baseref: option %s=%r is invalid: %s'
                              % (opt.dest, raw, exc)) from exc
    if _DEPRECATED in values and not _paste_deprecation_warned.is_set():
        _paste_deprecation_warned.set()
        opt = by_name[_DEPRECATED]
        LOG.warning('glance_baseref: option %s in the paste configuration '
                    'is deprecated for removal (%s)', _DEPRECATED,
                    opt.deprecated_reason)
    return values
