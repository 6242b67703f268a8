"""Benchmarks of glance_baseref against what operators do today.

``./run bench`` runs this file (``--help`` for the options). It starts six
glance-api 33 servers under uWSGI on 127.0.0.1 that share one database and
three file stores (see benchmarks/cases.py), uses python-glanceclient the
way Cinder does, runs every case with its variants alternating, prints
medians and ratios, and writes into ``--out`` (default benchmarks/results):

* ``results.md``: the table for README.md, with the machine and command;
* ``results.json``: every sample;
* ``colocation.png``: the bar chart of case 3.

Cases:

1. pass-through: GET image, list images, plain upload; filter in the
   pipeline vs. not; plus the filter's own cost in-process (us/request);
2. steered upload to one store: base header vs. x-image-meta-store without
   the filter, and the glance worker's peak RSS for two sizes;
3. co-location into three stores: the filter (max_parallel_stores 1 and 3)
   vs. upload + copy-image vs. a client driving stage + glance-direct;
4. decision latency: time added per upload by the base-image lookup,
   and the shortest co-located upload (how soon the filter's polling
   answers).

Everything is written below a temporary directory, deleted at the end,
also on Ctrl-C.
"""

import argparse
import datetime
import pathlib
import shutil
import signal
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks import cases  # noqa: E402
from benchmarks import common  # noqa: E402
from benchmarks import deploy  # noqa: E402
from benchmarks import pngchart  # noqa: E402
from benchmarks import results as results_mod  # noqa: E402

TITLES = {
    '1': 'pass-through',
    '2': 'steered upload, one store',
    '3': 'co-location, three stores',
    '4': 'decision latency',
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
    parser.add_argument('--repeat', type=int, default=4,
                        help='repetitions of each variant at --size-mib '
                        '(default 4; the smaller size gets at least 5)')
    parser.add_argument('--rounds', type=int, default=30,
                        help='rounds of the request-level cases 1 and 4 '
                        '(default 30)')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run of every case in about two '
                        'minutes: 64 MiB, --repeat 2, --rounds 8')
    parser.add_argument('--only', default='1,2,3,4',
                        help='comma-separated cases to run (default all)')
    parser.add_argument('--out', default=str(REPO_ROOT / 'benchmarks' /
                                             'results'),
                        help='directory for results.md, results.json and '
                        'colocation.png')
    parser.add_argument('--database', choices=('sqlite', 'mariadb'),
                        default='sqlite',
                        help='glance database (mariadb: 127.0.0.1:3306)')
    parser.add_argument('--workdir', default=None,
                        help='parent of the temporary directory (default: '
                        'the system temp dir)')
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mib, args.small_mib = 64, 16
        args.repeat, args.rounds = 2, 8
    args.only = {c.strip() for c in args.only.split(',') if c.strip()}
    if not args.only or args.only - set(TITLES):
        parser.error('--only takes case numbers from 1,2,3,4')
    if min(args.size_mib, args.small_mib, args.repeat, args.rounds) < 1:
        parser.error('sizes, --repeat and --rounds must be positive')
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = ' '.join(['./run bench'] + list(argv))
    machine = common.machine()
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
    chart = None
    try:
        if args.only & {'1', '4'}:
            log('\nin-process microbenchmark of the filter (median of 7 '
                'rounds)')
            cases.microbenchmark(results, rounds=7,
                                 calls=2000 if args.quick else 20000,
                                 log=log)

        log('\nstarting glance-api servers %s in %s'
            % (', '.join(cases.SERVERS), work))
        deployment = deploy.Deployment(work / 'glance', cases.SERVERS,
                                       database=args.database).start()
        clients = cases.Clients(deployment)
        log('  up: %s' % ', '.join('%s %s' % (name, server.url) for
                                   name, server in
                                   deployment.servers.items()))

        big = small = None
        if args.only & {'2', '3'}:
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
        if '3' in args.only:
            log('\ncase 3: co-location into three stores, %d rounds'
                % args.repeat)
            names, waited, total = cases.colocation(
                deployment, clients, results, args.size_mib, args.repeat,
                big, log)
            chart = _chart(args, machine, names, waited, total)
        if '4' in args.only:
            log('\ncase 4: decision latency, %d rounds' % args.rounds)
            cases.decision(deployment, clients, results, args.rounds, log)
            cases.colocation_floor(deployment, clients, results,
                                   max(args.rounds // 2, 4), log)
    except KeyboardInterrupt:
        log('\ninterrupted; cleaning up')
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if deployment is not None:
            deployment.stop()
        shutil.rmtree(work, ignore_errors=True)

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    minutes = (time.monotonic() - started) / 60
    table = results.markdown(TITLES)
    summary = _summary(command, machine, minutes, table, chart)
    (out / 'results.md').write_text(summary)
    results.dump(out / 'results.json', machine, command)
    log('\n' + summary)
    log('written: %s' % ', '.join(str(p) for p in sorted(out.iterdir())))
    return 0


def _chart(args, machine, names, waited, total):
    path = pathlib.Path(args.out)
    path.mkdir(parents=True, exist_ok=True)
    path = path / 'colocation.png'
    size = cases._size(args.size_mib)
    groups = [(name, [common.median(waited[name]),
                      common.median(total[name])]) for name in names]
    pngchart.bar_chart(
        path, 'Co-location of a %s volume into 3 stores, seconds, median '
        'of %d' % (size, args.repeat), groups,
        ['Cinder waits', 'active in all 3 stores'], unit='s',
        notes=['glance 33 under uWSGI, file stores, python-glanceclient',
               machine['cpus'][:70]])
    return path


def _summary(command, machine, minutes, table, chart):
    lines = ['Measured %s with `%s` (%.1f minutes).' % (
        datetime.date.today().isoformat(), command, minutes), '',
        'Machine: %s; %s RAM; %s; Python %s; %s; %s.' % (
            machine['cpus'], machine['memory'], machine['os'],
            machine['python'], machine['software'], machine['load']),
        '', table, '']
    if chart is not None:
        # The name only: results.md sits next to the chart, and a full
        # path would name one machine's directory.
        lines += ['Chart: %s' % chart.name, '']
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
