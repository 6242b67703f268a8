"""Peak RSS of ``glance-baseref-audit check`` at 200 and at 2,000 images.

    .tox/py3/bin/python benchmarks/audit_memory.py [--counts 200,2000]

Starts one glance-api 33 under uWSGI (MariaDB, three file stores, header
identity, no filter) with the test harness, creates the images through
glance's API (a base image in ``fast``; then each image is created with
``base_image_ref`` and uploaded, 1 KiB, to ``fast``: active and where its
base is, so ``check`` reports nothing), and runs ``check`` in a fresh
Python process per measure, which prints its own peak RSS (``VmHWM``).
Each count is measured with this tree's audit and with the audit of
``--before`` (default: the commit before the streaming scan, 073625f),
unpacked with ``git archive``; each measure is repeated ``--repeat``
times and the median printed, with the ratios side by side.
"""

import argparse
import concurrent.futures
import pathlib
import statistics
import subprocess
import sys
import tempfile

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e import conftest  # noqa: E402
from tests import harness  # noqa: E402

DATA = b'm' * 1024
PROJECT = 'bench-audit'

# Run in a child: the audit in-process with the harness's header identity,
# then its peak RSS. argv: source dir, glance url, retries-before-command.
CHILD = r'''
import sys
sys.path.insert(0, sys.argv[1])
from glance_baseref.audit import cli
from tests.e2e.test_audit import HeaderIdentity
url, old_style = sys.argv[2], sys.argv[3] == 'old'
auth = HeaderIdentity(url, 'bench-admin', 'u-bench', ('admin', 'member'))
argv = ['--os-endpoint-override', url]
argv += (['--retries', '1', 'check'] if old_style
         else ['check', '--retries', '1'])
argv += ['-f', 'json', '--project', '%s', '--page-size', '100']
import io, contextlib
with contextlib.redirect_stdout(io.StringIO()):
    status = cli.main(argv, auth=auth)
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]
print(status, int(hwm.split()[1]))
''' % PROJECT


def populate(client, base, count, already):
    """Create and upload images until ``count`` exist."""
    def one(number):
        image = client.create_image(name='bench-%d' % number,
                                    base_image_ref=base['id'])
        client.upload(image['id'], DATA)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(already, count)))


def measure(source, url, old_style, repeat):
    peaks = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, '-c', CHILD, str(source), url,
             'old' if old_style else 'new'],
            capture_output=True, text=True, check=True, cwd=str(source))
        status, peak_kib = done.stdout.split()[-2:]
        if status != '0':
            raise RuntimeError('check exited %s: %s' % (status,
                                                        done.stderr))
        peaks.append(int(peak_kib))
    return statistics.median(peaks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--counts', default='200,2000')
    parser.add_argument('--before', default='073625f')
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.counts.split(','))
    with tempfile.TemporaryDirectory(prefix='bench-audit-') as tmp:
        tmp = pathlib.Path(tmp)
        before = tmp / 'before'
        before.mkdir()
        archive = subprocess.run(
            ['git', '-C', str(REPO_ROOT), 'archive', args.before,
             'glance_baseref', 'tests'], capture_output=True, check=True)
        subprocess.run(['tar', '-x', '-C', str(before)],
                       input=archive.stdout, check=True)
        deployment = conftest.start_deployment(
            tmp / 'glance', with_filter=False, database='mariadb')
        try:
            url = deployment.server.url
            client = harness.CinderLikeClient(
                url, project_id=PROJECT, user_id='u-bench',
                roles=('member', 'reader'))
            base = harness.make_base_image(client, ['fast'], DATA)
            rows, made = [], 1
            for count in counts:
                populate(client, base, count - 1, made - 1)
                made = count
                new = measure(REPO_ROOT, url, False, args.repeat)
                old = measure(before, url, True, args.repeat)
                rows.append((count, old, new))
                print('%d images: before %d KiB, now %d KiB' % (
                    count, old, new), flush=True)
        finally:
            conftest.stop_deployment(deployment)
    first = rows[0]
    print('\nimages  before (%s)  now       now/before  growth before  '
          'growth now' % args.before)
    for count, old, new in rows:
        print('%-6d  %7.1f MiB   %6.1f MiB  %.2fx       %+7.1f MiB    '
              '%+6.1f MiB' % (count, old / 1024, new / 1024, new / old,
                              (old - first[1]) / 1024,
                              (new - first[2]) / 1024))


if __name__ == '__main__':
    main()
