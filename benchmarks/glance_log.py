"""When glance began and ended an import, to the millisecond, from its log.

Glance's own timestamps (``updated_at``, the task's ``updated_at``) have a
resolution of one second, too coarse to tell whether an answer came within
0.25 s of an import's end, and polling the image from outside adds the
polling interval and load on the server that is measured. Glance's log
lines carry milliseconds (oslo.log: ``asctime.msecs``), in the same wall
clock as :func:`time.time` on this machine. Two INFO lines of glance 33
bracket an import:

* ``Task [<task>] status changing from pending to processing``: the
  import task starts, right after glance accepted ``POST .../import``
  (staging is over);
* ``<task> of api_image_import completed``: logged by the flow's last step
  right after it dropped the import lock, i.e. after the image lost
  ``os_glance_import_task``, which is what the filter (and any client)
  looks for as the end. The line follows the database write by well under
  a millisecond of Python code, so an answer measured against it is late
  by at most that much more than it really is.

A copy-image import logs the same two lines.
"""

import re
import time

_STAMP = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) ')


class ImportNotLogged(RuntimeError):
    """Glance did not log the line in time (failed or unfinished import)."""


def _stamp(line):
    match = _STAMP.match(line)
    if match is None:
        return None
    local = time.strptime(match.group(1), '%Y-%m-%d %H:%M:%S')
    return time.mktime(local) + int(match.group(2)) / 1000.0


def find(path, text):
    """Wall-clock time of the first log line containing ``text``, or None."""
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                if text in line:
                    return _stamp(line)
    except FileNotFoundError:
        return None
    return None


def started_text(task_id):
    return 'Task [%s] status changing from pending to processing' % task_id


def completed_text(task_id):
    return '%s of api_image_import completed' % task_id


def failed_text(task_id):
    return 'Task [%s] status changing from processing to failure' % task_id


def import_times(path, task_id, timeout=3600, interval=0.1, check=None,
                 check_every=5.0):
    """``(started, ended)`` wall-clock times of one import task.

    Waits for the completion line, reading the log every ``interval``
    seconds (reading a file costs the server nothing). A failed task
    raises at once. ``check``, when given, is called every
    ``check_every`` seconds while waiting and may raise to give up.
    """
    deadline = time.monotonic() + timeout
    next_check = time.monotonic() + check_every
    while True:
        if check is not None and time.monotonic() >= next_check:
            check()
            next_check = time.monotonic() + check_every
        ended = find(path, completed_text(task_id))
        if ended is not None:
            return find(path, started_text(task_id)), ended
        if find(path, failed_text(task_id)) is not None:
            raise ImportNotLogged('%s: import task %s failed'
                                  % (path, task_id))
        if time.monotonic() > deadline:
            raise ImportNotLogged('%s: no line "%s" within %ss'
                                  % (path, completed_text(task_id), timeout))
        time.sleep(interval)
