"""Reading what the audit judges: glance's stores, the images, their bases.

The scan streams: images are read a page at a time and judged as they
come, and only what is reported is kept (the images that lack a store,
that cannot be judged or that carry an unsettled import mark), plus one
small record per distinct base image. Memory therefore follows the
number of findings and of base images, not the number of images read
(doc/audit.md has the measurement).
"""

import dataclasses
import datetime

from glanceclient import exc as glance_exc

from glance_baseref import stores
from glance_baseref.audit import findings
from glance_baseref.audit import marks

# Glance leaves images with os_hidden = true out of a listing unless it is
# asked for them; the audit reads both kinds (two disjoint listings).
_HIDDEN_PASSES = ('false', 'true')
# What a base image is judged by; the rest of it is not kept.
_BASE_FIELDS = ('id', 'status', 'stores')
GLANCE_ERRORS = (glance_exc.ClientException, glance_exc.BaseException)


class ScanError(Exception):
    """The audit cannot go on (no store catalog, no listing)."""


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
    except GLANCE_ERRORS as exc:
        raise ScanError('GET /v2/info/stores failed: %s'
                        % describe(exc)) from exc
    writable, read_only, default = stores.split_stores_info(info)
    return stores.StoreCatalog(multistore=True, writable=writable,
                               read_only=read_only, default=default)


def import_methods(client):
    """The import methods this glance offers (``GET /v2/info/import``)."""
    try:
        info = client.images.get_import_info()
    except GLANCE_ERRORS as exc:
        raise ScanError('GET /v2/info/import failed: %s'
                        % describe(exc)) from exc
    return list(info.get('import-methods', {}).get('value', []))


def import_tasks(client, image_id):
    """The image's import tasks (``GET /v2/images/{id}/tasks``)."""
    return list(client.images.get_associated_image_tasks(image_id)
                .get('tasks', []))


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


class Scan:
    """Judges images one at a time; counts, errors and base records.

    ``findings(images)`` yields, for each image that needs a word, a
    :class:`~glance_baseref.audit.findings.Finding` (lacks stores, or not
    judged) or a :class:`~glance_baseref.audit.marks.Mark`.
    """

    def __init__(self, client, catalog, allowed=(), now=utcnow):
        self.client = client
        self.catalog = catalog
        self.allowed = tuple(allowed)
        self.now = now
        self.errors = []
        self.images_read = 0
        self.with_base = 0
        self.lacking = 0
        self.owners_seen = set()
        self._bases = {}            # base id -> compact dict, or None
        self._unreadable = {}       # base id -> why

    def images(self, project=None, image_ids=(), page_size=100,
               progress=None):
        """Every image the token can see (of ``project``), page by page.

        With ``image_ids``, those images (a missing one is an error).
        """
        if image_ids:
            for done, image_id in enumerate(image_ids, 1):
                try:
                    image = dict(self.client.images.get(image_id))
                except GLANCE_ERRORS as exc:
                    self.errors.append('image %s: %s'
                                       % (image_id, describe(exc)))
                    continue
                if progress:
                    progress.count(done, 'images read')
                yield image
            return
        listed = 0
        try:
            for hidden in _HIDDEN_PASSES:
                filters = {'visibility': 'all', 'os_hidden': hidden}
                if project:
                    filters['owner'] = project
                for image in self.client.images.list(filters=filters,
                                                     page_size=page_size):
                    listed += 1
                    if progress:
                        progress.count(listed, 'images read')
                    yield dict(image)
        except GLANCE_ERRORS as exc:
            raise ScanError('listing the images failed: %s'
                            % describe(exc)) from exc

    def findings(self, images):
        for image in images:
            self.images_read += 1
            if image.get('visibility') in ('private', 'shared'):
                self.owners_seen.add(image.get('owner'))
            yield from self.judge(image)

    def judge(self, image):
        """What to report about one image: zero, one or two findings."""
        mark = None
        if marks.MARK_PROPERTY in image:
            mark = self._judge_mark(image)
            yield mark
        if findings.BASE_PROPERTY not in image:
            return
        self.with_base += 1
        if mark is not None and mark.state != marks.MARK_LEFT:
            return  # the mark's row says why it is not judged yet
        finding = self._assess(image)
        if finding.missing:
            self.lacking += 1
        if finding.missing or finding.skipped:
            yield finding

    def _judge_mark(self, image):
        tasks = ()
        if image.get('status') not in ('active', 'deactivated') or \
                image.get(marks.IMPORT_TASK_KEY):
            try:
                tasks = import_tasks(self.client, image['id'])
            except GLANCE_ERRORS as exc:
                self.errors.append('image %s: its import tasks: %s'
                                   % (image['id'], describe(exc)))
        return marks.judge(image, tasks, self.now())

    def _assess(self, image):
        base_id, _problem = findings.base_id_of(image)
        base = self._base(base_id) if base_id else None
        finding = findings.assess(image, base, self.catalog, self.allowed)
        if base_id in self._unreadable:
            finding = dataclasses.replace(
                finding, skipped='the base image could not be read: %s'
                % self._unreadable[base_id])
        return finding

    def _base(self, base_id):
        """The base image's id, status and stores; None when unseen."""
        if base_id in self._bases or base_id in self._unreadable:
            return self._bases.get(base_id)
        try:
            base = dict(self.client.images.get(base_id))
            self._bases[base_id] = {k: base[k] for k in _BASE_FIELDS
                                    if k in base}
        except (glance_exc.HTTPNotFound, glance_exc.HTTPForbidden):
            self._bases[base_id] = None
        except GLANCE_ERRORS as exc:
            self._unreadable[base_id] = describe(exc)
            self.errors.append('base image %s: %s'
                               % (base_id, self._unreadable[base_id]))
        return self._bases.get(base_id)
