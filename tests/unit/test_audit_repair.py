"""The repair of one image, around a fake glanceclient that records calls.

The end-to-end tests run the same paths on real glance; these pin the
decisions that are hard to time there: an image fixed between the scan and
its repair, an import already running, a store glance failed to write.
"""

import datetime

from glanceclient import exc as glance_exc

from glance_baseref.audit import findings
from glance_baseref.audit import marks
from glance_baseref.audit import output
from glance_baseref.audit import repair
from tests.unit.audit_fakes import FakeConnection
from tests.unit.test_audit_output import Terminal

IMAGE = '1f0e9c2d-0000-4000-8000-000000000002'
NOW = datetime.datetime(2026, 12, 4, 19, 0, tzinfo=datetime.timezone.utc)


class FakeImages:
    """``client.images`` whose answers come from a list of image states."""

    def __init__(self, states, on_import=None):
        self.states = list(states)
        self.on_import = on_import
        self.imports = []

    def get(self, image_id):
        state = self.states.pop(0) if len(self.states) > 1 \
            else self.states[0]
        if isinstance(state, Exception):
            raise state
        return dict(state, id=image_id)

    def get_associated_image_tasks(self, image_id):
        return {'tasks': [dict(id='t', status='processing',
                               updated_at=NOW.isoformat())]}

    def image_import(self, image_id, method, stores=(), allow_failure=True):
        self.imports.append((image_id, method, tuple(stores),
                             allow_failure))
        if self.on_import:
            raise self.on_import


def finding(missing=('cheap', 'cold')):
    return findings.Finding(image_id=IMAGE, base_ref='b', missing=missing)


def run(states, on_import=None, missing=('cheap', 'cold')):
    images = FakeImages(states, on_import)
    repairer = repair.Repairer(FakeConnection(images), timeout=5,
                               sleep=lambda _s: None, now=lambda: NOW)
    return repairer.repair(finding(missing)), images.imports


def active(stores, **extra):
    return dict(status='active', stores=stores, **extra)


def importing(stores):
    return active(stores, os_glance_import_task='t',
                  os_glance_importing_to_stores='cheap,cold')


def test_copies_the_missing_stores_and_judges_by_what_glance_says():
    outcome, imports = run([active('fast'), importing('fast'),
                            active('fast,cheap,cold')])
    assert imports == [(IMAGE, 'copy-image', ('cheap', 'cold'), True)]
    assert (outcome.result, outcome.copied) == ('copied', ('cheap', 'cold'))


def test_an_image_fixed_since_the_scan_is_skipped():
    outcome, imports = run([active('fast,cheap,cold')])
    assert imports == []
    assert outcome.result == 'already fixed'


def test_only_the_stores_still_missing_are_asked_for():
    outcome, imports = run([active('fast,cheap'), active('fast,cheap,cold')])
    assert imports[0][2] == ('cold',)
    assert outcome.copied == ('cold',)


def test_a_running_import_is_waited_for_first():
    outcome, imports = run([importing('fast'), active('fast,cheap,cold')])
    assert imports == [] and outcome.result == 'already fixed'


def test_failed_stores_are_reported_with_glance_words():
    outcome, _ = run([active('fast'), active(
        'fast,cheap', os_glance_failed_import='cold')])
    assert (outcome.result, outcome.copied, outcome.failed) == (
        'partly copied', ('cheap',), ('cold',))
    assert outcome.detail == 'glance reports failed stores: cold'
    outcome, _ = run([active('fast'), active('fast')])
    assert outcome.result == 'failed'


def test_a_conflict_at_start_waits_and_judges_the_stores():
    outcome, _ = run([active('fast'), active('fast,cheap,cold')],
                     on_import=glance_exc.HTTPConflict())
    assert outcome.result == 'copied'


def test_a_403_names_the_policy_and_the_token_and_stops_the_others():
    images = FakeImages([active('fast')], glance_exc.HTTPForbidden())
    repairer = repair.Repairer(FakeConnection(images), timeout=5,
                               sleep=lambda _s: None, now=lambda: NOW)
    first, second = repairer.run([finding(), finding()])
    assert first.result == 'error'
    assert first.detail.startswith(
        "glance's policy refused copy-image for this token (project p1, "
        "roles member, reader): HTTP 403")
    assert second.result == 'not tried' and len(images.imports) == 1


def test_a_stale_lock_is_not_waited_for():
    """Its task died 61 minutes ago: the copy-image request takes it."""
    images = FakeImages([importing('fast'), importing('fast'),
                         active('fast,cheap,cold')])
    died = NOW - datetime.timedelta(minutes=61)
    # Until the copy starts, the lock's task is the dead one; then ours.
    images.get_associated_image_tasks = lambda _i: {'tasks': [dict(
        id='t', status='processing', updated_at=(
            NOW if images.imports else died).isoformat())]}
    repairer = repair.Repairer(FakeConnection(images), timeout=5,
                               sleep=lambda _s: None, now=lambda: NOW)
    outcome = repairer.repair(finding())
    assert images.imports == [(IMAGE, 'copy-image', ('cheap', 'cold'),
                               True)]
    assert outcome.result == 'copied'


def test_an_image_not_active_is_skipped():
    outcome, imports = run([dict(status='deactivated', stores='fast')])
    assert imports == [] and outcome.result == 'skipped'


def test_an_image_deleted_while_copying_is_gone():
    outcome, _ = run([active('fast'), glance_exc.HTTPNotFound()])
    assert (outcome.result, outcome.detail) == ('gone',
                                                'the image was deleted')


def test_an_import_that_never_ends_times_out():
    images = FakeImages([active('fast'), importing('fast')])
    ticks = iter(range(0, 1000, 10))
    repairer = repair.Repairer(FakeConnection(images), timeout=5,
                               clock=lambda: next(ticks),
                               sleep=lambda _s: None, now=lambda: NOW)
    outcome = repairer.repair(finding())
    assert (outcome.result, outcome.detail) == (
        'error', 'the import did not end within 5s')


def test_dry_run_starts_nothing():
    images = FakeImages([active('fast')])
    repairer = repair.Repairer(FakeConnection(images))
    outcomes = repairer.run([finding(), finding(missing=())], dry_run=True)
    assert [o.result for o in outcomes] == ['would copy']
    assert images.imports == []


def test_progress_names_the_running_copy_and_counts_the_done():
    stream = Terminal()
    images = FakeImages([active('fast'), importing('fast'),
                         active('fast,cheap,cold')])
    repairer = repair.Repairer(FakeConnection(images),
                               progress=output.Progress(stream),
                               sleep=lambda _s: None, now=lambda: NOW)
    (outcome,) = repairer.run([finding()])
    assert outcome.result == 'copied'
    drawn = stream.getvalue()
    assert '0/1 images repaired; 1f0e9c2d copying to cheap,cold' in drawn
    assert '1f0e9c2d importing to cheap,cold' in drawn
    assert drawn.rstrip(' ').endswith('1/1 images repaired')


DEAD_IMPORT = dict(status='importing', os_glance_import_task='t',
                   os_glance_importing_to_stores='cheap,cold',
                   baseref_import='2026-12-04T17:00:00Z http://node-a:9292')


class DeadTask(FakeImages):
    def get_associated_image_tasks(self, image_id):
        return {'tasks': [dict(id='t', status='processing',
                               updated_at='2026-12-04T17:01:00Z')]}


def settle_dead(on_import=None, dry_run=False):
    images = DeadTask([DEAD_IMPORT], on_import)
    connection = FakeConnection(images)
    repairer = repair.Repairer(connection, timeout=5,
                               sleep=lambda _s: None, now=lambda: NOW)
    mark = marks.judge(dict(DEAD_IMPORT, id=IMAGE),
                       images.get_associated_image_tasks(IMAGE)['tasks'],
                       NOW)
    outcome, = repairer.settle([mark], dry_run=dry_run)
    return outcome, images.imports, connection.endpoints


def test_a_dead_import_is_sent_to_the_node_that_staged_it():
    outcome, imports, endpoints = settle_dead()
    assert outcome.result == 'resumed'
    assert imports == [(IMAGE, 'glance-direct', (), True)]
    # The repair went to the node the mark names, where the data is.
    assert endpoints[-1] == 'http://node-a:9292'


def test_a_node_that_does_not_resume_leaves_it_stuck():
    outcome, imports, _ = settle_dead(glance_exc.HTTPConflict('409'))
    assert outcome.result == marks.STUCK
    assert 'did not resume it' in outcome.detail
    assert 'resume_imports is off there' in outcome.detail


def test_dry_run_only_says_it_would_resume():
    outcome, imports, _ = settle_dead(dry_run=True)
    assert outcome.result == 'would resume'
    assert imports == []


def test_a_resume_is_left_running_so_the_exit_status_is_1():
    for dry_run in (False, True):
        outcome = settle_dead(dry_run=dry_run)[0]
        assert outcome.result in repair.UNFIXED_RESULTS
        assert outcome.result not in repair.ERROR_RESULTS
