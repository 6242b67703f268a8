"""Reading what the audit judges: glance's stores, the images, their bases."""

import dataclasses

from glanceclient import exc as glance_exc

from glance_baseref import stores
from glance_baseref.audit import findings

# Glance leaves images with os_hidden = true out of a listing unless it is
# asked for them; the audit reads both kinds.
_HIDDEN_PASSES = ('false', 'true')


class ScanError(Exception):
    """The audit cannot go on (no store catalog, no listing)."""


@dataclasses.dataclass
class ScanResult:
    findings: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    images_read: int = 0


def describe(error):
    """One line for a glanceclient error, with the HTTP status it has."""
    code = getattr(error, 'code', None)
    details = (getattr(error, 'details', None) or str(error)
               or type(error).__name__).strip()
    if not isinstance(code, int):
        return details
    if details.startswith(str(code)):  # glance's own "404 Not Found: ..."
        return 'HTTP %s' % details
    return 'HTTP %d: %s' % (code, details)


def read_catalog(client):
    """The :class:`~glance_baseref.stores.StoreCatalog` of this glance."""
    try:
        info = client.images.get_stores_info()
    except glance_exc.HTTPNotFound as exc:
        raise ScanError('glance has no multi-store configuration (GET '
                        '/v2/info/stores is 404): there is nothing to '
                        'audit') from exc
    except (glance_exc.ClientException, glance_exc.BaseException) as exc:
        raise ScanError('GET /v2/info/stores failed: %s'
                        % describe(exc)) from exc
    writable, read_only, default = stores.split_stores_info(info)
    return stores.StoreCatalog(multistore=True, writable=writable,
                               read_only=read_only, default=default)


def import_methods(client):
    """The import methods this glance offers (``GET /v2/info/import``)."""
    try:
        info = client.images.get_import_info()
    except (glance_exc.ClientException, glance_exc.BaseException) as exc:
        raise ScanError('GET /v2/info/import failed: %s'
                        % describe(exc)) from exc
    return list(info.get('import-methods', {}).get('value', []))


def list_images(client, project=None, page_size=100, progress=None):
    """Every image the token can see (of ``project``), page by page."""
    seen = {}
    for hidden in _HIDDEN_PASSES:
        filters = {'visibility': 'all', 'os_hidden': hidden}
        if project:
            filters['owner'] = project
        for image in client.images.list(filters=filters,
                                        page_size=page_size):
            seen.setdefault(image['id'], dict(image))
            if progress:
                progress.count(len(seen), 'images listed')
    return list(seen.values())


def scan(client, catalog, allowed=(), project=None, image_ids=(),
         page_size=100, progress=None):
    """Judge every image with ``base_image_ref``; a :class:`ScanResult`."""
    result = ScanResult()
    if image_ids:
        images = _get_images(client, image_ids, result.errors)
    else:
        try:
            images = list_images(client, project, page_size, progress)
        except (glance_exc.ClientException,
                glance_exc.BaseException) as exc:
            raise ScanError('listing the images failed: %s'
                            % describe(exc)) from exc
    result.images_read = len(images)
    known = {image['id']: image for image in images}
    lineage = [i for i in images if findings.BASE_PROPERTY in i]
    unreadable = {}
    for done, image in enumerate(lineage, 1):
        base_id, _problem = findings.base_id_of(image)
        if base_id and base_id not in known and base_id not in unreadable:
            try:
                known[base_id] = _get_base(client, base_id)
            except (glance_exc.ClientException,
                    glance_exc.BaseException) as exc:
                unreadable[base_id] = describe(exc)
                result.errors.append('base image %s: %s'
                                     % (base_id, unreadable[base_id]))
        finding = findings.assess(image, known.get(base_id), catalog,
                                  allowed)
        if base_id in unreadable:
            finding = dataclasses.replace(
                finding, skipped='the base image could not be read: %s'
                % unreadable[base_id])
        result.findings.append(finding)
        if progress:
            progress.bar(done, len(lineage), 'images checked')
    return result


def _get_images(client, image_ids, errors):
    images = []
    for image_id in image_ids:
        try:
            images.append(dict(client.images.get(image_id)))
        except (glance_exc.ClientException,
                glance_exc.BaseException) as exc:
            errors.append('image %s: %s' % (image_id, describe(exc)))
    return images


def _get_base(client, base_id):
    """The base image, or None when it is gone or not visible."""
    try:
        return dict(client.images.get(base_id))
    except (glance_exc.HTTPNotFound, glance_exc.HTTPForbidden):
        return None
