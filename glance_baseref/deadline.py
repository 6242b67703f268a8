"""Reads that must end in time, whatever glance's database does.

The decision reads glance in-process (store list, base image, target
image); a hung database call there must cost the upload at most
``lookup_timeout`` and a fallback to the default store, never the upload
itself. So the reads run on a few threads of their own and the request
waits for them until its deadline. The threads are daemons, so that a read
stuck in the database never delays the exit of the interpreter; they are
started on first use, in the process that serves requests.
"""

import concurrent.futures
import os
import queue
import threading
import time

_THREADS = 4


class Deadline:
    """A point in time, and what is left until then."""

    def __init__(self, seconds, clock=time.monotonic):
        self._clock = clock
        self.seconds = seconds
        self.expires = clock() + seconds

    def left(self):
        return max(0.0, self.expires - self._clock())


class TimedOut(Exception):
    """A read did not end before its deadline."""


class BoundedReads:
    """Runs a call on one of a few daemon threads, waiting for a deadline."""

    def __init__(self, threads=_THREADS):
        self._threads = threads
        self._queue = None
        self._pid = None
        self._lock = threading.Lock()

    def _jobs(self):
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    # A forked worker has none of its parent's threads.
                    self._queue = queue.Queue()
                    for number in range(self._threads):
                        threading.Thread(
                            target=self._serve, args=(self._queue,),
                            name='glance-baseref-read-%d' % number,
                            daemon=True).start()
                    self._pid = os.getpid()
        return self._queue

    @staticmethod
    def _serve(jobs):
        while True:
            future, call = jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to the waiting request
                future.set_exception(exc)

    def run(self, call, deadline):
        """``call()``'s result, or :class:`TimedOut` at ``deadline``."""
        future = concurrent.futures.Future()
        self._jobs().put((future, call))
        try:
            return future.result(timeout=deadline.left())
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimedOut('more than %gs' % deadline.seconds) from None
