"""glance-api served by glance's own eventlet server, as kolla-ansible does.

glance 28 to 32 (2024.1 to 2026.1) ship the ``glance-api`` console
script: it monkey-patches the whole interpreter with eventlet, loads the
paste pipeline once in the parent process, then forks ``workers``
children that each serve requests on green threads (a pool of 1000).
kolla-ansible runs glance this way on 2024.1, 2025.1 and 2025.2. glance 33
(2026.2) has no such server: its ``glance-api`` only says so.

The server's configuration lives where kolla puts it: ``bind_host``,
``bind_port`` and ``workers`` in glance-api.conf, which is given with
glance-image-import.conf through ``--config-file``. It logs its requests
(``"PUT /v2/images/ID/file HTTP/1.1" 204 ...``) into glance's own log.

Signals, as glance 28-32 handle them: SIGTERM to the parent SIGTERMs its
process group, and each child dies at once (``SIG_DFL``), requests in
flight included. SIGHUP to the parent re-reads the configuration, starts
new children, and SIGHUPs the old ones, which stop accepting, finish the
requests they have and glance's import tasks, and exit.
"""

import os
import re
import signal
import sys
import time

from tests.harness import release
from tests.harness import uwsgi_server

#: eventlet's request log line, as glance logs it:
#: '127.0.0.1,127.0.0.1 - - [date] "PUT /v2/images/ID/file HTTP/1.1" 204
#: 0 1.0264'.
_REQUEST_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>[^ ?"]+)[^"]*" (?P<status>\d{3}) ')


class EventletGlanceServer(uwsgi_server.UwsgiServer):
    """glance-api for one GlanceEnv, through its ``glance-api`` script.

    ``processes`` is glance's ``workers``; each worker serves on green
    threads, so ``threads`` means nothing here and is kept only for
    callers that print it.
    """

    label = 'glance-api'
    program = 'glance-api (eventlet)'
    probe_path = '/versions'
    error_class = uwsgi_server.GlanceServerError
    kind = 'eventlet'

    def __init__(self, env, port=None, processes=2, threads=None,
                 uwsgi_options=None):
        if uwsgi_options:
            raise ValueError('uWSGI options %s for glance\'s eventlet server'
                             % sorted(uwsgi_options))
        super().__init__(env.base_dir, env.config_path, venv=sys.prefix,
                         port=port, processes=processes, threads=1)
        self.threads = threads
        self.env = env
        self.log_path = env.base_dir / 'glance-api.out'

    def command(self):
        if not release.has_eventlet_server():
            raise self.error_class(
                'glance %s has no eventlet server'
                % '.'.join(map(str, release.glance_version())))
        api_options = dict(self.env.settings['api_options'],
                           bind_host='127.0.0.1', bind_port=self.port,
                           workers=self.processes)
        self.env.reconfigure(api_options=api_options)
        return [os.path.join(os.path.dirname(sys.executable), 'glance-api'),
                '--config-file', str(self.env.config_path),
                '--config-file', str(self.env.import_config_path)]

    def env_vars(self):
        return self.env.env_vars()

    def log_tail(self, lines=40):
        """The script's own output, then the end of glance's log."""
        try:
            text = self.env.log_path.read_text(encoding='utf-8',
                                               errors='replace')
        except OSError:
            text = ''
        return '%s\n--- %s:\n%s' % (
            super().log_tail(lines), self.env.log_path.name,
            '\n'.join(text.splitlines()[-lines:]))

    def answered(self, method, path):
        """Statuses glance logged for ``method path`` (no query), in order."""
        try:
            text = self.env.log_path.read_text(encoding='utf-8',
                                               errors='replace')
        except OSError:
            return []
        statuses = []
        for line in text.splitlines():
            match = _REQUEST_LINE.search(line)
            if (match and match.group('method') == method
                    and match.group('path') == path):
                statuses.append(int(match.group('status')))
        return statuses

    def hang_up(self, timeout=60):
        """SIGHUP glance: wait for new workers, return the old ones' pids.

        The old workers finish what they serve and exit on their own; see
        :meth:`wait_for_exit`.
        """
        old = set(self.worker_pids())
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while True:
            new = set(self.worker_pids()) - old
            if len(new) >= self.processes and self._answers():
                return sorted(old)
            if time.monotonic() > deadline:
                raise self.error_class(
                    'no new workers %ds after SIGHUP\n%s'
                    % (timeout, self.log_tail()))
            time.sleep(0.1)

    @staticmethod
    def wait_for_exit(pids, timeout):
        """Whether every process of ``pids`` is gone within ``timeout``."""
        deadline = time.monotonic() + timeout
        while any(uwsgi_server.alive(pid) for pid in pids):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True
