"""Writing one upload to several stores: stage, import, wait, answer.

Glance 33 writes ``PUT /file`` to exactly one store. For several it has
the interoperable import: ``PUT /stage`` then ``POST /import`` with
``glance-direct`` and a list of ``stores``, which a project member may do
under glance's default policy. The caller's upload is handed to the stage
call unchanged, so glance reads the body itself and nothing here grows with
the image size.

Never worse than glance alone:

* a stage that glance refuses before reading a byte of the body goes on as
  a plain upload into the first of the stores (a WARNING says why), and the
  caller gets glance's answer to that upload; once part of the body was
  read nothing can be sent again, and the caller gets the stage's answer;
* any error after the stage was accepted closes the staged answer, hands
  the image to the watcher, which deletes it once glance's task has
  stopped, and answers 500 naming the image.

``respond_after`` says when the caller is answered: when the task has
ended (``all_stores``), when the image is first active (``first_store``),
or as soon as glance accepted the import (``staged``). Whatever is not
waited for is followed by the bounded :mod:`glance_baseref.watcher`; when
its list is full the upload waits for the end itself. The rules for
judging the end are in :mod:`glance_baseref.settle`.

Looking at the image is an in-process ``GET``: a few milliseconds of the
worker's CPU. The pauses between looks grow to ``poll_interval``, so a
long import costs few looks; meanwhile a ``stat`` of the staged file every
0.05 s (microseconds) notices glance's last step, removing it, and from
then on the image is looked at every 0.05 s, for a quarter of a second at
most. With glance's ``image_conversion`` or ``image_decompression`` plugin
the staged file goes before any store is written: the file is then not
watched at all where glance's configuration says so, and otherwise the
looks fall back to their usual pace after that quarter second.
"""

import logging
import os
import time

from oslo_config import cfg
import webob.exc

from glance_baseref import body_reads
from glance_baseref import inprocess
from glance_baseref import serving
from glance_baseref import settings as settings_mod
from glance_baseref import settle
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
# How long quick looks go on after the staged file went while glance
# still holds the import: longer means a plugin removed it early.
_QUICK_LOOKS_SECONDS = 0.25
# Glance's import plugins that remove the staged file right after they
# convert it, before any store is written.
_EARLY_UNSTAGING_PLUGINS = ('image_conversion', 'image_decompression')
# The longest pause while waiting for the first store: no cheap sign tells
# when the image turns active.
_FIRST_STORE_POLL_SECONDS = 0.2
_IMPORT_START_ATTEMPTS = 3
_IMPORT_START_PAUSE = 0.2


class ColocatedUpload:
    """Carries out one upload to several stores for one caller."""

    def __init__(self, settings, watcher, clock=time.monotonic,
                 sleep=time.sleep, cpu_clock=time.thread_time):
        self.settings = settings
        self.watcher = watcher
        self.clock = clock
        self.sleep = sleep
        self.cpu_clock = cpu_clock

    def run(self, glance, decision):
        """Return ``(response, outcome)``; outcome is for the log line."""
        image_id, stores = decision.image_id, decision.stores
        started = self.clock()
        with body_reads.counting(glance.environ) as (counter, body_input):
            staged = glance.stage(image_id, body_input)
        if staged.status_int not in _STAGE_OK:
            return self._stage_refused(glance, decision, staged, counter)
        try:
            response, outcome = self._import_and_wait(
                glance, image_id, stores, staged, started)
        except BaseException as exc:
            _close(staged)
            response, outcome = self._unexpected(glance, image_id, stores,
                                                 exc)
            if not isinstance(exc, Exception):
                raise
            return response, outcome
        if response is not staged:
            _close(staged)
        return response, outcome

    def _stage_refused(self, glance, decision, staged, counter):
        image_id, store = decision.image_id, decision.stores[0]
        _unmark(glance, image_id)
        if not counter.nothing_read:
            LOG.warning('glance_baseref: image %s: staging failed with %s '
                        'after %d bytes of the body were read; they cannot '
                        'be sent again, so the caller gets that answer',
                        image_id, staged.status, counter.read)
            return staged, 'staging answered %s after %d bytes' % (
                staged.status, counter.read)
        LOG.warning('glance_baseref: image %s: staging was refused before '
                    'any data was read (%s: %s); uploading it to %s only',
                    image_id, staged.status,
                    inprocess.GlanceError('stage', staged).explanation,
                    store)
        _close(staged)
        response = glance.upload(image_id, store)
        return response, 'staging refused (%s), uploaded to %s instead, ' \
            'answered %s' % (staged.status_int, store, response.status)

    def _unexpected(self, glance, image_id, stores, exc):
        """After the stage: the image goes to the watcher, the caller 500."""
        LOG.error('glance_baseref: image %s: unexpected error after its '
                  'data was staged: %s: %s', image_id, type(exc).__name__,
                  exc, exc_info=isinstance(exc, Exception))
        try:
            handed = self.watcher.watch(glance, image_id, stores,
                                        delete_when_done=True)
        except Exception:
            handed = False
        fate = ('it will be deleted once the import task of glance stops'
                if handed else 'it is left for glance-baseref-audit')
        return _failure(
            webob.exc.HTTPInternalServerError,
            'The upload of image %s into stores %s failed after its data '
            'was staged (%s); %s.' % (image_id, ', '.join(stores),
                                      type(exc).__name__, fate)), (
            'failed: %s' % type(exc).__name__)

    def _import_and_wait(self, glance, image_id, stores, staged, started):
        try:
            self._start_import(glance, image_id, stores)
        except inprocess.GlanceError as exc:
            deleted = settle.delete(glance, image_id)
            LOG.error('glance_baseref: image %s was staged but its import '
                      'into %s could not start: %s', image_id,
                      ','.join(stores), exc)
            return _failure(
                webob.exc.HTTPInternalServerError,
                'The import of image %s into stores %s could not start '
                '(%s). %s' % (image_id, ', '.join(stores), exc.status_int,
                              deleted)), 'import refused'

        respond_after = self.settings.respond_after
        if respond_after == settings_mod.STAGED:
            if self.watcher.watch(glance, image_id, stores):
                return staged, 'import accepted, glance goes on with %s' % (
                    ','.join(stores))
            respond_after = settings_mod.ALL_STORES
            LOG.info('glance_baseref: image %s: the watcher follows %d '
                     'imports already; the upload waits for its own',
                     image_id, self.watcher.capacity)
        looks = _Looks(self, image_id, respond_after)
        deadline = started + self.settings.import_timeout
        try:
            return self._wait(glance, image_id, stores, staged, deadline,
                              looks, respond_after)
        finally:
            looks.log()

    def _wait(self, glance, image_id, stores, staged, deadline, looks,
              respond_after):
        first_store = respond_after == settings_mod.FIRST_STORE
        # The last good look, if the image was active then: a look that
        # fails at the deadline must not turn a success into a 504.
        active_image = None
        while True:
            try:
                image = looks.look(glance)
            except inprocess.GlanceError as exc:
                if exc.status_int == 404:
                    return _failure(
                        webob.exc.HTTPGone,
                        'Image %s was deleted while glance imported it.'
                        % image_id), 'deleted during import'
                LOG.warning('glance_baseref: looking at image %s during its '
                            'import failed: %s', image_id, exc)
                image = None
            verdict = settle.judge(image, stores) if image else None
            if verdict is not None and verdict.state == settle.ACTIVE:
                return staged, settle.Settler.succeeded(
                    glance, image_id, image, verdict)
            if verdict is not None and verdict.state == settle.FAILED:
                fate = settle.Settler.failed(glance, image_id, stores,
                                             verdict.status)
                return _failure(
                    webob.exc.HTTPInternalServerError,
                    'Image %s could not be written to stores %s. %s'
                    % (image_id, ', '.join(verdict.failed or stores),
                       fate)), 'failed in %s' % ','.join(
                           verdict.failed or stores)
            if (first_store and verdict is not None
                    and verdict.status == 'active'
                    and self.watcher.watch(glance, image_id, stores)):
                return staged, ('active in %s, glance goes on with %s'
                                % (image.get('stores'), ','.join(stores)))
            if verdict is not None:
                active_image = image if verdict.status == 'active' else None
            if self.clock() >= deadline:
                return self._timed_out(glance, image_id, stores, staged,
                                       active_image)
            looks.pause(deadline)

    def _timed_out(self, glance, image_id, stores, staged, active_image):
        """``import_timeout`` passed; glance's import goes on.

        An image active in some stores already is what glance alone would
        have answered 204 for (a plain upload writes one store): it is
        answered so, and the watcher settles the rest. Otherwise 504, and
        the image is deleted once glance's task stops.
        """
        if active_image is not None:
            if not self.watcher.watch(glance, image_id, stores):
                LOG.error('glance_baseref: image %s: the watcher is full; '
                          'its import keeps its %s mark for '
                          'glance-baseref-audit', image_id, settle.MARK)
            LOG.warning('glance_baseref: image %s: import_timeout (%ds) '
                        'passed with the image active in %s; answered as '
                        'a success, glance goes on with %s', image_id,
                        self.settings.import_timeout,
                        active_image.get('stores'), ','.join(stores))
            return staged, ('import_timeout passed, active in %s, glance '
                            'goes on with %s' % (active_image.get('stores'),
                                                 ','.join(stores)))
        if self.watcher.watch(glance, image_id, stores,
                              delete_when_done=True):
            fate = ('The image will be deleted as soon as the import task '
                    'of glance stops.')
        else:
            fate = 'The image is left for glance-baseref-audit.'
            LOG.error('glance_baseref: image %s timed out and the watcher '
                      'is full; it keeps its %s mark for '
                      'glance-baseref-audit', image_id, settle.MARK)
        return _failure(
            webob.exc.HTTPGatewayTimeout,
            'The import of image %s into stores %s did not end within %d '
            'seconds (import_timeout). %s' % (
                image_id, ', '.join(stores), self.settings.import_timeout,
                fate)), 'timed out'

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
            if image.get(settle.LOCK):
                return
            if image.get('status') != 'uploading':
                raise inprocess.GlanceError.from_status(
                    409, 'image %s is %s after a failed import start'
                    % (image_id, image.get('status')))


def _unmark(glance, image_id):
    """The image goes on without an import: drop the filter's mark."""
    try:
        glance.remove_property(image_id, settle.MARK)
    except inprocess.GlanceError as exc:
        if exc.status_int not in (404, 409):
            LOG.warning('glance_baseref: image %s: could not remove %s: %s',
                        image_id, settle.MARK, exc)


def _close(response):
    close = getattr(response.app_iter, 'close', None)
    if close is not None:
        close()


def _failure(exc_class, message):
    return exc_class(explanation=message)


def doubling_pauses(longest):
    """Pauses between looks: 0.05 s, doubling up to ``longest``."""
    pause = min(_FIRST_POLL_SECONDS, longest)
    while True:
        yield pause
        pause = min(pause * 2, longest)


class _Looks:
    """When to look at an importing image, and what looking cost.

    The pause between looks doubles from 0.05 s up to ``poll_interval``
    (0.2 s at most while waiting for the first store). While it lasts, the
    staged file is checked every 0.05 s; once glance has removed it (its
    last step before ending the task) the pause stays at 0.05 s, for
    ``_QUICK_LOOKS_SECONDS`` at most.
    """

    def __init__(self, upload, image_id, respond_after):
        self.upload = upload
        self.image_id = image_id
        self.longest = upload.settings.poll_interval
        if respond_after == settings_mod.FIRST_STORE:
            self.longest = min(self.longest, _FIRST_STORE_POLL_SECONDS)
        self.pauses = doubling_pauses(self.longest)
        self.staged_file = stores_mod.staged_data_path(image_id)
        if self.staged_file is not None and (
                not os.path.exists(self.staged_file)
                or _plugins_unstage_early()):
            # Staged elsewhere, or a plugin removes the file long before
            # the end: no sign to watch.
            self.staged_file = None
        self.quick_until = None
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
        if self.quick_until is not None:
            if clock() < self.quick_until:
                sleep(max(0.0, min(_TICK_SECONDS, deadline - clock())))
                return
            # The staged file went long before the end: a plugin took it.
            self.quick_until = None
            self.staged_file = None
        until = min(clock() + next(self.pauses), deadline)
        while True:
            left = until - clock()
            if left <= 0:
                return
            sleep(min(left, _TICK_SECONDS) if self.staged_file else left)
            if self._staging_done():
                self.quick_until = clock() + _QUICK_LOOKS_SECONDS
                return

    def log(self):
        waited = self.upload.clock() - self.started
        if serving.green_threads():
            # thread_time() is the CPU of the whole eventlet hub there,
            # every request of the worker, not this upload's looks.
            cpu = 'CPU not measured under eventlet'
        else:
            cpu = '%.4fs of CPU for them' % self.cpu
        LOG.debug('glance_baseref: image %s: %d looks at the image and %s '
                  'in %.3fs of waiting (%.1f looks a second)', self.image_id,
                  self.count, cpu, waited,
                  self.count / waited if waited > 0 else 0.0)


def _plugins_unstage_early():
    """Whether glance's import plugins remove the staged file early."""
    try:
        plugins = cfg.CONF.image_import_opts.image_import_plugins
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
        return False  # outside glance, or not registered in this process
    return any(p in _EARLY_UNSTAGING_PLUGINS for p in plugins or ())
