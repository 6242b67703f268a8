"""Judging an import and settling the image: the rules, once.

Both the upload that waits for glance (:mod:`glance_baseref.colocate`) and
the watcher that follows imports nobody waits for any more
(:mod:`glance_baseref.watcher`) judge an image with :func:`judge` and
settle it with :class:`Settler`:

* the import has ended when glance's lock, ``os_glance_import_task``, is
  gone; ``active`` alone can come after the first store;
* ended and active: a success; stores that failed are a WARNING, and the
  filter's mark (:data:`MARK`) is removed;
* ended and not active (``queued`` when glance reverted it, or stuck
  ``importing``): a failure; the image is deleted, with its staged data.
  Cinder's clean-up would delete a ``queued`` image too, but an uploader
  told 204 (``respond_after`` other than ``all_stores``) never looks again;
* an import whose task stopped making progress without ending (see
  :func:`task_alive`) is settled the same way, from the last good look.
"""

import dataclasses
import datetime
import logging
import socket

from glance_baseref import inprocess
from glance_baseref import stage_host
from glance_baseref import stores as stores_mod

LOG = logging.getLogger(__name__)

#: The property the filter sets on every image it hands to an import,
#: "<UTC time> <node>", and removes once the image has settled; after a
#: crash it is how glance-baseref-audit finds the work again.
MARK = 'baseref_import'
LOCK = 'os_glance_import_task'
_RUNNING_TASK = ('pending', 'processing')

RUNNING = 'running'
ACTIVE = 'active'
FAILED = 'failed'
GONE = 'gone'


@dataclasses.dataclass(frozen=True)
class Verdict:
    state: str
    status: str = ''
    written: tuple = ()
    failed: tuple = ()


def judge(image, stores):
    """What an import into ``stores`` looks like in ``image`` (None: 404)."""
    if image is None:
        return Verdict(GONE)
    status = image.get('status') or ''
    if image.get(LOCK):
        return Verdict(RUNNING, status)
    written = tuple(stores_mod.stores_of(image, 'stores'))
    failed = tuple(stores_mod.stores_of(image, 'os_glance_failed_import')
                   or [s for s in stores if s not in written])
    return Verdict(ACTIVE if status == 'active' else FAILED, status,
                   written, failed)


def mark_value(now=None):
    """The value of :data:`MARK` for an import handed on now, here."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    node = stage_host.self_url() or socket.gethostname()
    return '%s %s' % (now.strftime('%Y-%m-%dT%H:%M:%SZ'), node)


def task_alive(glance, image_id, idle_limit, now=None):
    """Whether glance's newest import task of the image still works.

    Glance refreshes a task's ``updated_at`` while it copies data; a task
    that ended, or has not moved for ``idle_limit`` seconds, no longer
    writes (glance itself takes such a lock after 60 minutes). When the
    tasks cannot be read the task is taken as alive: watching goes on.
    """
    try:
        tasks = glance.image_tasks(image_id).get('tasks', [])
    except inprocess.GlanceError:
        return True
    if not tasks:
        return True
    newest = max(tasks, key=lambda t: t.get('created_at') or '')
    if newest.get('status') not in _RUNNING_TASK:
        return False
    updated = _parse_time(newest.get('updated_at') or newest.get(
        'created_at'))
    if updated is None:
        return True
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (now - updated).total_seconds() < idle_limit


def _parse_time(text):
    if not text:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


def task_message(glance, image_id):
    """The newest task of the image, for log lines."""
    try:
        tasks = glance.image_tasks(image_id).get('tasks', [])
    except inprocess.GlanceError as exc:
        return 'task unknown: %s' % exc
    if not tasks:
        return 'no task message'
    newest = max(tasks, key=lambda t: t.get('created_at') or '')
    return 'task %s %s: %s' % (newest.get('id'), newest.get('status'),
                               newest.get('message') or 'no message')


class Settler:
    """Carries out what a verdict means for the image."""

    @staticmethod
    def succeeded(glance, image_id, image, verdict):
        """An active image: remove the mark, warn about failed stores."""
        if verdict.failed:
            LOG.warning('glance_baseref: image %s was not written to stores '
                        '%s (%s); it is active in %s', image_id,
                        ','.join(verdict.failed),
                        task_message(glance, image_id),
                        ','.join(verdict.written))
        if image is not None and MARK in image:
            try:
                glance.remove_property(image_id, MARK)
            except inprocess.GlanceError as exc:
                LOG.warning('glance_baseref: image %s is active but its '
                            'mark %s could not be removed: %s', image_id,
                            MARK, exc)
        return 'active in %s%s' % (
            ','.join(verdict.written),
            ', failed in %s' % ','.join(verdict.failed)
            if verdict.failed else '')

    @staticmethod
    def failed(glance, image_id, stores, status, why=''):
        """An image that will not become active: delete it."""
        LOG.error('glance_baseref: image %s could not be written to stores '
                  '%s (%s%s); it is %s, deleting it', image_id,
                  ','.join(stores), task_message(glance, image_id), why,
                  status)
        return delete(glance, image_id)

    @staticmethod
    def answered_as_failed(glance, image_id, verdict):
        """Active, but its upload was answered with an error: delete it.

        The uploader was told it failed (504, 500) and cleans up, or
        tries again, as after any failed upload.
        """
        LOG.error('glance_baseref: image %s is active in %s, but its upload '
                  'was answered with an error; deleting it', image_id,
                  ','.join(verdict.written))
        return delete(glance, image_id)


def delete(glance, image_id):
    try:
        glance.delete_image(image_id)
    except inprocess.GlanceError as exc:
        LOG.error('glance_baseref: could not delete image %s: %s',
                  image_id, exc)
        return 'Deleting the image failed; it must be deleted by hand.'
    LOG.info('glance_baseref: deleted image %s and its staged data',
             image_id)
    return 'The image was deleted, with its staged data.'
