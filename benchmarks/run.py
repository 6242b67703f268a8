"""Benchmarks of glance_baseref against what operators do today.

``./run bench`` runs this file (``--help`` for the options). It starts
glance-api 33 servers under uWSGI on 127.0.0.1 that share one database and
three file stores (see benchmarks/cases.py), uses python-glanceclient the
way Cinder does, runs every case with its variants alternating, prints
medians and ratios, and writes into ``--out`` (default benchmarks/results):

* ``results.md``: the table for doc/benchmarks.md, with the machine, its
  load during the run and the command;
* ``results.json``: every sample;
* ``colocation.png``: case 3 as a chart (matplotlib);
* ``respond_after.png``: the uploader's wait per ``respond_after`` mode.

Cases:

1. pass-through: GET image, list images, plain upload; filter in the
   pipeline vs. not; plus the filter's own cost in-process (us/request);
2. steered upload to one store: base header vs. x-image-meta-store without
   the filter, and the glance worker's peak RSS for two sizes;
3. co-location into three stores: the uploader's wait and the time until
   the image is active in every store, for each ``respond_after``, against
   a plain upload, a client that stages and imports by itself, upload +
   copy-image, and the filter with max_parallel_stores=1; the CPU of the
   filter's looks at the importing image;
4. decision latency: time added per upload by the base-image lookup;
5. how soon the answer follows the end of glance's import (issue 10),
   over uploads of mixed sizes;
6. the lineage options (issue 9): time added per upload by
   ``use_base_image_property`` and ``record_base_image``;
7. what co-located uploads cost the other requests of a process (issue
   14): a GET of one image beside two uploads in flight, and the
   uploaders' wait, at 2 uWSGI processes x 1 and x 4 threads, with
   ``respond_after = all_stores``, ``staged`` and without the filter
   (benchmarks/shared_process.py);
8. co-location into two Ceph clusters, one RBD store each: the filter
   against a client that stages and imports, and upload + copy-image, on
   the same clusters (benchmarks/rbd.py; needs Debian's Ceph packages).

Only the servers of the selected cases are started.
Everything is written below a temporary directory, deleted at the end,
also on Ctrl-C.
"""

import argparse
import datetime
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks import cases  # noqa: E402
from benchmarks import charts  # noqa: E402
from benchmarks import common  # noqa: E402
from benchmarks import deploy  # noqa: E402
from benchmarks import latency  # noqa: E402
from benchmarks import rbd  # noqa: E402
from benchmarks import results as results_mod  # noqa: E402
from benchmarks import shared_process  # noqa: E402

TITLES = {
    '1': 'pass-through',
    '2': 'steered upload, one store',
    '3': 'co-location, three stores (max_parallel_stores=3 unless noted)',
    '4': 'decision latency',
    '5': 'answer after the import\'s end',
    '6': 'lineage options (issue 9)',
    '7': 'other requests beside co-located uploads (issue 14)',
    '8': 'co-location into two Ceph clusters (RBD stores)',
}


def log(text=''):
    print(text, flush=True)


def _terminate(signum, _frame):
    raise KeyboardInterrupt('signal %d' % signum)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description='Benchmarks of glance_baseref (see README.md).')
    parser.add_argument('--size-mib', type=int, default=1024,
                        help='image size for cases 2 and 3 (default 1024)')
    parser.add_argument('--small-mib', type=int, default=64,
                        help='the smaller size of case 2 (default 64)')
    parser.add_argument('--shared-mib', type=int, default=128,
                        help='size of the two uploads of case 7 '
                        '(default 128)')
    parser.add_argument('--repeat', type=int, default=4,
                        help='repetitions of each variant at --size-mib '
                        '(default 4; the smaller size gets at least 5)')
    parser.add_argument('--rounds', type=int, default=30,
                        help='rounds of the request-level cases 1 and 4 '
                        '(default 30)')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run of every case in a few minutes: '
                        '64 MiB, --repeat 2, --rounds 8')
    parser.add_argument('--only', default=','.join(TITLES),
                        help='comma-separated cases to run (default all)')
    parser.add_argument('--out', default=str(REPO_ROOT / 'benchmarks' /
                                             'results'),
                        help='directory for results.md, results.json and '
                        'the charts')
    parser.add_argument('--database', choices=('sqlite', 'mariadb'),
                        default='sqlite',
                        help='glance database (mariadb: 127.0.0.1:3306)')
    parser.add_argument('--workdir', default=None,
                        help='parent of the temporary directory (default: '
                        'the system temp dir)')
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mib, args.small_mib, args.shared_mib = 64, 16, 32
        args.repeat, args.rounds = 2, 8
    args.only = {c.strip() for c in args.only.split(',') if c.strip()}
    if not args.only or args.only - set(TITLES):
        parser.error('--only takes case numbers from %s' % ','.join(TITLES))
    if min(args.size_mib, args.small_mib, args.shared_mib, args.repeat,
           args.rounds) < 1:
        parser.error('sizes, --repeat and --rounds must be positive')
    missing = cases.missing_options(cases.servers_for(args.only))
    if missing:
        parser.error('this filter has no option %s (glance_baseref/opts.py),'
                     ' which the servers of cases %s set; leave those cases '
                     'out with --only' % (', '.join(missing),
                                          ','.join(sorted(args.only))))
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = ' '.join(['./run bench'] + list(argv))
    machine = common.machine()
    machine['commit'] = _commit()
    log('glance_baseref benchmarks: %s' % command)
    for key, value in machine.items():
        log('  %-8s %s' % (key, value))
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    work = pathlib.Path(tempfile.mkdtemp(prefix='glance-baseref-bench-',
                                         dir=args.workdir))
    results = results_mod.Results()
    deployment = None
    started = time.monotonic()
    load = common.LoadSampler().start()
    written = []
    try:
        if args.only & {'1', '4'}:
            log('\nin-process microbenchmark of the filter (median of 7 '
                'rounds)')
            cases.microbenchmark(results, rounds=7,
                                 calls=2000 if args.quick else 20000,
                                 log=log)

        servers = cases.servers_for(args.only)
        if servers:
            log('\nstarting glance-api servers %s in %s'
                % (', '.join(servers), work))
            deployment = deploy.Deployment(work / 'glance', servers,
                                           database=args.database).start()
            clients = cases.Clients(deployment)
            log('  up: %s' % ', '.join('%s %s' % (name, server.url) for
                                       name, server in
                                       deployment.servers.items()))

        big = small = None
        if args.only & {'2', '3', '8'}:
            big = common.write_data_file(work / 'big.raw', args.size_mib)
        if '2' in args.only:
            small = common.write_data_file(work / 'small.raw',
                                           args.small_mib)

        if '1' in args.only:
            log('\ncase 1: pass-through, %d rounds' % args.rounds)
            cases.passthrough(deployment, clients, results, args.rounds,
                              log)
        if '2' in args.only:
            log('\ncase 2: steered upload to one store')
            files = [(args.small_mib, max(args.repeat, 5), small),
                     (args.size_mib, args.repeat, big)]
            cases.steered(deployment, clients, results, files, log)
        big_answers = []
        if '3' in args.only:
            log('\ncase 3: co-location into three stores, %d rounds'
                % args.repeat)
            uploads = cases.colocation(deployment, clients, results,
                                       args.size_mib, args.repeat, big, log)
            written += _charts(args, machine, uploads)
            big_answers = [(args.size_mib, upload) for upload in
                           uploads[cases.ALL_STORES_MODE]]
        if '4' in args.only:
            log('\ncase 4: decision latency, %d rounds' % args.rounds)
            cases.decision(deployment, clients, results, args.rounds, log)
        if '5' in args.only:
            log('\ncase 5: answer after the import\'s end')
            latency.run(deployment, clients, results, work, args.quick, log,
                        extra=big_answers)
        if '6' in args.only:
            log('\ncase 6: lineage options, %d rounds' % args.rounds)
            cases.lineage(deployment, clients, results, args.rounds, log)
        if '7' in args.only:
            log('\ncase 7: other requests beside co-located uploads, %d '
                'rounds' % args.repeat)
            shared = common.write_data_file(work / 'shared.raw',
                                            args.shared_mib)
            shared_process.run(deployment, clients, results,
                               args.shared_mib, args.repeat, shared, log)
        if '8' in args.only:
            log('\ncase 8: co-location into two Ceph clusters, %d rounds'
                % args.repeat)
            rbd.run(work / 'rbd', args.database, results, args.size_mib,
                    args.repeat, big, log)
    except KeyboardInterrupt:
        log('\ninterrupted; cleaning up')
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        load.stop()
        if deployment is not None:
            deployment.stop()
        shutil.rmtree(work, ignore_errors=True)

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    minutes = (time.monotonic() - started) / 60
    machine['load during the run'] = load.describe()
    table = results.markdown(TITLES)
    summary = _summary(command, machine, minutes, table, written)
    (out / 'results.md').write_text(summary)
    results.dump(out / 'results.json', machine, command)
    log('\n' + summary)
    log('written: %s' % ', '.join(str(p) for p in sorted(out.iterdir())))
    return 0


def _charts(args, machine, uploads):
    """colocation.png and respond_after.png from case 3's uploads."""
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = cases._size(args.size_mib)
    notes = ['glance 33 under uWSGI, 3 file stores, max_parallel_stores=3 '
             'unless noted, python-glanceclient as Cinder uses it; median '
             'of %d' % args.repeat,
             '%s, %s' % (machine['cpus'][:70], machine['load'])]

    def median(name, attribute):
        return common.median([getattr(u, attribute) for u in uploads[name]])

    measured = [name for name in uploads if uploads[name]]
    groups = [(name, [median(name, 'waited'), median(name, 'total')])
              for name in measured if name != cases.PLAIN]
    colocation = charts.bar_chart(
        out / 'colocation.png', 'Co-location of a %s volume into 3 stores:\n'
        'seconds until the uploader is answered and until the image is '
        'active in every store' % size,
        groups, ['the uploader (Cinder) waits', 'active in all 3 stores'],
        notes=notes)
    plain = median(cases.PLAIN, 'waited')
    waits = [('%s (%.2fx)' % (name, median(name, 'waited') / plain),
              [median(name, 'waited')]) for name in cases.MODES
             if name in measured]
    modes = charts.bar_chart(
        out / 'respond_after.png', 'The uploader\'s wait for a %s volume '
        'into 3 stores, per respond_after mode:\nseconds (and times a '
        'plain upload to one store)' % size,
        waits, ['the uploader waits'], notes=notes)
    return [colocation, modes]


def _commit():
    """The commit measured, and whether the tree differed from it."""
    def git(*words):
        return subprocess.run(('git', '-C', str(REPO_ROOT)) + words,
                              capture_output=True, text=True).stdout.strip()
    try:
        commit = git('rev-parse', '--short', 'HEAD')
        changed = git('status', '--porcelain', '--untracked-files=no',
                      '--', 'glance_baseref', 'benchmarks', 'tests')
    except OSError:
        return 'unknown (no git)'
    if not commit:
        return 'unknown (not a git checkout)'
    return commit + (' with local changes' if changed else '')


def _summary(command, machine, minutes, table, charts_written):
    lines = ['Measured %s with `%s` (%.1f minutes) at commit %s.' % (
        datetime.date.today().isoformat(), command, minutes,
        machine['commit']), '',
        'Machine: %s; %s RAM; %s; Python %s; %s; %s; %s.' % (
            machine['cpus'], machine['memory'], machine['os'],
            machine['python'], machine['software'], machine['load'],
            machine['load during the run']),
        '', table, '']
    if charts_written:
        # Names only: results.md sits next to the charts, and a full
        # path would name one machine's directory.
        lines += ['Charts: %s' % ', '.join(p.name for p in charts_written),
                  '']
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
