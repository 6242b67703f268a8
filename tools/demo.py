"""See glance_baseref work on a real multi-store glance-api, in two minutes.

``./run demo`` runs this file. It

1. starts a real Keystone 30 under uWSGI on 127.0.0.1 (sqlite, fernet
   tokens; its virtualenv is built on first use) with a deployment's users
   and projects;
2. starts glance-api 33 under uWSGI on 127.0.0.1 with three file stores
   (``fast`` is the default) in the shipped ``keystone`` paste flavor with
   ``baseref`` right after ``context``, and puts it in Keystone's catalog;
3. creates a base image in the two non-default stores, ``cheap`` and
   ``cold``;
4. uploads a "volume" three times the way Cinder does (python-glanceclient
   on a keystoneauth session with the user's token, glance found in the
   catalog, ``http_client.additional_headers``, a chunked
   ``images.upload``): with the base-image header only, with the base-image
   header and ``x-image-meta-store``, and with no header;
5. prints where each image landed, according to the API and to the files
   in the stores' directories, and how long the upload took;
6. stops glance and Keystone and deletes everything they wrote, also on
   Ctrl-C, SIGTERM or an error.

``--keep`` leaves both running after the table until Ctrl-C, with
``glance`` CLI commands (python-glanceclient, in the demo's virtualenv)
that authenticate against this Keystone.

``--ceph`` runs the same on two single-node Ceph 16.2 clusters, one per
site (tests/harness/ceph.py; Debian's ceph-mon, ceph-osd, ceph-common,
python3-rados and python3-rbd must be installed): glance has the RBD
stores ``site_a`` and ``site_b`` and the file store ``local`` (the
default), ``max_parallel_stores = 2``; where an image is comes from
``rbd ls`` in each cluster. The clusters start side by side in about
20 s (27 s on a loaded machine here).
"""

import argparse
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests import harness  # noqa: E402
from tests.harness import ceph  # noqa: E402
from tests.harness import keystone as keystone_harness  # noqa: E402

PROJECT = 'p1'


class Layout:
    """The stores of the demo and where to look for an image's data."""

    def __init__(self, stores, default, base, explicit, clusters=None):
        self.stores = stores
        self.default = default
        self.base = base
        self.explicit = explicit
        self.clusters = clusters or {}

    def env_options(self):
        """GlanceEnv settings: file stores, plus the RBD stores."""
        if not self.clusters:
            return {'stores': self.stores, 'default_store': self.default}
        return {'stores': tuple(s for s in self.stores
                                if s not in self.clusters),
                'default_store': self.default, 'max_parallel_stores': 2,
                'rbd_stores': {name: cluster.glance_store_options()
                               for name, cluster in self.clusters.items()}}

    def holding(self, env, image_id):
        """Stores that hold the image: files on disk, ``rbd ls``."""
        held = {name for name, cluster in self.clusters.items()
                if image_id in cluster.images()}
        if set(self.stores) - set(self.clusters):
            held |= env.stores_holding(image_id)
        return held

    def text(self, stores):
        return ','.join(sorted(stores, key=self.stores.index)) or '-'


FILE_LAYOUT = dict(stores=('fast', 'cheap', 'cold'), default='fast',
                   base=('cheap', 'cold'), explicit='cold')
CEPH_LAYOUT = dict(stores=('site_a', 'site_b', 'local'), default='local',
                   base=('site_a', 'site_b'), explicit='site_b')
STEPS = 9


class Progress:
    """``[n/8] what ... result (seconds)`` lines, flushed at once."""

    def __init__(self, total):
        self.total = total
        self.number = 0
        self.started = None

    def step(self, text):
        self.number += 1
        self.started = time.monotonic()
        print('[%d/%d] %s ...' % (self.number, self.total, text), end=' ',
              flush=True)

    def done(self, result='done'):
        print('%s (%.1f s)' % (result, time.monotonic() - self.started),
              flush=True)


def _terminate(signum, _frame):
    """SIGTERM/SIGHUP end the demo like Ctrl-C: through the clean-up."""
    raise KeyboardInterrupt('signal %d' % signum)


def write_volume(path, size_mib):
    """A file of ``size_mib`` MiB that stands for the volume's data."""
    block = os.urandom(1024 * 1024)
    with open(path, 'wb') as f:
        for i in range(size_mib):
            f.write(i.to_bytes(8, 'big') + block[8:])


def run_case(client, env, layout, volume, name, base_id, store, expected):
    """One Cinder-style upload; returns the row of the table."""
    image = client.create_image(name='demo-%s' % name.replace(' ', '-'))
    headers = []
    if base_id:
        headers.append(harness.BASE_IMAGE_HEADER)
    if store:
        headers.append('%s: %s' % (harness.STORE_HEADER, store))
    started = time.monotonic()
    with open(volume, 'rb') as data:
        client.upload(image['id'], data, base_image_ref=base_id, store=store)
    seconds = time.monotonic() - started
    after = client.get_image(image['id'])
    api = layout.text(harness.image_stores(after))
    disk = layout.text(layout.holding(env, image['id']))
    want = layout.text(expected)
    return {
        'case': name,
        'headers': ', '.join(headers) or '(none)',
        'status': after['status'],
        'api': api,
        'disk': disk,
        'expected': want,
        'ok': (after['status'] == 'active' and api == want
               and disk == want),
        'seconds': seconds,
        'id': image['id'],
    }


def print_table(rows, layout):
    columns = (('case', 'case'), ('headers sent', 'headers'),
               ('status', 'status'), ('stores (API)', 'api'),
               ('rbd ls / files' if layout.clusters else 'files on disk',
                'disk'), ('expected', 'expected'), ('time', 'time'))
    for row in rows:
        row['time'] = '%.2f s' % row['seconds']
    widths = [max(len(title), *(len(r[key]) for r in rows))
              for title, key in columns]
    line = '  '.join('%-*s' % (w, title)
                     for w, (title, _key) in zip(widths, columns))
    print(line.rstrip())
    print('  '.join('-' * w for w in widths))
    for row in rows:
        print('  '.join('%-*s' % (w, row[key])
                        for w, (_title, key) in zip(widths, columns))
              .rstrip())


def glance_cli(keystone, user):
    """The ``glance`` command line of ``user``, glance from the catalog."""
    return ' '.join([
        os.path.join(os.path.dirname(sys.executable), 'glance'),
        '--os-auth-url', keystone.auth_url,
        '--os-username', user, '--os-password', keystone.password,
        '--os-project-name', PROJECT,
        '--os-user-domain-name', keystone_harness.DOMAIN,
        '--os-project-domain-name', keystone_harness.DOMAIN])


def print_keep_help(keystone, server, rows, base_id):
    glance = glance_cli(keystone, keystone.user(PROJECT))
    print()
    print('glance-api keeps running on %s (uWSGI master pid %d), Keystone '
          'on %s (pid %d); press Ctrl-C to stop them and clean up.'
          % (server.url, server.pid, keystone.url, keystone.server.pid))
    print('The glance CLI finds glance in the catalog of this Keystone:')
    print('  %s image-show %s' % (glance, rows[0]['id']))
    print('  %s image-list --property-filter name=base-image' % glance)
    print('  %s stores-info' % glance)
    print('Base image: %s. Glance log: %s' % (base_id, server.env.log_path))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--port', type=int, default=None,
                        help='port of glance-api on 127.0.0.1 (default: a '
                        'free one)')
    parser.add_argument('--keep', action='store_true',
                        help='keep glance running after the table until '
                        'Ctrl-C')
    parser.add_argument('--size-mib', type=int, default=32,
                        help='size of the uploaded volume (default 32)')
    parser.add_argument('--ceph', action='store_true',
                        help='RBD stores on two Ceph clusters (site_a, '
                        'site_b) and a file store (local)')
    parser.add_argument('--workdir', default=None,
                        help='parent directory for the temporary files '
                        '(default: the system temp dir)')
    args = parser.parse_args(argv)
    if args.size_mib < 1:
        parser.error('--size-mib must be at least 1')

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    base_dir = pathlib.Path(tempfile.mkdtemp(prefix='glance-baseref-demo-',
                                             dir=args.workdir))
    layout = Layout(**(CEPH_LAYOUT if args.ceph else FILE_LAYOUT))
    progress = Progress(STEPS + bool(args.ceph))
    keystone = None
    server = None
    env = None
    print('glance_baseref demo: Keystone and glance-api %s under uWSGI, '
          'stores %s (default %s), filter baseref in the pipeline'
          % (_glance_version(), ', '.join(layout.stores), layout.default))
    try:
        if args.ceph:
            progress.step('starting two Ceph clusters, one mon and one OSD '
                          'each, for the RBD stores site_a and site_b')
            layout.clusters.update(ceph.start_clusters(
                base_dir, CEPH_LAYOUT['base']))
            progress.done(', '.join('%s mon 127.0.0.1:%d' % (
                name, cluster.mon_port)
                for name, cluster in layout.clusters.items()))
        progress.step('starting Keystone 30 on 127.0.0.1 (the first run '
                      'builds its virtualenv: about a minute more)')
        keystone = keystone_harness.Keystone.start(base_dir / 'keystone',
                                                   database='sqlite')
        progress.done('up at %s' % keystone.url)

        progress.step('writing configuration, stores and database in %s'
                      % base_dir)
        env = harness.GlanceEnv.create(
            base_dir / 'glance', authtoken=keystone.authtoken_options(),
            **layout.env_options())
        progress.done()

        progress.step('starting glance-api on 127.0.0.1')
        server = harness.GlanceServer(env, port=args.port)
        server.start()
        keystone.register_image_endpoint(server.url)
        progress.done('up at %s, in the catalog, pipeline: %s'
                      % (server.url, _pipeline(env)))

        client = keystone.client(PROJECT)
        progress.step('creating a base image in %s (stage + glance-direct '
                      'import)' % ', '.join(layout.base))
        base = harness.make_base_image(client, layout.base,
                                       b'base image data ' * 4096)
        progress.done('%s, in %s' % (base['id'], base['stores']))

        volume = base_dir / 'volume.raw'
        progress.step('writing a %d MiB volume file' % args.size_mib)
        write_volume(volume, args.size_mib)
        progress.done()

        cases = (
            ('base header only', base['id'], None, layout.base),
            ('base header + store', base['id'], layout.explicit,
             (layout.explicit,)),
            ('no header', None, None, (layout.default,)),
        )
        rows = []
        for name, base_id, store, expected in cases:
            progress.step('uploading like Cinder: %s' % name)
            row = run_case(client, env, layout, volume, name, base_id,
                           store, expected)
            rows.append(row)
            progress.done('%s in %s' % (row['status'], row['api']))
        volume.unlink()

        print()
        print_table(rows, layout)
        print()
        wrong = [row['case'] for row in rows if not row['ok']]
        if wrong:
            print('UNEXPECTED: %s did not land where expected; see the '
                  'glance log %s' % (', '.join(wrong), env.log_path))
        else:
            print('As expected: the base image is in %s and the default '
                  'store is %s. With the base header the volume landed '
                  'next to its base image, in both of its stores; an '
                  'explicit x-image-meta-store still wins; without a '
                  'header glance wrote its default store.'
                  % (base['stores'], layout.default))
        if args.keep:
            print_keep_help(keystone, server, rows, base['id'])
            while True:
                signal.pause()
        return 1 if wrong else 0
    except KeyboardInterrupt:
        print('\ninterrupted', flush=True)
        return 130
    except Exception as exc:
        print('\nFAILED: %s: %s' % (type(exc).__name__, exc), flush=True)
        if env is not None and env.log_path.exists():
            tail = env.log_path.read_text(errors='replace').splitlines()
            print('last lines of the glance log:\n  '
                  + '\n  '.join(tail[-15:]))
        return 1
    finally:
        # Ignore further Ctrl-C while cleaning up, so nothing is left.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        progress.number = progress.total - 1
        progress.step('stopping %s, removing %s' % (
            'glance-api, Keystone and Ceph' if layout.clusters
            else 'glance-api and Keystone', base_dir))
        try:
            if server is not None:
                server.stop()
            if env is not None:
                env.destroy()
            if keystone is not None:
                keystone.stop()
            for cluster in layout.clusters.values():
                cluster.stop()
        finally:
            shutil.rmtree(base_dir, ignore_errors=True)
        progress.done()


def _glance_version():
    try:
        from importlib import metadata
        return metadata.version('glance')
    except Exception:  # noqa: BLE001 - only for the banner
        return '?'


def _pipeline(env):
    for line in env.paste_path.read_text().splitlines():
        if line.startswith('%s =' % (env.flavor or 'default')):
            return line.split('=', 1)[1].strip()
    return '?'


if __name__ == '__main__':
    sys.exit(main())
