"""Run OpenStack WSGI services (glance-api, keystone) under uWSGI for tests.

:class:`UwsgiServer` is the shared runner; :class:`GlanceServer` serves
glance-api from the running interpreter's environment, and
:class:`tests.harness.keystone.KeystoneServer` serves keystone from its own
virtualenv.

glance 33 no longer has a standalone ``glance-api`` server: production runs
``glance.wsgi.api:application`` under uWSGI (or mod_wsgi). Only uWSGI reads
chunked request bodies the way Cinder sends them (glance calls
``uwsgi.chunked_read()``), so the tests that matter run against this server
rather than an in-process webtest app.

The server is a child process in its own session: its pid is the uWSGI
master and its process group holds the workers, so :meth:`UwsgiServer.stop`
can always clean up by id, never by name.
"""

import atexit
import errno
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time

from tests.harness import release

#: uWSGI settings glance needs (measured on glance 33.0.0, uWSGI 2.0.31).
#: chunked-input-limit: glanceclient sends 1 MiB chunks, the default limit
#: (1 MiB) fails every upload with 500 "unable to receive chunked part".
#: die-on-term: otherwise SIGTERM means "reload".
#: "Connection: close" (as devstack sets it): an http-socket closes the
#: connection after every response but answers HTTP/1.1 without saying so;
#: a pooling client (requests/keystoneauth) then reuses the dead
#: connection and a fast next request fails with "Connection reset by peer"
#: (seen here on the second request of a session).
#: worker-reload-mercy: uWSGI may ignore SIGTERM while a worker is still
#: loading the app and then waits this long (60 s by default) before
#: killing it; keystone takes 14-25 s to load here.
CHUNKED_INPUT_LIMIT = 16 * 1024 * 1024
WORKER_RELOAD_MERCY = 5

#: The status at the end of uWSGI's request log line:
#: "PUT /v2/images/ID/file => generated 214 bytes in 2 msecs (HTTP/1.1 400)".
_LOGGED_STATUS = re.compile(r'\(HTTP/1\.[01] (\d{3})\)')

_RUNNING = set()


def stop_at_exit(server):
    """Stop ``server`` (anything with ``stop()``) when the tests end."""
    _RUNNING.add(server)


def running_no_more(server):
    """``server`` was stopped: nothing left to do for it at exit."""
    _RUNNING.discard(server)


def _stop_all_at_exit():
    """Leave no server behind when the test process ends."""
    for server in list(_RUNNING):
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


atexit.register(_stop_all_at_exit)


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def alive(pid):
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers to signal 0; treat it as gone.
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _processes():
    """``(pid, stat fields after the command name)`` of live processes."""
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                yield int(entry), f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue


class UwsgiServerError(RuntimeError):
    """A service did not come up (the message ends with the uWSGI log)."""


class UwsgiServer:
    """One WSGI application under uWSGI on 127.0.0.1.

    Subclasses say what to serve: :meth:`app_settings` (uWSGI's
    ``module``/``wsgi-file``), :meth:`env_vars`, ``venv`` (the virtualenv
    whose uwsgi and Python run it) and ``probe_path`` (a GET that answers
    below 500 once the app has loaded). ``processes`` uWSGI workers with
    ``threads`` threads each; ``uwsgi_options`` are more uWSGI settings
    as {name: value} (e.g. ``max-requests``). Usable as a context manager
    (start on enter, stop on exit).
    """

    #: what it serves, and the program serving it, for messages
    label = 'the WSGI app'
    program = 'uwsgi'
    probe_path = '/'
    error_class = UwsgiServerError

    def __init__(self, base_dir, ini_path, venv, port=None, processes=1,
                 threads=4, uwsgi_options=None):
        self.base_dir = base_dir
        self.uwsgi_options = dict(uwsgi_options or {})
        self.venv = venv
        self.port = port
        self._auto_port = port is None
        self.processes = int(processes)
        self.threads = int(threads)
        self.ini_path = ini_path
        self.log_path = base_dir / 'uwsgi.log'
        self.proc = None
        self._log_offset = 0
        self.start_seconds = None

    def app_settings(self):
        """uWSGI settings that name the application, as (key, value)."""
        raise NotImplementedError

    def env_vars(self):
        """Environment the application needs (also set for uWSGI)."""
        return {}

    # ------------------------------------------------------------------

    @property
    def url(self):
        """Endpoint of the API, e.g. http://127.0.0.1:PORT (no version)."""
        return 'http://127.0.0.1:%d' % self.port

    @property
    def pid(self):
        """Pid of the uWSGI master, or None when not running."""
        return self.proc.pid if self.proc else None

    @property
    def uwsgi_binary(self):
        """The uwsgi installed in the service's virtualenv."""
        return os.path.join(self.venv, 'bin', 'uwsgi')

    def _write_ini(self):
        settings = [
            ('strict', 'true'),
            ('http-socket', '127.0.0.1:%d' % self.port),
            ('virtualenv', str(self.venv)),
        ] + list(self.app_settings()) + [
            ('chdir', str(self.base_dir)),
            ('master', 'true'),
            ('processes', self.processes),
            ('threads', self.threads),
            ('enable-threads', 'true'),
            ('need-app', 'true'),
            ('lazy-apps', 'true'),
            ('die-on-term', 'true'),
            ('worker-reload-mercy', WORKER_RELOAD_MERCY),
            ('chunked-input-limit', CHUNKED_INPUT_LIMIT),
            ('buffer-size', 65535),
            ('add-header', 'Connection: close'),
            ('vacuum', 'true'),
        ] + sorted(self.uwsgi_options.items())
        settings += [('env', '%s=%s' % kv)
                     for kv in sorted(self.env_vars().items())]
        lines = ['# Generated by tests/harness/uwsgi_server.py', '[uwsgi]']
        lines += ['%s = %s' % kv for kv in settings]
        self.ini_path.write_text('\n'.join(lines) + '\n')

    def start(self, timeout=30):
        """Start uWSGI and wait until ``GET probe_path`` answers.

        With an automatic port, a port lost to another process in the
        meantime is retried with a new one. Raises ``error_class`` with the
        tail of the uWSGI log when the server dies or does not answer
        within ``timeout`` seconds.
        """
        if self.proc is not None:
            raise self.error_class('already running (pid %d)' % self.pid)
        began = time.monotonic()
        for attempt in range(3):
            if self._auto_port and (self.port is None or attempt):
                self.port = free_port()
            try:
                self._start_once(began + timeout)
                break
            except UwsgiServerError as exc:
                if not (self._auto_port and 'Address already in use'
                        in str(exc)) or attempt == 2:
                    raise
        self.start_seconds = time.monotonic() - began
        stop_at_exit(self)
        return self

    def command(self):
        """Write the server's configuration; return the command to run.

        The command's process must be the server's master: its process
        group holds every worker (see :meth:`stop`).
        """
        self._write_ini()
        return [self.uwsgi_binary, '--ini', str(self.ini_path)]

    def _start_once(self, deadline):
        command = self.command()
        env = dict(os.environ)
        env.update(self.env_vars())
        with open(self.log_path, 'ab') as log:
            self._log_offset = log.tell()
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env,
                cwd=str(self.base_dir), start_new_session=True)
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._reap()
                raise self.error_class(
                    '%s (%s) exited with %s during start-up\n%s'
                    % (self.program, self.label, code, self.log_tail()))
            if self._answers():
                return
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise self.error_class(
                    '%s did not answer GET %s on %s\n%s'
                    % (self.label, self.probe_path, self.url, tail))
            time.sleep(0.1)

    def _answers(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=2)
        try:
            conn.request('GET', self.probe_path)
            return conn.getresponse().status < 500
        except OSError:
            return False
        finally:
            conn.close()

    def log_tail(self, lines=40):
        """Last ``lines`` lines the current/last uWSGI run logged."""
        try:
            with open(self.log_path, 'rb') as f:
                f.seek(self._log_offset)
                text = f.read().decode('utf-8', 'replace')
        except OSError:
            return ''
        return '\n'.join(text.splitlines()[-lines:])

    def answered(self, method, path):
        """Statuses uWSGI logged for ``method path`` (no query), in order.

        The server's own record of its answers: it holds the status also
        when the client lost the answer (see
        :func:`tests.harness.release.loses_early_answers`).
        """
        try:
            text = self.log_path.read_text(encoding='utf-8',
                                           errors='replace')
        except OSError:
            return []
        request = ' %s %s => ' % (method, path)
        statuses = []
        for line in text.splitlines():
            match = _LOGGED_STATUS.search(line)
            if match and request in line:
                statuses.append(int(match.group(1)))
        return statuses

    def stop(self, timeout=15):
        """SIGTERM the master, wait, SIGKILL the process group if needed.

        Afterwards no process of this server is left (the master and its
        workers share a process group that belongs to this server only).
        """
        if self.proc is None:
            return
        running_no_more(self)
        try:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._kill_group()
                    self.proc.wait(10)
        finally:
            self._reap()

    def _kill_group(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise

    def _reap(self):
        """Make sure no worker of this server outlives its master."""
        pgid = self.proc.pid
        deadline = time.monotonic() + 5
        while self._group_members(pgid):
            if time.monotonic() > deadline:
                self._kill_group()
                deadline = time.monotonic() + 5
            time.sleep(0.05)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    @staticmethod
    def _group_members(pgid):
        """Live pids whose process group is ``pgid``."""
        # fields[0] is the state, fields[2] the process group.
        return [pid for pid, fields in _processes()
                if int(fields[2]) == pgid and fields[0] != 'Z']

    def restart(self, timeout=30):
        """Stop and start again on the same port (re-reads the configs)."""
        self.stop()
        self._auto_port = False
        self.start(timeout)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------
    # process inspection

    def worker_pids(self):
        """Pids of the uWSGI workers (children of the master)."""
        if self.proc is None:
            return []
        master = self.proc.pid
        # fields[1] is the parent pid.
        return sorted(pid for pid, fields in _processes()
                      if int(fields[1]) == master and fields[0] != 'Z')

    @staticmethod
    def worker_status(pid):
        """Memory, threads and open files of one process.

        Returns ``{'VmHWM': kB, 'VmRSS': kB, 'Threads': n, 'fds': n}``
        (VmHWM is the peak resident set size since the process started).
        """
        status = {}
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                key, _, value = line.partition(':')
                if key in ('VmHWM', 'VmRSS', 'Threads'):
                    status[key] = int(value.split()[0])
        status['fds'] = len(os.listdir('/proc/%d/fd' % pid))
        return status

    def is_running(self):
        return self.proc is not None and alive(self.proc.pid)


class GlanceServerError(UwsgiServerError):
    """glance-api did not come up (the message ends with the uWSGI log)."""


class GlanceServer(UwsgiServer):
    """glance-api for one :class:`~tests.harness.glance_env.GlanceEnv`.

    Served from the running interpreter's environment (the tox env).
    """

    label = 'glance-api'
    probe_path = '/versions'
    error_class = GlanceServerError
    #: the serving shape a test session chose, see tests/harness/server_kind.py
    kind = 'uwsgi'

    def __init__(self, env, port=None, processes=1, threads=4,
                 uwsgi_options=None):
        super().__init__(env.base_dir, env.etc_dir / 'uwsgi.ini',
                         venv=sys.prefix, port=port, processes=processes,
                         threads=threads, uwsgi_options=uwsgi_options)
        self.env = env

    def app_settings(self):
        return [release.uwsgi_app_setting()]

    def env_vars(self):
        return self.env.env_vars()
