"""Cinder's upload, through glanceclient, against glance-api 33 under uWSGI.

Each test uploads the way Cinder does (keystoneauth session client,
``http_client.additional_headers``, chunked ``images.upload``) and then
checks, on disk, that the bytes are in each expected store and nowhere
else, staging included. glance runs the ``keystone`` flavor against a real
Keystone; the clients use real tokens and find glance in the catalog.
"""


import glanceclient.exc
import pytest

from tests import harness
from tests.e2e.checks import assert_landed
from tests.e2e.checks import VOLUME
from tests.e2e.conftest import DEFAULT_STORE
from tests.harness import release

pytestmark = pytest.mark.identities('keystone')


@pytest.mark.release
@pytest.mark.identities('headers', 'keystone')
def test_colocation_check_fails_without_the_filter(make_glance):
    """The co-location check (``checks.assert_landed``) can fail: without
    ``baseref`` in the pipeline glance writes its default store whatever
    the header says."""
    deployment = make_glance(with_filter=False)
    client = deployment.client('p1')
    for stores in (('cheap',), ('cheap', 'cold')):
        base = harness.make_base_image(client, stores, b'base')['id']
        image_id = client.create_image(name='volume')['id']
        client.upload(image_id, VOLUME, base_image_ref=base)
        with pytest.raises(AssertionError):
            assert_landed(deployment, client, image_id, stores)
        assert_landed(deployment, client, image_id, (DEFAULT_STORE,))


@pytest.fixture(scope='module')
def bases(glance):
    """Base images of p1, by the stores they live in."""
    client = glance.client('p1')
    made = {}
    for stores in (('cheap',), ('cheap', 'cold'), ('fast', 'cheap', 'cold')):
        made[stores] = harness.make_base_image(
            client, stores, b'base ' * 1000, name='base-%s' % '-'.join(
                stores))['id']
    made['community'] = harness.make_base_image(
        client, ('cold',), b'community base', visibility='community')['id']
    return made


@pytest.mark.release
@pytest.mark.parametrize('stores', [
    ('cheap',), ('cheap', 'cold'), ('fast', 'cheap', 'cold')],
    ids='-'.join)
def test_volume_lands_where_its_base_lives(glance, p1, bases, stores):
    image_id = p1.create_image(name='volume')['id']
    p1.upload(image_id, VOLUME, base_image_ref=bases[stores])
    assert_landed(glance, p1, image_id, stores)


@pytest.mark.release
def test_store_header_wins_over_the_base(glance, p1, bases):
    image_id = p1.create_image(name='volume')['id']
    p1.upload(image_id, VOLUME, base_image_ref=bases[('cheap', 'cold')],
              store='fast')
    assert_landed(glance, p1, image_id, ('fast',))


@pytest.mark.release
def test_no_header_goes_to_the_default_store(glance, p1):
    image_id = p1.create_image(name='volume')['id']
    p1.upload(image_id, VOLUME)
    assert_landed(glance, p1, image_id, (DEFAULT_STORE,))


@pytest.mark.release
def test_other_project_does_not_follow_a_private_base(glance, p2, bases):
    image_id = p2.create_image(name='volume')['id']
    p2.upload(image_id, VOLUME, base_image_ref=bases[('cheap', 'cold')])
    assert_landed(glance, p2, image_id, (DEFAULT_STORE,))


@pytest.mark.release
def test_other_project_follows_a_base_it_may_see(glance, p2, bases):
    image_id = p2.create_image(name='volume')['id']
    p2.upload(image_id, VOLUME, base_image_ref=bases['community'])
    assert_landed(glance, p2, image_id, ('cold',))


@pytest.mark.release
def test_invalid_header_is_a_400_and_nothing_is_written(glance, p1):
    image_id = p1.create_image(name='volume')['id']
    with pytest.raises(release.early_answer_errors(
            glanceclient.exc.HTTPBadRequest)) as raised:
        p1.upload(image_id, VOLUME, base_image_ref='not-an-image')
    # Refused before the body is read: 2024.1's client may lose the answer
    # (release.loses_early_answers); uWSGI's log has it.
    release.check_early_answer(glance.server, image_id, raised.value, 400)
    if not isinstance(raised.value, glanceclient.exc.CommunicationError):
        assert 'x-openstack-base-image-ref' in str(raised.value)
    assert p1.get_image(image_id)['status'] == 'queued'
    assert glance.env.files_for(image_id) == {}


@pytest.mark.release
def test_import_request_gets_the_base_stores(glance, p1, bases):
    image_id = p1.create_image(name='volume')['id']
    p1.stage(image_id, VOLUME)
    client = p1.client()
    client.http_client.additional_headers = {
        harness.BASE_IMAGE_HEADER: bases[('cheap', 'cold')]}
    client.images.image_import(image_id, method='glance-direct')
    p1.wait_for(image_id, harness.import_finished)
    assert_landed(glance, p1, image_id, ('cheap', 'cold'))


def test_decisions_are_logged(glance, p1, bases):
    image_id = p1.create_image(name='volume')['id']
    p1.upload(image_id, VOLUME, base_image_ref=bases[('cheap', 'cold')])
    lines = [ln for ln in glance.log().splitlines()
             if 'glance_baseref' in ln and image_id in ln]
    assert len(lines) == 1, lines
    assert ' INFO ' in lines[0]
    assert 'stores cheap,cold by stage+import' in lines[0]


def test_answer_before_all_stores_when_configured(make_glance):
    deployment = make_glance(
        baseref_options={'wait_for_all_stores': False})
    client = deployment.client('p1')
    base = harness.make_base_image(client, ('fast', 'cheap', 'cold'),
                                   b'base')['id']
    image_id = client.create_image(name='volume')['id']
    client.upload(image_id, VOLUME, base_image_ref=base)
    assert client.get_image(image_id)['status'] == 'active'
    client.wait_for(image_id, harness.import_finished)
    assert_landed(deployment, client, image_id, ('fast', 'cheap', 'cold'))


@pytest.mark.parametrize('glance_options', [
    {'staging': False},
    {'import_methods': ('web-download', 'copy-image')},
], ids=['no-staging', 'no-glance-direct'])
def test_without_import_the_first_store_is_used(make_glance, glance_options):
    deployment = make_glance()
    client = deployment.client('p1')
    base = harness.make_base_image(client, ('cheap', 'cold'), b'base')['id']
    deployment.env.reconfigure(**glance_options)
    deployment.server.restart()

    for _ in range(2):
        image_id = client.create_image(name='volume')['id']
        client.upload(image_id, VOLUME, base_image_ref=base)
        assert_landed(deployment, client, image_id, ('cheap',))
    warnings = [ln for ln in deployment.log().splitlines()
                if 'glance_baseref' in ln and ' WARNING ' in ln]
    if 'staging' in glance_options:
        # A staging fault: a WARNING on every upload it costs a store.
        assert len(warnings) == 2, warnings
        assert all('it goes to cheap only' in ln for ln in warnings)
    else:
        # A configuration without glance-direct: said once.
        assert len(warnings) == 1, warnings
        assert 'first usable store' in warnings[0]
