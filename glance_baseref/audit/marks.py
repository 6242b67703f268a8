"""Images the filter handed to an import and that have not settled.

The filter sets ``baseref_import`` = ``"<UTC time> <node>"`` on every image
it hands to a glance-direct import, before the data is staged, and removes
it when the image settles (or deletes the image when the import failed).
A mark that stays behind means a glance-api worker stopped in the middle:
a crash, a kill, a recycle. :func:`judge` says what such an image is, from
the image, its import tasks and the clock, by glance's own rules
(glance 33, ``_enforce_import_lock`` and ``import_image``):

- glance holds an import lock while its task exists and was updated less
  than 60 minutes ago (120 while the task is ``pending``); the next import
  request takes a lock older than that;
- ``glance-direct`` is refused unless the image is ``uploading``, and that
  check comes before the lock's, so an image left ``importing`` cannot be
  finished through the API at all.

Pure: no I/O here; :mod:`.scan` reads, :mod:`.repair` acts.
"""

import dataclasses
import datetime

#: The image property the filter sets; see the module docstring.
MARK_PROPERTY = 'baseref_import'
IMPORT_TASK_KEY = 'os_glance_import_task'
LOCK_EXPIRY = datetime.timedelta(minutes=60)
PENDING_LOCK_EXPIRY = LOCK_EXPIRY * 2
#: How long a marked image with no import task yet may stay before the
#: tool calls it abandoned: the filter marks, then stages, then imports;
#: the same hour glance gives a lock.
UNSTARTED_EXPIRY = LOCK_EXPIRY

IN_PROGRESS = 'in progress'
MARK_LEFT = 'mark left'
REVERTED = 'reverted'
STUCK = 'stuck'

_SETTLED_STATUSES = ('active', 'deactivated')
_REVERTED_STATUSES = ('queued', 'killed')


@dataclasses.dataclass(frozen=True)
class Mark:
    """One marked image, judged.

    ``state`` is :data:`IN_PROGRESS` (leave it), :data:`MARK_LEFT` (the
    import ended; only the mark remains), :data:`REVERTED` (glance put it
    back to ``queued``: nothing is stored) or :data:`STUCK` (importing or
    uploading with no live task: no API call finishes it).
    """

    image_id: str
    status: str
    state: str
    lock: bool
    task_status: str = None
    idle: int = None            # seconds since the task's updated_at
    marked_at: str = None
    node: str = None
    detail: str = ''
    base_ref: str = None

    def as_dict(self):
        return dataclasses.asdict(self)


def parse_time(text):
    """An aware UTC datetime from glance's or the mark's ISO 8601, or None."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def parse_mark(value):
    """``(time or None, node or None)`` from the property's value."""
    if not isinstance(value, str):
        return None, None
    when, _, node = value.strip().partition(' ')
    return parse_time(when), (node.strip() or None)


def import_task(tasks, lock):
    """The task that holds ``lock``, else the newest one, else None."""
    tasks = [t for t in tasks or () if isinstance(t, dict)]
    for task in tasks:
        if lock and task.get('id') == lock:
            return task
    if not tasks:
        return None
    return max(tasks, key=lambda t: (parse_time(t.get('created_at'))
                                     or datetime.datetime.min.replace(
                                         tzinfo=datetime.timezone.utc)))


def lock_expiry(task_status):
    return PENDING_LOCK_EXPIRY if task_status == 'pending' else LOCK_EXPIRY


def lock_held(image, task, now):
    """Whether glance would refuse another import for the lock's sake."""
    lock = image.get(IMPORT_TASK_KEY)
    if not lock or task is None or task.get('id') != lock:
        return False
    updated = parse_time(task.get('updated_at'))
    if updated is None:
        return True     # glance would compare a real time; do not guess
    return now - updated < lock_expiry(task.get('status'))


def judge(image, tasks, now):
    """The :class:`Mark` of a marked ``image``, given its ``tasks``."""
    lock = image.get(IMPORT_TASK_KEY)
    task = import_task(tasks, lock)
    marked_at, node = parse_mark(image.get(MARK_PROPERTY))
    updated = parse_time(task.get('updated_at')) if task else None
    idle = (now - updated) if updated else None
    status = image.get('status')
    facts = dict(image_id=image['id'], status=status, lock=bool(lock),
                 task_status=task.get('status') if task else None,
                 idle=int(idle.total_seconds()) if idle else None,
                 marked_at=marked_at.strftime('%Y-%m-%dT%H:%M:%SZ')
                 if marked_at else image.get(MARK_PROPERTY),
                 node=node, base_ref=image.get('base_image_ref'))
    if lock_held(image, task, now):
        left = lock_expiry(task.get('status')) - idle if idle else None
        return Mark(state=IN_PROGRESS, detail=(
            'glance holds the import lock (task %s %s%s)'
            % (task.get('id'), task.get('status'),
               ', %d min left before it expires' % (left.total_seconds()
                                                    // 60)
               if left else '')), **facts)
    if status in _SETTLED_STATUSES:
        return Mark(state=MARK_LEFT, detail=(
            'the import ended; only the mark is left'), **facts)
    young = (task is None and marked_at is not None
             and now - marked_at < UNSTARTED_EXPIRY)
    if young:
        return Mark(state=IN_PROGRESS, detail=(
            'marked %d min ago, no import task yet: the upload may still '
            'be staging' % ((now - marked_at).total_seconds() // 60)),
            **facts)
    if status in _REVERTED_STATUSES:
        return Mark(state=REVERTED, detail=(
            'glance put the image back to %s: no store holds its data'
            % status), **facts)
    where = node or 'the node that staged it'
    task_words = (' (task %s %s)' % (task.get('id'), task.get('status'))
                  if task else '')
    if status == 'uploading':
        why = ('uploading with no import task%s: the stage ended or was '
               'cut off on %s; an import would take whatever is staged '
               'there, which may be partial, so the tool leaves it'
               % (task_words, where))
    else:
        why = ('%s with no live import task%s: glance-direct needs an '
               'uploading image and the import lock is checked after '
               "that, so glance's API alone cannot finish it; its staged "
               'data is on %s' % (status, task_words, where))
    return Mark(state=STUCK, detail=why, **facts)
