"""Two glance-api nodes behind HAProxy on one database and shared stores.

Nodes ``a`` and ``b`` (uWSGI, two processes each) enable the stores
``fast`` (default), ``cheap`` and ``cold`` and sit behind HAProxy; node
``c`` lacks ``cold`` (a store being added one node at a time) and is
reached directly. All three share one MariaDB database and the store
directories; staging is local to each node.
"""

import concurrent.futures
import hashlib
import re
import threading

import pytest

from tests import harness
from tests.harness import multinode

FULL = ('fast', 'cheap', 'cold')
WITHOUT_COLD = ('fast', 'cheap')
SIZE = 1024 * 1024 + 4099  # a chunk and a bit, not a multiple of one
#: The 16 concurrent uploads: base image stores -> how many follow it.
CONCURRENT = {('cheap', 'cold'): 6, ('fast', 'cold'): 5, FULL: 5}
_DECISION = re.compile(r'glance_baseref: image ([0-9a-f-]{36}) base ')


def volume(label):
    seed = hashlib.sha512(label.encode()).digest()
    return (seed * (SIZE // len(seed) + 1))[:SIZE]


@pytest.fixture(scope='module')
def cluster(tmp_path_factory, scale_prerequisites):
    nodes = multinode.GlanceCluster(
        tmp_path_factory.mktemp('scale'),
        {'a': FULL, 'b': FULL, 'c': WITHOUT_COLD}, proxied=('a', 'b'),
        max_parallel_stores=3, baseref_options={'poll_interval': 0.2})
    nodes.start()
    yield nodes
    nodes.stop()


def client(url, project='p1'):
    return harness.CinderLikeClient(url, project_id=project,
                                    user_id='u-%s' % project)


def decided(node, image_id):
    """The filter's decision lines on ``node`` about ``image_id``."""
    return [line for line in node.log().splitlines()
            if 'glance_baseref: image %s ' % image_id in line]


def assert_image(cluster, glance, image_id, stores, data):
    """Active in exactly ``stores`` with ``data``, by the API and on disk."""
    image = glance.get_image(image_id)
    assert image['status'] == 'active', image
    assert harness.image_stores(image) == set(stores), image
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    files = cluster.files_for(image_id)
    assert cluster.stores_holding(image_id) == set(stores), files
    for store in stores:
        (path,) = files[store]
        with open(path, 'rb') as f:
            assert hashlib.md5(f.read()).hexdigest() == image['checksum']


def test_concurrent_uploads_spread_over_both_nodes(cluster):
    glance = client(cluster.url)
    # TODO keystone flavor: through the proxy (cross-node import)
    through_a = client(cluster.node('a').url)
    uploads = []
    for k, (stores, count) in enumerate(CONCURRENT.items()):
        base = harness.make_base_image(through_a, stores,
                                       volume('base %d' % k))
        for n in range(count):
            image_id = glance.create_image(name='volume')['id']
            uploads.append((image_id, base['id'], stores,
                            volume('upload %d %d' % (k, n))))
    assert len(uploads) == 16
    start = threading.Barrier(len(uploads))

    def upload(image_id, base_id, _stores, data):
        start.wait()
        client(cluster.url).upload(image_id, data, base_image_ref=base_id)

    with concurrent.futures.ThreadPoolExecutor(len(uploads)) as pool:
        futures = [pool.submit(upload, *u) for u in uploads]
        for future in futures:
            future.result()

    for image_id, _base, stores, data in uploads:
        assert_image(cluster, glance, image_id, stores, data)
    per_node = {name: {i for i, *_ in uploads
                       if decided(cluster.node(name), i)}
                for name in ('a', 'b')}
    # Each upload was decided by exactly one node, and both nodes took
    # a fair share (round robin: about half each).
    assert not per_node['a'] & per_node['b'], per_node
    assert len(per_node['a']) + len(per_node['b']) == 16, per_node
    assert min(len(v) for v in per_node.values()) >= 4, per_node


def test_base_made_through_one_node_used_through_the_other(cluster):
    through_a = client(cluster.node('a').url)
    through_b = client(cluster.node('b').url)
    base = harness.make_base_image(through_a, ('cheap', 'cold'),
                                   volume('base a'))
    data = volume('volume b')
    image_id = through_b.create_image(name='volume')['id']
    through_b.upload(image_id, data, base_image_ref=base['id'])
    assert_image(cluster, through_a, image_id, ('cheap', 'cold'), data)
    assert decided(cluster.node('b'), image_id)
    assert not decided(cluster.node('a'), image_id)


def test_node_without_a_store_targets_only_its_own(cluster):
    through_a = client(cluster.node('a').url)
    through_c = client(cluster.node('c').url)
    base = harness.make_base_image(through_a, ('fast', 'cheap', 'cold'),
                                   volume('base on a, cold included'))
    data = volume('volume c')
    image_id = through_c.create_image(name='volume')['id']
    through_c.upload(image_id, data, base_image_ref=base['id'])
    assert_image(cluster, through_a, image_id, ('fast', 'cheap'), data)
    (line,) = decided(cluster.node('c'), image_id)
    assert 'cold is not enabled here' in line, line
    assert 'stores fast,cheap by stage+import' in line, line
