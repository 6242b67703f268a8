"""Several requests in one process: uWSGI at 2 processes x 8 threads.

Red Hat's glance-operator serves glance with mod_wsgi at 4 processes x 10
threads; this is that shape on 2 cores: co-located uploads share their
process, its glance and its filter with other requests. 32 Cinder-style
uploads start at the same moment, mixed: 16 co-located (each answered
only once glance has written every store of its base image) and 16 plain
ones (no header: glance's default store). 16 threads serve them, so the
plain uploads also wait for threads that co-located ones hold.

Every upload must be answered 204 and be active in exactly its stores,
with the right size, MD5 and SHA-512 from glance, and the same bytes in
each store's file on disk.
"""

import concurrent.futures
import hashlib
import re
import threading

import pytest

from tests import harness

STORES = ('fast', 'cheap', 'cold')
PROCESSES, THREADS = 2, 8
#: base image stores -> co-located uploads following it
BASES = {('cheap', 'cold'): 6, ('fast', 'cheap', 'cold'): 5,
         ('fast', 'cold'): 5}
PLAIN = 16
SIZE = 2 * 1024 * 1024 + 4099  # two chunks and a bit


def volume(k):
    seed = hashlib.sha512(b'shared process %d' % k).digest()
    return (seed * (SIZE // len(seed) + 1))[:SIZE]


@pytest.fixture(scope='module')
def shared(mariadb, tmp_path_factory):
    env = harness.GlanceEnv.create(
        tmp_path_factory.mktemp('threads'), stores=STORES,
        default_store='fast', database='mariadb', max_parallel_stores=3,
        baseref_options={'poll_interval': 0.2})
    server = harness.GlanceServer(env, processes=PROCESSES, threads=THREADS)
    try:
        server.start()
        yield env, server
    finally:
        try:
            server.stop()
        finally:
            env.destroy()


def test_mixed_uploads_land_in_exactly_their_stores(shared):
    env, server = shared
    client = harness.CinderLikeClient(server.url)
    jobs = []  # (image id, base id or None, expected stores, data)
    for stores, count in BASES.items():
        base = harness.make_base_image(client, stores, b'base')['id']
        jobs += [(None, base, stores) for _ in range(count)]
    jobs += [(None, None, ('fast',)) for _ in range(PLAIN)]
    # Interleave co-located and plain uploads.
    jobs = [job for pair in zip(jobs[:PLAIN], jobs[PLAIN:]) for job in pair]
    jobs = [(client.create_image(name='volume')['id'], base, stores,
             volume(k)) for k, (_, base, stores) in enumerate(jobs)]
    start = threading.Barrier(len(jobs))

    def upload(job):
        image_id, base, _stores, data = job
        start.wait()
        try:
            harness.CinderLikeClient(server.url).upload(
                image_id, data, base_image_ref=base)
        except Exception as exc:  # noqa: BLE001 - reported below
            return exc
        return None

    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        errors = list(pool.map(upload, jobs))

    assert [e for e in errors if e is not None] == [], errors
    for image_id, base, stores, data in jobs:
        image = client.get_image(image_id)
        assert image['status'] == 'active', image
        assert harness.image_stores(image) == set(stores), image
        assert image['size'] == SIZE
        assert image['checksum'] == hashlib.md5(data).hexdigest()
        assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
        files = env.files_for(image_id)
        assert set(files) == set(stores), (image, files)
        for path, in files.values():
            with open(path, 'rb') as f:
                assert f.read() == data, path
    colocated = sum(BASES.values())
    decisions = [ln for ln in env.log_path.read_text().splitlines()
                 if 'stage+import' in ln and 'answered 204' in ln]
    assert len(decisions) == colocated, decisions
    # Both processes served uploads (uWSGI logs "[pid: N|app: 0|req: ...]
    # ... PUT /v2/images/ID/file => ...").
    uploaded_by = set(re.findall(r'\[pid: (\d+)\|[^\n]* PUT /v2/images/'
                                 r'[^/ ]+/file ', server.log_path.read_text()))
    assert uploaded_by == {str(pid) for pid in server.worker_pids()}, (
        uploaded_by)
