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
    assert json.loads(posted.body) == dict(body, stores=stores)
    assert int(posted.content_length) == len(posted.body)
    assert posted.context is pipeline.context
    assert pl.BASE_HEADER in posted.headers
    assert pipeline.fake.lines() == [
        'GET /v2/info/stores', 'GET /v2/info/import',
        'GET /v2/images/%s' % pl.BASE, 'POST ' + pl.IMPORT_PATH]


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
