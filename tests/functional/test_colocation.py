"""The filter's rules, checked on the real glance 33 app and real stores."""

import json
import logging
import uuid

import pytest

from tests.functional.conftest import DEFAULT_STORE, Glance

BASE_HEADER = 'x-openstack-base-image-ref'
DATA = b'volume bytes ' * 4096


def assert_landed(glance, image_id, stores):
    """Active, in exactly ``stores`` by the API and on disk, staging clean."""
    image = glance.image(image_id)
    assert image['status'] == 'active', image
    assert sorted(image['stores'].split(',')) == sorted(stores)
    assert image['size'] == len(DATA)
    files = glance.env.files_for(image_id)
    assert sorted(files) == sorted(stores), files
    for store in stores:
        (path,) = files[store]
        with open(path, 'rb') as f:
            assert f.read() == DATA


def assert_untouched(glance, image_id):
    image = glance.image(image_id)
    assert image['status'] == 'queued', image
    assert not image.get('stores')
    assert glance.env.files_for(image_id) == {}


@pytest.mark.parametrize('base_stores', [
    ('cheap',), ('cold',), ('cheap', 'cold'), ('fast', 'cheap', 'cold')],
    ids='-'.join)
def test_upload_lands_in_every_store_of_the_base(glance, base_stores):
    base = glance.base_image(base_stores)
    image_id = glance.create_image()
    response = glance.upload(image_id, DATA, {BASE_HEADER: base})
    assert response.status_int == 204, response
    assert response.body == b''
    assert_landed(glance, image_id, base_stores)


def test_without_the_filter_the_header_is_ignored(glance, no_filter):
    base = glance.base_image(('cheap', 'cold'))
    image_id = no_filter.create_image()
    response = no_filter.upload(image_id, DATA, {BASE_HEADER: base})
    assert response.status_int == 204
    assert_landed(no_filter, image_id, (DEFAULT_STORE,))


def test_colocated_answer_has_the_headers_of_a_plain_upload(glance):
    base = glance.base_image(('cheap', 'cold'))
    plain_id, colocated_id = glance.create_image(), glance.create_image()
    plain = glance.upload(plain_id, DATA)
    colocated = glance.upload(colocated_id, DATA, {BASE_HEADER: base})
    assert (colocated.status, colocated.body) == (plain.status, plain.body)
    skip = {'x-openstack-request-id', 'date'}
    assert ({k.lower(): v for k, v in colocated.headers.items()
             if k.lower() not in skip}
            == {k.lower(): v for k, v in plain.headers.items()
                if k.lower() not in skip})


def test_store_header_wins(glance):
    base = glance.base_image(('cheap', 'cold'))
    image_id = glance.create_image()
    response = glance.upload(image_id, DATA, {BASE_HEADER: base,
                                              'x-image-meta-store': 'fast'})
    assert response.status_int == 204
    assert_landed(glance, image_id, ('fast',))


def test_no_header_goes_to_the_default_store(glance):
    image_id = glance.create_image()
    assert glance.upload(image_id, DATA).status_int == 204
    assert_landed(glance, image_id, (DEFAULT_STORE,))


@pytest.mark.parametrize('value', [
    'not-a-uuid', '', '   ', '%s, %s' % (uuid.uuid4(), uuid.uuid4()),
    'x' * 8192])
def test_invalid_header_is_refused_before_the_body(glance, value):
    image_id = glance.create_image()
    response = glance.upload(image_id, DATA, {BASE_HEADER: value})
    assert response.status_int == 400
    assert BASE_HEADER in response.json['message']
    assert_untouched(glance, image_id)


def test_header_forms_are_normalized(glance):
    base = glance.base_image(('cheap', 'cold'))
    image_id = glance.create_image()
    response = glance.upload(image_id, DATA,
                             {BASE_HEADER: ' {%s} ' % base.upper()})
    assert response.status_int == 204
    assert_landed(glance, image_id, ('cheap', 'cold'))


def test_invisible_base_reads_like_a_missing_one(glance, other_project,
                                                 caplog):
    private_base = glance.base_image(('cheap', 'cold'))
    missing_base = str(uuid.uuid4())
    results = []
    for base in (private_base, missing_base):
        image_id = other_project.create_image()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger='glance_baseref'):
            response = other_project.upload(image_id, DATA,
                                            {BASE_HEADER: base})
        records = [(r.levelname, r.getMessage().replace(base, 'BASE')
                    .replace(image_id, 'IMAGE').rsplit(' in ', 1)[0])
                   for r in caplog.records if r.name.startswith(
                       'glance_baseref')]
        results.append((response.status, response.body, records))
        assert_landed(other_project, image_id, (DEFAULT_STORE,))
    assert results[0] == results[1]
    assert results[0][2], 'the fallback must be logged'


def test_base_of_another_project_that_is_shared_is_followed(glance,
                                                            other_project):
    base = glance.base_image(('cheap',), visibility='community')
    image_id = other_project.create_image()
    response = other_project.upload(image_id, DATA, {BASE_HEADER: base})
    assert response.status_int == 204
    assert_landed(other_project, image_id, ('cheap',))


def test_base_not_active_goes_to_the_default_store(glance):
    base = glance.create_image()
    image_id = glance.create_image()
    assert glance.upload(image_id, DATA, {BASE_HEADER: base}) \
        .status_int == 204
    assert_landed(glance, image_id, (DEFAULT_STORE,))


@pytest.mark.parametrize('paste_options,landed', [
    ({'allowed_stores': 'cold,fast'}, ('cold',)),
    ({'enabled': 'false'}, (DEFAULT_STORE,)),
], ids=['allowed_stores', 'disabled'])
def test_paste_options_win(env, load_pipeline, paste_options, landed):
    glance = Glance(env, load_pipeline(**paste_options))
    base = glance.base_image(('cheap', 'cold'))
    image_id = glance.create_image()
    assert glance.upload(image_id, DATA, {BASE_HEADER: base}) \
        .status_int == 204
    assert_landed(glance, image_id, landed)


def test_import_request_gets_the_base_stores(glance):
    base = glance.base_image(('cheap', 'cold'))
    image_id = glance.create_image()
    staged = glance.request(
        'PUT', '/v2/images/%s/stage' % image_id, body=DATA,
        headers={'Content-Type': 'application/octet-stream'})
    assert staged.status_int == 204
    response = glance.request(
        'POST', '/v2/images/%s/import' % image_id,
        headers={BASE_HEADER: base, 'Content-Type': 'application/json'},
        body=json.dumps({'method': {'name': 'glance-direct'}}).encode())
    assert response.status_int == 202, response
    glance.wait_import(image_id)
    assert_landed(glance, image_id, ('cheap', 'cold'))


def test_import_request_with_own_stores_is_left_alone(glance):
    base = glance.base_image(('cheap', 'cold'))
    image_id = glance.create_image()
    glance.request('PUT', '/v2/images/%s/stage' % image_id, body=DATA,
                   headers={'Content-Type': 'application/octet-stream'})
    response = glance.request(
        'POST', '/v2/images/%s/import' % image_id,
        headers={BASE_HEADER: base},
        json={'method': {'name': 'glance-direct'}, 'stores': ['fast']})
    assert response.status_int == 202, response
    glance.wait_import(image_id)
    assert_landed(glance, image_id, ('fast',))
