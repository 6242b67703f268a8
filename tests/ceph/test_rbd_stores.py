"""Co-location into two Ceph clusters, one RBD store each (doc/ceph.md).

glance-api under uWSGI with ``site_a:rbd, site_b:rbd, local:file`` and the
filter; every image is read back from the clusters themselves
(``rbd export`` of glance's snapshot), and its absence from the other
cluster is checked with ``rbd ls``.
"""

import os
import uuid

import pytest

from tests import harness
from tests.ceph.conftest import assert_in_clusters
from tests.ceph.conftest import audit
from tests.ceph.conftest import DEFAULT_STORE
from tests.ceph.conftest import SITES
from tests.harness import drivers

#: Several 1 MiB chunks and a short one; more than one 8 MiB RBD object.
VOLUME = os.urandom(9 * 1024 * 1024 + 17)
BASE = b'base image ' * 1000


@pytest.fixture(scope='module')
def p1(rbd_glance):
    return rbd_glance.client('p1')


@pytest.fixture(scope='module')
def base_in_both(p1):
    return harness.make_base_image(p1, SITES, BASE)


def upload(client, base=None, store=None, data=VOLUME):
    image = client.create_image(name='volume-upload')
    client.upload(image['id'], data, base_image_ref=base, store=store)
    return client.get_image(image['id'])


@pytest.mark.release
def test_cinder_rbd_driver_colocates_into_both_clusters(
        keystone, make_rbd_glance, ceph_sites):
    """Cinder's RBD driver uploads a volume of site_a's ``volumes`` pool
    (``RBDDriver.copy_volume_to_image``, librbd reads); the image lands in
    both clusters, like its base image."""
    deployment = make_rbd_glance(keystone=keystone, database='mariadb')
    client = deployment.client('p1')
    base = harness.make_base_image(client, SITES, BASE)
    volume_id = str(uuid.uuid4())
    ceph_sites['site_a'].create_volume('volume-%s' % volume_id, VOLUME)

    result = drivers.cinder_upload(
        drivers.credentials(keystone, keystone.user('p1')),
        deployment.server.url, None, base_image_ref=base['id'],
        rbd=drivers.rbd_volume(ceph_sites['site_a'], volume_id))

    assert result['error'] is None, result['log'][-4000:]
    sent = drivers.upload_headers(result)
    assert sent.get(harness.BASE_IMAGE_HEADER) == base['id'], sent
    assert harness.STORE_HEADER not in sent, sent
    image = client.get_image(result['image_id'])
    assert image['status'] == 'active', image
    assert harness.image_stores(image) == set(SITES), image
    assert image['base_image_ref'] == base['id']
    assert_in_clusters(ceph_sites, image, VOLUME, SITES)


def test_base_in_one_cluster_steers_the_upload_there(
        p1, ceph_sites):
    base = harness.make_base_image(p1, ('site_b',), BASE)
    image = upload(p1, base=base['id'])
    assert harness.image_stores(image) == {'site_b'}, image
    assert_in_clusters(ceph_sites, image, VOLUME, ('site_b',))


def test_store_header_wins_over_the_base_image(p1, ceph_sites, base_in_both):
    image = upload(p1, base=base_in_both['id'], store='site_b')
    assert harness.image_stores(image) == {'site_b'}, image
    assert_in_clusters(ceph_sites, image, VOLUME, ('site_b',))


def test_no_base_header_goes_to_the_default_cluster(p1, ceph_sites):
    image = upload(p1)
    assert harness.image_stores(image) == {DEFAULT_STORE}, image
    assert_in_clusters(ceph_sites, image, VOLUME, (DEFAULT_STORE,))


def test_without_the_filter_the_upload_lands_in_one_cluster(
        make_rbd_glance, ceph_sites):
    """Side by side: glance alone writes the same request to its default
    store only, so the checks above can fail."""
    client = make_rbd_glance(with_filter=False).client('p1')
    base = harness.make_base_image(client, SITES, BASE)
    image = upload(client, base=base['id'])
    with pytest.raises(AssertionError):
        assert_in_clusters(ceph_sites, image, VOLUME, SITES)
    assert_in_clusters(ceph_sites, image, VOLUME, (DEFAULT_STORE,))


def test_audit_repairs_an_image_missing_from_one_cluster(
        capsys, make_rbd_glance, ceph_sites):
    """An image naming a base in both clusters but written to site_a
    only (as before the filter was installed): the audit tool finds it
    and copies it into site_b with glance's copy-image."""
    deployment = make_rbd_glance(with_filter=False, database='mariadb')
    project = 'audit-%s' % uuid.uuid4().hex[:8]
    owner = harness.CinderLikeClient(deployment.server.url,
                                     project_id=project,
                                     user_id='u-%s' % project)
    base = harness.make_base_image(owner, SITES, BASE)
    image = owner.create_image(name='misplaced', base_image_ref=base['id'])
    owner.upload(image['id'], VOLUME)
    assert_in_clusters(ceph_sites, owner.get_image(image['id']), VOLUME,
                       (DEFAULT_STORE,))

    def audit_output(*args):
        return audit(deployment, *args), capsys.readouterr().out

    status, out = audit_output('check', '--project', project)
    assert status == 1, out
    assert image['id'] in out and 'site_b' in out, out

    status, out = audit_output('repair', '--project', project)
    assert status == 0, out
    repaired = owner.get_image(image['id'])
    assert harness.image_stores(repaired) == set(SITES), repaired
    assert_in_clusters(ceph_sites, repaired, VOLUME, SITES)
    assert audit(deployment, 'check', '--project', project) == 0
