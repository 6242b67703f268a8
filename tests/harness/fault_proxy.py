"""An HTTP proxy in front of glance that can answer errors on purpose.

For the audit tool's tests: every request goes on to glance unchanged,
except those a :class:`Rule` matches, which get the rule's status instead
(glance never sees them), or reach glance and then run the rule's hook
before the answer goes back. Every request is recorded with the status the
client got. Bodies are small JSON here (no image data passes through).
"""

import dataclasses
import http.client
import http.server
import re
import threading
import urllib.parse

from tests.harness.uwsgi_server import free_port

_HOP_BY_HOP = {'connection', 'keep-alive', 'transfer-encoding', 'te',
               'trailer', 'upgrade', 'proxy-authorization',
               'proxy-authenticate', 'host', 'content-length'}


@dataclasses.dataclass
class Rule:
    """Requests matching ``method`` and the ``path`` regex (with query).

    ``status``: answer it without asking glance, ``times`` times (None:
    always). ``after``: call ``after(method, path)`` once glance answered,
    before the client gets the answer.
    """

    method: str
    path: str
    status: int = None
    times: int = None
    after: object = None
    hits: int = 0

    def matches(self, method, path):
        if method != self.method or not re.search(self.path, path):
            return False
        return self.times is None or self.hits < self.times


class FaultProxy:
    def __init__(self, target_url):
        parsed = urllib.parse.urlsplit(target_url)
        self.target = (parsed.hostname, parsed.port)
        self.rules = []
        self.seen = []          # (method, path, status the client got)
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self._server.server_address[1]

    def add(self, *args, **kwargs):
        rule = Rule(*args, **kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def requests(self, method, path_regex):
        """Recorded (path, status) of the requests matching both."""
        with self._lock:
            return [(p, s) for m, p, s in self.seen
                    if m == method and re.search(path_regex, p)]

    def start(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _handle(self):
                proxy._forward(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # A client that gives up on a connection (keystoneauth
                # after its last retry) is not the proxy's error.
                pass

        self._server = Server(('127.0.0.1', free_port()), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _rule_for(self, method, path):
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    return rule
        return None

    def _forward(self, handler):
        method, path = handler.command, handler.path
        length = int(handler.headers.get('Content-Length') or 0)
        body = handler.rfile.read(length) if length else None
        rule = self._rule_for(method, path)
        if rule is not None and rule.status is not None:
            self._answer(handler, method, path, rule.status, {},
                         b'fault injected by the test proxy\n')
            return
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in _HOP_BY_HOP}
        conn = http.client.HTTPConnection(*self.target, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            resp_headers = {k: v for k, v in resp.getheaders()
                            if k.lower() not in _HOP_BY_HOP}
        finally:
            conn.close()
        if rule is not None and rule.after is not None:
            rule.after(method, path)
        self._answer(handler, method, path, resp.status, resp_headers, data)

    def _answer(self, handler, method, path, status, headers, data):
        with self._lock:
            self.seen.append((method, path, status))
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        if 'content-type' not in {k.lower() for k in headers}:
            handler.send_header('Content-Type', 'text/plain')
        handler.send_header('Content-Length', str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
