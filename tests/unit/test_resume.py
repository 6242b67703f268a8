"""resume_imports: a glance-direct request finishes a dead import."""

import json
import logging

from oslo_config import cfg
import pytest

from glance_baseref import resume
from tests.unit import pipeline as pl
from tests.unit.test_colocated import STALE_TASK

GLANCE_DIRECT = b'{"method": {"name": "glance-direct"}}'
DEAD = {'status': 'importing', 'os_glance_import_task': 'task-1',
        'os_glance_importing_to_stores': 'cheap,cold',
        'os_glance_failed_import': '',
        'baseref_import': '2026-12-04T19:00:00Z node-a'}


@pytest.fixture
def staged_here(global_conf, tmp_path):
    global_conf.register_opt(cfg.StrOpt('filesystem_store_datadir'),
                             group='os_glance_staging_store')
    global_conf.set_override('filesystem_store_datadir', str(tmp_path),
                             group='os_glance_staging_store')
    (tmp_path / pl.TARGET).write_bytes(b'staged')
    return tmp_path


@pytest.fixture
def reset(monkeypatch, fake):
    """glance's image repository, as far as the resume uses it."""
    done = []

    def back_to_uploading(context, image_id):
        image = fake.images[image_id]
        if image['status'] != 'importing':
            raise resume.CannotResume(image['status'])
        for name in ('os_glance_import_task', 'os_glance_importing_to_stores',
                     'os_glance_failed_import'):
            image.pop(name, None)
        image['status'] = 'uploading'
        done.append((context, image_id))
    monkeypatch.setattr(resume, 'back_to_uploading', back_to_uploading)
    return done


def _dead(fake, **changes):
    fake.images[pl.TARGET].update(DEAD, **changes)
    fake.tasks[pl.TARGET] = STALE_TASK


def test_dead_import_is_resumed_into_the_stores_left(
        make_pipeline, staged_here, reset, caplog):
    pipeline = make_pipeline(resume_imports='true')
    fake = pipeline.fake
    _dead(fake)
    fake.progress[pl.TARGET] = [{'status': 'active', 'stores': 'cheap,cold',
                                 'os_glance_import_task': None}]

    response = pipeline.import_(GLANCE_DIRECT, base=None)
    pl.join_watchers([pipeline.filter])

    assert response.status_int == 202
    assert reset == [(pipeline.context, pl.TARGET)]
    posted, = fake.find('POST', pl.IMPORT_PATH)
    assert json.loads(posted.body) == {
        'method': {'name': 'glance-direct'}, 'stores': ['cheap', 'cold'],
        'all_stores_must_succeed': False}
    # The caller's right to modify the image was tried first, as the
    # caller; the watcher removed the mark once the image was active.
    assert fake.find('PATCH')[0].context is pipeline.context
    assert 'baseref_import' not in fake.images[pl.TARGET]
    assert any('resumed the import that a dead worker left, into cheap,cold'
               in m for m in pl.messages(caplog, logging.WARNING))


@pytest.mark.parametrize('why,change', [
    ('its import task still works', lambda f: f.tasks.pop(pl.TARGET)),
    ('it is in fast already',
     lambda f: f.images[pl.TARGET].update(stores='fast')),
    ('no store is left to write',
     lambda f: f.images[pl.TARGET].update(
         os_glance_importing_to_stores='')),
])
def test_live_or_written_imports_are_not_resumed(
        make_pipeline, staged_here, reset, caplog, why, change):
    pipeline = make_pipeline(resume_imports='true')
    _dead(pipeline.fake)
    change(pipeline.fake)

    pipeline.import_(GLANCE_DIRECT, base=None)

    assert reset == []
    posted, = pipeline.fake.find('POST', pl.IMPORT_PATH)
    assert posted.body == GLANCE_DIRECT
    assert any('not resumed: %s' % why in m for m in pl.messages(caplog))


def test_staged_elsewhere_is_not_resumed_here(make_pipeline, global_conf,
                                              tmp_path, reset, caplog):
    global_conf.register_opt(cfg.StrOpt('filesystem_store_datadir'),
                             group='os_glance_staging_store')
    global_conf.set_override('filesystem_store_datadir', str(tmp_path),
                             group='os_glance_staging_store')
    pipeline = make_pipeline(resume_imports='true')
    _dead(pipeline.fake)

    pipeline.import_(GLANCE_DIRECT, base=None)

    assert reset == []
    assert any("its staged data is not on this node (marked "
               "'2026-12-04T19:00:00Z node-a')" in m
               for m in pl.messages(caplog))


def test_caller_who_may_not_modify_the_image_gets_glance_answer(
        make_pipeline, staged_here, reset):
    pipeline = make_pipeline(resume_imports='true')
    _dead(pipeline.fake)
    pipeline.fake.answers['patch'] = 403

    pipeline.import_(GLANCE_DIRECT, base=None)

    assert reset == []
    posted, = pipeline.fake.find('POST', pl.IMPORT_PATH)
    assert posted.body == GLANCE_DIRECT


def test_off_by_default_and_unmarked_images_pass(make_pipeline,
                                                 staged_here, reset):
    pipeline = make_pipeline()
    _dead(pipeline.fake)
    pipeline.import_(GLANCE_DIRECT, base=None)
    assert pipeline.fake.lines() == ['POST ' + pl.IMPORT_PATH]

    pipeline = make_pipeline(resume_imports='true')
    pipeline.fake.seen.clear()
    pipeline.fake.images[pl.TARGET].pop('baseref_import')
    pipeline.import_(GLANCE_DIRECT, base=None)
    assert reset == []
