"""What a caller can learn and do through the filter, on glance-api 33.

The README section "Security" in tests, against glance under uWSGI (or
glance's eventlet server):

* a base image the caller may not see reads exactly as a missing one:
  same answer (status, headers but date and request id, body), same
  placement, same log lines at the same level; the timing is measured and
  recorded (``record_property``), not asserted;
* the filter's own requests run as the caller: a caller who may not write
  an image gets the refusal plain glance gives, with nothing staged or
  stored, and a co-located upload's import task belongs to the caller;
* reserved ``os_glance_*`` stores and stores outside ``allowed_stores``
  are never targeted, whatever the base image's stores say;
* the header's value never reaches a log.

glance runs the ``keystone`` flavor against a real Keystone, with real
tokens.
"""

import re
import statistics
import time
import uuid

import pytest

from tests import harness
from tests.e2e.checks import assert_nothing_written
from tests.e2e.conftest import DEFAULT_STORE

HEADER = harness.BASE_IMAGE_HEADER
DATA = b'volume data ' * 1024
OCTET = {'Content-Type': 'application/octet-stream'}
GLANCE_DIRECT = {'method': {'name': 'glance-direct'}}
ADMIN = ('admin', 'member', 'reader')
STAGING_STORE = 'os_glance_staging_store'
TASKS_STORE = 'os_glance_tasks_store'

# "2026-11-25 21:05:32.800 12477 INFO glance_baseref.middleware [ctx] msg"
LOG_LINE = re.compile(r'^\S+ \S+ \d+ (?P<level>[A-Z]+) (?P<logger>\S+) '
                      r'\[(?P<context>[^\]]*)\] (?P<message>.*)$')
UUID_RE = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                     r'[0-9a-f]{12}')
DURATION_RE = re.compile(r'\b\d+\.\d+s\b')
# glance's eventlet server logs each request into glance's log, with its
# time and duration: '127.0.0.1 - - [04/Dec/2026 18:58:25] "PUT /v2/...
# HTTP/1.1" 204 213 0.157145'. uWSGI logs them in its own log.
ACCESS_TIME_RE = re.compile(r'\[\d\d/\w{3}/\d{4} [\d:]{8}\]|\b\d+\.\d{6}$')
# Logged by the first request that reaches each worker process (the store
# list), whatever it asks for: with several workers (glance's eventlet
# server runs two) it may fall on either request of a comparison.
ONCE_PER_PROCESS = 'glance_baseref: writable stores '
UNCOMPARABLE_HEADERS = {'date', 'x-openstack-request-id'}

pytestmark = pytest.mark.identities('keystone')


def request_id(headers):
    return headers['x-openstack-request-id']


def log_lines(deployment, request_ids):
    """``{request id: sorted [(level, logger, message)]}``.

    Image ids and durations are masked so that lines of two requests can
    be compared.
    """
    found = {rid: [] for rid in request_ids}
    for line in deployment.log().splitlines():
        match = LOG_LINE.match(line)
        if not match or ONCE_PER_PROCESS in match.group('message'):
            continue
        for rid in found:
            if rid in match.group('context'):
                message = UUID_RE.sub('<id>', match.group('message'))
                message = ACCESS_TIME_RE.sub('<t>', message)
                found[rid].append((match.group('level'),
                                   match.group('logger'),
                                   DURATION_RE.sub('<t>', message)))
    return {rid: sorted(lines) for rid, lines in found.items()}


def comparable(answer):
    status, headers, body = answer
    return (status, {k.lower(): v for k, v in headers.items()
                     if k.lower() not in UNCOMPARABLE_HEADERS}, body)


def staged_image(client, **props):
    image_id = client.create_image(name='volume', **props)['id']
    client.stage(image_id, DATA)
    return image_id


def put_file(client, image_id, headers):
    return client.request('PUT', '/v2/images/%s/file' % image_id,
                          headers=dict(OCTET, **headers), data=iter([DATA]))


def post_import(client, image_id, headers):
    return client.request('POST', '/v2/images/%s/import' % image_id,
                          headers=headers, json=GLANCE_DIRECT)


def send_to_new_image(client, path, headers):
    """Upload to a new image, or import a new staged one, with headers."""
    if path == 'upload':
        image_id = client.create_image(name='volume')['id']
        return image_id, put_file(client, image_id, headers)
    image_id = staged_image(client)
    return image_id, post_import(client, image_id, headers)


def import_targets(client, image_id):
    """Every store an import of the image was asked to write."""
    return {store for task in client.image_tasks(image_id)
            for store in task['input']['import_req'].get('stores') or ()}


def placement(deployment, client, image_id):
    """(status, stores, areas with files) once any import has ended."""
    image = client.wait_for(image_id, harness.import_finished, timeout=60)
    return (image['status'], sorted(harness.image_stores(image)),
            sorted(deployment.env.files_for(image_id)))


@pytest.fixture(scope='module')
def hidden(glance):
    """A private base image of p2 in 'cheap': p1 cannot see it.

    One refused request first, so that the store list, which each worker
    reads and logs once, is read before any of the compared requests.
    """
    client = glance.client('p2')
    image_id = client.create_image(name='warm-up')['id']
    assert put_file(client, image_id, {HEADER: 'warm-up'})[0] == 400
    return harness.make_base_image(client, ['cheap'], DATA,
                                   name='p2-private-base')['id']


# ----------------------------------------------------------------------
# an invisible base image is a missing one


@pytest.mark.release
@pytest.mark.parametrize('path', ['upload', 'import'])
def test_invisible_base_reads_as_missing(glance, p1, p2, hidden, path):
    answers, logs, placements = {}, {}, {}
    for kind, base in (('missing', str(uuid.uuid4())),
                       ('invisible', hidden)):
        image_id, answer = send_to_new_image(p1, path, {HEADER: base})
        placements[kind] = placement(glance, p1, image_id)
        answers[kind] = comparable(answer)
        (logs[kind],) = log_lines(glance, [request_id(answer[1])]).values()

    assert answers['missing'] == answers['invisible']
    assert answers['missing'][0] == (204 if path == 'upload' else 202)
    assert placements['missing'] == placements['invisible'] == (
        'active', [DEFAULT_STORE], [DEFAULT_STORE])
    assert logs['missing'] == logs['invisible']
    decisions = [line for line in logs['missing']
                 if line[1] == 'glance_baseref.middleware']
    assert len(decisions) == 1, logs['missing']
    assert decisions[0][0] == 'INFO'
    assert 'the base image was not found' in decisions[0][2]

    # Control: for its owner the same id is a usable base.
    image_id = p2.create_image(name='volume')['id']
    assert put_file(p2, image_id, {HEADER: hidden})[0] == 204
    assert placement(glance, p2, image_id) == ('active', ['cheap'],
                                               ['cheap'])


def test_invisible_base_timing_is_recorded(glance, p1, hidden,
                                           record_property):
    """30 alternated samples each; only the log lines are asserted.

    The target image is active, so glance answers 409 right after the
    filter's lookup and no data is written: the time is mostly the lookup.
    """
    target = harness.make_base_image(p1, [DEFAULT_STORE], DATA,
                                     name='active-target')['id']
    seconds = {'missing': [], 'invisible': []}
    request_ids = {'missing': [], 'invisible': []}
    for _ in range(30):
        for kind, base in (('missing', str(uuid.uuid4())),
                           ('invisible', hidden)):
            started = time.perf_counter()
            status, headers, body = p1.request(
                'PUT', '/v2/images/%s/file' % target,
                headers=dict(OCTET, **{HEADER: base}), data=DATA)
            seconds[kind].append(time.perf_counter() - started)
            assert status == 409, body
            request_ids[kind].append(request_id(headers))

    lines = log_lines(glance, request_ids['missing']
                      + request_ids['invisible'])
    seen = {kind: {tuple(lines[rid]) for rid in rids}
            for kind, rids in request_ids.items()}
    assert len(seen['missing']) == 1, seen['missing']
    assert seen['missing'] == seen['invisible']

    summary = {}
    for kind, values in seconds.items():
        quartiles = statistics.quantiles(values, n=4)
        summary[kind] = 'median %.1f ms, IQR %.1f-%.1f ms' % (
            statistics.median(values) * 1e3, quartiles[0] * 1e3,
            quartiles[2] * 1e3)
        record_property('%s_base_409_ms' % kind, summary[kind])
    print('invisible vs missing base, 30 alternated samples each: %s'
          % summary)


# ----------------------------------------------------------------------
# no more rights than the caller


@pytest.fixture(scope='module')
def two_store_bases(glance):
    """Per project, a base image in two stores: the stage+import path."""
    return {project: harness.make_base_image(
        glance.client(project), ['cheap', 'cold'], DATA,
        name='base-two-stores')['id'] for project in ('p1', 'p2')}


@pytest.mark.release
@pytest.mark.parametrize('caller, visibility, path, status', [
    ('p1-reader', 'private', 'upload', 403),
    ('p1-reader', 'private', 'import', 403),
    ('p2', 'private', 'upload', 404),
    ('p2', 'private', 'import', 404),
    ('p2', 'community', 'upload', 403),
    ('p2', 'community', 'import', 403),
])
def test_caller_gets_the_refusal_of_plain_glance(glance, p1, two_store_bases,
                                                 caller, visibility, path,
                                                 status):
    """Refused as without the header, and nothing staged, stored, tasked.

    The base image is one the caller sees, in two stores, so that the
    filter takes its stage+import path on the caller's behalf.
    """
    if caller == 'p1-reader':
        client = glance.client('p1', roles=('reader',))
        base = two_store_bases['p1']
    else:
        client = glance.client('p2')
        base = two_store_bases['p2']
    statuses = []
    for header in ({HEADER: base}, {}):
        if path == 'upload':
            image_id = p1.create_image(name='volume',
                                       visibility=visibility)['id']
            before = {}
            answer = put_file(client, image_id, header)
        else:
            image_id = staged_image(p1, visibility=visibility)
            before = glance.env.files_for(image_id)
            answer = post_import(client, image_id, header)
        statuses.append(answer[0])
        assert_nothing_written(glance, p1, image_id, path, before)
    assert statuses == [status, status]


@pytest.mark.release
def test_colocated_upload_runs_as_the_caller(glance, p2, two_store_bases):
    image_id = p2.create_image(name='volume')['id']
    status, headers, body = put_file(p2, image_id,
                                     {HEADER: two_store_bases['p2']})
    assert status == 204, body
    assert placement(glance, p2, image_id) == (
        'active', ['cheap', 'cold'], ['cheap', 'cold'])
    (task,) = p2.image_tasks(image_id)
    assert (task['owner'], task['user_id'], task['request_id']) == (
        p2.project_id, p2.user_id, request_id(headers))
    assert task['input']['import_req']['method']['name'] == 'glance-direct'


# ----------------------------------------------------------------------
# stores the filter never targets


@pytest.fixture(scope='module')
def reserved_bases(glance):
    """Base images in reserved stores, made through glance's own API.

    Glance 33 lets a member upload into a reserved store with
    ``x-image-meta-store``; an admin copy-image then adds 'cheap'.
    """
    p1 = glance.client('p1')
    admin = glance.client('p1', roles=ADMIN)
    made = {}
    for name, store in (('staging+cheap', STAGING_STORE),
                        ('tasks-only', TASKS_STORE)):
        image_id = p1.create_image(name='base-%s' % name)['id']
        status, _, body = p1.request(
            'PUT', '/v2/images/%s/file' % image_id,
            headers=dict(OCTET, **{harness.STORE_HEADER: store}), data=DATA)
        assert status == 204, body
        made[name] = image_id
    status, _, body = admin.request(
        'POST', '/v2/images/%s/import' % made['staging+cheap'],
        json={'method': {'name': 'copy-image'}, 'stores': ['cheap']})
    assert status == 202, body
    for name, stores in (('staging+cheap', {STAGING_STORE, 'cheap'}),
                         ('tasks-only', {TASKS_STORE})):
        image = p1.wait_for(made[name], harness.import_finished)
        assert harness.image_stores(image) == stores, image
    return made


@pytest.mark.parametrize('base, path, stores', [
    ('staging+cheap', 'upload', ['cheap']),
    ('staging+cheap', 'import', ['cheap']),
    ('tasks-only', 'upload', [DEFAULT_STORE]),
    ('tasks-only', 'import', [DEFAULT_STORE]),
])
def test_reserved_stores_are_never_targeted(glance, p1, reserved_bases,
                                            base, path, stores):
    if path == 'upload':
        image_id = p1.create_image(name='volume')['id']
        answer = put_file(p1, image_id, {HEADER: reserved_bases[base]})
    else:
        image_id = staged_image(p1)
        answer = post_import(p1, image_id, {HEADER: reserved_bases[base]})
    assert answer[0] in (202, 204), answer
    # Nothing of the image in staging or the tasks store either.
    assert placement(glance, p1, image_id) == ('active', stores, stores)
    # Not even asked for: glance would fail such a store quietly.
    assert import_targets(p1, image_id) <= set(stores)
    assert not p1.get_image(image_id).get('os_glance_failed_import')


def test_stores_outside_allowed_stores_are_never_targeted(make_glance):
    deployment = make_glance(baseref_options={'allowed_stores': ['cheap']})
    client = deployment.client('p1')
    cheap_cold = harness.make_base_image(client, ['cheap', 'cold'], DATA)
    cold = harness.make_base_image(client, ['cold'], DATA)
    for base, path, stores in ((cheap_cold, 'upload', ['cheap']),
                               (cold, 'upload', [DEFAULT_STORE]),
                               (cheap_cold, 'import', ['cheap'])):
        if path == 'upload':
            image_id = client.create_image(name='volume')['id']
            answer = put_file(client, image_id, {HEADER: base['id']})
        else:
            image_id = staged_image(client)
            answer = post_import(client, image_id, {HEADER: base['id']})
        assert answer[0] in (202, 204), answer
        assert placement(deployment, client, image_id) == (
            'active', stores, stores), (base['stores'], path)
        assert import_targets(client, image_id) <= set(stores)


# ----------------------------------------------------------------------
# logs


@pytest.mark.parametrize('value', [
    'BASEREF-LOG-MARKER-%s' % uuid.uuid4().hex,
    '\x1b[2J\x1b]0;BASEREF-LOG-MARKER-%s\x07' % uuid.uuid4().hex,
    'BASEREF-LOG-MARKER-%s,' % uuid.uuid4().hex + 'x' * 8192,
], ids=['word', 'terminal-escapes', 'long-list'])
@pytest.mark.parametrize('path', ['upload', 'import'])
def test_header_value_never_reaches_the_logs(glance, p1, path, value):
    _image_id, answer = send_to_new_image(p1, path, {HEADER: value})
    assert answer[0] == 400, answer
    marker = re.search(r'BASEREF-LOG-MARKER-[0-9a-f]+', value).group(0)
    assert marker not in glance.log()
    with open(glance.server.log_path, encoding='utf-8',
              errors='replace') as uwsgi_log:
        assert marker not in uwsgi_log.read()
