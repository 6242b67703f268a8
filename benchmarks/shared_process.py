"""Case 7: what co-located uploads cost the other requests of a process.

With ``respond_after = all_stores`` (or ``first_store``) a co-located
upload keeps its request, and the uWSGI thread serving it, until glance
has written the stores. With one thread per process (glance's own uWSGI
example, kolla-ansible from 2026.1, openstack-ansible) that process serves
nothing else meanwhile.

Six servers, each uWSGI with 2 processes, ``max_parallel_stores = 1``
(glance's default), at 1 and at 4 threads per process: the filter with
``respond_after = all_stores``, with ``staged``, and glance without the
filter. A round starts two uploads of one volume at the same moment, with
the base header (the base image lives in ``cheap`` and ``cold``; without
the filter glance writes its default store), and while they are in
flight a reader GETs the base image's record, one request after the other,
until both uploads are answered. Each round checks where the images
landed and, for ``staged``, waits for glance's imports to end before the
next round, so that rounds do not overlap.
"""

import io
import statistics
import threading
import time

from benchmarks import cases
from benchmarks import common

SHAPES = cases.SHARED_SHAPES
MODES = cases.SHARED_MODES
NO_FILTER = 'plain'
LABELS = {'all_stores': 'filter, respond_after=all_stores',
          'staged': 'filter, respond_after=staged',
          NO_FILTER: 'no filter'}
TARGETS = ('cheap', 'cold')
UPLOADS = 2
READ_PAUSE = 0.02  # between two GETs of the reader


class Round:
    """Two uploads in flight and a reader beside them."""

    def __init__(self, client, base, data, colocating):
        self.client = client
        self.base = base
        self.data = data
        self.colocating = colocating
        self.image_ids = [client.create_image(name='shared')['id']
                          for _ in range(UPLOADS)]
        self.waits = []
        self.reads = []
        self.errors = []
        self._lock = threading.Lock()

    def _upload(self, image_id, start):
        start.wait()
        began = time.monotonic()
        try:
            self.client.upload(image_id, io.BytesIO(self.data),
                               base_image_ref=self.base)
        except Exception as exc:  # noqa: BLE001 - reported as a failure
            with self._lock:
                self.errors.append('%s: %s' % (type(exc).__name__, exc))
        with self._lock:
            self.waits.append(time.monotonic() - began)

    def _read(self, start, done):
        start.wait()
        path = '/v2/images/%s' % self.base
        while not done.is_set():
            sent = time.monotonic()
            status, _headers, _body = self.client.request('GET', path)
            if status != 200:
                self.errors.append('GET %s answered %d' % (path, status))
            self.reads.append(time.monotonic() - sent)
            time.sleep(READ_PAUSE)

    def run(self):
        start, done = threading.Barrier(UPLOADS + 1), threading.Event()
        uploaders = [threading.Thread(target=self._upload,
                                      args=(image_id, start))
                     for image_id in self.image_ids]
        reader = threading.Thread(target=self._read, args=(start, done))
        for thread in uploaders + [reader]:
            thread.start()
        for thread in uploaders:
            thread.join()
        done.set()
        reader.join()
        if self.errors:
            raise cases.BenchmarkError('; '.join(self.errors))
        stores = TARGETS if self.colocating else ('fast',)
        for image_id in self.image_ids:
            cases._wait_import(self.client, image_id)
            cases._expect(self.client, image_id, stores, 'case 7')
            self.client.delete_image(image_id)
        return self


def p95(samples):
    return statistics.quantiles(samples, n=20, method='inclusive')[-1]


def run(deployment, clients, results, size_mib, repeat, path, log):
    """Measure every server of case 7, rounds alternating."""
    names = [cases.shared_server(shape, mode)
             for shape in SHAPES for mode in MODES]
    with open(path, 'rb') as f:
        data = f.read()
    base = cases._base(clients, TARGETS)
    rounds = {name: [] for name in names}
    failures = cases.Failures(clients, log)
    for number, order in common.alternating(names, repeat):
        for name in order:
            colocating = not name.endswith('-' + NO_FILTER)
            done = failures.attempt(
                name, lambda: Round(clients.member[name], base, data,
                                    colocating).run())
            if done is None:
                continue
            rounds[name].append(done)
            log('  %s, round %d/%d, %-34s uploads answered after %s s; '
                '%d GETs, slowest %.3f s' % (
                    cases._size(size_mib), number + 1, repeat, name,
                    ', '.join('%.2f' % w for w in sorted(done.waits)),
                    len(done.reads), max(done.reads)))
    label = cases._size(size_mib)
    failures.report(results, '7', '%s: failed rounds' % label)
    for shape, options in SHAPES.items():
        measured = [(mode, rounds[cases.shared_server(shape, mode)])
                    for mode in MODES]
        _add(results, '%s, %d processes x %d thread%s' % (
            label, options['processes'], options['threads'],
            's' if options['threads'] > 1 else ''),
            [(mode, done) for mode, done in measured if done])
    log(results.text('7'))
    return rounds


def _add(results, where, measured):
    for mode, done in measured:
        reads = [s * 1e3 for one in done for s in one.reads]
        results.add('7', '%s: GET of one image beside 2 uploads' % where,
                    LABELS[mode], reads, 'ms', baseline=mode == NO_FILTER)
    for mode, done in measured:
        reads = [s * 1e3 for one in done for s in one.reads]
        results.add_value('7', '%s: that GET, p95' % where, LABELS[mode],
                          p95(reads), 'ms')
    for mode, done in measured:
        results.add('7', '%s: time each uploader waits' % where,
                    LABELS[mode], [w for one in done for w in one.waits],
                    's', baseline=mode == NO_FILTER)
