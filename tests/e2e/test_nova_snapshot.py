"""Nova's own snapshot code (nova 34.0.0) against the keystone flavor.

Each snapshot runs what nova-api and the libvirt driver of nova-compute do
with glance (tests/harness/drivers/nova_snapshot.py), with a real user
token: the image is created with the property ``base_image_ref`` (the
instance's image), then uploaded with a plain ``PUT /v2/images/{id}/file``
that names no store and no base. With ``[glance_baseref]
use_base_image_property = true`` the filter co-locates it from that
property; with the option off (the default) it lands in the default
store.
"""

import os
import struct

import pytest

from tests import harness
from tests.e2e import conftest
from tests.e2e.checks import assert_landed
from tests.e2e.conftest import DEFAULT_STORE
from tests.harness import drivers

PAYLOAD = os.urandom(2 * 1024 * 1024 + 5)


def qcow2_disk(virtual_size=1024 ** 3):
    """A qcow2 disk as glance's format inspector checks it: a version 3
    header (104 bytes) without backing file, then data.

    glance 33 refuses an upload whose content does not match its
    ``disk_format`` (``[image_format] require_image_format_match``).
    """
    header = struct.pack(
        '>4sIQIIQIIQQIIQQQQII', b'QFI\xfb', 3, 0, 0, 16, virtual_size,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 104)
    return header + PAYLOAD


DISKS = {'qcow2': qcow2_disk(), 'raw': PAYLOAD}


@pytest.fixture(scope='module')
def disk_paths(tmp_path_factory):
    top = tmp_path_factory.mktemp('disks')
    paths = {}
    for disk_format, data in DISKS.items():
        paths[disk_format] = top / ('disk.%s' % disk_format)
        paths[disk_format].write_bytes(data)
    return paths


@pytest.fixture(scope='module')
def property_glance(tmp_path_factory, keystone):
    """A keystone-flavor glance with use_base_image_property on."""
    deployment = conftest.start_deployment(
        tmp_path_factory.mktemp('nova-glance'), keystone=keystone,
        baseref_options={'use_base_image_property': True})
    yield deployment
    conftest.stop_deployment(deployment)


def base_image(deployment):
    """A private image of p1 in two stores, not the default one."""
    return harness.make_base_image(deployment.client('p1'),
                                   ('cheap', 'cold'), b'base')['id']


def snapshot(keystone, deployment, disk_path, disk_format, base_image_ref):
    """Nova's snapshot of a p1 instance booted from ``base_image_ref``."""
    creds = drivers.credentials(keystone, keystone.user('p1'))
    result = drivers.nova_snapshot(creds, deployment.server.url, disk_path,
                                   base_image_ref=base_image_ref,
                                   disk_format=disk_format)
    assert result['error'] is None, result['log'][-4000:]
    sent = drivers.upload_headers(result)
    assert harness.BASE_IMAGE_HEADER not in sent, sent
    assert harness.STORE_HEADER not in sent, sent
    if base_image_ref:
        assert result['properties']['base_image_ref'] == base_image_ref
    else:
        assert 'base_image_ref' not in result['properties']
    return result['image_id']


@pytest.mark.parametrize('disk_format', sorted(DISKS))
def test_snapshot_lands_in_the_stores_of_its_base(
        keystone, property_glance, disk_paths, disk_format):
    base = base_image(property_glance)
    image_id = snapshot(keystone, property_glance, disk_paths[disk_format],
                        disk_format, base)
    assert_landed(property_glance, property_glance.client('p1'), image_id,
                  ('cheap', 'cold'), data=DISKS[disk_format])


def test_snapshot_without_base_goes_to_the_default_store(
        keystone, property_glance, disk_paths):
    image_id = snapshot(keystone, property_glance, disk_paths['raw'],
                        'raw', None)
    assert_landed(property_glance, property_glance.client('p1'), image_id,
                  (DEFAULT_STORE,), data=PAYLOAD)


def test_base_deleted_since_boot_sends_the_snapshot_to_the_default_store(
        keystone, property_glance, disk_paths):
    """A common case: the instance's image was deleted after it booted.
    The snapshot must not fail; it goes to the default store."""
    base = base_image(property_glance)
    property_glance.client('p1').delete_image(base)
    image_id = snapshot(keystone, property_glance, disk_paths['raw'],
                        'raw', base)
    assert_landed(property_glance, property_glance.client('p1'), image_id,
                  (DEFAULT_STORE,), data=PAYLOAD)


def test_with_the_option_off_a_snapshot_goes_to_the_default_store(
        keystone, keystone_glance, disk_paths):
    base = base_image(keystone_glance)
    image_id = snapshot(keystone, keystone_glance, disk_paths['qcow2'],
                        'qcow2', base)
    assert_landed(keystone_glance, keystone_glance.client('p1'), image_id,
                  (DEFAULT_STORE,), data=DISKS['qcow2'])
