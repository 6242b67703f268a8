"""Single-node Ceph 16.2 clusters on 127.0.0.1, as glance's RBD stores.

An edge cloud runs one Ceph cluster per site and gives glance one RBD
store per cluster. The tests build that from Debian's packages
(``ceph-mon``, ``ceph-osd``, ``ceph-common``; bookworm has 16.2.15):
:class:`CephCluster` is one mon and one OSD with their own conf file,
fsid, keys and ports, a ``glance`` and a ``cinder`` user and the pools
``images`` and ``volumes``, started in a few seconds and stopped by pid.

Layout of ``base_dir``::

    ceph.conf                  the cluster's conf; clients use it too
    client.admin.keyring       the admin key (the harness's own commands)
    client.glance.keyring      glance's key: rbd profile on ``images``
    client.cinder.keyring      Cinder's key: rbd profile on both pools
    mon.a/  osd.0/             the daemons' data (osd.0/block: a sparse
                               file holding bluestore)
    run/  log/                 sockets, pid files, the daemons' logs

What this relies on (Ceph 16.2.15 on Debian bookworm, measured here):

* No ``vstart.sh`` ships; the daemons are made by hand: ``monmaptool``,
  ``ceph-mon --mkfs``, ``ceph osd new``, ``ceph-osd --mkfs``.
  ``monmaptool --add`` records a msgr2 address; with ``ms bind msgr2 =
  false`` the OSD then never reaches the mon, so the mon is added with
  ``--addv [v1:...]`` and every daemon speaks msgr v1 only.
* ``ceph-osd --mkfs`` needs ``--no-mon-config``: it cannot authenticate
  before it runs.
* ``[mon]``, ``[osd]`` and ``[client.*]`` have their own ``keyring``: a
  global one makes the OSD present the admin's key.
* One OSD means pools of size 1 (``mon allow pool size one``) and a CRUSH
  rule that chooses OSDs, not hosts (``osd crush chooseleaf type = 0``).
* Without ceph-mgr the cluster says HEALTH_WARN and reports no PG
  states; readiness is a write that succeeds.
* The OSD is bluestore on a sparse file (``bluestore block create``), so
  that it survives being killed and started again; ``memstore`` would
  lose every object then. Its caches are kept small: two clusters share
  machines that run four test suites.
"""

import concurrent.futures
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import time
import uuid

from tests.harness import uwsgi_server

#: Debian's builds of the Python bindings (python3-rados, python3-rbd),
#: for the system Python 3.11 only: see :func:`bindings_dir`.
DEBIAN_DIST_PACKAGES = pathlib.Path('/usr/lib/python3/dist-packages')
BINDINGS = ('rados', 'rbd')

#: The pools: glance's images, Cinder's volumes.
IMAGES_POOL = 'images'
VOLUMES_POOL = 'volumes'

#: Client users and their caps (Ceph's documented ones for OpenStack).
USERS = {
    'glance': ('mon', 'profile rbd', 'osd',
               'profile rbd pool=%s' % IMAGES_POOL),
    'cinder': ('mon', 'profile rbd', 'osd',
               'profile rbd pool=%s, profile rbd pool=%s'
               % (VOLUMES_POOL, IMAGES_POOL)),
}

#: Size of the OSD's sparse block file; only what is written takes room.
BLOCK_BYTES = 16 * 1024 ** 3

#: Seconds a harness command may take; a stopped OSD makes writes wait.
COMMAND_TIMEOUT = 60

_BINARIES = ('ceph-mon', 'ceph-osd', 'ceph', 'rbd', 'rados', 'monmaptool',
             'ceph-authtool')


class CephError(RuntimeError):
    """A cluster could not be built, started or asked something."""


#: Links Debian's bindings into a virtualenv (a .pth file).
BINDINGS_TOOL = (pathlib.Path(__file__).resolve().parents[2] / 'tools'
                 / 'ceph_bindings.py')


def link_bindings(venv):
    """Make ``rados`` and ``rbd`` importable in the virtualenv ``venv``
    (tools/ceph_bindings.py; cheap, and a no-op when done before)."""
    python = pathlib.Path(venv) / 'bin' / 'python'
    proc = subprocess.run([str(python), str(BINDINGS_TOOL)],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode:
        raise CephError('%s %s exited %d: %s' % (
            python, BINDINGS_TOOL, proc.returncode, proc.stderr))


def missing_packages():
    """What this machine lacks to run the clusters (empty: nothing)."""
    missing = ['/usr/bin/%s' % b for b in _BINARIES
               if not os.path.exists('/usr/bin/%s' % b)]
    missing += [str(DEBIAN_DIST_PACKAGES / name) for name in BINDINGS
                if not list(DEBIAN_DIST_PACKAGES.glob(name + '.cpython-*'))]
    return missing


class CephCluster:
    """One mon and one OSD, stopped by pid; see the module docstring.

    ``name`` is also the ``cluster`` label in log lines; clients read
    :attr:`conf_path` with the keyring of their user.
    """

    def __init__(self, base_dir, name):
        self.name = name
        self.base_dir = pathlib.Path(base_dir).resolve()
        self.conf_path = self.base_dir / 'ceph.conf'
        self.fsid = str(uuid.uuid4())
        self.mon_port = None
        self.mon = None
        self.osd = None
        self.osd_uuid = str(uuid.uuid4())
        # Once the pools exist, a restarted OSD is ready when they take a
        # write, not merely when it is up.
        self.has_pools = False
        self.start_seconds = None

    # ------------------------------------------------------------------
    # life cycle

    @classmethod
    def start(cls, base_dir, name):
        """Build and start a new cluster in ``base_dir`` (must be new)."""
        missing = missing_packages()
        if missing:
            raise CephError('Ceph is not installed here (missing %s); '
                            'apt-get install ceph-mon ceph-osd ceph-common '
                            'python3-rados python3-rbd' % ', '.join(missing))
        cluster = cls(base_dir, name)
        began = time.monotonic()
        try:
            cluster._build()
        except BaseException:
            cluster.stop()
            raise
        cluster.start_seconds = time.monotonic() - began
        return cluster

    def _build(self):
        for sub in ('run', 'log', 'mon.a', 'osd.0'):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        self.mon_port = uwsgi_server.free_port()
        self._write_conf()
        self._make_keys()
        self._tool('monmaptool', '--create', '--fsid', self.fsid, '--addv',
                   'a', '[v1:127.0.0.1:%d]' % self.mon_port,
                   str(self.base_dir / 'monmap'))
        self._tool('ceph-mon', '-c', str(self.conf_path), '--mkfs', '-i', 'a',
                   '--monmap', str(self.base_dir / 'monmap'),
                   '--keyring', str(self.base_dir / 'mon.keyring'))
        self.mon = self._daemon('ceph-mon', '-i', 'a')
        uwsgi_server.stop_at_exit(self)
        osd_id = self.ceph('osd', 'new', self.osd_uuid).strip()
        if osd_id != '0':
            raise CephError('%s: the OSD got id %r, not 0' % (self, osd_id))
        self.ceph('auth', 'get-or-create', 'osd.0', 'mon', 'allow profile osd',
                  'mgr', 'allow profile osd', 'osd', 'allow *',
                  '-o', str(self.base_dir / 'osd.0' / 'keyring'))
        self._tool('ceph-osd', '-c', str(self.conf_path), '-i', '0', '--mkfs',
                   '--osd-uuid', self.osd_uuid, '--no-mon-config')
        self.start_osd()
        for pool in (IMAGES_POOL, VOLUMES_POOL):
            self.ceph('osd', 'pool', 'create', pool, '8', '8')
            self.ceph('osd', 'pool', 'set', pool, 'size', '1',
                      '--yes-i-really-mean-it')
            self.rbd('pool', 'init', pool)
        self.has_pools = True
        for user, caps in USERS.items():
            self.ceph('auth', 'get-or-create', 'client.%s' % user, *caps,
                      '-o', str(self.keyring_path(user)))
        self.wait_writable()

    def _write_conf(self):
        base = self.base_dir
        # $name: mon.a, osd.0, client.glance, ...
        self.conf_path.write_text(
            '# Generated by tests/harness/ceph.py: cluster %s\n'
            '[global]\n'
            'fsid = %s\n'
            'mon host = v1:127.0.0.1:%d\n'
            'public addr = 127.0.0.1\n'
            'ms bind msgr2 = false\n'
            'auth cluster required = cephx\n'
            'auth service required = cephx\n'
            'auth client required = cephx\n'
            'run dir = %s\n'
            'admin socket = %s/$name.asok\n'
            'pid file = %s/$name.pid\n'
            'log file = %s/$name.log\n'
            'osd pool default size = 1\n'
            'osd pool default min size = 1\n'
            'mon allow pool size one = true\n'
            'mon allow pool delete = true\n'
            'osd crush chooseleaf type = 0\n'
            'mon warn on pool no redundancy = false\n'
            '[mon]\n'
            'mon data = %s/mon.$id\n'
            'keyring = %s/mon.keyring\n'
            '[osd]\n'
            'osd data = %s/osd.$id\n'
            'keyring = %s/osd.$id/keyring\n'
            'osd objectstore = bluestore\n'
            'bluestore block create = true\n'
            'bluestore block size = %d\n'
            'bluestore fsck on mount = false\n'
            'bluestore cache autotune = false\n'
            'bluestore cache size = 134217728\n'
            'osd memory target = 939524096\n'
            'osd op num shards = 1\n'
            'osd op num threads per shard = 2\n'
            '[client]\n'
            'keyring = %s/$name.keyring\n'
            'log file = %s/client.log\n'
            % (self.name, self.fsid, self.mon_port, base / 'run',
               base / 'run', base / 'run', base / 'log', base, base, base,
               base, BLOCK_BYTES, base, base / 'log'))

    def _make_keys(self):
        mon_keyring = str(self.base_dir / 'mon.keyring')
        admin_keyring = str(self.keyring_path('admin'))
        self._tool('ceph-authtool', '--create-keyring', mon_keyring,
                   '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *')
        self._tool('ceph-authtool', '--create-keyring', admin_keyring,
                   '--gen-key', '-n', 'client.admin', '--cap', 'mon',
                   'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr',
                   'allow *', '--cap', 'mds', 'allow *')
        self._tool('ceph-authtool', mon_keyring, '--import-keyring',
                   admin_keyring)

    def _daemon(self, binary, *args):
        """Start a daemon in the foreground, as our child, in its own
        session (so that a kill by pid reaches only it)."""
        log = open(self.base_dir / 'log' / ('%s.out' % binary), 'ab')
        try:
            return subprocess.Popen(
                ['/usr/bin/%s' % binary, '-f', '-c', str(self.conf_path)]
                + list(args), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()

    def start_osd(self):
        """Start the OSD (again, after :meth:`kill_osd`) and wait for it
        to be up in the OSD map and its PGs to take writes."""
        if self.osd is not None and self.osd.poll() is None:
            raise CephError('%s: the OSD is running' % self)
        self.osd = self._daemon('ceph-osd', '-i', '0')
        self._wait(lambda: self._osd_up() is True, 60, 'the OSD to be up')
        if self.has_pools:
            self.wait_writable()

    def kill_osd(self):
        """SIGKILL the OSD, as a crash does, and wait until the mon marks
        it down (writes then wait; reads of existing data wait too)."""
        _kill(self.osd, signal.SIGKILL)
        self.osd = None
        # The mon notices a killed OSD when its peers report it or after
        # mon_osd_report_timeout; with no peers, say it ourselves.
        self.ceph('osd', 'down', '0')
        self._wait(lambda: self._osd_up() is False, 30,
                   'the OSD to be marked down')

    def stop(self):
        """Stop both daemons (TERM, then KILL), by pid. Files stay."""
        uwsgi_server.running_no_more(self)
        for proc in (self.osd, self.mon):
            _kill(proc, signal.SIGTERM, then_kill_after=10)
        self.osd = self.mon = None

    def _osd_up(self):
        dump = json.loads(self.ceph('osd', 'dump', '--format', 'json'))
        for osd in dump['osds']:
            if osd['osd'] == 0:
                return bool(osd['up'])
        return None

    def wait_writable(self, timeout=60):
        """Wait until the ``images`` pool takes a write (PGs active)."""
        probe = self.base_dir / 'probe'
        probe.write_bytes(b'probe')

        def writable():
            return self._run(['rados', '-p', IMAGES_POOL, 'put', 'probe',
                              str(probe)], timeout=10, check=False) == 0
        self._wait(writable, timeout, 'the images pool to take a write')

    def _wait(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while not condition():
            if self.mon is not None and self.mon.poll() is not None:
                raise CephError('%s: the mon exited while waiting for %s\n%s'
                                % (self, what, self.log_tail('mon.a')))
            if time.monotonic() > deadline:
                raise CephError('%s: waited %d s for %s\n%s'
                                % (self, timeout, what,
                                   self.log_tail('osd.0')))
            time.sleep(0.2)

    # ------------------------------------------------------------------
    # commands

    def keyring_path(self, user):
        """Keyring of ``client.<user>`` (admin, glance, cinder)."""
        return self.base_dir / ('client.%s.keyring' % user)

    def client_conf(self, path, **client_options):
        """Write a client's copy of this cluster's conf to ``path``, with
        extra ``[client]`` options (e.g. ``rados_osd_op_timeout``): what a
        deployer puts in ``/etc/ceph/<site>.conf`` on the glance hosts.
        Returns ``path``."""
        path = pathlib.Path(path)
        text = self.conf_path.read_text()
        extra = ''.join('%s = %s\n' % item
                        for item in sorted(client_options.items()))
        path.write_text(text.replace('[client]\n', '[client]\n' + extra))
        return path

    def glance_store_options(self, conf_path=None, **options):
        """Options of an RBD store of glance in this cluster's ``images``
        pool, as user ``glance`` (a section of glance-api.conf)."""
        return {'rbd_store_ceph_conf': str(conf_path or self.conf_path),
                'rbd_store_pool': IMAGES_POOL, 'rbd_store_user': 'glance',
                **options}

    def ceph(self, *args, timeout=COMMAND_TIMEOUT):
        """``ceph`` as client.admin; returns stdout."""
        return self._output(['ceph', '--connect-timeout', '20'] + list(args),
                            timeout)

    def rbd(self, *args, timeout=COMMAND_TIMEOUT):
        """``rbd`` as client.admin; returns stdout."""
        return self._output(['rbd'] + list(args), timeout)

    def _output(self, cmd, timeout):
        proc = self._popen(cmd, timeout)
        if proc.returncode:
            raise CephError('%s: %s exited %d: %s' % (
                self, ' '.join(cmd), proc.returncode, proc.stderr[-2000:]))
        return proc.stdout

    def _run(self, cmd, timeout, check=True):
        try:
            proc = self._popen(cmd, timeout)
        except subprocess.TimeoutExpired:
            if check:
                raise
            return None
        return proc.returncode

    def _popen(self, cmd, timeout):
        cmd = [cmd[0], '-c', str(self.conf_path), '--id', 'admin'] + cmd[1:]
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)

    def _tool(self, *cmd):
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT)
        if proc.returncode:
            raise CephError('%s: %s exited %d: %s%s' % (
                self, ' '.join(cmd), proc.returncode, proc.stdout[-2000:],
                proc.stderr[-2000:]))

    def log_tail(self, daemon, lines=30):
        try:
            text = (self.base_dir / 'log' / ('%s.log' % daemon)).read_text(
                errors='replace')
        except OSError:
            return ''
        return '\n'.join(text.splitlines()[-lines:])

    # ------------------------------------------------------------------
    # what is in the pools

    def images(self, pool=IMAGES_POOL):
        """Names of the RBD images in ``pool``."""
        return set(json.loads(self.rbd('ls', '-p', pool, '--format',
                                       'json')))

    def snapshots(self, name, pool=IMAGES_POOL):
        """``{snapshot name: protected}`` of one RBD image."""
        snaps = json.loads(self.rbd('snap', 'ls', '%s/%s' % (pool, name),
                                    '--format', 'json'))
        return {s['name']: s.get('protected') == 'true' for s in snaps}

    def read_image(self, name, pool=IMAGES_POOL, snapshot=None):
        """``(size, md5 hex, sha512 hex)`` of an RBD image's data, read
        from the cluster with ``rbd export``."""
        spec = '%s/%s' % (pool, name)
        if snapshot:
            spec += '@' + snapshot
        cmd = ['rbd', '-c', str(self.conf_path), '--id', 'admin', 'export',
               spec, '-']
        md5, sha512, size = hashlib.md5(), hashlib.sha512(), 0
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            for chunk in iter(lambda: proc.stdout.read(1 << 20), b''):
                md5.update(chunk)
                sha512.update(chunk)
                size += len(chunk)
            _, err = proc.communicate(timeout=COMMAND_TIMEOUT)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if proc.returncode:
            raise CephError('%s: rbd export %s exited %d: %s'
                            % (self, spec, proc.returncode, err[-2000:]))
        return size, md5.hexdigest(), sha512.hexdigest()

    def create_volume(self, name, data):
        """An RBD image ``volumes/<name>`` holding ``data`` (bytes), as a
        volume Cinder's RBD driver would have created."""
        path = self.base_dir / ('%s.raw' % name)
        path.write_bytes(data)
        try:
            self.rbd('import', str(path), '%s/%s' % (VOLUMES_POOL, name))
        finally:
            path.unlink()

    def __repr__(self):
        return '<CephCluster %s fsid=%s mon=127.0.0.1:%s>' % (
            self.name, self.fsid, self.mon_port)


def start_clusters(base_dir, names):
    """``{name: CephCluster}``, one per name in ``base_dir/<name>``,
    started side by side (each spends most of its start waiting for
    ``ceph`` commands); none is left running if one fails."""
    base_dir = pathlib.Path(base_dir)
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        futures = {name: pool.submit(CephCluster.start, base_dir / name,
                                     name) for name in names}
    failed = [future.exception() for future in futures.values()
              if future.exception() is not None]
    if failed:
        for future in futures.values():
            if future.exception() is None:
                future.result().stop()
        raise failed[0]
    return {name: future.result() for name, future in futures.items()}


def _kill(proc, sig, then_kill_after=None):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(then_kill_after or 10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
