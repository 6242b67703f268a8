"""Two Ceph clusters as two sites, and glance with an RBD store on each.

The shape of an edge cloud (doc/ceph.md): glance-api under uWSGI with
``enabled_backends = site_a:rbd, site_b:rbd, local:file``, each RBD store
in the ``images`` pool of its own single-node Ceph 16.2 cluster
(tests/harness/ceph.py), a file staging store and
``max_parallel_stores = 2``. ``site_a`` is glance's default store.

* ``ceph_sites`` (session): ``{'site_a': cluster, 'site_b': cluster}``,
  started once per pytest session (in parallel, about 20 s) and stopped
  at its end.
* ``make_rbd_glance(**options)``: starts such a glance (header identity
  unless ``keystone`` is given), stopped when the test ends;
  ``client_options`` adds ``[client]`` options (librados timeouts) to the
  conf file glance reads for each site.
* :func:`audit` runs glance-baseref-audit as an admin.
* :func:`assert_in_clusters` reads an image back from the clusters with
  ``rbd export``, not from glance's API.
"""

import contextlib

import pytest

from glance_baseref.audit import cli
from tests.e2e import conftest as e2e
from tests.e2e.test_audit import HeaderIdentity
from tests.harness import ceph

SITES = ('site_a', 'site_b')
DEFAULT_STORE = 'site_a'
LOCAL_STORE = 'local'


@pytest.fixture(scope='session')
def ceph_sites(tmp_path_factory):
    """Both clusters, started side by side."""
    clusters = ceph.start_clusters(tmp_path_factory.mktemp('ceph'), SITES)
    yield clusters
    for cluster in clusters.values():
        cluster.stop()


def start_rbd_glance(base_dir, sites, keystone=None, client_options=None,
                     **env_options):
    """A glance whose RBD stores are ``sites``; see the module docstring.

    ``client_options``: ``[client]`` options of the per-site conf file
    that glance reads (a copy of the cluster's, as on a glance host).
    """
    base_dir.mkdir(parents=True, exist_ok=True)
    rbd_stores = {}
    for name, cluster in sites.items():
        conf = cluster.client_conf(base_dir / ('%s.conf' % name),
                                   **(client_options or {}))
        rbd_stores[name] = cluster.glance_store_options(conf)
    env_options.setdefault('stores', (LOCAL_STORE,))
    env_options.setdefault('default_store', DEFAULT_STORE)
    env_options.setdefault('max_parallel_stores', 2)
    env_options.setdefault('baseref_options', {'poll_interval': 0.2})
    return e2e.start_deployment(base_dir, keystone=keystone,
                                rbd_stores=rbd_stores, **env_options)


@pytest.fixture
def make_rbd_glance(tmp_path, ceph_sites):
    """Start glances on the two clusters; stopped when the test ends."""
    started = []

    def make(**options):
        deployment = start_rbd_glance(
            tmp_path / ('glance-%d' % len(started)), ceph_sites, **options)
        started.append(deployment)
        return deployment
    yield make
    for deployment in started:
        e2e.stop_deployment(deployment)


@pytest.fixture(scope='module')
def rbd_glance(tmp_path_factory, ceph_sites):
    """The module's glance with the filter (header identity)."""
    deployment = start_rbd_glance(tmp_path_factory.mktemp('rbd-glance'),
                                  ceph_sites)
    yield deployment
    e2e.stop_deployment(deployment)


def assert_in_clusters(sites, image, data, expected):
    """``image`` (glance's dict) is in exactly the clusters ``expected``,
    with ``data``: read back from each cluster with ``rbd export`` of
    the protected snapshot glance made, and compared with ``data`` and
    with the size and checksums glance recorded."""
    import hashlib
    want = (len(data), hashlib.md5(data).hexdigest(),
            hashlib.sha512(data).hexdigest())
    assert (image['size'], image['checksum'],
            image['os_hash_value']) == want, image
    for name, cluster in sites.items():
        present = image['id'] in cluster.images()
        assert present == (name in expected), (name, image)
        if present:
            assert cluster.snapshots(image['id']) == {'snap': True}, name
            assert cluster.read_image(image['id'], snapshot='snap') == want


@contextlib.contextmanager
def osd_down(cluster):
    """The cluster's only OSD is killed (SIGKILL) until the block ends."""
    cluster.kill_osd()
    try:
        yield cluster
    finally:
        cluster.start_osd()


def audit(deployment, *args):
    """``glance-baseref-audit ARGS`` against ``deployment`` (header
    identity) as an admin, in-process; returns its exit status."""
    url = deployment.server.url
    auth = HeaderIdentity(url, 'audit-admin', 'u-admin',
                          ('admin', 'member', 'reader'))
    return cli.main(['--os-endpoint-override', url] + list(args)
                    + (['--poll-interval', '0.2'] if args[0] == 'repair'
                       else []), auth=auth)
