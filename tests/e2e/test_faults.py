"""Faults: the filter fails safe, on glance-api 33 under uWSGI.

The catalogue behind the README section "Faults". Each fault is made
real, on the running server:

* a target store fails: its directory is replaced by a plain file
  (``GlanceEnv.break_store``), which stops root too, after the base image
  was written there;
* the client goes away: a raw socket sends part of a chunked body and
  closes;
* the base-image lookup times out: glance on MariaDB, with the ``images``
  table locked by another connection (``LOCK TABLES images WRITE``); or
  fails: the base image's location row is made unreadable, so glance
  itself answers 500 for that image, and for no other;
* the import outlives ``import_timeout`` (1 s for a 256 MiB image into
  three stores);
* glance-api is restarted (SIGTERM to the uWSGI master, as systemd does)
  while an upload is staged or imported.

Afterwards the image, the stores, staging and the log are checked.
"""

import hashlib
import json
import re
import socket
import threading
import time

import glanceclient.exc
import pytest

from tests import harness
from tests.e2e import conftest
from tests.e2e.checks import broken
from tests.e2e.checks import VOLUME
from tests.e2e.checks import image_or_none
from tests.e2e.conftest import DEFAULT_STORE
from tests.harness import glance_env
from tests.harness import release

MIB = 1024 * 1024
PATHS = {'serial': 1, 'parallel': 3}


def big_volume(mib):
    """``mib`` MiB that are cheap to make; glance hashes them all anyway."""
    return hashlib.sha512(b'fault').digest() * (mib * MIB // 64)


@pytest.fixture(scope='module')
def glances(tmp_path_factory):
    """Deployments by settings, started on first use, shared by the module.

    A test that breaks a store repairs it (see :func:`broken`), so tests
    with the same settings can share a glance.
    """
    started = {}

    def get(max_parallel_stores=1, database='sqlite', **baseref):
        baseref.setdefault('poll_interval', 0.2)
        key = (max_parallel_stores, database, tuple(sorted(baseref.items())))
        if key not in started:
            started[key] = conftest.start_deployment(
                tmp_path_factory.mktemp('faults'),
                max_parallel_stores=max_parallel_stores, database=database,
                baseref_options=baseref)
        return started[key]
    yield get
    for deployment in started.values():
        conftest.stop_deployment(deployment)


def status_of(exc):
    """The HTTP status of a glanceclient error (its .code may be 'N/A')."""
    return int(re.match(r'HTTP (\d{3})', str(exc)).group(1))


def filter_lines(deployment, image_id, level=None):
    """The filter's log lines about ``image_id`` (at ``level``, if given)."""
    return [ln for ln in deployment.log().splitlines()
            if 'glance_baseref' in ln and image_id in ln
            and (level is None or ' %s ' % level in ln)]


def upload_or_error(client, image_id, data, base):
    """Cinder's upload, in a thread: its error is the answer."""
    try:
        return client.upload(image_id, data, base_image_ref=base)
    except Exception as exc:  # noqa: BLE001 - the test looks at it
        return exc


def assert_active_with_data(deployment, image, data=None):
    """Active: every listed store has the whole image, as glance says."""
    assert image['status'] == 'active', image
    files = deployment.env.files_for(image['id'])
    for store in harness.image_stores(image):
        assert store in files, (store, files)
        (path,) = files[store]
        with open(path, 'rb') as f:
            content = f.read()
        assert len(content) == image['size'], (path, len(content), image)
        assert hashlib.md5(content).hexdigest() == image['checksum'], path
        if data is not None:
            assert content == data, path


def assert_landed(deployment, client, image_id, stores, data=VOLUME):
    image = client.get_image(image_id)
    assert harness.image_stores(image) == set(stores), image
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    assert_active_with_data(deployment, image, data)
    assert set(deployment.env.files_for(image_id)) == set(stores)


def assert_no_data_left(deployment, client, image_id):
    """Deleted, or queued with nothing in any store nor in staging."""
    image = image_or_none(client, image_id)
    if image is not None:
        assert image['status'] == 'queued', image
        assert not image.get('stores'), image
        assert image['size'] is None, image
    assert deployment.env.files_for(image_id) == {}


# ----------------------------------------------------------------------
# A target store fails


@pytest.mark.release
@pytest.mark.parametrize('path', PATHS)
def test_failed_store_is_logged_and_the_others_are_written(glances, path):
    deployment = glances(max_parallel_stores=PATHS[path])
    client = deployment.client()
    base = harness.make_base_image(client, ('cheap', 'cold'), b'base')['id']
    image_id = client.create_image(name='volume')['id']

    with broken(deployment, 'cold'):
        client.upload(image_id, VOLUME, base_image_ref=base)

    assert_landed(deployment, client, image_id, ('cheap',))
    assert client.get_image(image_id)['os_glance_failed_import'] == 'cold'
    (warning,) = filter_lines(deployment, image_id, 'WARNING')
    assert 'not written to stores cold' in warning
    assert 'active in cheap' in warning


@pytest.mark.release
@pytest.mark.parametrize('path,must_succeed,failing', [
    ('serial', True, ('cold',)),
    ('parallel', True, ('cold',)),
    ('serial', False, ('cheap', 'cold')),
    ('parallel', False, ('cheap', 'cold')),
], ids=['serial-all-must-succeed', 'parallel-all-must-succeed',
        'serial-every-store-fails', 'parallel-every-store-fails'])
def test_failed_upload_leaves_no_data(glances, path, must_succeed, failing):
    deployment = glances(max_parallel_stores=PATHS[path],
                         all_stores_must_succeed=must_succeed)
    client = deployment.client()
    base = harness.make_base_image(client, ('cheap', 'cold'), b'base')['id']
    image_id = client.create_image(name='volume')['id']

    with broken(deployment, *failing):
        with pytest.raises(glanceclient.exc.HTTPInternalServerError) as err:
            client.upload(image_id, VOLUME, base_image_ref=base)

    assert_no_data_left(deployment, client, image_id)
    message = str(err.value)
    assert image_id in message
    assert all(store in message for store in failing), message
    (error,) = [ln for ln in filter_lines(deployment, image_id, 'ERROR')
                if 'could not be written' in ln]
    assert all(store in error for store in failing), error


@pytest.mark.release
def test_failed_single_target_store_is_glance_own_failure(glances):
    deployment = glances()
    client = deployment.client()
    base = harness.make_base_image(client, ('cold',), b'base')['id']
    image_id = client.create_image(name='volume')['id']

    with broken(deployment, 'cold'):
        with pytest.raises(release.early_answer_errors(
                glanceclient.exc.HTTPException)) as err:
            client.upload(image_id, VOLUME, base_image_ref=base)

    assert_no_data_left(deployment, client, image_id)
    # glance fails the store before it reads the body: 2024.1's client may
    # lose that answer (release.loses_early_answers); uWSGI's log has it.
    release.check_early_answer(deployment.server, image_id, err.value, 500)
    (info,) = filter_lines(deployment, image_id, 'INFO')
    assert 'stores cold by upload to cold' in info


# ----------------------------------------------------------------------
# The client disconnects in the middle of the body


def send_half_a_body(server, client, image_id, headers, chunks=3):
    """A chunked ``PUT .../file`` that stops after ``chunks`` MiB."""
    head = ['PUT /v2/images/%s/file HTTP/1.1' % image_id,
            'Host: 127.0.0.1:%d' % server.port,
            'Content-Type: application/octet-stream',
            'Transfer-Encoding: chunked']
    headers = dict(client.auth.identity_headers(), **headers)
    headers['X-Auth-Token'] = 'harness-token'
    head += ['%s: %s' % item for item in headers.items()]
    with socket.create_connection(('127.0.0.1', server.port)) as sock:
        sock.sendall(('\r\n'.join(head) + '\r\n\r\n').encode())
        for _ in range(chunks):
            sock.sendall(b'%x\r\n%s\r\n' % (MIB, b'v' * MIB))
    # The server logs a request once glance and the filter are done with it.
    request = 'PUT /v2/images/%s/file' % image_id
    deadline = time.monotonic() + 30
    while request not in server.log_path.read_text(errors='replace'):
        assert time.monotonic() < deadline, 'glance never ended ' + request
        time.sleep(0.05)


@pytest.fixture(scope='module')
def bases(glance):
    client = glance.client('p1')
    return {stores: harness.make_base_image(client, stores, b'base')['id']
            for stores in (('cold',), ('cheap', 'cold'))}


@pytest.mark.parametrize('stores', [(), ('cold',), ('cheap', 'cold')],
                         ids=['no-header', 'one-store', 'two-stores'])
def test_client_gone_mid_body_leaves_nothing(glance, p1, bases, stores):
    image_id = p1.create_image(name='volume')['id']
    headers = {harness.BASE_IMAGE_HEADER: bases[stores]} if stores else {}

    send_half_a_body(glance.server, p1, image_id, headers)

    image = p1.get_image(image_id)
    assert image['status'] == 'queued', image
    assert 'os_glance_import_task' not in image, image
    assert p1.image_tasks(image_id) == []
    assert glance.env.files_for(image_id) == {}
    # Nothing is left half done: the image can still be uploaded.
    p1.upload(image_id, VOLUME, base_image_ref=bases[stores] if stores
              else None)
    assert_landed(glance, p1, image_id, stores or (DEFAULT_STORE,))


# ----------------------------------------------------------------------
# The base-image lookup fails or times out (glance on MariaDB)


def mariadb(deployment):
    """A connection of our own to the deployment's database."""
    import pymysql
    return pymysql.connect(host=glance_env.MARIADB_HOST,
                           port=glance_env.MARIADB_PORT,
                           user=glance_env.MARIADB_USER, autocommit=True,
                           database=deployment.env.database_name)


@pytest.fixture
def on_mariadb(glances):
    return glances(database='mariadb', lookup_timeout=1)


def queries_waiting_for_a_table_lock(cursor, database):
    cursor.execute('SELECT COUNT(*) FROM information_schema.processlist '
                   "WHERE db = %s AND state LIKE 'Waiting for table%%'",
                   (database,))
    return cursor.fetchone()[0]


def test_lookup_timeout_sends_the_upload_to_the_default_store(on_mariadb):
    client = on_mariadb.client()
    base = harness.make_base_image(client, ('cheap', 'cold'), b'base')['id']
    image_id = client.create_image(name='volume')['id']
    answers = []
    uploader = threading.Thread(target=lambda: answers.append(
        upload_or_error(client, image_id, VOLUME, base)))

    conn = mariadb(on_mariadb)
    try:
        with conn.cursor() as cursor:
            cursor.execute('LOCK TABLES images WRITE')
            uploader.start()
            # First the filter's lookup waits for the lock; once it timed
            # out, glance's own upload waits for it too: two waiting.
            deadline = time.monotonic() + 15
            while queries_waiting_for_a_table_lock(
                    cursor, on_mariadb.env.database_name) < 2:
                assert time.monotonic() < deadline, (
                    'the upload still waits for the base-image lookup '
                    'after 15 s (lookup_timeout = 1 s)')
                time.sleep(0.1)
            cursor.execute('UNLOCK TABLES')
    finally:
        conn.close()
        if uploader.is_alive():
            uploader.join(60)

    assert not isinstance(answers[0], Exception), answers
    assert_landed(on_mariadb, client, image_id, (DEFAULT_STORE,))
    (info,) = filter_lines(on_mariadb, image_id, 'INFO')
    assert 'lookup included) took more than 1s' in info
    assert 'stores default by upload to the default store' in info


def test_lookup_error_sends_the_upload_to_the_default_store(on_mariadb):
    client = on_mariadb.client()
    base = harness.make_base_image(client, ('cheap', 'cold'), b'base')['id']
    conn = mariadb(on_mariadb)
    try:
        with conn.cursor() as cursor:
            cursor.execute("UPDATE image_locations SET meta_data = '{broken'"
                           ' WHERE image_id = %s', (base,))
    finally:
        conn.close()
    status, _headers, _body = client.request('GET', '/v2/images/' + base)
    assert status == 500, 'glance reads the broken base image after all'

    image_id = client.create_image(name='volume')['id']
    client.upload(image_id, VOLUME, base_image_ref=base)

    assert_landed(on_mariadb, client, image_id, (DEFAULT_STORE,))
    (info,) = filter_lines(on_mariadb, image_id, 'INFO')
    assert 'the base image lookup failed' in info
    assert '500 Internal Server Error' in info
    assert 'stores default by upload to the default store' in info


# ----------------------------------------------------------------------
# The import outlives import_timeout


def task_status(admin, task_id):
    status, _headers, body = admin.request('GET', '/v2/tasks/' + task_id)
    assert status == 200, (status, body)
    return json.loads(body)['status']


@pytest.mark.parametrize('path', PATHS)
def test_import_timeout_is_a_504_and_leaves_nothing(glances, path):
    # 256 MiB: staging takes about 2 s, so the answer is a 504 at once, and
    # writing three stores takes seconds more than another import_timeout.
    deployment = glances(max_parallel_stores=PATHS[path], import_timeout=1)
    client = deployment.client()
    admin = deployment.client(roles=('admin', 'member', 'reader'))
    base = harness.make_base_image(client, ('fast', 'cheap', 'cold'),
                                   b'base')['id']
    image_id = client.create_image(name='volume')['id']

    with pytest.raises(glanceclient.exc.HTTPException) as raised:
        client.upload(image_id, big_volume(256), base_image_ref=base)
    assert status_of(raised.value) == 504, raised.value
    assert 'import_timeout' in str(raised.value)
    (task,) = client.image_tasks(image_id)

    # The watcher deletes the image once glance's task has stopped.
    deadline = time.monotonic() + 30
    while (image_or_none(client, image_id) is not None
           or task_status(admin, task['id']) in ('pending', 'processing')):
        assert time.monotonic() < deadline, 'after 30 s: %r, task %s' % (
            image_or_none(client, image_id), task_status(admin, task['id']))
        time.sleep(0.2)
    assert deployment.env.files_for(image_id) == {}
    # Nothing failed but the wait: an import left alone succeeds. A task
    # that failed had its image deleted under it.
    assert task_status(admin, task['id']) == 'success', (
        'the image was deleted while glance still imported it')
    assert [ln for ln in filter_lines(deployment, image_id, 'ERROR')
            if 'deleting it' in ln]


# ----------------------------------------------------------------------
# glance-api restarts while an upload is staged or imported

#: phase -> (what to wait for before the restart, the image afterwards).
RESTART_PHASES = {
    # Staging: the body is half read.
    'staging': (lambda image, files: image['status'] == 'uploading'
                and 'staging' in files, 'uploading'),
    # Import: the first store is being written.
    'importing': (lambda image, files: image['status'] == 'importing'
                  and len(files) == 2, 'importing'),
    # Active in the first store, the second one is being written.
    'active': (lambda image, files: image['status'] == 'active'
               and len(files) == 3, 'active'),
}


@pytest.mark.parametrize('phase', RESTART_PHASES)
def test_restart_mid_import_leaves_no_active_image_without_data(
        glances, phase):
    deployment = glances()
    client = deployment.client()
    stores = ('fast', 'cheap', 'cold')
    base = harness.make_base_image(client, stores, b'base')['id']
    image_id = client.create_image(name='volume')['id']
    data = big_volume(64)
    ready, afterwards = RESTART_PHASES[phase]
    answers = []
    uploader = threading.Thread(target=lambda: answers.append(
        upload_or_error(client, image_id, data, base)))
    uploader.start()
    try:
        deadline = time.monotonic() + 30
        while not ready(client.get_image(image_id),
                        deployment.env.files_for(image_id)):
            assert time.monotonic() < deadline, client.get_image(image_id)
            time.sleep(0.02)
        deployment.server.restart()
    finally:
        uploader.join(60)
    assert isinstance(answers[0], Exception), answers  # the client saw it

    image = client.get_image(image_id)
    assert image['status'] == afterwards, image
    if image['status'] == 'active':
        assert_active_with_data(deployment, image, data)
    else:
        assert not image.get('stores'), image
    if phase != 'staging':
        # glance's lock stays for 60 minutes; the task never ends.
        (task,) = client.image_tasks(image_id)
        assert task['status'] == 'processing', task
        assert image['os_glance_import_task'] == task['id']
    time.sleep(0.5)  # nothing moves any more
    assert client.get_image(image_id)['status'] == afterwards

    # The restarted glance serves co-located uploads as before, and the
    # stuck image can be deleted with its staged data.
    other_id = client.create_image(name='volume')['id']
    client.upload(other_id, VOLUME, base_image_ref=base)
    assert_landed(deployment, client, other_id, stores)
    client.delete_image(image_id)
    assert 'staging' not in deployment.env.files_for(image_id)
