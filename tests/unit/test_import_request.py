"""POST /v2/images/{id}/import: stores filled in from the base image."""

import io
import json

import pytest
import webob

from tests.unit import pipeline as pl


def _posted(fake):
    posted, = fake.find('POST', pl.IMPORT_PATH)
    return posted


@pytest.mark.parametrize('body', [
    {'method': {'name': 'glance-direct'}},
    {'method': {'name': 'web-download', 'uri': 'http://example.com/x'},
     'all_stores_must_succeed': True},
    {'method': {'name': 'copy-image'}, 'extra': [1, None, 'ü']},
])
@pytest.mark.parametrize('base_stores,stores', [
    ('fast,cheap', ['fast', 'cheap']),
    ('cold,archive,fast', ['cold', 'fast']),
    ('cheap', ['cheap']),
])
def test_stores_are_filled_from_the_base_image(pipeline, body, base_stores,
                                               stores):
    pipeline.fake.images[pl.BASE]['stores'] = base_stores

    response = pipeline.import_(json.dumps(body).encode())

    assert response.status_int == 202
    posted = _posted(pipeline.fake)
    expected = dict(body, stores=stores)
    # Glance's own default is true; the filter says what its option says.
    expected.setdefault('all_stores_must_succeed', False)
    assert json.loads(posted.body) == expected
    assert int(posted.content_length) == len(posted.body)
    assert posted.context is pipeline.context
    assert pl.BASE_HEADER in posted.headers
    # copy-image reads the image, for the stores it is in already.
    copy = body['method']['name'] == 'copy-image'
    assert pipeline.fake.lines() == [
        'GET /v2/info/stores', 'GET /v2/info/import',
        'GET /v2/images/%s' % pl.BASE] + (
            ['GET /v2/images/%s' % pl.TARGET] if copy else []) + [
        'POST ' + pl.IMPORT_PATH]


def test_copy_image_leaves_out_the_stores_the_image_is_in(pipeline):
    pipeline.fake.images[pl.BASE]['stores'] = 'cold,fast,cheap'
    pipeline.fake.images[pl.TARGET].update(status='active', stores='fast')

    pipeline.import_(b'{"method": {"name": "copy-image"}}')

    assert json.loads(_posted(pipeline.fake).body) == {
        'method': {'name': 'copy-image'}, 'stores': ['cold', 'cheap'],
        'all_stores_must_succeed': False}


@pytest.mark.parametrize('must_succeed', [True, False])
def test_import_gets_the_filter_option_unless_the_caller_chose(
        make_pipeline, must_succeed):
    pipeline = make_pipeline(all_stores_must_succeed=str(must_succeed))
    pipeline.import_(b'{"method": {"name": "glance-direct"}}')
    assert json.loads(_posted(pipeline.fake).body)[
        'all_stores_must_succeed'] is must_succeed

    pipeline.fake.seen.clear()
    pipeline.import_(json.dumps({
        'method': {'name': 'glance-direct'},
        'all_stores_must_succeed': not must_succeed}).encode())
    assert json.loads(_posted(pipeline.fake).body)[
        'all_stores_must_succeed'] is (not must_succeed)


def test_allowed_stores_apply_to_import_requests(make_pipeline):
    pipeline = make_pipeline(allowed_stores='cheap,cold')
    pipeline.fake.images[pl.BASE]['stores'] = 'cold,fast,cheap'

    pipeline.import_(b'{"method": {"name": "glance-direct"}}')

    assert json.loads(_posted(pipeline.fake).body)['stores'] == [
        'cold', 'cheap']


OWN_CHOICE = {
    'stores': b'{ "method" : {"name": "glance-direct"},"stores":["cold"] }',
    'empty stores': b'{"method": {"name": "glance-direct"}, "stores": []}',
    'all_stores': b'{"method": {"name": "copy-image"},  "all_stores": true}',
    'not json': b'method=glance-direct',
    'json array': b'[{"method": {"name": "glance-direct"}}]',
    'json string': b'"glance-direct"',
    'bad utf-8': b'{"method": "\xff"}',
    'oversized': json.dumps({'method': {'name': 'glance-direct'},
                             'pad': ' ' * (64 * 1024)}).encode(),
}


@pytest.mark.parametrize('raw', OWN_CHOICE.values(), ids=OWN_CHOICE.keys())
def test_other_bodies_are_handed_on_byte_for_byte(pipeline, raw):
    pipeline.import_(raw)

    posted = _posted(pipeline.fake)
    assert posted.body == raw
    assert int(posted.content_length) == len(raw)
    assert posted.context is pipeline.context


def test_store_header_leaves_the_body_alone(pipeline):
    raw = b'{ "method": {"name": "glance-direct"} }'

    pipeline.import_(raw, headers={'x-image-meta-store': 'cold'})

    posted = _posted(pipeline.fake)
    assert posted.body == raw
    assert posted.untouched and posted.same_input
    assert pipeline.fake.lines() == ['POST ' + pl.IMPORT_PATH]


@pytest.mark.parametrize('base', [
    None,
    {'status': 'queued'},
    {'stores': 'archive'},
], ids=['missing', 'not active', 'no usable store'])
def test_unusable_base_leaves_the_body_alone(pipeline, base):
    raw = b'{ "method": {"name": "glance-direct"} }'
    if base is None:
        del pipeline.fake.images[pl.BASE]
    else:
        pipeline.fake.images[pl.BASE].update(base)

    pipeline.import_(raw)

    assert _posted(pipeline.fake).body == raw


@pytest.mark.parametrize('transfer_encoding', [None, 'chunked'])
def test_body_without_length_is_handed_on_unread(pipeline,
                                                 transfer_encoding):
    raw = b'{"method": {"name": "glance-direct"}}'
    request = webob.Request.blank(pl.IMPORT_PATH, method='POST', headers={
        pl.BASE_HEADER: pl.BASE, 'Content-Type': 'application/json'})
    request.environ['wsgi.input'] = io.BytesIO(raw)
    request.environ.pop('CONTENT_LENGTH', None)
    if transfer_encoding:
        request.environ['HTTP_TRANSFER_ENCODING'] = transfer_encoding

    response = request.get_response(pipeline.app.app)

    assert (response.status_int, response.body) == (202, b'{}')
    posted = _posted(pipeline.fake)
    assert posted.body == raw
    assert posted.same_input
    assert posted.content_length is None
