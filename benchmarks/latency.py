"""How soon the filter answers after glance's import has ended (issue 10).

Goal: with ``respond_after = all_stores`` the 204 comes within 0.25 s of
the end of the import, over at least 20 uploads of mixed sizes, and the
filter's looks at the importing image cost the glance worker at most 2%
of one core during a 1 GiB import.

The end of the import is glance's own log line
``<task> of api_image_import completed``, written right after glance
dropped the import lock that the filter watches for, with milliseconds
(see :mod:`benchmarks.glance_log`); glance's ``updated_at`` has one-second
resolution and cannot tell. The answer is the moment the client (the
benchmark, on the same machine and clock) has the 204. So each sample is
``answered - ended``: what the uploader waits beyond glance's own work,
HTTP included.

The CPU of the looks is measured in case 3, on the 1 GiB uploads (see
:func:`benchmarks.cases.filter_upload`); its 1 GiB answers are added to
the samples here.
"""

from benchmarks import cases
from benchmarks import common

GOAL_SECONDS = 0.25
SERVER = 'filter-mps3'
# Mixed sizes, from glance's fastest imports to ones long enough for the
# pauses between looks to grow; mixed in order too, so that no size always
# follows another.
SIZES_MIB = (96, 1, 512, 8, 256, 32)
QUICK_SIZES_MIB = (16, 1, 64, 4, 32)


def _size(size_mib):
    return cases._size(size_mib)


def run(deployment, clients, results, work, quick, log, extra=()):
    """Measure at least 20 uploads; ``extra`` is ``[(size_mib, Upload)]``
    measured elsewhere (case 3) on the same server."""
    sizes = QUICK_SIZES_MIB if quick else SIZES_MIB
    rounds = -(-20 // len(sizes))
    files = {size: common.write_data_file(work / ('latency-%d.raw' % size),
                                          size) for size in sizes}
    base = cases._base(clients, cases.ALL_STORES)
    late = {size: [] for size in sizes}
    failures = cases.Failures(clients, log)
    for number in range(rounds):
        order = sizes if number % 2 == 0 else sizes[::-1]
        for size in order:
            done = failures.attempt(_size(size), cases.filter_upload,
                                    deployment, clients, SERVER, base,
                                    files[size])
            if done is None:
                continue
            image_id, upload = done
            clients.member['plain'].delete_image(image_id)
            late[size].append(upload.answer_after_end)
            log('  %s, round %d/%d: import took %6.2f s, answered %+7.1f ms '
                'after its end' % (_size(size), number + 1, rounds,
                                   upload.ended - upload.import_started,
                                   upload.answer_after_end * 1e3))
    for size, upload in extra:
        late.setdefault(size, []).append(upload.answer_after_end)
    measure = 'respond_after=all_stores, mps=3: answer after the import\'s end'
    everything = []
    for size in sorted(late):
        everything += late[size]
        results.add('5', measure, _size(size),
                    [s * 1e3 for s in late[size]], 'ms')
    results.add('5', measure, 'all sizes', [s * 1e3 for s in everything],
                'ms')
    failures.report(results, '5', 'failed uploads')
    # A failed upload was not answered soon after a successful import:
    # it counts against the goal.
    attempted = len(everything) + sum(map(len, failures.errors.values()))
    within = sum(1 for s in everything if s <= GOAL_SECONDS)
    results.add_value('5', 'answers within %g s of the end' % GOAL_SECONDS,
                      'all sizes', 100.0 * within / attempted, '%',
                      note='%d of %d uploads' % (within, attempted))
    log(results.text('5'))
    return within, attempted
