"""Images the filter marked (baseref_import) and that did not settle:
each state as data, then what repair does with it, around a fake glance.
"""

import datetime

import pytest
from glanceclient import exc as glance_exc

from glance_baseref.audit import marks
from glance_baseref.audit import repair
from tests.unit.audit_fakes import FakeConnection

IMAGE = '2a0e9c2d-0000-4000-8000-000000000003'
NOW = datetime.datetime(2026, 12, 4, 19, 0, tzinfo=datetime.timezone.utc)


def ago(minutes):
    return (NOW - datetime.timedelta(minutes=minutes)).strftime(
        '%Y-%m-%dT%H:%M:%SZ')


def image(status, lock=False, marked=ago(300), stores=''):
    found = dict(id=IMAGE, status=status, stores=stores,
                 baseref_import='%s node-2' % marked)
    if lock:
        found['os_glance_import_task'] = 'task-1'
    return found


def task(status='processing', idle=1):
    return dict(id='task-1', status=status, updated_at=ago(idle),
                created_at=ago(400))


# One row per rule of doc/audit.md's "Imports that did not settle".
STATES = [
    ('importing, lock, task updated 1 min ago', image('importing', True),
     [task()], marks.IN_PROGRESS),
    ('importing, lock, task idle 59 min', image('importing', True),
     [task(idle=59)], marks.IN_PROGRESS),
    ('importing, lock, task idle 61 min', image('importing', True),
     [task(idle=61)], marks.STUCK),
    ('importing, lock, pending task idle 119 min', image('importing', True),
     [task('pending', idle=119)], marks.IN_PROGRESS),
    ('importing, lock, pending task idle 121 min', image('importing', True),
     [task('pending', idle=121)], marks.STUCK),
    ('importing, lock, task gone', image('importing', True), [],
     marks.STUCK),
    ('importing, no lock', image('importing'), [task('failure', 200)],
     marks.STUCK),
    ('uploading, no task, marked 5 h ago', image('uploading'), [],
     marks.STUCK),
    ('uploading, no task, marked 5 min ago (staging)',
     image('uploading', marked=ago(5)), [], marks.IN_PROGRESS),
    ('queued, marked 5 min ago, no task (about to stage)',
     image('queued', marked=ago(5)), [], marks.IN_PROGRESS),
    ('queued, import failed (glance reverted)', image('queued'),
     [task('failure', 200)], marks.REVERTED),
    ('killed', image('killed'), [], marks.REVERTED),
    ('active, no lock', image('active', stores='fast'),
     [task('success', 200)], marks.MARK_LEFT),
    ('active, lock of a live task (more stores)',
     image('active', True, stores='fast'), [task()], marks.IN_PROGRESS),
    ('active, lock of a task dead 2 h', image('active', True,
                                              stores='fast'),
     [task(idle=120)], marks.MARK_LEFT),
    ('an unreadable mark counts as old', image('queued', marked='soon'),
     [], marks.REVERTED),
]


@pytest.mark.parametrize('the_image,tasks,state',
                         [row[1:] for row in STATES],
                         ids=[row[0] for row in STATES])
def test_state(the_image, tasks, state):
    assert marks.judge(the_image, tasks, NOW).state == state


def test_the_mark_its_task_and_idle_time_are_reported():
    found = marks.judge(image('importing', True, marked=ago(75)),
                        [task(idle=70)], NOW)
    assert (found.status, found.lock, found.task_status, found.idle,
            found.marked_at, found.node) == (
        'importing', True, 'processing', 4200, ago(75), 'node-2')
    assert "glance's API alone cannot finish it" in found.detail
    assert 'node-2' in found.detail


def test_an_uploading_image_is_stuck_because_its_stage_may_be_partial():
    found = marks.judge(image('uploading'), [], NOW)
    assert found.state == marks.STUCK
    assert found.detail.startswith(
        'uploading with no import task: the stage ended or was cut off on '
        'node-2; an import would take whatever is staged there, which may '
        'be partial')


def test_the_lock_holder_is_the_task_named_by_the_lock():
    tasks = [dict(task(idle=1), id='newer', created_at=ago(1)),
             task(idle=90)]
    found = marks.judge(image('importing', True), tasks, NOW)
    assert (found.state, found.idle) == (marks.STUCK, 5400)


class FakeImages:
    """One marked image on a recording fake glance."""

    def __init__(self, state, tasks=()):
        self.state = state
        self.tasks = list(tasks)
        self.calls = []
        self.refuse = None

    def get(self, image_id):
        if self.state is None:
            raise glance_exc.HTTPNotFound()
        return dict(self.state)

    def get_associated_image_tasks(self, image_id):
        return {'tasks': self.tasks}

    def update(self, image_id, remove_props=()):
        self.calls.append(('update', image_id, tuple(remove_props)))
        if self.refuse:
            raise self.refuse

    def delete(self, image_id):
        self.calls.append(('delete', image_id))
        if self.refuse:
            raise self.refuse

    def image_import(self, image_id, method, **kwargs):
        self.calls.append(('import', image_id, method))
        # glance alone, or a filter without resume_imports
        raise glance_exc.HTTPConflict('Image needs to be staged')


def settle(state, tasks=(), dry_run=False, refuse=None):
    images = FakeImages(state, tasks)
    images.refuse = refuse
    repairer = repair.Repairer(FakeConnection(images), now=lambda: NOW)
    found = marks.judge(state, tasks, NOW) if state else marks.Mark(
        IMAGE, 'active', marks.MARK_LEFT, False)
    (outcome,) = repairer.settle([found], dry_run)
    return outcome, images.calls


def test_a_mark_left_on_an_active_image_is_removed():
    outcome, calls = settle(image('active', stores='fast'))
    assert calls == [('update', IMAGE, ('baseref_import',))]
    assert outcome.result == 'mark removed'


def test_a_reverted_image_is_deleted():
    outcome, calls = settle(image('queued'), [task('failure', 200)])
    assert calls == [('delete', IMAGE)]
    assert outcome.result == 'deleted' and 'queued' in outcome.detail


def test_an_import_in_progress_is_left_alone():
    outcome, calls = settle(image('importing', True), [task()])
    assert calls == [] and outcome.result == marks.IN_PROGRESS


def test_a_stuck_import_is_kept_and_named_with_its_node():
    outcome, calls = settle(image('importing', True), [task(idle=61)])
    # Asked to resume first; glance refused, so it stays stuck.
    assert calls == [('import', IMAGE, 'glance-direct')]
    assert outcome.result == marks.STUCK
    assert 'node-2' in outcome.detail
    assert marks.STUCK in repair.ERROR_RESULTS


def test_dry_run_says_what_it_would_do_and_does_nothing():
    removed, calls = settle(image('active'), dry_run=True)
    deleted, more = settle(image('queued'), [task('failure', 200)],
                           dry_run=True)
    assert (removed.result, deleted.result, calls, more) == (
        'would remove mark', 'would delete', [], [])


def test_the_state_is_read_again_before_acting():
    """Settled since the scan: the filter removed its mark."""
    state = image('active')
    del state['baseref_import']
    outcome, calls = settle(state)
    assert calls == [] and outcome.result == 'settled'


def test_a_403_names_the_token():
    outcome, _ = settle(image('queued'), [task('failure', 200)],
                        refuse=glance_exc.HTTPForbidden())
    assert outcome.result == 'error'
    assert "glance's policy refused it for this token (project p1, " \
        "roles member, reader)" in outcome.detail


def test_gone_since_the_scan():
    outcome, calls = settle(None)
    assert (outcome.result, calls) == ('gone', [])
