"""The benchmark cases of doc/benchmarks.md, against glance-api under uWSGI.

Every case alternates its variants round by round (see
:func:`benchmarks.common.alternating`) and checks after each measured call
that the image ended where it should; a variant that misbehaves stops the
benchmark rather than being timed.

Servers (see :mod:`benchmarks.deploy`), all on one database and one set of
file stores ``fast`` (default), ``cheap``, ``cold``; only those of the
selected cases are started:

* ``filter``: ``baseref`` in the pipeline with its defaults,
  ``max_parallel_stores = 1``;
* ``filter-mps3``, ``filter-mps3-first``, ``filter-mps3-staged``:
  ``max_parallel_stores = 3`` and ``respond_after`` = ``all_stores``,
  ``first_store``, ``staged``;
* ``filter-norecord``: ``record_base_image = false``;
* ``filter-property``: ``use_base_image_property = true``;
* ``plain``: glance's own pipeline, ``max_parallel_stores = 1``;
* ``plain-mps3``: the same with ``max_parallel_stores = 3``;
* ``shared-<2x1|2x4>-<all_stores|staged|plain>``: case 7, uWSGI with 2
  processes of 1 or 4 threads, ``max_parallel_stores = 1``.

Every other server runs 1 uWSGI process of 4 threads.
"""

import io
import time
import uuid

from benchmarks import common
from benchmarks import glance_log
from tests import harness

SERVERS = {
    'filter': {'with_filter': True, 'max_parallel_stores': 1},
    'filter-mps3': {'with_filter': True, 'max_parallel_stores': 3,
                    'baseref_options': {'respond_after': 'all_stores'}},
    'filter-mps3-first': {'with_filter': True, 'max_parallel_stores': 3,
                          'baseref_options': {
                              'respond_after': 'first_store'}},
    'filter-mps3-staged': {'with_filter': True, 'max_parallel_stores': 3,
                           'baseref_options': {'respond_after': 'staged'}},
    'filter-norecord': {'with_filter': True, 'max_parallel_stores': 1,
                        'baseref_options': {'record_base_image': False}},
    'filter-property': {'with_filter': True, 'max_parallel_stores': 1,
                        'baseref_options': {
                            'use_base_image_property': True}},
    'plain': {'with_filter': False, 'max_parallel_stores': 1},
    'plain-mps3': {'with_filter': False, 'max_parallel_stores': 3},
}
# Case 7 (benchmarks/shared_process.py): uWSGI shapes x what answers.
SHARED_SHAPES = {'2x1': {'processes': 2, 'threads': 1},
                 '2x4': {'processes': 2, 'threads': 4}}
SHARED_MODES = {
    'all_stores': {'with_filter': True,
                   'baseref_options': {'respond_after': 'all_stores'}},
    'staged': {'with_filter': True,
               'baseref_options': {'respond_after': 'staged'}},
    'plain': {'with_filter': False},
}


def shared_server(shape, mode):
    """The name of a case 7 server."""
    return 'shared-%s-%s' % (shape, mode)


SERVERS.update({
    shared_server(shape, mode): dict(settings, max_parallel_stores=1,
                                     server=dict(server))
    for shape, server in SHARED_SHAPES.items()
    for mode, settings in SHARED_MODES.items()})
# The servers each case talks to.
CASE_SERVERS = {
    '1': ('filter', 'plain', 'plain-mps3'),
    '2': ('filter', 'plain'),
    '3': ('filter', 'filter-mps3', 'filter-mps3-first',
          'filter-mps3-staged', 'plain', 'plain-mps3'),
    '4': ('filter', 'plain'),
    '5': ('filter-mps3', 'plain'),
    '6': ('filter', 'filter-norecord', 'filter-property', 'plain'),
    # 'plain' for the base image and clean-ups (Failures).
    '7': ('plain',) + tuple(shared_server(shape, mode)
                            for shape in SHARED_SHAPES
                            for mode in SHARED_MODES),
    # benchmarks/rbd.py starts its own clusters and glance.
    '8': (),
}
ALL_STORES = ('fast', 'cheap', 'cold')
POLL = 0.2  # how often the benchmark's own clients look at an image
# Glance saves an import task as processing only once its thread runs;
# when that save fails (a database error) the thread's exception is lost,
# the task stays pending and the image keeps its import lock for good.
NEVER_STARTED_SECONDS = 60
IMPORT_TIMEOUT_SECONDS = 1200
_NEVER_STARTED = ('glance never ran the import task of image %s: still '
                  'pending after %d s (glance lost an error of its task '
                  'thread, e.g. a failed database write)')


def servers_for(selected):
    """The servers of the selected cases, in the order of SERVERS (the
    first one owns the database)."""
    wanted = {name for case in selected for name in CASE_SERVERS[case]}
    return {name: SERVERS[name] for name in SERVERS if name in wanted}


def missing_options(servers):
    """Filter options that the servers set but this filter lacks.

    glance-api.conf silently ignores an option nobody registered, so a
    server would run the defaults under another name.
    """
    from glance_baseref import opts
    known = {opt.dest for opt in opts.OPTS}
    return sorted({key for settings in servers.values()
                   for key in settings.get('baseref_options', {})
                   if key not in known})


class BenchmarkError(RuntimeError):
    """A variant did not do what it is supposed to do."""


class Failures:
    """Uploads that went wrong, counted and reported instead of timed.

    One stuck glance import should not cost a whole run: the failure is
    logged, counted per variant in the results, every image left not
    active (never a base image: those are active) is deleted, and the run
    goes on with one sample fewer.
    """

    def __init__(self, clients, log):
        self.clients = clients
        self.log = log
        self.errors = {}

    def attempt(self, name, run, *args):
        try:
            return run(*args)
        except Exception as exc:  # a failed sample, whatever its cause
            self.errors.setdefault(name, []).append(
                '%s: %s' % (type(exc).__name__, exc))
            self.log('  FAILED %s: %s: %s' % (name, type(exc).__name__, exc))
            self._clean_up()
            return None

    def _clean_up(self):
        client = self.clients.member['plain']
        for image in client.list_images():
            if image['status'] != 'active':
                client.delete_image(image['id'])

    def report(self, results, case, measure):
        for name, errors in self.errors.items():
            results.add_value(case, measure, name, len(errors), 'count',
                              note=errors[0][:160].replace('|', '/'))


class Clients:
    """A member and an admin of project p1 for every server."""

    def __init__(self, deployment):
        self.deployment = deployment
        self.member = {}
        self.admin = {}
        for name in deployment.servers:
            url = deployment.url(name)
            self.member[name] = harness.CinderLikeClient(
                url, project_id='p1', user_id='member1')
            self.admin[name] = harness.CinderLikeClient(
                url, project_id='p1', user_id='admin1',
                roles=('admin', 'member', 'reader'))


def _expect(client, image_id, stores, what):
    image = client.get_image(image_id)
    if (image['status'] != 'active'
            or harness.image_stores(image) != set(stores)
            or not harness.import_finished(image)):
        raise BenchmarkError('%s: image %s is %s in %s, wanted active in %s'
                             % (what, image_id, image['status'],
                                image.get('stores'), ','.join(stores)))
    return image


def _wait_import(client, image_id):
    """Look at the image every POLL s until its import has ended."""
    began = time.monotonic()
    checked = began
    while True:
        image = client.get_image(image_id)
        if harness.import_finished(image):
            return image
        now = time.monotonic()
        if now - began > IMPORT_TIMEOUT_SECONDS:
            raise BenchmarkError('the import of image %s did not end within '
                                 '%d s' % (image_id, IMPORT_TIMEOUT_SECONDS))
        if now - began > NEVER_STARTED_SECONDS and now - checked > 5:
            checked = now
            if _newest_task(client, image_id)['status'] == 'pending':
                raise BenchmarkError(_NEVER_STARTED % (
                    image_id, NEVER_STARTED_SECONDS))
        time.sleep(POLL)


def _base(clients, stores):
    return harness.make_base_image(clients.member['plain'], stores,
                                   b'base image ' * 1000,
                                   name='base-%s' % '-'.join(stores))['id']


# ----------------------------------------------------------------------
# 1. pass-through


def passthrough(deployment, clients, results, rounds, log):
    """Requests the filter does not act on: filter vs. no filter.

    A second server without the filter (``plain-mps3``, which differs
    only in an import setting these requests do not use) is measured the
    same way: the A/A control shows how far two identical servers differ.
    """
    base = _base(clients, ('fast',))
    servers = ('filter', 'plain', 'plain-mps3')
    glance = {name: clients.member[name].client() for name in servers}
    small = b'x' * common.MIB
    samples = {}
    for number, order in common.alternating(servers, rounds):
        for name in order:
            client = clients.member[name]
            with common.Stopwatch() as watch:
                glance[name].images.get(base)
            samples.setdefault(('GET image', name), []).append(
                watch.seconds * 1e3)
            with common.Stopwatch() as watch:
                listed = list(glance[name].images.list(page_size=100))
            samples.setdefault(('list images', name), []).append(
                watch.seconds * 1e3)
            if not listed:
                raise BenchmarkError('list images returned nothing')
            image_id = client.create_image(name='passthrough')['id']
            with common.Stopwatch() as watch:
                client.upload(image_id, small)
            samples.setdefault(('upload 1 MiB, no header', name),
                               []).append(watch.seconds * 1e3)
            _expect(client, image_id, ('fast',), 'plain upload')
            client.delete_image(image_id)
    for measure in ('GET image', 'list images', 'upload 1 MiB, no header'):
        results.add('1', measure, 'no filter', samples[(measure, 'plain')],
                    'ms', baseline=True)
        results.add('1', measure, 'filter in the pipeline',
                    samples[(measure, 'filter')], 'ms')
        results.add('1', measure, 'no filter, second server (A/A control)',
                    samples[(measure, 'plain-mps3')], 'ms')
    log(results.text('1'))


def microbenchmark(results, rounds, calls, log):
    from benchmarks import micro
    for name, pass_through, filter_us, bare_us in micro.run(rounds, calls,
                                                            log=log):
        case = '1' if pass_through else '4'
        measure = 'in-process: %s' % name
        results.add_value(case, measure, 'filter + minimal app', filter_us,
                          'us', note='app alone %.2f us, added %.2f us'
                          % (bare_us, filter_us - bare_us))


# ----------------------------------------------------------------------
# 2. steered upload to one store


def steered(deployment, clients, results, files, log):
    """Base header (filter picks the store) vs. x-image-meta-store."""
    base = _base(clients, ('cheap',))
    for size_mib, repeat, path in files:
        seconds = {'filter': [], 'plain': []}
        peak = {'filter': [], 'plain': []}
        for number, order in common.alternating(('filter', 'plain'),
                                                repeat):
            for name in order:
                client = clients.member[name]
                image_id = client.create_image(name='steered')['id']
                pid = deployment.worker_pid(name)
                common.reset_peak_rss(pid)
                with open(path, 'rb') as data, common.Stopwatch() as watch:
                    if name == 'filter':
                        client.upload(image_id, data, base_image_ref=base)
                    else:
                        client.upload(image_id, data, store='cheap')
                hwm = harness.GlanceServer.worker_status(pid)['VmHWM']
                _expect(client, image_id, ('cheap',), 'steered upload')
                client.delete_image(image_id)
                seconds[name].append(watch.seconds)
                peak[name].append(hwm / 1024)
                log('  %d MiB, round %d/%d, %-6s %7.2f s, worker peak RSS '
                    '%.0f MiB' % (size_mib, number + 1, repeat, name,
                                  watch.seconds, hwm / 1024))
        label = _size(size_mib)
        results.add('2', 'upload %s to one store' % label,
                    'no filter, x-image-meta-store', seconds['plain'], 's',
                    baseline=True)
        results.add('2', 'upload %s to one store' % label,
                    'filter, base header', seconds['filter'], 's')
        for name, variant in (('plain', 'no filter'), ('filter', 'filter')):
            results.add('2', 'glance worker peak RSS (VmHWM), %s' % variant,
                        label, peak[name], 'MiB',
                        baseline=size_mib == files[0][0])
    log(results.text('2'))


def _size(size_mib):
    if size_mib % 1024 == 0:
        return '%d GiB' % (size_mib // 1024)
    return '%d MiB' % size_mib


# ----------------------------------------------------------------------
# 3. co-location into three stores, and when the uploader is answered
#
# Every variant is timed the same way: from the upload's first byte to
# the answer (what the uploader waits) and to the end of glance's import
# as glance logged it (until active in every store; see
# benchmarks/glance_log.py), so that no polling interval of the benchmark
# is in the times. The clients that drive an import themselves still look
# at the image every POLL s until it has ended, as they must to learn the
# outcome; the filter's uploader does not look: the filter does.


class Upload:
    """What one measured upload took; wall times from time.time()."""

    def __init__(self, started, answered, ended=None, import_started=None):
        self.started = started
        self.answered = answered
        self.ended = answered if ended is None else ended
        self.import_started = import_started
        self.peak_mib = None
        self.worker_cpu = None
        self.looking = None  # (cpu_seconds, wall_seconds) of the looks

    @property
    def waited(self):
        return self.answered - self.started

    @property
    def total(self):
        return self.ended - self.started

    @property
    def answer_after_end(self):
        return self.answered - self.ended


def _newest_task(client, image_id):
    tasks = client.image_tasks(image_id)
    if not tasks:
        raise BenchmarkError('image %s has no import task' % image_id)
    return max(tasks, key=lambda t: t.get('created_at') or '')


def logged_import(deployment, server, client, image_id):
    """``(started, ended)`` of the image's newest import, from the log of
    the server that ran it."""
    task_id = _newest_task(client, image_id)['id']
    waiting_since = time.monotonic()

    def still_pending():
        if time.monotonic() - waiting_since < NEVER_STARTED_SECONDS:
            return
        if _newest_task(client, image_id)['status'] == 'pending':
            raise BenchmarkError(_NEVER_STARTED % (image_id,
                                                   NEVER_STARTED_SECONDS))

    try:
        return glance_log.import_times(
            deployment.envs[server].log_path, task_id,
            timeout=IMPORT_TIMEOUT_SECONDS, check=still_pending)
    except glance_log.ImportNotLogged as exc:
        raise BenchmarkError(str(exc)) from exc


def filter_upload(deployment, clients, server, base, data,
                  sample_threads=False):
    """Upload through the filter with the base header; an :class:`Upload`.

    With ``sample_threads`` it also measures what the filter's looks at
    the importing image cost the glance worker: the CPU of the thread
    that served the upload (the busiest one while staging) from the start
    of glance's import task to the answer, when it does nothing but look.
    """
    client = clients.member[server]
    image_id = client.create_image(name='colocated')['id']
    pid = deployment.worker_pid(server)
    common.reset_peak_rss(pid)
    cpu_before = common.cpu_seconds(pid)
    threads = common.ThreadCpu(pid) if sample_threads else None
    if threads:
        threads.__enter__()
    try:
        started = time.time()
        if isinstance(data, (bytes, bytearray)):
            client.upload(image_id, io.BytesIO(data), base_image_ref=base)
        else:
            with open(data, 'rb') as body:
                client.upload(image_id, body, base_image_ref=base)
        answered = time.time()
    finally:
        if threads:
            threads.__exit__(None, None, None)
    import_started, ended = logged_import(deployment, server, client,
                                          image_id)
    upload = Upload(started, answered, ended, import_started)
    upload.worker_cpu = common.cpu_seconds(pid) - cpu_before
    upload.peak_mib = harness.GlanceServer.worker_status(
        pid)['VmHWM'] / 1024
    if threads and import_started is not None:
        tid = threads.busiest_thread(before=import_started)
        upload.looking = threads.thread_share(tid, import_started,
                                              threads.samples[-1][0])
    _expect(client, image_id, ALL_STORES, 'filter %s' % server)
    return image_id, upload


def _filter_variant(server, sample_threads=False):
    def run(deployment, clients, base, path):
        return filter_upload(deployment, clients, server, base, path,
                             sample_threads)
    return run


def _plain_upload(deployment, clients, base, path):
    """A plain upload to the default store: what Cinder waits today."""
    client = clients.member['plain-mps3']
    image_id = client.create_image(name='plain')['id']
    pid = deployment.worker_pid('plain-mps3')
    cpu_before = common.cpu_seconds(pid)
    started = time.time()
    with open(path, 'rb') as data:
        client.upload(image_id, data)
    upload = Upload(started, time.time())
    upload.worker_cpu = common.cpu_seconds(pid) - cpu_before
    _expect(client, image_id, ('fast',), 'plain upload')
    return image_id, upload


def _manual(deployment, clients, base, path):
    """What operators do today: plain upload, then copy-image (admin)."""
    client = clients.member['plain']
    image_id = client.create_image(name='manual')['id']
    started = time.time()
    with open(path, 'rb') as data:
        client.upload(image_id, data)
    answered = time.time()
    clients.admin['plain'].import_image(image_id, method='copy-image',
                                        stores=['cheap', 'cold'],
                                        allow_failure=True)
    _wait_import(client, image_id)  # as the admin would, every POLL s
    upload = Upload(started, answered,
                    *reversed(logged_import(deployment, 'plain', client,
                                            image_id)))
    _expect(client, image_id, ALL_STORES, 'upload + copy-image')
    return image_id, upload


def _client_import(deployment, clients, base, path):
    """A client that stages and imports by itself (max_parallel_stores=3),
    then looks at the image every POLL s until the import has ended, as a
    client must to learn the outcome (the end itself is taken from the
    log, so the looks cost the worker but add no delay)."""
    client = clients.member['plain-mps3']
    image_id = client.create_image(name='client-import')['id']
    pid = deployment.worker_pid('plain-mps3')
    cpu_before = common.cpu_seconds(pid)
    started = time.time()
    with open(path, 'rb') as data:
        client.stage(image_id, data)
    client.import_image(image_id, method='glance-direct',
                        stores=list(ALL_STORES), allow_failure=True)
    answered = time.time()
    _wait_import(client, image_id)
    import_started, ended = logged_import(deployment, 'plain-mps3', client,
                                          image_id)
    upload = Upload(started, answered, ended, import_started)
    upload.worker_cpu = common.cpu_seconds(pid) - cpu_before
    _expect(client, image_id, ALL_STORES, 'stage + import')
    return image_id, upload


PLAIN = 'plain upload, one store'
CLIENT = 'client: stage + import'
MANUAL = 'today: upload + copy-image'
ALL_STORES_MODE = 'filter, respond_after=all_stores'
SERIAL = 'filter, all_stores, max_parallel_stores=1'
COLOCATION_VARIANTS = (
    (PLAIN, _plain_upload),
    (ALL_STORES_MODE, _filter_variant('filter-mps3', sample_threads=True)),
    ('filter, respond_after=first_store',
     _filter_variant('filter-mps3-first')),
    ('filter, respond_after=staged', _filter_variant('filter-mps3-staged')),
    (CLIENT, _client_import),
    (MANUAL, _manual),
    (SERIAL, _filter_variant('filter', sample_threads=True)),
)
MODES = [name for name, _run in COLOCATION_VARIANTS[:5]]


def colocation(deployment, clients, results, size_mib, repeat, path, log):
    """Returns ``{variant: [Upload]}``."""
    base = _base(clients, ALL_STORES)
    names = [name for name, _run in COLOCATION_VARIANTS]
    runs = dict(COLOCATION_VARIANTS)
    uploads = {name: [] for name in names}
    failures = Failures(clients, log)
    for number, order in common.alternating(names, repeat):
        for name in order:
            done = failures.attempt(name, runs[name], deployment, clients,
                                    base, path)
            if done is None:
                continue
            image_id, upload = done
            clients.member['plain'].delete_image(image_id)
            uploads[name].append(upload)
            log('  %s, round %d/%d, %-42s waits %6.2f s, in every store '
                'after %6.2f s' % (_size(size_mib), number + 1, repeat,
                                   name, upload.waited, upload.total))
    label = _size(size_mib)
    failures.report(results, '3', '%s: failed uploads' % label)
    names = [name for name in names if uploads[name]]
    for name in names:
        results.add('3', '%s: time the uploader (Cinder) waits' % label,
                    name, [u.waited for u in uploads[name]], 's',
                    baseline=name == PLAIN)
    for name in names:
        if name == PLAIN:
            continue
        results.add('3', '%s: until active in all 3 stores' % label, name,
                    [u.total for u in uploads[name]], 's',
                    baseline=name == CLIENT)
    # The total in two parts, to tell where a difference comes from:
    # before glance's import task starts (the filter's decisions, staging,
    # the import request) and the import task itself.
    imported = [name for name in names
                if uploads[name][0].import_started is not None]
    for name in imported:
        results.add('3', '%s: until glance\'s import task starts' % label,
                    name, [u.import_started - u.started
                           for u in uploads[name]], 's',
                    baseline=name == CLIENT)
    for name in imported:
        results.add('3', '%s: glance\'s import task, start to end' % label,
                    name, [u.ended - u.import_started
                           for u in uploads[name]], 's',
                    baseline=name == CLIENT)
    waiting = [name for name in (ALL_STORES_MODE, SERIAL) if name in names]
    for name in waiting:
        results.add('3', '%s: answer after the import\'s end' % label,
                    name, [u.answer_after_end * 1e3 for u in uploads[name]],
                    'ms')
    for name in waiting:
        shares = [100.0 * cpu / wall for cpu, wall in
                  (u.looking for u in uploads[name]) if wall]
        if shares:
            results.add('3', '%s: CPU of the looks (request thread while '
                        'glance imports), %% of one core' % label, name,
                        shares, '%')
    for name in names:
        cpu = [u.worker_cpu for u in uploads[name]
               if u.worker_cpu is not None]
        if cpu:
            results.add('3', '%s: glance worker CPU, upload to the end '
                        'of the import' % label, name, cpu, 's',
                        baseline=name == CLIENT)
    for name in names:
        peak = [u.peak_mib for u in uploads[name] if u.peak_mib is not None]
        if peak:
            results.add('3', '%s: glance worker peak RSS (VmHWM)' % label,
                        name, peak, 'MiB')
    log(results.text('3'))
    return uploads


# ----------------------------------------------------------------------
# 4. decision latency


def decision(deployment, clients, results, rounds, log):
    """Added time per upload for the base-image lookup (small uploads)."""
    base = _base(clients, ('cheap',))
    missing = str(uuid.uuid4())
    data = b'd' * (256 * 1024)
    variants = (
        ('no filter, x-image-meta-store', 'plain',
         {'store': 'cheap'}, ('cheap',)),
        ('filter, base header, steered', 'filter',
         {'base_image_ref': base}, ('cheap',)),
        ('filter, base header, base not found', 'filter',
         {'base_image_ref': missing}, ('fast',)),
    )
    samples = {name: [] for name, *_rest in variants}
    for number, order in common.alternating(variants, rounds):
        for name, server, headers, stores in order:
            client = clients.member[server]
            image_id = client.create_image(name='decision')['id']
            with common.Stopwatch() as watch:
                client.upload(image_id, io.BytesIO(data), **headers)
            _expect(client, image_id, stores, name)
            client.delete_image(image_id)
            samples[name].append(watch.seconds * 1e3)
    measure = 'upload 256 KiB'
    baseline = variants[0][0]
    results.add('4', measure, baseline, samples[baseline], 'ms',
                baseline=True)
    for name, *_rest in variants[1:]:
        results.add('4', measure, name, samples[name], 'ms')
        results.add_value(
            '4', 'added per upload', name,
            common.median(samples[name]) - common.median(samples[baseline]),
            'ms', note='difference of the medians')


# ----------------------------------------------------------------------
# 6. lineage options (issue 9): what they add per upload


def lineage(deployment, clients, results, rounds, log):
    """``use_base_image_property`` and ``record_base_image``, on vs. off.

    * A plain upload without the base header and without the image
      property: with ``use_base_image_property = true`` the filter reads
      the target image (one in-process GET) to look for the property.
    * An upload with the base header, steered to the base's one store:
      with ``record_base_image = true`` (the default) the filter writes
      ``base_image_ref`` onto the new image (one in-process PATCH).

    256 KiB uploads, so that the added milliseconds are not lost in the
    time glance takes to write the data; all four variants alternate.
    """
    base = _base(clients, ('cheap',))
    data = b'l' * (256 * 1024)
    variants = (
        ('no header: use_base_image_property=false (default)', 'filter',
         {}, ('fast',), None),
        ('no header: use_base_image_property=true', 'filter-property',
         {}, ('fast',), None),
        ('base header, steered: record_base_image=false', 'filter-norecord',
         {'base_image_ref': base}, ('cheap',), None),
        ('base header, steered: record_base_image=true (default)', 'filter',
         {'base_image_ref': base}, ('cheap',), base),
    )
    samples = {name: [] for name, *_rest in variants}
    for number, order in common.alternating(variants, rounds):
        for name, server, headers, stores, recorded in order:
            client = clients.member[server]
            image_id = client.create_image(name='lineage')['id']
            with common.Stopwatch() as watch:
                client.upload(image_id, io.BytesIO(data), **headers)
            image = _expect(client, image_id, stores, name)
            if image.get('base_image_ref') != recorded:
                raise BenchmarkError('%s: image %s has base_image_ref %r, '
                                     'wanted %r' % (name, image_id,
                                                    image.get(
                                                        'base_image_ref'),
                                                    recorded))
            client.delete_image(image_id)
            samples[name].append(watch.seconds * 1e3)
    pairs = (('upload 256 KiB, no header, no property', variants[:2]),
             ('upload 256 KiB, base header, one store', variants[2:]))
    for measure, (off, on) in pairs:
        results.add('6', measure, off[0], samples[off[0]], 'ms',
                    baseline=True)
        results.add('6', measure, on[0], samples[on[0]], 'ms')
    for _measure, (off, on) in pairs:
        results.add_value(
            '6', 'added per upload', on[0],
            common.median(samples[on[0]]) - common.median(samples[off[0]]),
            'ms', note='difference of the medians')
    log(results.text('6'))
