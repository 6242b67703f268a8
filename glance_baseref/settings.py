"""The filter's settings: glance-api.conf, overridden by paste local_conf.

Read once, when paste builds the filter. A key of ``[filter:baseref]`` wins
over the option of the same name in the ``[glance_baseref]`` group; it is
converted with that option's own type (so ranges and booleans are checked
the same way), and the global CONF is never changed. Unknown keys are
logged and ignored so that a typo is visible but does not stop glance-api.
Paste's ``global_conf`` (the ``[DEFAULT]`` of glance-api-paste.ini, shared
by every filter of glance) is not read: only ``[filter:baseref]`` speaks
for this filter.
"""

import dataclasses
import logging

from oslo_config import cfg

from glance_baseref import opts

LOG = logging.getLogger(__name__)

# A ConfigOpts object handed in by code that builds the filter itself
# (tests, tools); the same key keystonemiddleware uses.
CONF_OBJECT_KEY = 'oslo_config_config'


class ConfigError(ValueError):
    """A setting has a value its option refuses."""


@dataclasses.dataclass(frozen=True)
class Settings:
    enabled: bool
    allowed_stores: tuple
    wait_for_all_stores: bool
    all_stores_must_succeed: bool
    import_timeout: int
    watch_timeout: int
    poll_interval: float
    lookup_timeout: float


def load(local_conf):
    """Build :class:`Settings` from the global CONF and paste local_conf."""
    local_conf = dict(local_conf)
    conf = local_conf.pop(CONF_OBJECT_KEY, None) or cfg.CONF
    conf.register_opts(opts.OPTS, group=opts.GROUP)

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
    group = conf[opts.GROUP]
    for opt in opts.OPTS:
        if opt.dest not in values:
            values[opt.dest] = getattr(group, opt.dest)

    values['allowed_stores'] = tuple(
        s.strip() for s in values['allowed_stores'] or () if s.strip())
    return Settings(**values)
