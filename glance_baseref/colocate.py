"""Writing one upload to several stores: stage, import, wait, answer.

Glance 33 writes ``PUT /file`` to exactly one store. For several it has
the interoperable import: ``PUT /stage`` then ``POST /import`` with
``glance-direct`` and a list of ``stores``, which a project member may do
under glance's default policy. The caller's upload is handed to the stage
call unchanged, so glance reads the body itself and nothing here grows with
the image size.

The import runs asynchronously. Its end is the image property
``os_glance_import_task`` going away; ``active`` alone can come after the
first store. Some failures leave the image ``importing`` with its staged
data, which Cinder's clean-up does not delete; such images are deleted here.

``respond_after`` says when the caller is answered: when the task has
ended (``all_stores``), when the image is first active (``first_store``),
or as soon as glance accepted the import (``staged``). Whatever is not
waited for is watched by a background thread until the task stops.

Looking at the image is an in-process ``GET``: a few milliseconds of the
worker's CPU. The pauses between looks grow to ``poll_interval``, so a
long import costs few looks; meanwhile a ``stat`` of the staged file every
0.05 s (microseconds) notices glance's last step, removing it, and from
then on the image is looked at every 0.05 s, so the answer follows the end
closely.
"""

import logging
import os
import threading
import time

import webob.exc

from glance_baseref import inprocess
from glance_baseref import settings as settings_mod
from glance_baseref import stores as stores_mod

LOG = logging.getLogger(__name__)

_STAGE_OK = (200, 201, 204)

# The first looks at an importing image come quickly, so that small images
# are answered soon after glance is done; later ones back off up to
# poll_interval, so that large ones cost few requests.
_FIRST_POLL_SECONDS = 0.05
# How often the staged file is checked between looks, and how often the
# image is looked at once it is gone.
_TICK_SECONDS = 0.05
# The longest pause while waiting for the first store: no cheap sign tells
# when the image turns active.
_FIRST_STORE_POLL_SECONDS = 0.2
_IMPORT_START_ATTEMPTS = 3
_IMPORT_START_PAUSE = 0.2


def _doubling_pauses(longest):
    """Pauses between looks: 0.05 s, doubling up to ``longest``."""
    pause = min(_FIRST_POLL_SECONDS, longest)
    while True:
        yield pause
        pause = min(pause * 2, longest)


class ColocatedUpload:
    """Carries out one upload to several stores for one caller."""

    def __init__(self, settings, clock=time.monotonic, sleep=time.sleep,
                 cpu_clock=time.thread_time):
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.cpu_clock = cpu_clock

    def run(self, glance, image_id, stores):
        """Return ``(response, outcome)``; outcome is for the log line."""
        started = self.clock()
        staged = glance.stage(image_id)
        if staged.status_int not in _STAGE_OK:
            return staged, 'staging answered %s' % staged.status
        response, outcome = self._import_and_wait(glance, image_id, stores,
                                                  staged, started)
        if response is not staged:
            close = getattr(staged.app_iter, 'close', None)
            if close is not None:
                close()
        return response, outcome

    def _import_and_wait(self, glance, image_id, stores, staged, started):
        try:
            self._start_import(glance, image_id, stores)
        except inprocess.GlanceError as exc:
            deleted = self._delete(glance, image_id)
            LOG.error('glance_baseref: image %s was staged but its import '
                      'into %s could not start: %s', image_id,
                      ','.join(stores), exc)
            return self._failure(
                webob.exc.HTTPInternalServerError,
                'The import of image %s into stores %s could not start '
                '(%s). %s' % (image_id, ', '.join(stores), exc.status_int,
                              deleted)), 'import refused'

        respond_after = self.settings.respond_after
        if respond_after == settings_mod.STAGED:
            self._watch_in_background(glance, image_id, stores,
                                      delete_always=False)
            return staged, 'import accepted, glance goes on with %s' % (
                ','.join(stores))
        looks = _Looks(self, image_id, respond_after)
        deadline = started + self.settings.import_timeout
        try:
            return self._wait(glance, image_id, stores, staged, deadline,
                              looks)
        finally:
            looks.log()

    def _wait(self, glance, image_id, stores, staged, deadline, looks):
        first_store = self.settings.respond_after == settings_mod.FIRST_STORE
        while True:
            try:
                image = looks.look(glance)
            except inprocess.GlanceError as exc:
                if exc.status_int == 404:
                    return self._failure(
                        webob.exc.HTTPGone,
                        'Image %s was deleted while glance imported it.'
                        % image_id), 'deleted during import'
                LOG.warning('glance_baseref: looking at image %s during its '
                            'import failed: %s', image_id, exc)
                image = None
            if image is not None:
                if not image.get('os_glance_import_task'):
                    return self._ended(glance, image_id, stores, image,
                                       staged)
                if first_store and image.get('status') == 'active':
                    self._watch_in_background(glance, image_id, stores,
                                              delete_always=False)
                    return staged, ('active in %s, glance goes on with %s'
                                    % (image.get('stores'), ','.join(stores)))
            if self.clock() >= deadline:
                self._watch_in_background(glance, image_id, stores,
                                          delete_always=True)
                return self._failure(
                    webob.exc.HTTPGatewayTimeout,
                    'The import of image %s into stores %s did not end '
                    'within %d seconds (import_timeout). The image will be '
                    'deleted as soon as the import task of glance stops.'
                    % (image_id, ', '.join(stores),
                       self.settings.import_timeout)), 'timed out'
            looks.pause(deadline)

    def _start_import(self, glance, image_id, stores):
        """Start glance's import, again after a server-side failure.

        Glance sets the import lock in one database transaction that it
        does not retry; under load on MySQL it can fail with a deadlock
        and roll back, leaving the image staged and unlocked, so starting
        again is safe. A lock that did get set means the import runs.
        """
        for attempt in range(1, _IMPORT_START_ATTEMPTS + 1):
            try:
                glance.start_import(image_id, stores,
                                    self.settings.all_stores_must_succeed)
                return
            except inprocess.GlanceError as exc:
                if exc.status_int < 500 or attempt == _IMPORT_START_ATTEMPTS:
                    raise
                LOG.warning('glance_baseref: starting the import of image '
                            '%s failed (attempt %d of %d): %s', image_id,
                            attempt, _IMPORT_START_ATTEMPTS, exc)
            self.sleep(_IMPORT_START_PAUSE * attempt)
            try:
                image = glance.get_image(image_id)
            except inprocess.GlanceError:
                continue
            if image.get('os_glance_import_task'):
                return
            if image.get('status') != 'uploading':
                raise inprocess.GlanceError.from_status(
                    409, 'image %s is %s after a failed import start'
                    % (image_id, image.get('status')))

    def _ended(self, glance, image_id, stores, image, staged):
        written = stores_mod.stores_of(image, 'stores')
        failed = stores_mod.stores_of(image, 'os_glance_failed_import') or [
            s for s in stores if s not in written]
        if image.get('status') == 'active':
            if failed:
                self._warn_partial(glance, image_id, failed, written)
            return staged, 'active in %s%s' % (
                ','.join(written),
                ', failed in %s' % ','.join(failed) if failed else '')

        reason = self._task_message(glance, image_id)
        if image.get('status') == 'queued':
            # Glance reverted the image like a failed plain upload; the
            # caller cleans it up as it would after one.
            fate = 'Glance left the image queued, without data.'
        else:
            fate = self._delete(glance, image_id)
        LOG.error('glance_baseref: image %s could not be written to stores '
                  '%s (%s); it was %s. %s', image_id, ','.join(failed),
                  reason, image.get('status'), fate)
        return self._failure(
            webob.exc.HTTPInternalServerError,
            'Image %s could not be written to stores %s. %s'
            % (image_id, ', '.join(failed), fate)), 'failed in %s' % (
                ','.join(failed))

    def _warn_partial(self, glance, image_id, failed, written):
        """An image active in some stores: a success, with a warning."""
        LOG.warning('glance_baseref: image %s was not written to stores %s '
                    '(%s); it is active in %s', image_id, ','.join(failed),
                    self._task_message(glance, image_id), ','.join(written))

    @staticmethod
    def _failure(exc_class, message):
        return exc_class(explanation=message)

    @staticmethod
    def _task_message(glance, image_id):
        try:
            tasks = glance.image_tasks(image_id).get('tasks', [])
        except inprocess.GlanceError as exc:
            return 'task unknown: %s' % exc
        if not tasks:
            return 'no task message'
        newest = max(tasks, key=lambda t: t.get('created_at') or '')
        return 'task %s %s: %s' % (newest.get('id'), newest.get('status'),
                                   newest.get('message') or 'no message')

    @staticmethod
    def _delete(glance, image_id):
        try:
            glance.delete_image(image_id)
        except inprocess.GlanceError as exc:
            LOG.error('glance_baseref: could not delete image %s: %s',
                      image_id, exc)
            return 'Deleting the image failed; it must be deleted by hand.'
        LOG.info('glance_baseref: deleted image %s and its staged data',
                 image_id)
        return 'The image was deleted, with its staged data.'

    def _watch_in_background(self, glance, image_id, stores, delete_always):
        """Wait for glance's import task to stop, then settle the image.

        Deleting an image while its task still writes leaves that store's
        data behind in glance 33, so the delete waits for the task. A
        watcher gives up after ``watch_timeout`` and deletes then.
        """
        thread = threading.Thread(
            target=self._settle, name='glance-baseref-watch-%s' % image_id,
            args=(glance, image_id, stores, delete_always), daemon=True)
        thread.start()
        return thread

    def _settle(self, glance, image_id, stores, delete_always):
        deadline = self.clock() + self.settings.watch_timeout
        image, stopped = None, False
        pauses = _doubling_pauses(self.settings.poll_interval)
        while not stopped and self.clock() < deadline:
            try:
                image = glance.get_image(image_id)
            except inprocess.GlanceError as exc:
                if exc.status_int == 404:
                    return
                image = None
            stopped = image is not None and not image.get(
                'os_glance_import_task')
            if not stopped:
                self.sleep(next(pauses))
        active = image is not None and image.get('status') == 'active'
        if not delete_always and active:
            failed = stores_mod.stores_of(image, 'os_glance_failed_import')
            if failed and stopped:
                self._warn_partial(glance, image_id, failed,
                                   stores_mod.stores_of(image, 'stores'))
            elif not stopped:
                LOG.warning('glance_baseref: the import task of image %s '
                            'did not stop within another %ds; the image is '
                            'active in %s and left as it is', image_id,
                            self.settings.watch_timeout,
                            image.get('stores'))
            return
        if not stopped:
            LOG.error('glance_baseref: the import task of image %s did not '
                      'stop within another %ds; deleting the image anyway',
                      image_id, self.settings.watch_timeout)
        LOG.error('glance_baseref: image %s did not reach stores %s (%s); '
                  'deleting it', image_id, ','.join(stores),
                  self._task_message(glance, image_id))
        self._delete(glance, image_id)


class _Looks:
    """When to look at an importing image, and what looking cost.

    The pause between looks doubles from 0.05 s up to ``poll_interval``
    (0.2 s at most while waiting for the first store). While it lasts, the
    staged file is checked every 0.05 s; once glance has removed it (its
    last step before ending the task) the pause stays at 0.05 s.
    """

    def __init__(self, upload, image_id, respond_after):
        self.upload = upload
        self.image_id = image_id
        self.longest = upload.settings.poll_interval
        if respond_after == settings_mod.FIRST_STORE:
            self.longest = min(self.longest, _FIRST_STORE_POLL_SECONDS)
        self.pauses = _doubling_pauses(self.longest)
        self.staged_file = stores_mod.staged_data_path(image_id)
        if self.staged_file is not None and not os.path.exists(
                self.staged_file):
            self.staged_file = None  # staged elsewhere: no sign to watch
        self.staging_done = False
        self.count = 0
        self.cpu = 0.0
        self.started = upload.clock()

    def look(self, glance):
        cpu = self.upload.cpu_clock()
        try:
            self.count += 1
            return glance.get_image(self.image_id)
        finally:
            self.cpu += self.upload.cpu_clock() - cpu

    def _staging_done(self):
        if self.staged_file is None:
            return False
        cpu = self.upload.cpu_clock()
        try:
            return not os.path.exists(self.staged_file)
        finally:
            self.cpu += self.upload.cpu_clock() - cpu

    def pause(self, deadline):
        """Sleep until the next look is due (or the deadline)."""
        clock, sleep = self.upload.clock, self.upload.sleep
        if self.staging_done:
            sleep(max(0.0, min(_TICK_SECONDS, deadline - clock())))
            return
        until = min(clock() + next(self.pauses), deadline)
        while True:
            left = until - clock()
            if left <= 0:
                return
            sleep(min(left, _TICK_SECONDS) if self.staged_file else left)
            if self._staging_done():
                self.staging_done = True
                return

    def log(self):
        LOG.debug('glance_baseref: image %s: %d looks at the image and '
                  '%.4fs of CPU for them in %.3fs of waiting',
                  self.image_id, self.count, self.cpu,
                  self.upload.clock() - self.started)
