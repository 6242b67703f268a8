"""Two glance-api nodes behind HAProxy on one database and shared stores.

Nodes ``a`` and ``b`` (uWSGI, two processes each) enable the stores
``fast`` (default), ``cheap`` and ``cold`` and sit behind HAProxy; node
``c`` lacks ``cold`` (a store being added one node at a time) and is
reached directly. All three share one MariaDB database and the store
directories; staging is local to each node.
"""

import concurrent.futures
import hashlib
import os
import signal
import threading
import time

import glanceclient.exc
import pytest

from tests import harness
from tests.harness import haproxy
from tests.harness import multinode

FULL = ('fast', 'cheap', 'cold')
WITHOUT_COLD = ('fast', 'cheap')
SIZE = 1024 * 1024 + 4099  # a chunk and a bit, not a multiple of one
#: The 16 concurrent uploads: base image stores -> how many follow it.
CONCURRENT = {('cheap', 'cold'): 6, ('fast', 'cold'): 5, FULL: 5}


def volume(label):
    seed = hashlib.sha512(label.encode()).digest()
    return (seed * (SIZE // len(seed) + 1))[:SIZE]


@pytest.fixture(scope='module')
def cluster(tmp_path_factory, scale_prerequisites):
    nodes = multinode.GlanceCluster(
        tmp_path_factory.mktemp('scale'),
        {'a': FULL, 'b': FULL, 'c': WITHOUT_COLD}, proxied=('a', 'b'),
        max_parallel_stores=3, baseref_options={'poll_interval': 0.2},
        # c answers its own 504 before a short proxy timeout would; it
        # writes its stores one after the other, so an import takes long.
        node_options={'c': {'max_parallel_stores': 1,
                            'baseref_options': {'poll_interval': 0.2,
                                                'import_timeout': 1}}})
    nodes.start()
    yield nodes
    nodes.stop()


@pytest.fixture(scope='module')
def client():
    """``client(url)``: a Cinder-like client of a member of p1 at ``url``."""
    def make(url, project='p1'):
        return harness.CinderLikeClient(url, project_id=project,
                                        user_id='u-%s' % project)
    return make


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


def test_concurrent_uploads_spread_over_both_nodes(cluster, client):
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


def test_base_made_through_one_node_used_through_the_other(cluster,
                                                           client):
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


def test_node_without_a_store_targets_only_its_own(cluster, client):
    through_a = client(cluster.node('a').url)
    through_c = client(cluster.node('c').url)
    base = harness.make_base_image(through_a, ('cheap', 'cold'),
                                   volume('base on a, cold included'))
    data = volume('volume c')
    image_id = through_c.create_image(name='volume')['id']
    through_c.upload(image_id, data, base_image_ref=base['id'])
    assert_image(cluster, through_a, image_id, ('cheap',), data)
    (line,) = decided(cluster.node('c'), image_id)
    assert 'the base image is in cheap,cold (cold is not enabled here); ' \
        'stores cheap by upload to cheap' in line, line


# ----------------------------------------------------------------------
# Imports that glance proxies to the node that staged the image


def import_through(glance, image_id, base_id):
    """``POST .../import`` (glance-direct, no stores) with the header."""
    status, _headers, body = glance.request(
        'POST', '/v2/images/%s/import' % image_id,
        headers={harness.BASE_IMAGE_HEADER: base_id},
        json={'method': {'name': 'glance-direct'}})
    return status, body


def staged_on(glance, data):
    image_id = glance.create_image(name='staged')['id']
    glance.stage(image_id, data)
    return image_id


def wait_imported(glance, image_id):
    return glance.wait_for(image_id, lambda i: harness.import_finished(i)
                           and i['status'] in ('active', 'queued'),
                           timeout=60)


def test_import_proxied_to_the_staging_node_keeps_the_filled_in_stores(
        cluster, client):
    through_a = client(cluster.node('a').url)
    through_b = client(cluster.node('b').url)
    base = harness.make_base_image(through_a, ('cheap', 'cold'),
                                   volume('base for a proxied import'))
    data = volume('staged on a')
    image_id = staged_on(through_a, data)

    status, body = import_through(through_b, image_id, base['id'])

    assert status == 202, body
    wait_imported(through_a, image_id)
    assert_image(cluster, through_a, image_id, ('cheap', 'cold'), data)
    (line,) = decided(cluster.node('b'), image_id)
    assert 'staged on %s, which has them all; stores cheap,cold by ' \
        'import request; stores set' % cluster.node('a').url in line, line
    # Glance forwards only the token: the filter on a does not act again.
    assert decided(cluster.node('a'), image_id) == []
    assert 'Proxying POST request to host %s' % cluster.node('a').url in (
        cluster.node('b').log())


@pytest.mark.parametrize('staging,importing,note', [
    ('c', 'a', 'which lacks cold'),
    ('a', 'c', 'which has them all'),
], ids=['staged on the node with fewer stores',
        'staged on the node with more stores'])
def test_a_valid_header_never_fails_a_proxied_import(cluster, client,
                                                     staging, importing,
                                                     note):
    staging_node = cluster.node(staging)
    staged_client = client(staging_node.url)
    importing_client = client(cluster.node(importing).url)
    base = harness.make_base_image(client(cluster.node('a').url),
                                   ('cheap', 'cold'),
                                   volume('base in cheap and cold'))
    data = volume('staged on %s' % staging)
    image_id = staged_on(staged_client, data)

    status, body = import_through(importing_client, image_id, base['id'])

    # Without the header glance takes this import (202); with it, the
    # filter must not ask the staging node for a store it lacks.
    assert status == 202, body
    wait_imported(staged_client, image_id)
    assert_image(cluster, staged_client, image_id, ('cheap',), data)
    (line,) = decided(cluster.node(importing), image_id)
    assert 'staged on %s, %s; stores cheap by import request; stores set' % (
        staging_node.url, note) in line, line
    assert decided(staging_node, image_id) == []


# ----------------------------------------------------------------------
# A load balancer whose server timeout is shorter than an upload

#: Long enough that writing it to two or three stores takes well over
#: PROXY_TIMEOUT after the body has arrived, on these 2-core machines.
BIG = 128 * 1024 * 1024
PROXY_TIMEOUT = '2s'


def big_volume(label):
    block = hashlib.sha512(label.encode()).digest() * 8192  # 512 KiB
    return block * (BIG // len(block))


def short_proxy(tmp_path, node):
    """HAProxy with ``timeout server`` 2s in front of one node only."""
    proxy = haproxy.HAProxy(tmp_path, [(node.name, node.url)],
                            timeout_server=PROXY_TIMEOUT)
    return proxy.start()


def wait_gone(glance, image_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            glance.get_image(image_id)
        except glanceclient.exc.HTTPNotFound:
            return
        time.sleep(0.2)
    raise AssertionError('image %s still there after %ss'
                         % (image_id, timeout))


def test_import_timeout_below_the_proxy_timeout_answers_first(
        cluster, client, tmp_path):
    # The setting doc/scaling-out.md recommends: import_timeout plus
    # poll_interval below every proxy's idle timeout (here c: 1 s + 0.2 s
    # against HAProxy's 2 s), so that the caller gets the filter's 504 and
    # the image is cleaned up, not a proxy's 504 over an image that then
    # turns active anyway.
    node = cluster.node('c')
    base = harness.make_base_image(client(node.url), ('fast', 'cheap'),
                                   volume('base on c'))
    with short_proxy(tmp_path, node) as proxy:
        glance = client(proxy.url)
        image_id = glance.create_image(name='slow')['id']
        began = time.monotonic()
        with pytest.raises(glanceclient.exc.HTTPException) as caught:
            glance.upload(image_id, big_volume('slow on c'),
                          base_image_ref=base['id'])
        waited = time.monotonic() - began
    # glanceclient has no class of its own for 504: read the page.
    assert '504 Gateway Timeout' in caught.value.details, caught.value
    assert 'import_timeout' in caught.value.details, caught.value
    (line,) = decided(node, image_id)
    assert 'answered 504' in line, line
    wait_gone(client(node.url), image_id)
    assert cluster.files_for(image_id) == {}, waited


def test_import_timeout_above_the_proxy_timeout_loses_the_answer(
        cluster, client, tmp_path):
    # What the recommendation avoids (node a: import_timeout 3600 s):
    # HAProxy answers 504 while glance goes on writing, and the image the
    # caller was told failed ends active in every store.
    node = cluster.node('a')
    base = harness.make_base_image(client(node.url), FULL,
                                   volume('base on a in three stores'))
    data = big_volume('slow on a')
    with short_proxy(tmp_path, node) as proxy:
        glance = client(proxy.url)
        image_id = glance.create_image(name='slow')['id']
        with pytest.raises(glanceclient.exc.HTTPException) as caught:
            glance.upload(image_id, data, base_image_ref=base['id'])
    # HAProxy's own page ("Time-out"), not the filter's.
    assert '504 Gateway Time-out' in caught.value.details, caught.value
    direct = client(node.url)
    wait_imported(direct, image_id)
    assert_image(cluster, direct, image_id, FULL, data)


# ----------------------------------------------------------------------
# Losing a node while uploads go on

class Uploader:
    """Cinder-style co-located uploads through HAProxy, one after another.
    """

    def __init__(self, glance, base_id, label):
        self.glance = glance
        self.base_id = base_id
        self.label = label
        self.done = []   # (began, ended, image_id, data, error)

    def run(self, stop):
        n = 0
        while not stop.is_set():
            n += 1
            data = volume('%s %d' % (self.label, n)) * 4
            began = time.monotonic()
            image_id, error = None, None
            try:
                image_id = self.glance.create_image(name='volume')['id']
                self.glance.upload(image_id, data,
                                   base_image_ref=self.base_id)
            except Exception as exc:  # noqa: BLE001 - judged by the test
                error = exc
            self.done.append((began, time.monotonic(), image_id, data,
                              error))


def test_stopping_a_node_mid_run_moves_uploads_to_the_other(cluster,
                                                            client):
    glance = client(cluster.url)
    base = harness.make_base_image(client(cluster.node('a').url),
                                   ('cheap', 'cold'), volume('base, stop'))
    uploaders = [Uploader(glance, base['id'], 'stop %d' % k)
                 for k in range(4)]
    stop = threading.Event()
    threads = [threading.Thread(target=u.run, args=(stop,))
               for u in uploaders]
    node_b = cluster.node('b')
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)
        stopped_at = time.monotonic()
        os.kill(node_b.server.pid, signal.SIGTERM)  # as systemd stops it
        cluster.proxy.wait_until(lambda s: s['b'] != 'UP', timeout=10)
        down_at = time.monotonic()
        time.sleep(4)
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
    try:
        done = [d for u in uploaders for d in u.done]
        later = [d for d in done if d[0] > down_at]
        in_flight = [d for d in done if d[0] < stopped_at < d[1]]
        print('node b stopped; HAProxy saw it down after %.2fs; %d uploads '
              'in all, %d started after that, %d in flight at the stop:'
              % (down_at - stopped_at, len(done), len(later),
                 len(in_flight)))
        for _began, _ended, image_id, _data, error in in_flight:
            image = glance.get_image(image_id) if image_id else {}
            print('  %s on %s: %s; image %s in %r, files %s' % (
                image_id,
                'a' if decided(cluster.node('a'), image_id) else 'b',
                'ok' if error is None else repr(error),
                image.get('status'), image.get('stores'),
                sorted(cluster.files_for(image_id))))
        assert len(later) >= 4, done
        for _began, _ended, image_id, data, error in later:
            assert error is None, (image_id, error)
            assert_image(cluster, glance, image_id, ('cheap', 'cold'), data)
            assert decided(cluster.node('a'), image_id)
        # Uploads that b was serving fail (the connection breaks); none of
        # them may be reported done without its data in both stores.
        for _began, _ended, image_id, data, error in in_flight:
            if error is None:
                assert_image(cluster, glance, image_id, ('cheap', 'cold'),
                             data)
    finally:
        node_b.server.stop()
        node_b.server.start(timeout=60)
        cluster.proxy.wait_until(lambda s: s['b'] == 'UP', timeout=20)
