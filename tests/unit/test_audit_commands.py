"""check and repair through the cliff app, around a fake glanceclient:
the rows cliff prints, the exit status, the counts on stderr."""

import datetime
import json

import pytest
from glanceclient import exc as glance_exc

from glance_baseref import stores
from glance_baseref.audit import cli
from glance_baseref.audit import connect
from glance_baseref.audit import scan

BASE = '0a0e9c2d-0000-4000-8000-000000000000'
NOW = datetime.datetime.now(datetime.timezone.utc)


def uuid(n):
    return '1f0e9c2d-0000-4000-8000-%012d' % n


def old(minutes=300):
    return (NOW - datetime.timedelta(minutes=minutes)).strftime(
        '%Y-%m-%dT%H:%M:%SZ')


class FakeImages:
    def __init__(self, images, fail_listing=False):
        self.by_id = {i['id']: i for i in images}
        self.fail_listing = fail_listing
        self.calls = []

    def get_stores_info(self):
        return {'stores': [{'id': 'fast', 'default': 'true'},
                           {'id': 'cheap'}, {'id': 'cold'}]}

    def get_import_info(self):
        return {'import-methods': {'value': ['glance-direct',
                                             'copy-image']}}

    def list(self, filters, page_size):
        if self.fail_listing:
            raise glance_exc.HTTPInternalServerError('boom')
        hidden = filters['os_hidden'] == 'true'
        for image in self.by_id.values():
            if image.get('os_hidden', False) == hidden:
                yield image

    def get(self, image_id):
        if image_id not in self.by_id:
            raise glance_exc.HTTPNotFound()
        return self.by_id[image_id]

    def get_associated_image_tasks(self, image_id):
        return {'tasks': [dict(id='t', status='processing',
                               updated_at=old(61), created_at=old())]}

    def update(self, image_id, remove_props=()):
        self.calls.append(('update', image_id))

    def delete(self, image_id):
        self.calls.append(('delete', image_id))

    def image_import(self, image_id, method, stores=(), allow_failure=True):
        self.calls.append(('import', image_id, tuple(stores)))
        if method == 'glance-direct':
            # glance without the filter's resume_imports: not uploading
            raise glance_exc.HTTPConflict('409 Conflict')
        image = self.by_id[image_id]
        image['stores'] = ','.join([image['stores']] + list(stores))


class FakeConnection(connect.Connection):
    def client(self, retries=3, endpoint=None):
        return self


@pytest.fixture
def glance(monkeypatch):
    def install(images, **kwargs):
        conn = FakeConnection(session=None, endpoint='http://g.invalid',
                              roles=('admin',), project_id='p1')
        conn_images = FakeImages(images, **kwargs)
        object.__setattr__(conn, 'images', conn_images)
        monkeypatch.setattr(connect, 'from_arguments',
                            lambda args, auth=None: conn)
        return conn_images
    return install


def image(n, image_stores='fast', status='active', **extra):
    return dict(id=uuid(n), status=status, stores=image_stores,
                visibility='private', owner='p2', size=4,
                base_image_ref=BASE, **extra)


LINEAGE = [
    dict(id=BASE, status='active', stores='cheap,cold', visibility='public',
         owner='p1'),
    image(1),                                   # lacks cheap, cold
    image(2, 'cheap,cold'),                     # fine: no row
    image(3, status='queued'),                  # not judged
    image(4, '', status='importing', os_glance_import_task='t',
          baseref_import='%s node-2' % old()),  # stuck
]


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_check_rows_and_exit_1(glance, capsys):
    glance([dict(i) for i in LINEAGE])
    status, out, err = run(capsys, 'check', '-f', 'json')
    rows = {r['image']: r for r in json.loads(out)}
    assert status == 1
    assert sorted(rows) == [uuid(1), uuid(3), uuid(4)]
    assert (rows[uuid(1)]['result'], rows[uuid(1)]['missing']) == (
        'missing', ['cheap', 'cold'])
    assert rows[uuid(3)]['result'] == 'not judged'
    stuck = rows[uuid(4)]
    assert (stuck['result'], stuck['lock'], stuck['task'], stuck['node'],
            stuck['marked']) == ('stuck', True, 'processing', 'node-2',
                                 old())
    assert stuck['idle'] >= 61 * 60
    assert err.splitlines()[-1] == (
        'glance-baseref-audit: 5 images read, 4 with base_image_ref, '
        '1 lack a store of their base')


def test_check_columns_and_value_format(glance, capsys):
    glance([dict(i) for i in LINEAGE[:2]])
    status, out, _err = run(capsys, 'check', '-f', 'value', '-c', 'image',
                            '-c', 'result')
    assert (status, out) == (1, '%s missing\n' % uuid(1))
    status, out, _err = run(capsys, 'check', '-c', 'missing')
    assert 'cheap,cold' in out


def test_a_marked_image_alone_makes_check_exit_1(glance, capsys):
    glance([dict(LINEAGE[4], base_image_ref=None)])
    status, out, _err = run(capsys, 'check', '-f', 'csv')
    assert status == 1 and 'stuck' in out


def test_nothing_to_report_is_exit_0(glance, capsys):
    glance([dict(i) for i in LINEAGE[:1] + LINEAGE[2:3]])
    status, out, _err = run(capsys, 'check')
    assert (status, out.strip()) == (0, '')


def test_a_failed_listing_is_exit_2(glance, capsys):
    glance([], fail_listing=True)
    status, _out, err = run(capsys, 'check')
    assert status == 2
    assert 'error: listing the images failed: HTTP 500' in err


def test_repair_settles_marks_then_copies_and_a_stuck_image_is_exit_2(
        glance, capsys):
    fake = glance([dict(i) for i in LINEAGE])
    status, out, _err = run(capsys, 'repair', '-f', 'json')
    rows = {(r['image'], r['result']) for r in json.loads(out)}
    assert rows == {(uuid(4), 'stuck'), (uuid(1), 'copied')}
    assert status == 2
    # The stuck import was asked to resume first (refused here).
    assert fake.calls == [('import', uuid(4), ()),
                          ('import', uuid(1), ('cheap', 'cold'))]
    copied = stores.stores_of(fake.by_id[uuid(1)])
    assert copied == ['fast', 'cheap', 'cold']


def test_repair_dry_run_is_exit_1_and_changes_nothing(glance, capsys):
    marked = image(5, baseref_import='%s n1' % old())
    fake = glance([dict(i) for i in LINEAGE[:2]] + [marked])
    status, out, _err = run(capsys, 'repair', '--dry-run', '-f', 'json')
    assert {(r['image'], r['result']) for r in json.loads(out)} == {
        (uuid(5), 'would remove mark'), (uuid(5), 'would copy'),
        (uuid(1), 'would copy')}
    assert (status, fake.calls) == (1, [])


def test_the_partial_notice_comes_from_the_listing_not_a_role_name(
        glance, capsys):
    glance([dict(i, owner='p1') for i in LINEAGE[:3]])
    _status, _out, err = run(capsys, 'check')
    assert 'the result may be partial' in err and 'roles admin' in err
    glance([dict(i) for i in LINEAGE[:3]])     # p2's private images seen
    _status, _out, err = run(capsys, 'check')
    assert 'partial' not in err


def test_image_is_the_commands_option_not_an_abbreviation(glance, capsys):
    """openstacksdk adds --image-api-version before the command."""
    glance([dict(i) for i in LINEAGE])
    status, out, err = run(capsys, 'check', '-f', 'value', '-c', 'image',
                           '--image', uuid(1))
    assert (status, out) == (1, uuid(1) + '\n'), err


def test_the_scan_judges_each_page_as_it_comes():
    """A finding comes out before the listing has been read to its end,
    and the scan keeps no image of it."""
    read = []

    class Listing(FakeImages):
        def list(self, filters, page_size):
            for image in super().list(filters, page_size):
                read.append(image['id'])
                yield image

    images = [dict(LINEAGE[0])] + [image(n, 'cheap,cold')
                                   for n in range(10, 60)]
    images.insert(3, image(1))          # lacks cheap, cold
    fake = Listing(images)
    audit = scan.Scan(FakeConnection(session=None, endpoint='e'), None)
    object.__setattr__(audit.client, 'images', fake)
    audit.catalog = scan.read_catalog(audit.client)
    found = audit.findings(audit.images(page_size=5))
    first = next(found)
    assert first.image_id == uuid(1) and len(read) == 4
    assert list(found) == [] and len(read) == 52
    kept = [v for v in vars(audit).values() if isinstance(v, (list, dict))]
    assert all(len(v) <= 1 for v in kept), kept
