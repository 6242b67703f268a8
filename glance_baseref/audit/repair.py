"""Copying images into the stores they lack, with copy-image imports.

``copy-image`` copies an active image's data from a store it is in into
other stores; glance's default policy allows it to admins only
(``copy_image: role:admin``). Each import is started, then the image is
watched until glance drops ``os_glance_import_task``: only then has glance
finished (``active`` holds throughout a copy). What the image's
``stores`` say afterwards is the result; nothing is assumed.
"""

import concurrent.futures
import dataclasses
import threading
import time

from glanceclient import exc as glance_exc

from glance_baseref import stores
from glance_baseref.audit import connect
from glance_baseref.audit import scan

COPY_IMAGE = 'copy-image'
IMPORT_TASK_KEY = 'os_glance_import_task'
FAILED_KEY = 'os_glance_failed_import'
COPY_IMAGE_DENIED = ('glance refused copy-image (403): it is an admin '
                     'operation under glance\'s default policy (copy_image: '
                     'role:admin)')
_FIRST_POLL = 0.1

#: Results that count as errors (exit status 2).
ERROR_RESULTS = ('failed', 'partly copied', 'error')
#: Results that leave the image lacking stores on purpose (exit status 1).
UNFIXED_RESULTS = ('skipped', 'would copy')


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
                 progress=None, clock=time.monotonic, sleep=time.sleep):
        self.connection = connection
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.progress = progress
        self.clock = clock
        self.sleep = sleep

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
        client = self.connection.client()
        image_id = finding.image_id

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
            return Outcome(image_id, 'error', finding.missing,
                           detail='%s: %s' % (COPY_IMAGE_DENIED,
                                              scan.describe(exc)))
        except TimeoutError as exc:
            return Outcome(image_id, 'error', finding.missing,
                           detail=str(exc))
        except (glance_exc.ClientException,
                glance_exc.BaseException) as exc:
            detail = 'glance: %s' % scan.describe(exc)
            if getattr(exc, 'code', None) in connect.RETRIED_STATUSES:
                detail += ' (after %d retries)' % self.connection.retries
            return Outcome(image_id, 'error', finding.missing, detail=detail)
        return self._judge(image, finding.missing, wanted)

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
        """The image once no import of it is running."""
        deadline = self.clock() + self.timeout
        pause = _FIRST_POLL
        while True:
            image = dict(client.images.get(image_id))
            if IMPORT_TASK_KEY not in image:
                return image
            if self.clock() > deadline:
                raise TimeoutError('the import did not end within %ss'
                                   % self.timeout)
            note('importing to %s' % (image.get(
                'os_glance_importing_to_stores') or '?'))
            self.sleep(pause)
            pause = min(pause * 2, self.poll_interval)

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
