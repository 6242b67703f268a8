"""Cinder's own upload code (cinder 29.0.0) against the keystone flavor.

Each upload runs ``volume_utils.upload_volume`` with a real user token
from the session's Keystone (tests/harness/drivers/cinder_upload.py): the
request glance gets is the one a cinder-volume service sends, headers
included, and after a failure Cinder's own clean-up runs
(``VolumeManager._delete_image``, which deletes only ``queued`` or
``saving`` images). The stores are checked on disk.
"""


import pytest

from tests import harness
from tests.e2e import conftest
from tests.e2e.checks import assert_landed
from tests.e2e.checks import broken
from tests.e2e.checks import VOLUME
from tests.e2e.conftest import DEFAULT_STORE
from tests.harness import drivers

pytestmark = pytest.mark.release

#: What Cinder's volume manager deletes after a failed upload; 'deleted':
#: the image was already gone when it looked.
CLEANED_UP_BY_CINDER = ('queued', 'saving', 'deleted')


@pytest.fixture(scope='module')
def volume_path(tmp_path_factory):
    path = tmp_path_factory.mktemp('volume') / 'volume.raw'
    path.write_bytes(VOLUME)
    return path


@pytest.fixture(scope='module')
def base(keystone_glance):
    """A private image of p1 in two stores, not the default one."""
    return harness.make_base_image(keystone_glance.client('p1'),
                                   ('cheap', 'cold'), b'base ' * 1000)['id']


def cinder_upload(keystone, deployment, volume_path, project='p1', **volume):
    """Cinder's upload as a member of ``project``; it must succeed, and
    send the headers that ``volume`` calls for."""
    creds = drivers.credentials(keystone, keystone.user(project))
    result = drivers.cinder_upload(creds, deployment.server.url,
                                   volume_path, **volume)
    assert result['error'] is None, result['log'][-4000:]
    assert result['status'] == 'active', result
    sent = drivers.upload_headers(result)
    assert sent.get(harness.BASE_IMAGE_HEADER) == volume.get(
        'base_image_ref'), sent
    assert sent.get(harness.STORE_HEADER) == volume.get('store_id'), sent
    assert ('X-Service-Token' in sent) == bool(volume.get('service_user'))
    return result['image_id']


def test_base_image_only_lands_in_the_base_stores(
        keystone, keystone_glance, volume_path, base):
    image_id = cinder_upload(keystone, keystone_glance, volume_path,
                             base_image_ref=base)
    client = keystone_glance.client('p1')
    assert_landed(keystone_glance, client, image_id, ('cheap', 'cold'),
                  data=VOLUME)
    # record_base_image (on by default): the lineage Cinder does not keep.
    assert client.get_image(image_id)['base_image_ref'] == base


def test_colocation_check_fails_without_the_filter(
        keystone, make_keystone_glance, volume_path):
    """The check above can fail: without ``baseref`` in the pipeline
    Cinder's upload lands in glance's default store."""
    deployment = make_keystone_glance(with_filter=False)
    client = deployment.client('p1')
    base_id = harness.make_base_image(client, ('cheap', 'cold'),
                                      b'base')['id']
    image_id = cinder_upload(keystone, deployment, volume_path,
                             base_image_ref=base_id)
    with pytest.raises(AssertionError):
        assert_landed(deployment, client, image_id, ('cheap', 'cold'),
                      data=VOLUME)
    assert_landed(deployment, client, image_id, (DEFAULT_STORE,),
                  data=VOLUME)


def test_user_and_service_token_colocate_as_the_user(
        keystone, keystone_glance, volume_path, base):
    """``[service_user] send_service_user_token = true``: Cinder sends
    its own service token along with the user's."""
    image_id = cinder_upload(
        keystone, keystone_glance, volume_path, base_image_ref=base,
        service_user=drivers.service_user_options(keystone))
    assert_landed(keystone_glance, keystone_glance.client('p1'), image_id,
                  ('cheap', 'cold'), data=VOLUME)


def test_store_id_of_the_volume_type_wins(
        keystone, keystone_glance, volume_path, base):
    image_id = cinder_upload(keystone, keystone_glance, volume_path,
                             base_image_ref=base, store_id='fast')
    assert_landed(keystone_glance, keystone_glance.client('p1'), image_id,
                  ('fast',), data=VOLUME)


def test_volume_not_from_an_image_goes_to_the_default_store(
        keystone, keystone_glance, volume_path):
    image_id = cinder_upload(keystone, keystone_glance, volume_path)
    assert_landed(keystone_glance, keystone_glance.client('p1'), image_id,
                  (DEFAULT_STORE,), data=VOLUME)


def test_base_the_user_cannot_see_goes_to_the_default_store(
        keystone, keystone_glance, volume_path, base):
    image_id = cinder_upload(keystone, keystone_glance, volume_path,
                             project='p2', base_image_ref=base)
    assert_landed(keystone_glance, keystone_glance.client('p2'), image_id,
                  (DEFAULT_STORE,), data=VOLUME)


# ----------------------------------------------------------------------
# Failed uploads: Cinder must be able to clean up what is left


@pytest.fixture(scope='module')
def failing_glances(tmp_path_factory, keystone):
    """Keystone-flavor glances by filter options, shared by the module.

    Their stores are broken and repaired by the tests.
    """
    started = {}

    def get(**baseref):
        baseref.setdefault('poll_interval', 0.2)
        key = tuple(sorted(baseref.items()))
        if key not in started:
            started[key] = conftest.start_deployment(
                tmp_path_factory.mktemp('cinder-faults'), keystone=keystone,
                baseref_options=baseref)
        return started[key]
    yield get
    for deployment in started.values():
        conftest.stop_deployment(deployment)


@pytest.mark.parametrize('base_stores,failing,must_succeed', [
    (('cold',), ('cold',), False),
    (('cheap', 'cold'), ('cheap', 'cold'), False),
    (('cheap', 'cold'), ('cold',), True),
], ids=['only-target-store', 'every-target-store',
        'one-store-all-must-succeed'])
def test_failed_upload_is_cleaned_up_by_cinder(
        keystone, failing_glances, volume_path, base_stores, failing,
        must_succeed):
    deployment = failing_glances(all_stores_must_succeed=must_succeed)
    base_id = harness.make_base_image(deployment.client('p1'), base_stores,
                                      b'base')['id']
    creds = drivers.credentials(keystone, keystone.user('p1'))

    with broken(deployment, *failing):
        result = drivers.cinder_upload(creds, deployment.server.url,
                                       volume_path, base_image_ref=base_id)

    assert result['error'] is not None, result
    assert result['status_after_failure'] in CLEANED_UP_BY_CINDER, result
    assert result['status'] == 'deleted', result
    assert deployment.env.files_for(result['image_id']) == {}


def test_partly_failed_upload_is_a_success_for_cinder(
        keystone, failing_glances, volume_path):
    deployment = failing_glances()
    client = deployment.client('p1')
    base_id = harness.make_base_image(client, ('cheap', 'cold'),
                                      b'base')['id']

    with broken(deployment, 'cold'):
        image_id = cinder_upload(keystone, deployment, volume_path,
                                 base_image_ref=base_id)

    assert_landed(deployment, client, image_id, ('cheap',), data=VOLUME)
    assert client.get_image(image_id)['os_glance_failed_import'] == 'cold'
