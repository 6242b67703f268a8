"""Whether glance read any of the caller's body while it staged it.

A stage that glance refuses before reading a byte (the ``image_stage_total``
quota, a policy, a staging store that cannot open its file) can go on as a
plain upload into one store, exactly as glance alone would have taken it.
Once glance has read part of the body, nothing can be sent again. Telling
the two apart needs a count of what was read; the filter counts and does
nothing else: every read is handed through as it is, nothing is kept.

Glance reads a body from ``wsgi.input``, except under uWSGI with chunked
transfer encoding (Cinder's uploads), where it calls
``uwsgi.chunked_read()`` itself. That function is therefore counted too,
per thread (uWSGI serves a request on one thread, and glance stages on
it), by a pass-through installed once per process.
"""

import threading

_counts = threading.local()
_install_lock = threading.Lock()


class CountingInput:
    """``wsgi.input``, counting the bytes read through it."""

    def __init__(self, stream, counter):
        self.stream = stream
        self._counter = counter

    def read(self, *args):
        data = self.stream.read(*args)
        self._counter.add(len(data))
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self._counter.add(len(data))
        return data

    def readlines(self, *args):
        lines = self.stream.readlines(*args)
        self._counter.add(sum(len(line) for line in lines))
        return lines

    def __getattr__(self, name):
        # seek, tell, fileno, ...: whatever the server's stream offers.
        return getattr(self.stream, name)

    def __iter__(self):
        for chunk in self.stream:
            self._counter.add(len(chunk))
            yield chunk


class Counter:
    """Bytes of the body read while it was armed (see :func:`counting`)."""

    def __init__(self):
        self.read = 0

    def add(self, count):
        self.read += count

    @property
    def nothing_read(self):
        return self.read == 0


class counting:
    """``with counting(environ) as (counter, body_input):`` around a stage.

    ``body_input`` replaces ``wsgi.input`` in the stage's environ; reads
    through ``uwsgi.chunked_read()`` on this thread are counted as well.
    """

    def __init__(self, environ):
        self.counter = Counter()
        stream = environ.get('wsgi.input')
        self.body_input = (CountingInput(stream, self.counter)
                           if stream is not None else None)

    def __enter__(self):
        _install_uwsgi_counter()
        _counts.counter = self.counter
        return self.counter, self.body_input

    def __exit__(self, *exc_info):
        _counts.counter = None
        return False


def _install_uwsgi_counter():
    try:
        import uwsgi
    except ImportError:
        return
    with _install_lock:
        read = uwsgi.chunked_read
        if getattr(read, 'counted_by_glance_baseref', False):
            return

        def chunked_read(*args, **kwargs):
            data = read(*args, **kwargs)
            counter = getattr(_counts, 'counter', None)
            if counter is not None and data:
                counter.add(len(data))
            return data
        chunked_read.counted_by_glance_baseref = True
        uwsgi.chunked_read = chunked_read
