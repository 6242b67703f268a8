"""Never worse than glance alone: each fault side by side (issue 13).

Every case runs twice on glance-api 33 under uWSGI, with the same fault:
on a glance WITHOUT the filter (``alone``) and on one WITH it
(``filtered``). Both have three file stores (``fast`` the default,
``cheap``, ``cold``) and their own database. Each side's result is an
:class:`Outcome`: the answer the caller got, the image afterwards, and
whether every store glance lists holds the whole image. A case passes
when the filter's outcome ranks at least as high as glance's alone (see
:func:`rank`), and when both sides end exactly as doc/faults.md says.

The one case where the filter may do worse is asserted as such:
a staging disk that fills up in the middle of the body (nothing can be
replayed once bytes were read).
"""

import dataclasses
import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time

import glanceclient.exc
import pytest

from tests import harness
from tests.e2e import conftest
from tests.e2e.checks import broken
from tests.e2e.checks import VOLUME
from tests.e2e.checks import image_or_none
from tests.e2e.checks import wait_until

MIB = 1024 * 1024
SIDES = ('alone', 'filtered')
ADMIN = ('admin', 'member', 'reader')

#: The DEBUG line of glance_baseref.colocate after each wait.
LOOKS_LINE = re.compile(r'image (?P<image>[0-9a-f-]{36}): (?P<looks>\d+) '
                        r'looks at the image and (?P<cpu>[\d.]+)s of CPU '
                        r'for them in (?P<waited>[\d.]+)s of waiting')


def big_volume(mib):
    """``mib`` MiB that are cheap to make; glance hashes them all anyway."""
    return hashlib.sha512(b'never-worse').digest() * (mib * MIB // 64)


@pytest.fixture(scope='module')
def pairs(tmp_path_factory):
    """Two glances per set of GlanceEnv settings, one without the filter.

    Started on first use and shared by the module's tests; a test that
    breaks something repairs it.
    """
    started = {}

    def get(**settings):
        settings.setdefault('baseref_options', {}).setdefault(
            'poll_interval', 0.2)
        key = repr(sorted(settings.items()))
        if key not in started:
            started[key] = {}
            for side in SIDES:
                started[key][side] = conftest.start_deployment(
                    tmp_path_factory.mktemp('never-worse-' + side),
                    with_filter=side == 'filtered', **settings)
        return started[key]
    yield get
    for pair in started.values():
        for deployment in pair.values():
            conftest.stop_deployment(deployment)


# ----------------------------------------------------------------------
# Outcomes and how they compare


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one side ended with."""

    #: HTTP status the caller got; 0: the connection broke, no answer
    answer: int
    #: the image's status afterwards; None: deleted
    status: object
    stores: frozenset
    #: every listed store holds a file of the image's size and checksum
    complete: bool
    #: files of the image outside its listed stores (staging, partial)
    leftovers: tuple
    marked: bool = False

    def __str__(self):
        return ('answer %s, image %s in %s%s%s%s'
                % (self.answer or 'none', self.status or 'deleted',
                   ','.join(sorted(self.stores)) or 'no store',
                   '' if self.complete else ', INCOMPLETE',
                   ', leftovers %s' % ','.join(self.leftovers)
                   if self.leftovers else '',
                   ', marked' if self.marked else ''))


def rank(outcome):
    """How good an outcome is for the uploader and the operator.

    A pair ``(tier, -files left over)``, compared as a tuple. Tiers:
    3 + stores: active, every listed store complete; 2: failed, and
    nothing of the image is left for anyone to settle (deleted, or
    ``queued``/``saving``, which Cinder deletes after a failed upload);
    1: failed, the image stuck but marked for glance-baseref-audit; 0:
    anything else (stuck and unmarked, or active without its data).
    Files left over are those outside the listed stores (staging, a
    partial file of a killed write).
    """
    if outcome.status == 'active' and outcome.complete and outcome.stores:
        tier = 3 + len(outcome.stores)
    elif outcome.status in (None, 'queued', 'saving') and not (
            outcome.stores):
        tier = 2
    elif outcome.marked:
        tier = 1
    else:
        tier = 0
    return tier, -len(outcome.leftovers)


def assert_never_worse(outcomes):
    assert rank(outcomes['filtered']) >= rank(outcomes['alone']), (
        'the filter did worse than glance alone:\n  alone:    %s\n'
        '  filtered: %s' % (outcomes['alone'], outcomes['filtered']))


def status_of(error):
    """The HTTP status of an upload's error (0: no answer at all)."""
    if error is None:
        return 204
    match = re.search(r'HTTP (\d{3})', str(error))
    return int(match.group(1)) if match else 0


def outcome_of(deployment, client, image_id, answer):
    image = image_or_none(client, image_id)
    files = deployment.env.files_for(image_id)
    if image is None:
        return Outcome(answer, None, frozenset(), True,
                       tuple(sorted(files)))
    stores = harness.image_stores(image)
    complete = True
    for store in stores:
        paths = files.get(store, [])
        if len(paths) != 1:
            complete = False
            continue
        with open(paths[0], 'rb') as f:
            content = f.read()
        complete &= (len(content) == image['size'] and hashlib.md5(
            content).hexdigest() == image['checksum'])
    leftovers = tuple(sorted(set(files) - stores))
    return Outcome(answer, image['status'], frozenset(stores), complete,
                   leftovers, 'baseref_import' in image)


def upload_answer(client, image_id, data, base):
    """Cinder's upload; the HTTP status it got."""
    try:
        client.upload(image_id, data, base_image_ref=base)
    except Exception as exc:  # noqa: BLE001 - the answer is the result
        return status_of(exc)
    return 204


REQUEST_ID = re.compile(r'\[(?:None )?(req-[0-9a-f-]{36})')


def filter_lines(deployment, image_id, level):
    """The filter's lines at ``level`` about ``image_id``: naming it, or
    logged while serving a request whose lines name it."""
    lines = [ln for ln in deployment.log().splitlines()
             if 'glance_baseref' in ln]
    requests = {m.group(1) for m in map(REQUEST_ID.search, lines)
                if m and image_id in m.string}
    return [ln for ln in lines if ' %s ' % level in ln and (
        image_id in ln or any(r in ln for r in requests))]


def settled(client, image_id, timeout=60):
    """The image once glance dropped its import lock (or it is gone)."""
    deadline = time.monotonic() + timeout
    while True:
        image = image_or_none(client, image_id)
        if image is None or harness.import_finished(image):
            return image
        assert time.monotonic() < deadline, image
        time.sleep(0.2)


# ----------------------------------------------------------------------
# 1. The stage is refused before a byte of the body was read


def co_located_upload(pair, fault, base_stores=('cheap', 'cold'),
                      data=VOLUME, client_for=None):
    """On each side: a base in ``base_stores``, then within ``fault(side,
    deployment, client)`` a Cinder upload naming it. Returns
    ``(outcomes, image ids)``."""
    outcomes, images = {}, {}
    for side, deployment in pair.items():
        client = (client_for or (lambda d: d.client()))(deployment)
        base = harness.make_base_image(client, base_stores, b'base')['id']
        image_id = client.create_image(name='volume')['id']
        with fault(side, deployment, client):
            answer = upload_answer(client, image_id, data, base)
        outcomes[side] = outcome_of(deployment, client, image_id, answer)
        images[side] = image_id
    return outcomes, images


class _NoFault:
    def __init__(self, *args):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _StagingBroken(_NoFault):
    def __init__(self, how):
        self.how = how

    def __call__(self, side, deployment, client):
        self.env = deployment.env
        return self

    def __enter__(self):
        self.env.break_staging(self.how)

    def __exit__(self, *exc):
        self.env.repair_staging()
        return False


def assert_fell_back(outcomes, images, pair, store='cheap'):
    """glance alone: its default store; the filter: one store, and why."""
    assert outcomes['alone'] == Outcome(204, 'active', frozenset({'fast'}),
                                        True, ()), outcomes['alone']
    assert outcomes['filtered'] == Outcome(
        204, 'active', frozenset({store}), True, ()), outcomes['filtered']
    assert_never_worse(outcomes)


def assert_staging_warned(pair, image_id):
    """The upload's own line says why; a WARNING about staging was
    logged (once per worker: it is a state of the node, not of the
    upload)."""
    deployment = pair['filtered']
    (line,) = [ln for ln in filter_lines(deployment, image_id, 'INFO')
               if 'stores cheap by upload to cheap' in ln]
    assert 'staging' in line, line
    assert [ln for ln in deployment.log().splitlines()
            if 'glance_baseref' in ln and ' WARNING ' in ln
            and 'staging' in ln]


@pytest.fixture(scope='module')
def staging_pair(pairs):
    """Glances of their own (lookup_timeout only makes the key differ):
    a staging fault must not leak into other tests."""
    return pairs(baseref_options={'poll_interval': 0.2,
                                  'lookup_timeout': 10.0})


@pytest.mark.parametrize('how', ['gone', 'file'])
def test_staging_lost_after_start_falls_back_to_one_store(staging_pair,
                                                          how):
    pair = staging_pair
    outcomes, images = co_located_upload(pair, _StagingBroken(how))
    assert_fell_back(outcomes, images, pair)
    assert_staging_warned(pair, images['filtered'])
    # Staging is back: the next upload is co-located again.
    again, _images = co_located_upload({'filtered': pair['filtered']},
                                       _NoFault)
    assert again['filtered'] == Outcome(
        204, 'active', frozenset({'cheap', 'cold'}), True, ()), (
        'staging is back, but the filter still writes one store: %s'
        % again['filtered'])


def test_staging_unusable_from_the_start_falls_back_to_one_store(
        staging_pair):
    # Base images need staging: make them first, then restart without it.
    pair = staging_pair
    bases = {side: harness.make_base_image(
        d.client(), ('cheap', 'cold'), b'base')['id']
        for side, d in pair.items()}
    for deployment in pair.values():
        deployment.env.reconfigure(staging=False)
        deployment.server.restart()
    try:
        outcomes, images = {}, {}
        for side, deployment in pair.items():
            client = deployment.client()
            image_id = client.create_image(name='volume')['id']
            answer = upload_answer(client, image_id, VOLUME, bases[side])
            outcomes[side] = outcome_of(deployment, client, image_id, answer)
            images[side] = image_id
        assert_fell_back(outcomes, images, pair)
        assert_staging_warned(pair, images['filtered'])
    finally:
        for deployment in pair.values():
            deployment.env.reconfigure(staging=True)
            deployment.server.restart()


@pytest.fixture(scope='module')
def limited_pair(tmp_path_factory, keystone, keystone_glance):
    """Two keystone-flavor glances that enforce Keystone's unified limits.

    The registered ``image_stage_total`` is 0 MiB: glance refuses a stage
    once the project has 1 MiB or more staged (glance checks usage plus
    the chunked body's size, 0, against the limit), before it reads the
    body. The other three limits glance enforces are left generous.
    """
    keystone.register_image_limits({
        'image_size_total': 100000, 'image_count_total': 10000,
        'image_count_uploading': 1000, 'image_stage_total': 0})
    options = keystone.oslo_limit_options()
    pair = {}
    try:
        for side in SIDES:
            pair[side] = conftest.start_deployment(
                tmp_path_factory.mktemp('limits-' + side), keystone=keystone,
                database='mariadb', with_filter=side == 'filtered',
                api_options={'use_keystone_limits': 'true'},
                api_sections={'oslo_limit': options})
        yield pair
    finally:
        for deployment in pair.values():
            conftest.stop_deployment(deployment)


class _StageQuotaUsedUp(_NoFault):
    """The project stages 2 MiB on another image (left ``uploading``)."""

    def __call__(self, side, deployment, client):
        blocker = client.create_image(name='staged-elsewhere')['id']
        client.stage(blocker, b's' * (2 * MIB))
        self.check = (client, blocker)
        return self


def test_stage_over_keystone_quota_falls_back_to_one_store(limited_pair):
    fault = _StageQuotaUsedUp()
    outcomes, images = co_located_upload(limited_pair, fault)
    # The quota does refuse a stage there now (glance's 413, on its own).
    client = limited_pair['alone'].client()
    probe = client.create_image(name='probe')['id']
    with pytest.raises(glanceclient.exc.HTTPException) as refused:
        client.stage(probe, b'p')
    assert status_of(refused.value) == 413, refused.value
    assert_fell_back(outcomes, images, limited_pair)
    (warning,) = filter_lines(limited_pair['filtered'], images['filtered'],
                              'WARNING')
    assert '413' in warning or 'image_stage_total' in warning, warning


# ----------------------------------------------------------------------
# 1b. The stage fails after the body was read: nothing can be replayed


@pytest.fixture(scope='module')
def small_staging_pair(pairs):
    """A staging disk of 1 MiB on both sides (a tmpfs, root only)."""
    pair = pairs(stores=('fast', 'cheap', 'cold', 'spare'))
    for deployment in pair.values():
        deployment.env.limit_staging(MIB)
    yield pair
    for deployment in pair.values():
        deployment.env.unlimit_staging()


def test_staging_full_mid_body_fails_cleanly(small_staging_pair):
    pair = small_staging_pair
    outcomes, images = co_located_upload(pair, _NoFault)
    # glance alone never stages a plain upload.
    assert outcomes['alone'] == Outcome(204, 'active', frozenset({'fast'}),
                                        True, ()), outcomes['alone']
    # The filter had handed 1 MiB of the body to staging when the disk
    # filled: the rest cannot be replayed. Worse than glance alone, as
    # documented; but a failure Cinder cleans up: nothing left anywhere.
    filtered = outcomes['filtered']
    assert filtered.answer >= 400 or filtered.answer == 0, filtered
    assert rank(filtered) == (2, 0), filtered
    assert not filtered.marked, filtered


# ----------------------------------------------------------------------
# 2. The import path: the filter fills in the stores and
#    all_stores_must_succeed


def import_with_base(client, image_id, base, method='glance-direct'):
    """``POST .../import`` with the base header and no stores."""
    status, _headers, body = client.request(
        'POST', '/v2/images/%s/import' % image_id,
        headers={harness.BASE_IMAGE_HEADER: base},
        json={'method': {'name': method}})
    return status, body


def test_import_without_stores_with_a_broken_base_store(pairs):
    pair = pairs()
    outcomes, images = {}, {}
    for side, deployment in pair.items():
        client = deployment.client()
        base = harness.make_base_image(client, ('cheap', 'cold'),
                                       b'base')['id']
        image_id = client.create_image(name='staged')['id']
        client.stage(image_id, VOLUME)
        with broken(deployment, 'cold'):
            status, body = import_with_base(client, image_id, base)
            assert status == 202, (side, status, body)
            settled(client, image_id)
        outcomes[side] = outcome_of(deployment, client, image_id, status)
        images[side] = client.get_image(image_id)
    assert outcomes['alone'] == Outcome(202, 'active', frozenset({'fast'}),
                                        True, ()), outcomes['alone']
    assert outcomes['filtered'] == Outcome(
        202, 'active', frozenset({'cheap'}), True, ()), outcomes['filtered']
    assert images['filtered']['os_glance_failed_import'] == 'cold'
    assert_never_worse(outcomes)


def test_copy_image_without_stores_leaves_out_the_stores_it_has(pairs):
    pair = pairs()
    outcomes = {}
    for side, deployment in pair.items():
        client = deployment.client()
        admin = deployment.client(roles=ADMIN)
        base = harness.make_base_image(client, ('fast', 'cheap', 'cold'),
                                       b'base')['id']
        image_id = client.create_image(name='volume')['id']
        client.upload(image_id, VOLUME, store='fast')
        status, body = import_with_base(admin, image_id, base,
                                        method='copy-image')
        if status == 202:
            settled(client, image_id)
        outcomes[side] = outcome_of(deployment, client, image_id, status)
    # glance alone copies to its default store, where the image is: 400.
    assert outcomes['alone'] == Outcome(400, 'active', frozenset({'fast'}),
                                        True, ()), outcomes['alone']
    assert outcomes['filtered'] == Outcome(
        202, 'active', frozenset({'fast', 'cheap', 'cold'}), True, ()), (
        outcomes['filtered'])
    assert_never_worse(outcomes)


# ----------------------------------------------------------------------
# 3. The worker is shut down while the filter waits for the import


def upload_in_thread(client, image_id, data, base):
    answers = []
    thread = threading.Thread(target=lambda: answers.append(
        upload_answer(client, image_id, data, base)))
    thread.start()
    return thread, answers


@pytest.mark.xfail(strict=True, reason=(
    'known, documented in doc/faults.md: uWSGI ends the worker at once, so '
    'no code of the filter runs; glance alone leaves a saving image that '
    'Cinder deletes, the filter an importing one with its baseref_import '
    'mark, which Cinder does not delete; glance-baseref-audit lists it '
    'and, with resume_imports, finishes it (tests/e2e/test_crash.py)'))
@pytest.mark.parametrize('target', ['worker', 'master'])
def test_sigterm_during_a_co_located_upload(pairs, target):
    """SIGTERM while glance writes the stores (the filter waits).

    ``master``: systemd's stop (die-on-term), then a start; ``worker``:
    uWSGI's master replaces the worker.
    """
    pair = pairs()
    data = big_volume(64)
    stores = ('fast', 'cheap', 'cold')
    outcomes, images = {}, {}
    for side, deployment in pair.items():
        client = deployment.client()
        base = harness.make_base_image(client, stores, b'base')['id']
        image_id = client.create_image(name='volume')['id']
        thread, answers = upload_in_thread(client, image_id, data, base)

        seen = []

        def busy():
            # alone: glance saves the upload; filtered: glance's import
            # runs (importing, or active after the first store already).
            image = client.get_image(image_id)
            files = deployment.env.files_for(image_id)
            seen[:] = [side, image['status'],
                       image.get('os_glance_import_task'), sorted(files)]
            writing = (image['status'] == 'saving' if side == 'alone'
                       else bool(image.get('os_glance_import_task')))
            return writing and set(files) - {'staging', 'tasks'}
        try:
            wait_until(lambda: 'image %s written; last seen %s' % (
                image_id, seen), busy)
            server = deployment.server
            if target == 'master':
                server.restart()
            else:
                (worker,) = server.worker_pids()
                os.kill(worker, signal.SIGTERM)
                wait_until('a new worker', lambda: server.worker_pids()
                           and server.worker_pids() != [worker])
        finally:
            thread.join(120)
        # Whatever the filter still does, it has had time to do it.
        time.sleep(3)
        outcomes[side] = outcome_of(deployment, client, image_id,
                                    answers[0])
        images[side] = image_id
    print('SIGTERM %s: alone: %s; filtered: %s'
          % (target, outcomes['alone'], outcomes['filtered']))
    assert outcomes['filtered'].answer != 204 or (
        outcomes['filtered'].status == 'active'), outcomes['filtered']
    assert_never_worse(outcomes)


# ----------------------------------------------------------------------
# 4. image_conversion: a correct answer, looks at the normal back-off


def qcow2_image(tmp_path, virtual_mib):
    """A qcow2 file of ``virtual_mib`` MiB, mostly empty, as bytes."""
    path = tmp_path / 'disk.qcow2'
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(path),
                    '%dM' % virtual_mib], check=True, timeout=60)
    # Some data, so that the raw output is not all zeros.
    subprocess.run(['qemu-io', '-f', 'qcow2', '-c',
                    'write -P 0x5a 0 8M', str(path)], check=True,
                   timeout=60, stdout=subprocess.DEVNULL)
    return path.read_bytes()


CONVERSION = {
    'image_import_opts': {'image_import_plugins': "['image_conversion']"},
    'image_conversion': {'output_format': 'raw'},
}
DEBUG_LOOKS = {'default_log_levels': 'glance_baseref=DEBUG'}


def looks_of(deployment, image_id):
    for line in deployment.log().splitlines():
        match = LOOKS_LINE.search(line)
        if match and match.group('image') == image_id:
            return (int(match.group('looks')), float(match.group('waited')))
    raise AssertionError('no DEBUG line with the looks at image %s'
                         % image_id)


@pytest.mark.parametrize('plugin', ['conversion', 'none'])
def test_image_conversion_answers_right_at_the_normal_back_off(
        pairs, tmp_path, plugin):
    options = dict(baseref_options={'poll_interval': 1.0},
                   api_options=DEBUG_LOOKS)
    if plugin == 'conversion':
        options['import_options'] = CONVERSION
        # glance runs qemu-img through oslo.concurrency's prlimit wrapper,
        # as ``sys.executable -m oslo_concurrency.prlimit``; under uWSGI
        # sys.executable is uwsgi itself unless this says otherwise.
        options['uwsgi_options'] = {'py-sys-executable': sys.executable}
        data = qcow2_image(tmp_path, 128)
        disk_format = 'qcow2'
    else:
        data = big_volume(128)
        disk_format = 'raw'
    pair = pairs(**options)
    stores = ('fast', 'cheap', 'cold')
    outcomes, images = {}, {}
    for side, deployment in pair.items():
        client = deployment.client()
        base = harness.make_base_image(client, stores, b'base')['id']
        image_id = client.create_image(name='volume',
                                       disk_format=disk_format)['id']
        answer = upload_answer(client, image_id, data, base)
        outcomes[side] = outcome_of(deployment, client, image_id, answer)
        images[side] = client.get_image(image_id)
    assert outcomes['alone'] == Outcome(204, 'active', frozenset({'fast'}),
                                        True, ()), outcomes['alone']
    assert outcomes['filtered'] == Outcome(
        204, 'active', frozenset(stores), True, ()), outcomes['filtered']
    assert_never_worse(outcomes)
    converted = images['filtered']
    if plugin == 'conversion':
        # glance converts what it imports, not a plain upload.
        assert images['alone']['disk_format'] == 'qcow2'
        assert converted['disk_format'] == 'raw', converted
        assert converted['size'] == 128 * MIB, converted
    looks, waited = looks_of(pair['filtered'], converted['id'])
    per_second = looks / waited
    print('looks with plugin %s: %d in %.1f s, %.2f per second'
          % (plugin, looks, waited, per_second))
    # The normal back-off: pauses doubling from 0.05 s reach
    # poll_interval (1 s) after 5 looks, then one look a second; once
    # glance removed the staged file, looks every 0.05 s for 1 s at most
    # (20). Without that bound a plugin that removes the staged file
    # before writing any store made it 20 looks a second throughout.
    assert looks <= waited / 1.0 + 5 + 20 + 1, (looks, waited)


# ----------------------------------------------------------------------
# 5. Contradictory options stop glance-api at start-up


def test_contradictory_options_stop_glance_api(tmp_path):
    with pytest.raises(harness.GlanceServerError) as refused:
        conftest.start_deployment(
            tmp_path, paste_options={'respond_after': 'staged'},
            baseref_options={'all_stores_must_succeed': True})
    log = str(refused.value) + (tmp_path / 'glance-api.log').read_text(
        errors='replace')
    lines = [ln for ln in log.splitlines()
             if 'respond_after' in ln and 'all_stores_must_succeed' in ln]
    assert lines, log[-3000:]
    assert any('paste' in ln and 'glance-api.conf' in ln
               for ln in lines), lines


def test_start_up_line_says_where_each_value_came_from(make_header_glance):
    deployment = make_header_glance(
        paste_options={'respond_after': 'first_store'},
        baseref_options={'respond_after': 'staged',
                         'import_timeout': 600})
    lines = [ln for ln in deployment.log().splitlines()
             if 'glance_baseref' in ln and 'respond_after' in ln]
    assert lines, deployment.log()[-3000:]
    line = lines[0]
    assert re.search(r'respond_after\W+first_store\W+\(?paste', line), line
    assert re.search(r'import_timeout\W+600\W+\(?glance-api\.conf',
                     line), line
