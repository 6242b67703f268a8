"""base_image_ref on glance-api 33 under uWSGI: recorded, and followed.

Recording is on by default (the session-wide glance); following the
property needs ``use_base_image_property = true``. A plain ``PUT
/v2/images/{id}/file`` without any header stands in for Nova's snapshot
upload here (Nova's own code drives it in tests/e2e/test_nova_*.py).
"""

import io
import os
import uuid

import pytest

from tests import harness
from tests.e2e.conftest import DEFAULT_STORE
from tests.e2e.conftest import start_deployment
from tests.e2e.conftest import stop_deployment

VOLUME = os.urandom(2 * 1024 * 1024 + 3)


@pytest.fixture(scope='module')
def bases(glance):
    client = glance.client('p1')
    return {stores: harness.make_base_image(client, stores, b'base')['id']
            for stores in (('cheap',), ('cheap', 'cold'))}


def lines_about(deployment, image_id, level='INFO'):
    return [ln for ln in deployment.log().splitlines()
            if 'glance_baseref' in ln and image_id in ln
            and ' %s ' % level in ln]


def plain_put(client, image_id, data=VOLUME):
    """Nova's snapshot upload: glanceclient, no header at all."""
    return client.client().images.upload(image_id, io.BytesIO(data))


# -- record_base_image (default true) ----------------------------------------

@pytest.mark.release
@pytest.mark.parametrize('form', [str, str.upper], ids=['canonical', 'upper'])
def test_base_is_recorded_on_the_new_image(glance, p1, bases, form):
    base = bases[('cheap',)]
    image_id = p1.create_image(name='volume')['id']

    p1.upload(image_id, VOLUME, base_image_ref=form(base))

    image = p1.get_image(image_id)
    assert image['base_image_ref'] == base
    assert harness.image_stores(image) == {'cheap'}
    decision, = lines_about(glance, image_id)
    assert '; base_image_ref set; stores cheap by upload to cheap' in decision


def test_copied_grandparent_is_replaced(glance, p1, bases):
    """Cinder copies a snapshot's properties: its base_image_ref too."""
    grandparent = bases[('cheap', 'cold')]
    base = bases[('cheap',)]
    image_id = p1.create_image(name='volume',
                               base_image_ref=grandparent)['id']

    p1.upload(image_id, VOLUME, base_image_ref=base)

    assert p1.get_image(image_id)['base_image_ref'] == base
    decision, = lines_about(glance, image_id)
    assert "base_image_ref '%s' replaced" % grandparent in decision


@pytest.mark.parametrize('case', ['missing', 'invisible', 'store header'])
def test_nothing_is_recorded(glance, p1, p2, bases, case):
    base, store = bases[('cheap',)], None
    client = p1
    if case == 'missing':
        base = str(uuid.uuid4())
    elif case == 'invisible':
        client = p2
    else:
        store = 'cold'
    image_id = client.create_image(name='volume')['id']

    client.upload(image_id, VOLUME, base_image_ref=base, store=store)

    image = client.get_image(image_id)
    assert 'base_image_ref' not in image
    assert harness.image_stores(image) == {store or DEFAULT_STORE}


def test_refused_record_warns_and_the_upload_goes_on(make_glance):
    deployment = make_glance(api_options={'image_property_quota': 2})
    client = deployment.client('p1')
    base = harness.make_base_image(client, ('cheap',), b'base')['id']
    image_id = client.create_image(name='volume', kind='volume',
                                   origin='cinder')['id']

    client.upload(image_id, VOLUME, base_image_ref=base)

    image = client.get_image(image_id)
    assert image['status'] == 'active'
    assert harness.image_stores(image) == {'cheap'}
    assert 'base_image_ref' not in image
    warning, = lines_about(deployment, image_id, 'WARNING')
    assert 'could not record its base image %s' % base in warning
    assert '413' in warning
    decision, = lines_about(deployment, image_id)
    assert 'stores cheap by upload to cheap; base_image_ref not recorded; ' \
        'handed on' in decision


# -- use_base_image_property ------------------------------------------------

@pytest.fixture(scope='module')
def nova_glance(tmp_path_factory):
    deployment = start_deployment(
        tmp_path_factory.mktemp('lineage'),
        baseref_options={'use_base_image_property': True})
    client = deployment.client('p1')
    deployment.bases = {
        stores: harness.make_base_image(client, stores, b'base')['id']
        for stores in (('cheap',), ('cheap', 'cold'))}
    yield deployment
    stop_deployment(deployment)


@pytest.mark.release
@pytest.mark.parametrize('stores', [('cheap',), ('cheap', 'cold')],
                         ids='-'.join)
def test_snapshot_follows_its_base_image_ref(nova_glance, stores):
    client = nova_glance.client('p1')
    base = nova_glance.bases[stores]
    image_id = client.create_image(name='snapshot',
                                   base_image_ref=base)['id']

    plain_put(client, image_id)

    image = client.get_image(image_id)
    assert image['status'] == 'active'
    assert harness.image_stores(image) == set(stores)
    assert nova_glance.env.stores_holding(image_id) == set(stores)
    decision, = lines_about(nova_glance, image_id)
    assert '(from its base_image_ref property)' in decision


@pytest.mark.parametrize('value,why', [
    ('not-an-image', 'The base_image_ref property is not a UUID'),
    ('self', 'The base_image_ref property names the image itself'),
    ('missing', 'the base image was not found'),
], ids=['not a uuid', 'itself', 'missing'])
def test_invalid_property_goes_to_the_default_store(nova_glance, value, why):
    client = nova_glance.client('p1')
    image_id = client.create_image(name='snapshot')['id']
    if value == 'self':
        value = image_id
    elif value == 'missing':
        value = str(uuid.uuid4())
    client.client().images.update(image_id, base_image_ref=value)

    plain_put(client, image_id)

    image = client.get_image(image_id)
    assert image['status'] == 'active'
    assert harness.image_stores(image) == {DEFAULT_STORE}
    decision, = lines_about(nova_glance, image_id)
    assert why in decision


@pytest.mark.release
@pytest.mark.parametrize('header,store,expected', [
    ('cheap', None, {'cheap'}), (None, 'cold', {'cold'}),
    ('cheap', 'fast', {'fast'})],
    ids=['header wins', 'store wins', 'store wins over both'])
def test_precedence(nova_glance, header, store, expected):
    client = nova_glance.client('p1')
    image_id = client.create_image(
        name='snapshot',
        base_image_ref=nova_glance.bases[('cheap', 'cold')])['id']
    base = nova_glance.bases[(header,)] if header else None

    client.upload(image_id, VOLUME, base_image_ref=base, store=store)

    image = client.get_image(image_id)
    assert harness.image_stores(image) == expected
