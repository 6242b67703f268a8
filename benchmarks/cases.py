"""The four benchmark cases of README.md, against glance-api under uWSGI.

Every case alternates its variants round by round (see
:func:`benchmarks.common.alternating`) and checks after each measured call
that the image ended where it should; a variant that misbehaves stops the
benchmark rather than being timed.

Servers (see :mod:`benchmarks.deploy`), all on one database and one set of
file stores ``fast`` (default), ``cheap``, ``cold``:

* ``filter``: ``baseref`` in the pipeline, ``max_parallel_stores = 1``;
* ``filter-mps3``: the same with ``max_parallel_stores = 3``;
* ``filter-nowait``: ``max_parallel_stores = 1`` and
  ``wait_for_all_stores = false`` (the filter answers once the image is
  active in its first store);
* ``filter-mps3-poll``: ``max_parallel_stores = 3`` and
  ``poll_interval = 0.1`` (the default is 1.0; it only caps the pauses
  between looks, which start at 0.05 s either way);
* ``plain``: glance's own pipeline, ``max_parallel_stores = 1``;
* ``plain-mps3``: the same with ``max_parallel_stores = 3``.
"""

import io
import time
import uuid

from benchmarks import common
from tests import harness

SERVERS = {
    'filter': {'with_filter': True, 'max_parallel_stores': 1},
    'filter-mps3': {'with_filter': True, 'max_parallel_stores': 3},
    'filter-nowait': {'with_filter': True, 'max_parallel_stores': 1,
                      'baseref_options': {'wait_for_all_stores': False}},
    'filter-mps3-poll': {'with_filter': True, 'max_parallel_stores': 3,
                         'baseref_options': {'poll_interval': 0.1}},
    'plain': {'with_filter': False, 'max_parallel_stores': 1},
    'plain-mps3': {'with_filter': False, 'max_parallel_stores': 3},
}
ALL_STORES = ('fast', 'cheap', 'cold')
POLL = 0.2  # how often the benchmark's own clients look at an image


class BenchmarkError(RuntimeError):
    """A variant did not do what it is supposed to do."""


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


def _wait_import(client, image_id, timeout=3600):
    return client.wait_for(image_id, harness.import_finished,
                           timeout=timeout, interval=POLL)


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
# 3. co-location into three stores

def _filter_upload(server):
    def run(deployment, clients, base, path):
        client = clients.member[server]
        image_id = client.create_image(name='colocated')['id']
        pid = deployment.worker_pid(server)
        common.reset_peak_rss(pid)
        started = time.perf_counter()
        with open(path, 'rb') as data:
            client.upload(image_id, data, base_image_ref=base)
        waited = time.perf_counter() - started
        # Done already unless wait_for_all_stores is false.
        _wait_import(client, image_id)
        total = time.perf_counter() - started
        _expect(client, image_id, ALL_STORES, 'filter %s' % server)
        peak_kib = harness.GlanceServer.worker_status(pid)['VmHWM']
        return image_id, waited, total, peak_kib / 1024
    return run


def _manual(deployment, clients, base, path):
    """What operators do today: plain upload, then copy-image (admin)."""
    client = clients.member['plain']
    image_id = client.create_image(name='manual')['id']
    started = time.perf_counter()
    with open(path, 'rb') as data:
        client.upload(image_id, data)
    waited = time.perf_counter() - started
    clients.admin['plain'].import_image(image_id, method='copy-image',
                                        stores=['cheap', 'cold'],
                                        allow_failure=True)
    _wait_import(client, image_id)
    total = time.perf_counter() - started
    _expect(client, image_id, ALL_STORES, 'upload + copy-image')
    return image_id, waited, total, None


def _client_import(server):
    def run(deployment, clients, base, path):
        client = clients.member[server]
        image_id = client.create_image(name='client-import')['id']
        started = time.perf_counter()
        with open(path, 'rb') as data:
            client.stage(image_id, data)
        client.import_image(image_id, method='glance-direct',
                            stores=list(ALL_STORES), allow_failure=True)
        waited = time.perf_counter() - started
        _wait_import(client, image_id)
        total = time.perf_counter() - started
        _expect(client, image_id, ALL_STORES, 'stage + import %s' % server)
        return image_id, waited, total, None
    return run


COLOCATION_VARIANTS = (
    ('filter, max_parallel_stores=1', _filter_upload('filter')),
    ('filter, max_parallel_stores=3', _filter_upload('filter-mps3')),
    ('filter, mps=1, wait_for_all=false',
     _filter_upload('filter-nowait')),
    ('today: upload + copy-image', _manual),
    ('client: stage+import, mps=1', _client_import('plain')),
    ('client: stage+import, mps=3', _client_import('plain-mps3')),
)
MANUAL = 'today: upload + copy-image'


def colocation(deployment, clients, results, size_mib, repeat, path, log):
    base = _base(clients, ALL_STORES)
    names = [name for name, _run in COLOCATION_VARIANTS]
    runs = dict(COLOCATION_VARIANTS)
    waited = {name: [] for name in names}
    total = {name: [] for name in names}
    peak = {name: [] for name in names}
    for number, order in common.alternating(names, repeat):
        for name in order:
            image_id, wait_s, total_s, hwm = runs[name](
                deployment, clients, base, path)
            clients.member['plain'].delete_image(image_id)
            waited[name].append(wait_s)
            total[name].append(total_s)
            if hwm is not None:
                peak[name].append(hwm)
            log('  %s, round %d/%d, %-30s uploader waits %6.2f s, in 3 '
                'stores after %6.2f s%s'
                % (_size(size_mib), number + 1, repeat, name, wait_s,
                   total_s, ', worker peak RSS %.0f MiB' % hwm
                   if hwm is not None else ''))
    label = _size(size_mib)
    for name in names:
        results.add('3', '%s: until active in all 3 stores' % label, name,
                    total[name], 's', baseline=name == MANUAL)
    for name in names:
        results.add('3', '%s: time the uploader (Cinder) waits' % label,
                    name, waited[name], 's', baseline=name == MANUAL)
    for name in names:
        if peak[name]:
            results.add('3', '%s: glance worker peak RSS (VmHWM)' % label,
                        name, peak[name], 'MiB')
    log(results.text('3'))
    return names, waited, total


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


def colocation_floor(deployment, clients, results, rounds, log):
    """The shortest co-located upload: 256 KiB into three stores.

    While glance imports, the filter looks at the image after 0.05 s,
    doubling the pause up to ``poll_interval``. (It used to pause a whole
    ``poll_interval`` between looks, 1 s by default, which was most of the
    time the uploader of a small image waited.) ``poll_interval = 0.1``
    only caps the pauses lower: a control, which should now come close to
    the default.
    """
    base = _base(clients, ALL_STORES)
    data = b'c' * (256 * 1024)
    variants = (
        ('client: stage+import, polls every %gs' % POLL, 'plain-mps3'),
        ('filter, poll_interval=1.0 (default)', 'filter-mps3'),
        ('filter, poll_interval=0.1 (control)', 'filter-mps3-poll'),
    )
    samples = {name: [] for name, _server in variants}
    for number, order in common.alternating(variants, rounds):
        for name, server in order:
            client = clients.member[server]
            image_id = client.create_image(name='floor')['id']
            started = time.perf_counter()
            if server.startswith('filter'):
                client.upload(image_id, io.BytesIO(data),
                              base_image_ref=base)
            else:
                client.stage(image_id, data)
                client.import_image(image_id, method='glance-direct',
                                    stores=list(ALL_STORES),
                                    allow_failure=True)
                _wait_import(client, image_id)
            samples[name].append((time.perf_counter() - started) * 1e3)
            _expect(client, image_id, ALL_STORES, name)
            client.delete_image(image_id)
    measure = '256 KiB into 3 stores (mps=3), until answered'
    for number, (name, _server) in enumerate(variants):
        results.add('4', measure, name, samples[name], 'ms',
                    baseline=number == 0)
    log(results.text('4'))
