"""The filter under glance's eventlet server, as kolla-ansible runs it.

glance 28-32's ``glance-api`` script monkey-patches the interpreter: the
filter's threads are green threads, ``time.sleep`` yields to the hub,
glance's imports run on its green task pool, and one call that blocks
without yielding stalls every request of the worker. These tests run only
in a session with ``--glance-server=eventlet`` (tests/conftest.py; the tox
envs glance-2024.1, -2025.1 and -2025.2 run one); each starts glance with
one worker, so that every request shares that worker's hub, on MariaDB,
as glance runs concurrent requests in production.
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
from tests.e2e import conftest
from tests.e2e.checks import assert_landed
from tests.e2e.checks import broken
from tests.e2e.checks import VOLUME
from tests.harness import release

pytestmark = pytest.mark.eventlet_server

MIB = 1024 * 1024
STORES = ('cheap', 'cold')


def volume(mib, seed=b'eventlet'):
    """``mib`` MiB, cheap to make; glance hashes every byte anyway."""
    return hashlib.sha512(seed).digest() * (mib * MIB // 64)


@pytest.fixture
def one_worker(tmp_path):
    """Start glance's eventlet server with one worker; stopped afterwards."""
    started = []

    def start(**env_options):
        env_options.setdefault('database', 'mariadb')
        env_options.setdefault('max_parallel_stores', 2)
        baseref = env_options.setdefault('baseref_options', {})
        baseref.setdefault('poll_interval', 0.2)
        deployment = conftest.start_deployment(
            tmp_path / ('glance-%d' % len(started)),
            server_options={'processes': 1}, **env_options)
        started.append(deployment)
        assert deployment.server.kind == 'eventlet'
        return deployment
    yield start
    for deployment in started:
        conftest.stop_deployment(deployment)


def upload_or_error(client, image_id, data, base):
    """None once the upload was answered 2xx, else the client's error."""
    try:
        client.upload(image_id, data, base_image_ref=base)
    except Exception as exc:  # noqa: BLE001 - the test looks at it
        return exc
    return None


def wait_until_importing(client, image_ids, timeout=60):
    deadline = time.monotonic() + timeout
    for image_id in image_ids:
        while client.get_image(image_id)['status'] != 'importing':
            assert time.monotonic() < deadline, client.get_image(image_id)
            time.sleep(0.02)


def filter_lines(deployment, text):
    return [ln for ln in deployment.log().splitlines()
            if 'glance_baseref' in ln and text in ln]


def test_start_up_says_eventlet_and_warns_nothing(one_worker):
    deployment = one_worker()
    (info,) = filter_lines(deployment, "glance's eventlet server")
    assert ' INFO ' in info
    assert filter_lines(deployment, ' WARNING ') == []


def test_start_up_warns_once_about_an_early_answer(one_worker):
    deployment = one_worker(baseref_options={'respond_after': 'staged'})
    (warning,) = filter_lines(deployment, ' WARNING ')
    assert "glance's eventlet server with respond_after = staged" in warning
    assert 'SIGHUP' in warning


def test_four_concurrent_colocated_uploads_on_one_worker(one_worker):
    deployment = one_worker()
    client = deployment.client()
    base = harness.make_base_image(client, STORES, b'base')['id']
    volumes = [volume(16, b'%d' % k) for k in range(4)]
    image_ids = [client.create_image(name='volume')['id'] for _ in volumes]
    (worker,) = deployment.server.worker_pids()

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(
            lambda job: upload_or_error(deployment.client(), job[0], job[1],
                                        base), zip(image_ids, volumes)))

    assert answers == [None] * 4, answers
    for image_id, data in zip(image_ids, volumes):
        assert_landed(deployment, client, image_id, STORES, data)
    assert deployment.server.worker_pids() == [worker]
    assert len(filter_lines(deployment, 'active in cheap,cold')) == 4


def test_other_requests_are_served_while_an_upload_waits(one_worker):
    """No blocking call stalls the hub while the filter waits for glance.

    A GET of one image goes to the same worker every 50 ms while a
    co-located 128 MiB upload is staged, imported and waited for. A call
    that blocked the worker's only OS thread would hold those GETs until
    the upload's answer; here each is answered within a fraction of it.
    """
    deployment = one_worker()
    client = deployment.client()
    base = harness.make_base_image(client, STORES, b'base')['id']
    image_id = client.create_image(name='volume')['id']
    data = volume(128)
    answers, latencies = [], []
    uploader = threading.Thread(target=lambda: answers.append(
        upload_or_error(deployment.client(), image_id, data, base)))
    reader = deployment.client()
    began = time.monotonic()
    uploader.start()
    while uploader.is_alive():
        sent = time.monotonic()
        reader.get_image(base)
        latencies.append(time.monotonic() - sent)
        time.sleep(0.05)
    upload_seconds = time.monotonic() - began

    assert answers == [None], answers
    assert_landed(deployment, client, image_id, STORES, data)
    waited = [ln for ln in filter_lines(deployment, image_id)
              if 'stage+import' in ln]
    assert len(waited) == 1 and 'answered 204' in waited[0], waited
    assert len(latencies) >= 5, (latencies, upload_seconds)
    assert max(latencies) < upload_seconds / 2, (latencies, upload_seconds)


def test_the_worker_runs_the_upload_on_green_threads_only(one_worker):
    """The import on glance's green task pool, the base lookup on the
    filter's pool and the wait all run on the worker's one OS thread."""
    deployment = one_worker(baseref_options={'respond_after': 'staged'})
    client = deployment.client()
    base = harness.make_base_image(client, STORES, b'base')['id']
    (worker,) = deployment.server.worker_pids()
    before = deployment.server.worker_status(worker)['Threads']
    image_id = client.create_image(name='volume')['id']
    data = volume(64)
    client.upload(image_id, data, base_image_ref=base)
    during = deployment.server.worker_status(worker)['Threads']
    client.wait_for(image_id, harness.import_finished)

    assert not client.get_image(image_id).get('os_glance_import_task')
    assert_landed(deployment, client, image_id, STORES, data)
    assert (before, during) == (1, 1)


def test_background_watch_deletes_a_failed_import(one_worker):
    """``staged`` answers at once; the watcher, on green threads, waits for
    glance's task to stop and deletes the image it left behind (every
    target store failing in a parallel import leaves it importing)."""
    deployment = one_worker(baseref_options={'respond_after': 'staged'})
    client = deployment.client()
    base = harness.make_base_image(client, STORES, b'base')['id']
    image_id = client.create_image(name='volume')['id']

    with broken(deployment, *STORES):
        client.upload(image_id, VOLUME, base_image_ref=base)
        client.wait_deleted(image_id, timeout=60)

    assert deployment.env.files_for(image_id) == {}
    (error,) = filter_lines(deployment, 'could not be written to stores')
    assert image_id in error and 'deleting it' in error


def test_sighup_lets_uploads_in_flight_finish(one_worker):
    """SIGHUP: the old worker stops accepting, finishes its uploads, the
    filter's waits included, and exits; new workers serve meanwhile.

    With 2024.1's eventlet the uploaders lose their connection at the
    SIGHUP, as a plain upload's does (release.reload_drops_requests), but
    the images still end active in every store."""
    deployment = one_worker()
    client = deployment.client()
    base = harness.make_base_image(client, STORES, b'base')['id']
    volumes = [volume(64, b'%d' % k) for k in range(2)]
    image_ids = [client.create_image(name='volume')['id'] for _ in volumes]
    answers = {}
    uploaders = [threading.Thread(target=lambda i=i, d=d: answers.update(
        {i: upload_or_error(deployment.client(), i, d, base)}))
        for i, d in zip(image_ids, volumes)]
    for uploader in uploaders:
        uploader.start()
    wait_until_importing(client, image_ids)

    old_workers = deployment.server.hang_up()
    other_id = client.create_image(name='volume')['id']
    client.upload(other_id, VOLUME, base_image_ref=base)  # a new worker
    for uploader in uploaders:
        uploader.join(120)

    if release.reload_drops_requests():
        assert all(isinstance(a, glanceclient.exc.CommunicationError)
                   for a in answers.values()), answers
        for image_id in image_ids:
            client.wait_for(image_id, harness.import_finished, timeout=120)
    else:
        assert answers == {i: None for i in image_ids}, answers
    for image_id, data in zip(image_ids, volumes):
        assert_landed(deployment, client, image_id, STORES, data)
    assert_landed(deployment, client, other_id, STORES)
    assert deployment.server.wait_for_exit(old_workers, 60), old_workers


def test_sighup_drops_an_import_answered_early(one_worker):
    """Why the filter warns about ``staged`` (and ``first_store``) here:
    a worker that SIGHUP retires exits once its requests are answered,
    with glance's import still running on its green task pool, and the
    import dies with it. (Without the filter, a plain upload is one
    request, which the retiring worker finishes.)"""
    deployment = one_worker(baseref_options={'respond_after': 'staged'})
    client = deployment.client()
    base = harness.make_base_image(client, STORES, b'base')['id']
    image_id = client.create_image(name='volume')['id']
    client.upload(image_id, volume(256), base_image_ref=base)
    assert client.get_image(image_id).get('os_glance_import_task')

    old_workers = deployment.server.hang_up()
    assert deployment.server.wait_for_exit(old_workers, 60), old_workers
    time.sleep(1)  # nothing moves any more

    image = client.get_image(image_id)
    assert image['status'] in ('uploading', 'importing'), image
    assert image.get('os_glance_import_task'), image
    assert 'staging' in deployment.env.files_for(image_id)
    client.delete_image(image_id)


def test_sigterm_mid_import_leaves_no_active_image_without_data(one_worker):
    """SIGTERM (systemd's stop): glance kills its workers at once, uploads
    in flight included. The uploader gets an error, never a 204; the image
    stays importing, without stores, as after a uWSGI restart
    (doc/faults.md); glance serves again after a start."""
    deployment = one_worker()
    client = deployment.client()
    base = harness.make_base_image(client, STORES, b'base')['id']
    image_id = client.create_image(name='volume')['id']
    answers = []
    uploader = threading.Thread(target=lambda: answers.append(
        upload_or_error(deployment.client(), image_id, volume(64), base)))
    uploader.start()
    wait_until_importing(client, [image_id])
    workers = deployment.server.worker_pids()
    os.kill(deployment.server.pid, signal.SIGTERM)
    uploader.join(60)

    assert isinstance(answers[0], Exception), answers
    # The worker dies at once. The parent's own exit is glance's business:
    # once (glance 31.1.0, a loaded machine) it had not exited 30 s after
    # SIGTERM; stop() then kills what is left of the process group.
    assert deployment.server.wait_for_exit(workers, 30), workers
    deployment.server.stop()
    deployment.server.start()
    image = client.get_image(image_id)
    assert image['status'] == 'importing', image
    assert not image.get('stores'), image
    other_id = client.create_image(name='volume')['id']
    client.upload(other_id, VOLUME, base_image_ref=base)
    assert_landed(deployment, client, other_id, STORES)
    client.delete_image(image_id)
    assert 'staging' not in deployment.env.files_for(image_id)
