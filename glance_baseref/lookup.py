"""Finding the stores of the base image, as the caller sees it."""

import dataclasses

from glance_baseref import inprocess
from glance_baseref import stores


@dataclasses.dataclass(frozen=True)
class Targets:
    """Where an upload should go; no stores means glance's default store."""

    stores: tuple
    reason: str
    # The caller could read the base image (whatever its status/stores).
    base_visible: bool = False


def targets(glance, catalog, base_id, allowed):
    """The usable stores of the base image, and why.

    Runs inside the decision's deadline (:mod:`glance_baseref.deadline`).
    """
    try:
        base = glance.get_image(base_id)
    except inprocess.GlanceError as exc:
        if exc.status_int == 404:
            # Missing and invisible read the same, on purpose.
            return Targets((), 'the base image was not found')
        return Targets((), 'the base image lookup failed: %s' % exc)
    except Exception as exc:
        return Targets((), 'the base image lookup failed: %s: %s'
                       % (type(exc).__name__, exc))
    return _from_base(base, catalog, allowed)


def _from_base(base, catalog, allowed):
    def visible(stores, reason):
        return Targets(tuple(stores), reason, base_visible=True)
    if base.get('status') != 'active':
        return visible((), 'the base image is %s, not active'
                       % base.get('status'))
    base_stores = stores.stores_of(base)
    if not base_stores:
        return visible((), 'the base image is in no store')
    usable = catalog.usable(base_stores, allowed)
    not_enabled = catalog.not_enabled(base_stores)
    absent = ''
    if not_enabled:
        absent = ' (%s %s not enabled here)' % (
            ','.join(not_enabled), 'is' if len(not_enabled) == 1
            else 'are')
    if not usable:
        return visible((), 'none of the base image stores (%s) is '
                       'usable here%s' % (','.join(base_stores), absent))
    return visible(usable, 'the base image is in %s%s'
                   % (','.join(base_stores), absent))
