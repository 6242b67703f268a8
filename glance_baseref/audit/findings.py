"""What one image lacks: the rule of the audit, without any I/O."""

import dataclasses

from glance_baseref import baseref
from glance_baseref import stores

#: The image property that names the base image (Nova's name, and the
#: filter's record of a co-located upload's base).
BASE_PROPERTY = 'base_image_ref'


@dataclasses.dataclass(frozen=True)
class Finding:
    """The audit of one image that has ``base_image_ref``.

    ``missing`` holds the usable stores of the base that the image is not
    in; ``skipped`` says why the image was not judged (then ``missing`` is
    empty); ``ignored`` lists base stores that are not usable here.
    """

    image_id: str
    base_ref: str
    size: int = None
    status: str = None
    stores: tuple = ()
    missing: tuple = ()
    skipped: str = ''
    ignored: tuple = ()

    def as_dict(self):
        return dataclasses.asdict(self)


def base_id_of(image):
    """The canonical base id the image names, or None; and why not.

    Returns ``(base_id, problem)``: one of them is None.
    """
    raw = image.get(BASE_PROPERTY)
    if not isinstance(raw, str):
        return None, 'base_image_ref is not a string'
    try:
        base_id = baseref.parse_base_image_ref(raw)
    except baseref.InvalidBaseImageRef:
        return None, 'base_image_ref is not exactly one UUID'
    if base_id == image.get('id'):
        return None, 'base_image_ref names the image itself'
    return base_id, None


def assess(image, base, catalog, allowed=()):
    """Judge ``image`` against its ``base`` (a dict, or None when unseen).

    ``catalog`` is the :class:`~glance_baseref.stores.StoreCatalog` of the
    glance being audited; ``allowed`` the --allowed-stores.
    """
    found = dict(image_id=image['id'],
                 base_ref=str(image.get(BASE_PROPERTY)),
                 size=image.get('size'), status=image.get('status'),
                 stores=tuple(stores.stores_of(image)))
    base_id, problem = base_id_of(image)
    if problem:
        return Finding(skipped=problem, **found)
    found['base_ref'] = base_id
    if base is None:
        return Finding(skipped='the base image is gone or not visible',
                       **found)
    if base.get('status') != 'active':
        return Finding(skipped='the base image is %s, not active'
                       % base.get('status'), **found)
    if image.get('status') != 'active':
        return Finding(skipped='the image is %s, not active'
                       % image.get('status'), **found)
    base_stores = stores.stores_of(base)
    usable = catalog.usable(base_stores, allowed)
    ignored = tuple(s for s in base_stores if s not in usable)
    missing = tuple(s for s in usable if s not in found['stores'])
    return Finding(missing=missing, ignored=ignored, **found)
