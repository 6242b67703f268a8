"""A site's Ceph cluster down, side by side: glance alone and with the filter.

A cluster is made unavailable by SIGKILLing its only OSD (its mon keeps
answering, as when a site's storage network or OSD hosts fail); writes
and reads of that cluster then wait. Each case runs the same Cinder-like
upload on a glance without the filter and on one with it, both reading
per-site conf files with ``rados_osd_op_timeout`` and
``rados_mon_op_timeout`` (:data:`OP_TIMEOUT`), and checks that the
filter's outcome is at least as good as glance's alone. Then the OSD is
started again and what each cluster holds is read back.

Without those timeouts librados waits for the OSD forever:
:func:`test_without_librados_timeouts_a_dead_site_holds_the_upload`
shows what that does to a co-located upload (doc/ceph.md).
"""

import collections
import concurrent.futures
import hashlib
import time

import glanceclient.exc
import pytest

from tests import harness
from tests.ceph.conftest import assert_in_clusters
from tests.ceph.conftest import audit
from tests.ceph.conftest import DEFAULT_STORE
from tests.ceph.conftest import osd_down
from tests.ceph.conftest import SITES
from tests.ceph.conftest import start_rbd_glance
from tests.e2e import conftest as e2e
from tests.harness import ceph

#: librados' op timeouts on the glance side, seconds.
OP_TIMEOUT = 8
TIMEOUTS = {'rados_osd_op_timeout': OP_TIMEOUT,
            'rados_mon_op_timeout': OP_TIMEOUT}
MIB = 1024 * 1024
VOLUME = hashlib.sha512(b'rbd fault').digest() * (4 * MIB // 64)
BASE = b'base image ' * 1000


@pytest.fixture(scope='module')
def side_by_side(tmp_path_factory, ceph_sites):
    """``{'alone': glance without the filter, 'filter': with it}``, both
    with the librados timeouts."""
    glances = {}
    try:
        for name, with_filter in (('alone', False), ('filter', True)):
            glances[name] = start_rbd_glance(
                tmp_path_factory.mktemp('rbd-faults-%s' % name), ceph_sites,
                with_filter=with_filter, client_options=TIMEOUTS)
        yield glances
    finally:
        for deployment in glances.values():
            e2e.stop_deployment(deployment)


@pytest.fixture(scope='module')
def bases(side_by_side):
    """A base image in both clusters, on each glance."""
    return {name: harness.make_base_image(deployment.client('p1'), SITES,
                                          BASE)['id']
            for name, deployment in side_by_side.items()}


def cinder_upload(client, base, data=VOLUME, image_id=None):
    """Create (unless ``image_id`` is given) and upload as Cinder does;
    returns (image id, error or None, seconds)."""
    if image_id is None:
        image_id = client.create_image(name='volume-upload')['id']
    began = time.monotonic()
    try:
        client.upload(image_id, data, base_image_ref=base)
        error = None
    except glanceclient.exc.HTTPException as exc:
        error = exc
    return image_id, error, time.monotonic() - began


class Upload(collections.namedtuple(
        'Upload', 'client image_id outcome seconds')):
    """One upload as its uploader saw it; ``outcome`` is 'usable' (a 2xx
    answer and an active image) or what went wrong."""

    def image(self):
        return self.client.get_image(self.image_id)


def upload_both(side_by_side, bases, data=VOLUME):
    """The same upload on both glances, one after the other:
    ``(alone, with_filter)``, two :class:`Upload`."""
    uploads = []
    for name in ('alone', 'filter'):
        client = side_by_side[name].client('p1')
        image_id, error, seconds = cinder_upload(client, bases[name], data)
        image = client.get_image(image_id)
        usable = error is None and image['status'] == 'active'
        uploads.append(Upload(client, image_id, 'usable' if usable else
                              '%s, image %s' % (error, image['status']),
                              seconds))
    return uploads


def test_site_down_before_a_colocated_upload(side_by_side, bases,
                                             ceph_sites):
    """site_b (not the default) is down: glance alone writes site_a; the
    filter writes site_a and reports site_b failed, after the op
    timeout."""
    with osd_down(ceph_sites['site_b']):
        alone, with_filter = upload_both(side_by_side, bases)

    assert alone.outcome == 'usable'
    assert with_filter.outcome == 'usable'
    image = with_filter.image()
    assert harness.image_stores(image) == {DEFAULT_STORE}, image
    assert image['os_glance_failed_import'] == 'site_b', image
    assert with_filter.seconds >= OP_TIMEOUT
    # After the OSD is back: nothing of the image in site_b.
    assert_in_clusters(ceph_sites, image, VOLUME, (DEFAULT_STORE,))
    assert_in_clusters(ceph_sites, alone.image(), VOLUME, (DEFAULT_STORE,))


def test_default_site_down_before_a_colocated_upload(side_by_side, bases,
                                                     ceph_sites):
    """site_a, glance's default store, is down: glance alone fails the
    upload after the op timeout; the filter lands it in site_b."""
    with osd_down(ceph_sites['site_a']):
        alone, with_filter = upload_both(side_by_side, bases)

    assert alone.outcome != 'usable'
    assert with_filter.outcome == 'usable'
    image = with_filter.image()
    assert image['os_glance_failed_import'] == 'site_a', image
    assert_in_clusters(ceph_sites, image, VOLUME, ('site_b',))
    assert alone.image_id not in ceph_sites['site_a'].images()


def test_glance_store_rados_connect_timeout_sets_the_op_timeouts(
        make_rbd_glance, ceph_sites):
    """glance_store's own per-store ``rados_connect_timeout`` (instead of
    the conf file's ``[client]`` options) sets the same op timeouts: the
    co-located upload ends with site_b failed, not held."""
    # import_timeout: without the option the upload fails in a minute
    # (a 504) instead of an hour.
    deployment = make_rbd_glance(baseref_options={'poll_interval': 0.2,
                                                  'import_timeout': 60})
    deployment.env.reconfigure(rbd_stores={
        name: dict(options, rados_connect_timeout=OP_TIMEOUT)
        for name, options in deployment.env.settings['rbd_stores'].items()})
    deployment.server.restart()
    client = deployment.client('p1')
    base = harness.make_base_image(client, SITES, BASE)['id']
    with osd_down(ceph_sites['site_b']):
        image_id, error, seconds = cinder_upload(client, base)
    assert error is None, error
    image = client.get_image(image_id)
    assert harness.image_stores(image) == {DEFAULT_STORE}, image
    assert image['os_glance_failed_import'] == 'site_b', image
    assert OP_TIMEOUT <= seconds < 4 * OP_TIMEOUT


#: Big enough that the OSD is killed while glance still writes it.
BIG_VOLUME = hashlib.sha512(b'big').digest() * (256 * MIB // 64)


def killed_while_writing(deployment, base, cluster):
    """Upload BIG_VOLUME and kill the cluster's OSD as soon as glance
    has begun writing the image there; the OSD is back when this
    returns. ``(client, image id, error or None)``."""
    client = deployment.client('p1')
    image_id = client.create_image(name='volume-upload')['id']
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(cinder_upload, client, base, BIG_VOLUME,
                             image_id)
        deadline = time.monotonic() + 120
        while image_id not in cluster.images():
            assert not future.done(), 'ended before the OSD was killed'
            assert time.monotonic() < deadline, 'not seen writing'
            time.sleep(0.05)
        with osd_down(cluster):
            error = future.result(timeout=300)[1]
    return client, image_id, error


def remove_when_unwatched(cluster, image_id, timeout=90):
    """``rbd rm`` the leftover; glance's librbd watch on it, from before
    the OSD died, lasts until Ceph times the client out (about 30 s)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return cluster.rbd('rm', 'images/%s' % image_id)
        except ceph.CephError as exc:
            if 'watchers' not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(2)


def test_site_dies_during_a_colocated_upload(side_by_side, bases,
                                             ceph_sites):
    """site_b's OSD is killed once glance has begun writing the image
    there. glance gives up on site_b after the op timeout; its clean-up
    of the partial RBD image times out too, so the partial image stays
    in site_b (found there once the OSD is back)."""
    site_b = ceph_sites['site_b']
    deployment = side_by_side['filter']
    client, image_id, error = killed_while_writing(
        deployment, bases['filter'], site_b)
    data = BIG_VOLUME
    assert error is None, error
    image = client.get_image(image_id)
    assert image['status'] == 'active', image
    assert harness.image_stores(image) == {DEFAULT_STORE}, image
    assert image['os_glance_failed_import'] == 'site_b', image
    assert ceph_sites['site_a'].read_image(image_id, snapshot='snap')[1] \
        == image['checksum']
    # glance's clean-up of the partial RBD image timed out as well: it is
    # still in site_b, without glance's snapshot, and glance does not
    # know it.
    assert image_id in site_b.images()
    assert site_b.snapshots(image_id) == {}
    # So copy-image cannot add site_b (the RBD image exists) until an
    # operator removes the leftover; then it can.
    assert audit(deployment, 'repair', '--image', image_id) == 2
    assert harness.image_stores(client.get_image(image_id)) == {
        DEFAULT_STORE}
    remove_when_unwatched(site_b, image_id)
    assert audit(deployment, 'repair', '--image', image_id) == 0
    assert_in_clusters(ceph_sites, client.get_image(image_id), data, SITES)


#: The filter's wait without librados timeouts (import_timeout), seconds.
HANG_IMPORT_TIMEOUT = 15


@pytest.fixture(scope='module')
def without_timeouts(tmp_path_factory, ceph_sites):
    """Both glances with librados' defaults: no op timeout at all."""
    glances = {}
    try:
        for name, with_filter in (('alone', False), ('filter', True)):
            glances[name] = start_rbd_glance(
                tmp_path_factory.mktemp('rbd-hang-%s' % name), ceph_sites,
                with_filter=with_filter, baseref_options={
                    'poll_interval': 0.2,
                    'import_timeout': HANG_IMPORT_TIMEOUT,
                    'watch_timeout': 60})
        yield glances
    finally:
        for deployment in glances.values():
            e2e.stop_deployment(deployment)


def settled(client, sites, image_id, timeout=180, quiet=5):
    """The image (None: deleted) once glance's import task has stopped
    and neither glance nor any cluster has changed for ``quiet`` seconds:
    the filter may still be deleting it after its task ended."""
    def state():
        try:
            image = client.get_image(image_id)
        except glanceclient.exc.HTTPNotFound:
            image = None
        held = {name: (cluster.snapshots(image_id)
                       if image_id in cluster.images() else None)
                for name, cluster in sites.items()}
        key = None if image is None else (
            image['status'], image.get('stores'),
            harness.import_finished(image))
        return image, (key, repr(held))

    deadline = time.monotonic() + timeout
    image, last = state()
    still_since = time.monotonic()
    while True:
        time.sleep(1)
        image, now = state()
        if now != last:
            last, still_since = now, time.monotonic()
        elif (time.monotonic() - still_since >= quiet
              and (image is None or harness.import_finished(image))):
            return image
        assert time.monotonic() < deadline, (image, now)


def test_without_librados_timeouts_a_dead_site_leaves_no_orphan(
        without_timeouts, ceph_sites):
    """site_b is down and glance's librados waits for it forever: the
    filter still answers, within import_timeout; once the OSD is back,
    glance's write to site_b resumes and ends, and afterwards every
    cluster holds the whole image exactly where glance says it is, or
    nothing of it."""
    deployment = without_timeouts['filter']
    client = deployment.client('p1')
    base = harness.make_base_image(client, SITES, BASE)['id']
    with osd_down(ceph_sites['site_b']):
        image_id, error, seconds = cinder_upload(client, base)
        assert seconds < HANG_IMPORT_TIMEOUT + 10, (seconds, error)
        hung = client.get_image(image_id)
        # glance's import is stuck in librados, site_a already written.
        assert hung['os_glance_importing_to_stores'] == 'site_a,site_b' \
            or 'site_b' in hung['os_glance_importing_to_stores'], hung
    image = settled(client, ceph_sites, image_id)
    for name, cluster in ceph_sites.items():
        in_glance = image is not None and name in harness.image_stores(
            image)
        assert (image_id in cluster.images()) == in_glance, (name, image)
    if image is not None:
        assert_in_clusters(ceph_sites, image, VOLUME,
                           harness.image_stores(image))


def test_without_librados_timeouts_never_worse_than_glance_alone(
        without_timeouts, ceph_sites):
    """site_b is down, no librados timeouts: glance alone writes site_a
    and answers 204; the filter's upload must be usable too."""
    bases = {name: harness.make_base_image(d.client('p1'), SITES,
                                           BASE)['id']
             for name, d in without_timeouts.items()}
    with osd_down(ceph_sites['site_b']):
        alone, with_filter = upload_both(without_timeouts, bases)
    for upload in (alone, with_filter):
        settled(upload.client, ceph_sites, upload.image_id)
    assert alone.outcome == 'usable'
    assert with_filter.outcome == 'usable'
