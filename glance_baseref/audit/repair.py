"""Repairing what the scan found: settling marks, copying missing stores.

Marked images (:mod:`.marks`) are settled first, each by its state read
afresh: a mark left on a settled image is removed, an image glance put
back to ``queued`` is deleted, one still importing is left alone, and a
stuck one is reported and kept (glance's API alone cannot finish it),
unless the filter on the node that staged it resumes it (below).

Missing stores are copied with ``copy-image``, which copies an active
image's data from a store it is in into other stores. Each import is
started, then the image is watched until glance drops
``os_glance_import_task`` (or its lock has expired by glance's rule):
only then has glance finished (``active`` holds throughout a copy). What
the image's ``stores`` say afterwards is the result; nothing is assumed.
Whether the token may do any of this is glance's policy's call: the tool
asks, and a 403 is reported with the token's roles.
"""

import concurrent.futures
import dataclasses
import threading
import time

from glanceclient import exc as glance_exc

from glance_baseref import stores
from glance_baseref.audit import connect
from glance_baseref.audit import marks
from glance_baseref.audit import scan

COPY_IMAGE = 'copy-image'
IMPORT_TASK_KEY = marks.IMPORT_TASK_KEY
FAILED_KEY = 'os_glance_failed_import'
_FIRST_POLL = 0.1

#: Results that count as errors (exit status 2).
ERROR_RESULTS = ('failed', 'partly copied', 'error', marks.STUCK)
#: Results that leave something to do on purpose (exit status 1); a
#: resumed import runs on without the tool waiting for its end.
UNFIXED_RESULTS = ('skipped', 'would copy', marks.IN_PROGRESS,
                   'would remove mark', 'would delete', 'not tried',
                   'would resume', 'resumed')


@dataclasses.dataclass(frozen=True)
class Outcome:
    image_id: str
    result: str
    wanted: tuple = ()
    copied: tuple = ()
    failed: tuple = ()
    detail: str = ''

    def as_dict(self):
        return dataclasses.asdict(self)


class _Board:
    """What each running repair is doing, for the progress line."""

    def __init__(self, progress, total):
        self.progress = progress
        self.total = total
        self.done = 0
        self.running = {}
        self._lock = threading.Lock()

    def update(self, image_id, text=None):
        with self._lock:
            if text is None:
                self.running.pop(image_id, None)
                self.done += 1
            else:
                self.running[image_id] = text
            line = '%d/%d images repaired' % (self.done, self.total)
            if self.running:
                line += '; ' + '; '.join(
                    '%s %s' % (i[:8], t) for i, t in self.running.items())
        if self.progress:
            self.progress.show(line)


class Repairer:
    """Repairs findings; one glanceclient client per repair."""

    def __init__(self, connection, timeout=3600, poll_interval=2.0,
                 progress=None, retries=3, clock=time.monotonic,
                 sleep=time.sleep, now=scan.utcnow):
        self.connection = connection
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.progress = progress
        self.retries = retries
        self.clock = clock
        self.sleep = sleep
        self.now = now
        # Set by the first 403 to copy-image: the policy will refuse the
        # others too, so they are not tried.
        self.copy_refused = threading.Event()

    def settle(self, found_marks, dry_run=False):
        """Outcomes for marked images, in their order; one at a time."""
        client = self.connection.client(self.retries)
        return [self._settle(client, mark, dry_run) for mark in found_marks]

    def _settle(self, client, mark, dry_run):
        image_id = mark.image_id
        try:
            image = dict(client.images.get(image_id))
            if marks.MARK_PROPERTY not in image:
                return Outcome(image_id, 'settled', detail='the mark is '
                               'gone: the import settled since the scan')
            tasks = scan.import_tasks(client, image_id)
            mark = marks.judge(image, tasks, self.now())
            if mark.state == marks.MARK_LEFT:
                if dry_run:
                    return Outcome(image_id, 'would remove mark',
                                   detail=mark.detail)
                client.images.update(image_id,
                                     remove_props=[marks.MARK_PROPERTY])
                return Outcome(image_id, 'mark removed', detail=mark.detail)
            if mark.state == marks.REVERTED:
                if dry_run:
                    return Outcome(image_id, 'would delete',
                                   detail=mark.detail)
                client.images.delete(image_id)
                return Outcome(image_id, 'deleted', detail=mark.detail)
            if mark.state == marks.STUCK and mark.status == 'importing' \
                    and not image.get('stores'):
                return self._resume(mark, dry_run)
            return Outcome(image_id, mark.state, detail=mark.detail)
        except glance_exc.HTTPNotFound:
            return Outcome(image_id, 'gone', detail='the image was deleted')
        except glance_exc.HTTPForbidden as exc:
            return Outcome(image_id, 'error', detail=(
                'glance\'s policy refused it for this token (%s): %s'
                % (self.connection.who(), scan.describe(exc))))
        except scan.GLANCE_ERRORS as exc:
            return Outcome(image_id, 'error', detail=self._glance_said(exc))

    def _resume(self, mark, dry_run):
        """Ask the node that staged the image to import it again.

        The filter there does it when its ``resume_imports`` is on; glance
        alone (or a filter without it) answers 409 and the image stays
        stuck. The node is the mark's when that is a URL (glance's
        ``worker_self_reference_url``), else the catalog's glance.
        """
        node = mark.node if mark.node and mark.node.startswith(
            ('http://', 'https://')) else None
        where = node or 'the catalog\'s glance'
        if dry_run:
            return Outcome(mark.image_id, 'would resume', detail=(
                'would ask %s to import its staged data again '
                '(resume_imports)' % where))
        client = self.connection.client(self.retries, endpoint=node)
        try:
            client.images.image_import(mark.image_id, method='glance-direct')
        except glance_exc.HTTPConflict as exc:
            return Outcome(mark.image_id, marks.STUCK, detail=(
                '%s; %s did not resume it (%s): resume_imports is off '
                'there, or its staged data is gone' % (
                    mark.detail, where, scan.describe(exc))))
        return Outcome(mark.image_id, 'resumed', detail=(
            '%s imports its staged data again; the filter there removes '
            'the mark once the image has settled' % where))

    def run(self, findings, max_concurrent=1, dry_run=False):
        """Outcomes for the findings that lack stores, in their order."""
        todo = [f for f in findings if f.missing]
        if dry_run:
            return [Outcome(f.image_id, 'would copy', wanted=f.missing)
                    for f in todo]
        board = _Board(self.progress, len(todo))
        with concurrent.futures.ThreadPoolExecutor(
                max(1, max_concurrent),
                thread_name_prefix='glance-baseref-repair') as pool:
            futures = [pool.submit(self._repair_reporting, f, board)
                       for f in todo]
            return [future.result() for future in futures]

    def _repair_reporting(self, finding, board):
        try:
            return self.repair(finding, board)
        finally:
            board.update(finding.image_id)

    def repair(self, finding, board=None):
        """Copy one image into the stores it lacks; an :class:`Outcome`."""
        client = self.connection.client(self.retries)
        image_id = finding.image_id
        if self.copy_refused.is_set():
            return Outcome(image_id, 'not tried', finding.missing,
                           detail='glance\'s policy refused copy-image '
                           'for this token (see the first refusal)')

        def note(text):
            if board:
                board.update(image_id, text)

        try:
            image = self._settled(client, image_id, note)
            if image.get('status') != 'active':
                return Outcome(image_id, 'skipped', finding.missing,
                               detail='the image is %s, not active'
                               % image.get('status'))
            wanted = tuple(s for s in finding.missing
                           if s not in stores.stores_of(image))
            if not wanted:
                return Outcome(image_id, 'already fixed', finding.missing,
                               detail='already in %s' % ','.join(
                                   finding.missing))
            note('copying to %s' % ','.join(wanted))
            self._start_copy(client, image_id, wanted)
            image = self._settled(client, image_id, note)
        except glance_exc.HTTPNotFound:
            return Outcome(image_id, 'gone', finding.missing,
                           detail='the image was deleted')
        except glance_exc.HTTPForbidden as exc:
            self.copy_refused.set()
            return Outcome(image_id, 'error', finding.missing, detail=(
                'glance\'s policy refused copy-image for this token (%s): '
                '%s' % (self.connection.who(), scan.describe(exc))))
        except TimeoutError as exc:
            return Outcome(image_id, 'error', finding.missing,
                           detail=str(exc))
        except scan.GLANCE_ERRORS as exc:
            return Outcome(image_id, 'error', finding.missing,
                           detail=self._glance_said(exc))
        return self._judge(image, finding.missing, wanted)

    def _glance_said(self, exc):
        detail = 'glance: %s' % scan.describe(exc)
        if getattr(exc, 'code', None) in connect.RETRIED_STATUSES:
            detail += ' (after %d retries)' % self.retries
        return detail

    def _start_copy(self, client, image_id, wanted):
        try:
            client.images.image_import(image_id, method=COPY_IMAGE,
                                       stores=list(wanted),
                                       allow_failure=True)
        except glance_exc.HTTPConflict:
            # Another import of this image holds glance's lock (or a
            # retried start did begin): wait for it, then judge the stores.
            pass

    def _settled(self, client, image_id, note):
        """The image once no import of it is running.

        A lock found stale on the first look (its task died) is not
        waited for: the next import request takes it. A live task
        keeps its lock fresh, so one look at the task is enough.
        """
        deadline = self.clock() + self.timeout
        pause = _FIRST_POLL
        first = True
        while True:
            image = dict(client.images.get(image_id))
            if IMPORT_TASK_KEY not in image:
                return image
            if first and self._lock_expired(client, image):
                return image
            first = False
            if self.clock() > deadline:
                raise TimeoutError('the import did not end within %ss'
                                   % self.timeout)
            note('importing to %s' % (image.get(
                'os_glance_importing_to_stores') or '?'))
            self.sleep(pause)
            pause = min(pause * 2, self.poll_interval)

    def _lock_expired(self, client, image):
        """Whether glance would take this lock from its task (stale)."""
        tasks = scan.import_tasks(client, image['id'])
        task = marks.import_task(tasks, image.get(IMPORT_TASK_KEY))
        return not marks.lock_held(image, task, self.now())

    @staticmethod
    def _judge(image, missing, wanted):
        now = stores.stores_of(image)
        copied = tuple(s for s in wanted if s in now)
        failed = tuple(s for s in wanted if s not in now)
        if not failed:
            return Outcome(image['id'], 'copied', missing, copied)
        detail = 'glance reports failed stores: %s' % (
            image.get(FAILED_KEY) or 'none named')
        return Outcome(image['id'], 'partly copied' if copied else 'failed',
                       missing, copied, failed, detail)
