"""The base_image_ref property: followed (Nova snapshots) and recorded."""

import json
import logging

import pytest

from tests.unit import pipeline as pl

OTHER_BASE = '3c5d7e9f-1a2b-4c3d-8e4f-5a6b7c8d9e0f'
TARGET_PATH = '/v2/images/%s' % pl.TARGET
PATCH = 'PATCH ' + TARGET_PATH
PUT = 'PUT ' + pl.FILE_PATH


def caller_request(fake, line=PUT):
    seen, = [s for s in fake.seen if not s.subrequest]
    assert seen.line == line
    return seen


def filter_lines(caplog, level=logging.INFO):
    return [m for m in pl.messages(caplog, level) if pl.TARGET in m]


# -- use_base_image_property: Nova's snapshots ------------------------------

@pytest.fixture
def nova(make_pipeline):
    """The filter following the property; the snapshot names BASE."""
    pipeline = make_pipeline(use_base_image_property='true')
    pipeline.fake.images[pl.TARGET]['base_image_ref'] = pl.BASE
    return pipeline


@pytest.mark.parametrize('base_stores,answered_by,lines', [
    ('cold', 'file', [PUT]),
    # Several: the import mark is set before staging and removed at the end.
    ('fast,cheap', 'stage', ['PATCH ' + TARGET_PATH,
                             'PUT /v2/images/%s/stage' % pl.TARGET,
                             'POST ' + pl.IMPORT_PATH, 'GET ' + TARGET_PATH,
                             'PATCH ' + TARGET_PATH]),
], ids=['one store', 'several stores'])
def test_property_is_followed_like_the_header(nova, caplog, base_stores,
                                              answered_by, lines):
    fake = nova.fake
    fake.images[pl.BASE]['stores'] = base_stores
    fake.progress[pl.TARGET] = [{'status': 'active', 'stores': base_stores,
                                 'os_glance_import_task': None}]

    response = nova.upload(base=None)

    assert response.headers['X-Fake-Glance'] == answered_by
    assert fake.lines() == [
        'GET /v2/info/stores', 'GET /v2/info/import', 'GET ' + TARGET_PATH,
        'GET /v2/images/%s' % pl.BASE] + lines
    if answered_by == 'file':
        assert caller_request(fake).store == 'cold'
    decision, = filter_lines(caplog)
    assert ('base %s (from its base_image_ref property): the base image is '
            'in %s; stores %s by ' % (pl.BASE, base_stores, base_stores)
            in decision)
    # Never recorded again: it came from the property (the only PATCHes
    # are the import mark's).
    assert [c['path'] for p in fake.find('PATCH')
            for c in json.loads(p.body)] == (
        ['/baseref_import'] * 2 if answered_by == 'stage' else [])


@pytest.mark.parametrize('value,why', [
    ('not-an-image', 'The base_image_ref property is not a UUID'),
    ('%s,%s' % (pl.BASE, OTHER_BASE),
     'The base_image_ref property holds several values'),
    ('', 'The base_image_ref property is empty'),
    ('x' * 500, 'The base_image_ref property is 500 characters long'),
    (pl.TARGET, 'The base_image_ref property names the image itself'),
    (pl.TARGET.upper(), 'The base_image_ref property names the image '
                        'itself'),
    (OTHER_BASE, 'the base image was not found'),
    ('invisible', 'the base image was not found'),
], ids=['not a uuid', 'several', 'empty', 'long', 'itself', 'itself upper',
        'missing', 'invisible'])
def test_invalid_property_means_default_store_never_400(nova, caplog, value,
                                                        why):
    fake = nova.fake
    if value == 'invisible':
        fake.images[OTHER_BASE] = dict(fake.images[pl.BASE], owner='p2')
        value = OTHER_BASE
    fake.images[pl.TARGET]['base_image_ref'] = value

    response = nova.upload(base=None)

    assert response.status_int == 204
    assert response.headers['X-Fake-Glance'] == 'file'
    seen = caller_request(fake)
    assert seen.untouched and seen.store is None
    line, = filter_lines(caplog)
    assert why in line
    assert 'stores default by upload to the default store' in line
    if why.startswith('The') and value:
        # The property's own value is never echoed.
        assert value not in line.replace(pl.TARGET, '')


def test_without_property_the_upload_costs_one_look_at_the_image(
        nova, caplog):
    del nova.fake.images[pl.TARGET]['base_image_ref']

    for _ in range(2):
        nova.upload(base=None)

    assert nova.fake.lines() == [
        'GET /v2/info/stores', 'GET /v2/info/import',
        'GET ' + TARGET_PATH, PUT, 'GET ' + TARGET_PATH, PUT]
    assert all(s.untouched for s in nova.fake.find('PUT'))
    assert filter_lines(caplog) == []


@pytest.mark.parametrize('local_conf,headers,store', [
    ({'use_base_image_property': 'false'}, {}, None),
    ({}, {'x-image-meta-store': 'cheap'}, 'cheap'),
], ids=['option off', 'store header'])
def test_property_is_ignored(make_pipeline, caplog, local_conf, headers,
                             store):
    pipeline = make_pipeline(**dict({'use_base_image_property': 'true'},
                                    **local_conf))
    pipeline.fake.images[pl.TARGET]['base_image_ref'] = pl.BASE
    pipeline.fake.images[pl.BASE]['stores'] = 'cold'

    pipeline.upload(base=None, headers=headers)

    assert pipeline.fake.lines() == [PUT]
    assert caller_request(pipeline.fake).untouched
    assert caller_request(pipeline.fake).store == store
    assert filter_lines(caplog) == []


def test_header_wins_over_the_property(nova):
    nova.fake.images[pl.BASE]['stores'] = 'fast,cheap'
    nova.fake.images[OTHER_BASE] = dict(nova.fake.images[pl.BASE],
                                        stores='cold')

    nova.upload(base=OTHER_BASE)

    assert caller_request(nova.fake).store == 'cold'
    assert nova.fake.find('GET', '/v2/images/%s' % pl.BASE) == []


# -- record_base_image: the lineage of Cinder's uploads ---------------------

@pytest.fixture
def recording(make_pipeline):
    pipeline = make_pipeline(record_base_image='true')
    pipeline.fake.images[pl.BASE]['stores'] = 'cold'
    return pipeline


def patches(fake):
    return [(s.context, json.loads(s.body)) for s in fake.find('PATCH')]


def recorded_as(pipeline, base_id=pl.BASE):
    return [(pipeline.context, [{'op': 'add', 'path': '/base_image_ref',
                                 'value': base_id}])]


@pytest.mark.parametrize('base_state', [
    {}, {'status': 'queued', 'stores': ''}, {'status': 'deactivated'},
    {'stores': 'archive'}, {'stores': ''},
], ids=['active', 'queued', 'deactivated', 'no usable store', 'no store'])
@pytest.mark.parametrize('form', [str, str.upper, '{{{}}}'.format],
                         ids=['canonical', 'upper', 'braces'])
def test_visible_base_is_recorded_before_the_data(recording, caplog,
                                                  base_state, form):
    fake = recording.fake
    fake.images[pl.BASE].update(base_state)

    response = recording.upload(base=form(pl.BASE))

    assert response.status_int == 204
    assert patches(fake) == recorded_as(recording)
    lines = fake.lines()
    assert lines.index(PATCH) < lines.index(PUT)
    assert fake.images[pl.TARGET]['base_image_ref'] == pl.BASE
    decision, = filter_lines(caplog)
    assert '; base_image_ref set; stores ' in decision


def test_record_comes_before_staging(recording):
    recording.fake.images[pl.BASE]['stores'] = 'fast,cheap'
    recording.fake.progress[pl.TARGET] = [
        {'status': 'active', 'stores': 'fast,cheap',
         'os_glance_import_task': None}]

    recording.upload()

    lines = recording.fake.lines()
    assert lines.index(PATCH) < lines.index(
        'PUT /v2/images/%s/stage' % pl.TARGET)
    # The target was read once, for both the record and the import check.
    assert lines.count('GET ' + TARGET_PATH) == 2  # once more after import


def test_different_value_is_replaced_and_logged(recording, caplog):
    recording.fake.images[pl.TARGET]['base_image_ref'] = OTHER_BASE

    recording.upload()

    assert patches(recording.fake) == recorded_as(recording)
    decision, = filter_lines(caplog)
    assert "; base_image_ref '%s' replaced; " % OTHER_BASE in decision


def test_same_value_is_left_alone(recording, caplog):
    recording.fake.images[pl.TARGET]['base_image_ref'] = pl.BASE

    recording.upload()

    assert patches(recording.fake) == []
    assert 'base_image_ref' not in filter_lines(caplog)[0]


@pytest.mark.parametrize('why', [
    'missing', 'invisible', 'itself', 'store header', 'option off',
    'target active', 'target without disk_format', 'lookup timeout'])
def test_nothing_is_recorded(make_pipeline, why):
    local_conf = {'record_base_image': str(why != 'option off')}
    base, headers = pl.BASE, {}
    pipeline = make_pipeline(**local_conf)
    fake = pipeline.fake
    fake.images[pl.BASE]['stores'] = 'cold'
    if why == 'missing':
        base = OTHER_BASE
    elif why == 'invisible':
        fake.images[pl.BASE]['owner'] = 'p2'
    elif why == 'itself':
        base = pl.TARGET
    elif why == 'store header':
        headers = {'x-image-meta-store': 'cheap'}
    elif why == 'target active':
        fake.images[pl.TARGET]['status'] = 'active'
    elif why == 'target without disk_format':
        del fake.images[pl.TARGET]['disk_format']
    elif why == 'lookup timeout':
        fake.broken['/v2/images/%s' % pl.BASE] = 500

    pipeline.upload(base=base, headers=headers)

    assert fake.find('PATCH') == []
    assert 'base_image_ref' not in fake.images[pl.TARGET]
    assert len(fake.find('PUT', pl.FILE_PATH)) == 1


@pytest.mark.parametrize('status', [403, 409, 413, 500])
def test_refused_record_warns_and_the_upload_goes_on(recording, caplog,
                                                     status):
    recording.fake.answers['patch'] = status

    response = recording.upload()

    assert response.status_int == 204
    assert caller_request(recording.fake).store == 'cold'
    warning, = [m for m in pl.messages(caplog, logging.WARNING)]
    assert ('image %s: could not record its base image %s in '
            'base_image_ref; the upload goes on without it: PATCH image'
            % (pl.TARGET, pl.BASE)) in warning
    assert str(status) in warning
    decision, = filter_lines(caplog)
    assert 'stores cold by upload to cold; base_image_ref not recorded; ' \
        'handed on' in decision
