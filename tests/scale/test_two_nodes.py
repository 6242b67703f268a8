"""Uploads through HAProxy over two nodes; a node that lacks a store;
losing a node while uploads go on."""

import concurrent.futures
import os
import signal
import threading
import time

from tests import harness
from tests.scale.checks import assert_image
from tests.scale.checks import decided
from tests.scale.checks import FULL
from tests.scale.checks import volume

#: The 16 concurrent uploads: base image stores -> how many follow it.
CONCURRENT = {('cheap', 'cold'): 6, ('fast', 'cold'): 5, FULL: 5}


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
    assert 'the base image is in cheap,cold (cold is not enabled here)' in (
        line)
    assert 'stores cheap by upload to cheap' in line


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
