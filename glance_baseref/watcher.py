"""Following the imports that no upload waits for any more.

With ``respond_after`` other than ``all_stores``, after a 504, or after an
unexpected error, the uploader has its answer while glance still imports.
Someone must settle the image when the import ends: remove the filter's
mark from an active image, delete one that failed. That is this watcher:
one per filter in each worker process, with a fixed number of threads and
a bounded list of imports. It keeps, per import, the caller's request
context (in a detached ``InProcessGlance``), the image id and the stores;
not the caller's environ nor its body.

An import is judged by glance's task, not by a clock started at the
answer: it is followed as long as glance's lock is on the image and its
task makes progress (``watch_timeout`` seconds at most without an update
of the task). An image that is active is never deleted because one look
failed: the last good look counts.

When the list is full, :meth:`ImportWatcher.watch` says so and the upload
waits for its import itself, as with ``all_stores``. A worker that dies
takes its list with it; the mark on each image is how
``glance-baseref-audit`` finds them (doc/audit.md).
"""

import heapq
import itertools
import logging
import os
import threading
import time

from glance_baseref import colocate
from glance_baseref import inprocess
from glance_baseref import settle

LOG = logging.getLogger(__name__)

THREADS = 2
CAPACITY = 64
# Asking glance for the task costs a request; it moves slowly anyway.
_TASK_CHECK_SECONDS = 30.0


class _Watch:
    def __init__(self, glance, image_id, stores, delete_when_done, longest,
                 now):
        self.glance = glance
        self.image_id = image_id
        self.stores = tuple(stores)
        self.delete_when_done = delete_when_done
        self.pauses = colocate.doubling_pauses(longest)
        self.longest = longest
        self.last_good = None
        self.next_task_check = now + _TASK_CHECK_SECONDS

    def next_pause(self):
        return next(self.pauses)


class ImportWatcher:
    """A bounded, per-process follower of imports; see the module doc."""

    def __init__(self, settings, threads=THREADS, capacity=CAPACITY,
                 clock=time.monotonic):
        self.settings = settings
        self.threads = threads
        self.capacity = capacity
        self.clock = clock
        self._due = []
        self._order = itertools.count()
        self._busy = 0
        self._cond = threading.Condition()
        self._pid = None

    def idle(self, seconds):
        """Wait (holding the condition) for new work or ``seconds``."""
        self._cond.wait(seconds)

    def watch(self, glance, image_id, stores, delete_when_done=False):
        """Follow this import until it settles; False when full."""
        watch = _Watch(glance.detached(), image_id, stores,
                       delete_when_done, self.settings.poll_interval,
                       self.clock())
        with self._cond:
            self._start_threads()
            if len(self._due) + self._busy >= self.capacity:
                return False
            self._push(watch, self.clock() + watch.next_pause())
        return True

    def pending(self):
        with self._cond:
            return len(self._due) + self._busy

    def wait_until_idle(self, timeout):
        """For tests and shutdown: True once nothing is being followed."""
        end = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > end:
                return False
            time.sleep(0.01)
        return True

    def _push(self, watch, due):
        heapq.heappush(self._due, (due, next(self._order), watch))
        self._cond.notify()

    def _start_threads(self):
        if self._pid == os.getpid():
            return
        # A forked worker has none of its parent's threads, nor its list.
        self._pid = os.getpid()
        self._due = []
        self._busy = 0
        for number in range(self.threads):
            threading.Thread(target=self._serve,
                             name='glance-baseref-watch-%d' % number,
                             daemon=True).start()

    def _serve(self):
        while True:
            with self._cond:
                while True:
                    if not self._due:
                        self.idle(None)
                        continue
                    delay = self._due[0][0] - self.clock()
                    if delay <= 0:
                        break
                    self.idle(delay)
                _, _, watch = heapq.heappop(self._due)
                self._busy += 1
            try:
                pause = self._look(watch)
            except Exception:
                LOG.exception('glance_baseref: watching the import of '
                              'image %s failed; looking again later',
                              watch.image_id)
                pause = watch.longest
            with self._cond:
                self._busy -= 1
                if pause is not None:
                    self._push(watch, self.clock() + pause)

    def _look(self, watch):
        """One look; the pause until the next, or None once settled."""
        glance, image_id = watch.glance, watch.image_id
        try:
            image = glance.get_image(image_id)
            watch.last_good = image
        except inprocess.GlanceError as exc:
            if exc.status_int == 404:
                return None
            image = None
        verdict = settle.judge(image, watch.stores) if image else None
        if verdict is not None and verdict.state != settle.RUNNING:
            self._settle(watch, image, verdict, '')
            return None
        now = self.clock()
        if now >= watch.next_task_check:
            watch.next_task_check = now + _TASK_CHECK_SECONDS
            if not settle.task_alive(glance, image_id,
                                     self.settings.watch_timeout):
                if watch.last_good is None:
                    LOG.error('glance_baseref: the import task of image %s '
                              'stopped and the image could not be read; '
                              'left for glance-baseref-audit (its %s '
                              'property marks it)', image_id, settle.MARK)
                    return None
                self._settle(watch, watch.last_good,
                             settle.judge(dict(watch.last_good or {},
                                               **{settle.LOCK: None}),
                                          watch.stores),
                             '; its task stopped without ending the import')
                return None
        return watch.next_pause()

    @staticmethod
    def _settle(watch, image, verdict, why):
        glance, image_id = watch.glance, watch.image_id
        if verdict.state == settle.ACTIVE:
            if watch.delete_when_done:
                settle.Settler.answered_as_failed(glance, image_id, verdict)
                return
            settle.Settler.succeeded(glance, image_id, image, verdict)
            if why:
                LOG.warning('glance_baseref: image %s is active in %s%s; '
                            'left as it is', image_id,
                            ','.join(verdict.written), why)
            return
        settle.Settler.failed(glance, image_id, watch.stores,
                              verdict.status or 'unknown', why)
