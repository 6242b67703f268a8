"""Several usable stores: stage the upload, import it, wait, answer."""

import json
import logging
import threading

from oslo_config import cfg
import pytest

from glance_baseref import inprocess
from glance_baseref import settle

from tests.unit import fake_glance
from tests.unit import pipeline as pl

TARGET_PATH = '/v2/images/%s' % pl.TARGET
TASK = {'status': 'importing', 'os_glance_import_task': 'task-1'}
WATCHER = 'glance-baseref-watch-'


def ended(**image):
    """The image once glance's import task is over."""
    return dict(image, os_glance_import_task=fake_glance.GONE)


def polls(fake, thread=None):
    """GETs of the target image after the import was asked for."""
    lines = fake.lines()
    if 'POST ' + pl.IMPORT_PATH not in lines:
        return []
    after = fake.seen[lines.index('POST ' + pl.IMPORT_PATH) + 1:]
    return [s for s in after if s.line == 'GET ' + TARGET_PATH
            and (thread is None or s.thread.startswith(thread))]


def import_body(fake):
    posted, = fake.find('POST', pl.IMPORT_PATH)
    return json.loads(posted.body)


@pytest.mark.parametrize('must_succeed', [False, True])
def test_several_stores_are_staged_then_imported(make_pipeline, caplog,
                                                 must_succeed):
    pipeline = make_pipeline(all_stores_must_succeed=str(must_succeed))
    fake = pipeline.fake
    fake.progress[pl.TARGET] = [
        TASK, dict(TASK, status='active', stores='fast'),
        ended(status='active', stores='fast,cheap')]

    response = pipeline.upload()

    assert response.status_int == 204
    assert response.headers['X-Fake-Glance'] == 'stage'
    assert fake.lines() == [
        'GET /v2/info/stores', 'GET /v2/info/import',
        'GET /v2/images/%s' % pl.BASE, 'GET ' + TARGET_PATH,
        'PATCH ' + TARGET_PATH,
        'PUT /v2/images/%s/stage' % pl.TARGET, 'POST ' + pl.IMPORT_PATH,
    ] + ['GET ' + TARGET_PATH] * 3 + ['PATCH ' + TARGET_PATH]
    mark, unmark = fake.find('PATCH')
    assert [c['path'] for c in json.loads(mark.body)] == ['/baseref_import']
    assert json.loads(unmark.body) == [
        {'op': 'remove', 'path': '/baseref_import'}]
    assert 'baseref_import' not in fake.images[pl.TARGET]
    stage, = fake.find('PUT', action='/stage')
    assert stage.same_input
    assert stage.body == pl.BODY
    assert stage.context is pipeline.context
    assert stage.store is None
    assert import_body(fake) == {
        'method': {'name': 'glance-direct'}, 'stores': ['fast', 'cheap'],
        'all_stores_must_succeed': must_succeed}
    assert {s.context is pipeline.context for s in fake.seen} == {True}
    assert fake.find('PUT', pl.FILE_PATH) == []
    assert fake.find('DELETE') == []
    assert pl.messages(caplog, logging.WARNING) == []
    decision, = [m for m in pl.messages(caplog, logging.INFO)
                 if 'stage+import' in m]
    assert ('stores fast,cheap by stage+import; active in fast,cheap, '
            'answered 204 No Content in ') in decision


def test_stores_are_filtered_and_kept_in_base_order(make_pipeline):
    pipeline = make_pipeline(allowed_stores='cheap,fast,cold')
    fake = pipeline.fake
    fake.images[pl.BASE]['stores'] = (
        'cold,archive,os_glance_staging_store,elsewhere,fast,cheap')
    fake.progress[pl.TARGET] = [ended(status='active',
                                      stores='cold,fast,cheap')]

    pipeline.upload()

    assert import_body(fake)['stores'] == ['cold', 'fast', 'cheap']


@pytest.mark.parametrize('final,warned', [
    (ended(status='active', stores='fast,cheap'), False),
    (ended(status='active', stores='fast',
           os_glance_failed_import='cheap'), True),
], ids=['all written', 'one failed'])
def test_without_waiting_answers_at_first_active(make_pipeline, caplog,
                                                 final, warned):
    pipeline = make_pipeline(respond_after='first_store')
    fake = pipeline.fake
    active = dict(TASK, status='active', stores='fast')
    fake.progress[pl.TARGET] = [TASK, active, active, final]

    response = pipeline.upload()
    pl.join_watchers([pipeline.filter])

    assert response.status_int == 204
    assert response.headers['X-Fake-Glance'] == 'stage'
    assert [s.image['status'] for s in polls(fake, 'MainThread')] == [
        'importing', 'active']
    watched = polls(fake, WATCHER)
    assert [bool(s.image.get('os_glance_import_task')) for s in watched] == [
        True, False]
    assert fake.find('DELETE') == []
    warnings = pl.messages(caplog, logging.WARNING)
    if warned:
        assert len(warnings) == 1
        assert 'was not written to stores cheap' in warnings[0]
    else:
        assert warnings == []


def test_active_with_a_failed_store_is_a_success_that_warns(pipeline,
                                                            caplog):
    fake = pipeline.fake
    fake.progress[pl.TARGET] = [TASK, ended(
        status='active', stores='fast', os_glance_failed_import='cheap')]
    fake.tasks[pl.TARGET] = [
        {'id': 'old', 'status': 'success', 'message': 'older task',
         'created_at': '2026-01-01T00:00:00Z'},
        {'id': 'task-1', 'status': 'success', 'message': 'cheap: disk full',
         'created_at': '2026-01-02T00:00:00Z'},
    ]

    response = pipeline.upload()

    assert response.status_int == 204
    assert fake.find('DELETE') == []
    warning, = pl.messages(caplog, logging.WARNING)
    assert warning == (
        'glance_baseref: image %s was not written to stores cheap (task '
        'task-1 success: cheap: disk full); it is active in fast'
        % pl.TARGET)


@pytest.mark.parametrize('final,named,deleted', [
    (ended(status='importing'), 'fast, cheap', True),
    (ended(status='importing', os_glance_failed_import='cheap'), 'cheap',
     True),
    # The same rule as the watcher's: an image the import left without
    # data is deleted, also when glance reverted it to queued.
    (ended(status='queued'), 'fast, cheap', True),
], ids=['stuck importing', 'stuck importing, one failed', 'back to queued'])
def test_import_ending_not_active_fails(pipeline, caplog, final, named,
                                        deleted):
    fake = pipeline.fake
    fake.progress[pl.TARGET] = [TASK, TASK, final]
    fake.tasks[pl.TARGET] = [{'id': 'task-1', 'status': 'failure',
                              'message': 'store cheap failed'}]

    response = pipeline.upload(status=500)

    assert response.status_int == 500
    assert ('Image %s could not be written to stores %s.'
            % (pl.TARGET, named)) in response.text
    assert len(polls(fake)) == 3
    deletes = fake.find('DELETE', TARGET_PATH)
    errors = pl.messages(caplog, logging.ERROR)
    assert len(errors) == 1
    assert 'store cheap failed' in errors[0]
    assert deleted
    assert len(deletes) == 1
    assert 'os_glance_import_task' not in deletes[0].image
    assert 'The image was deleted, with its staged data.' in response.text


@pytest.mark.parametrize('delete_status,fate', [
    (None, 'The image was deleted, with its staged data.'),
    (500, 'Deleting the image failed; it must be deleted by hand.'),
])
@pytest.mark.parametrize('refused', [403, 409])
def test_refused_import_deletes_the_staged_image(pipeline, caplog, refused,
                                                 delete_status, fate):
    fake = pipeline.fake
    fake.answers['import'] = refused
    if delete_status:
        fake.answers['delete'] = delete_status

    response = pipeline.upload(status=500)

    assert ('The import of image %s into stores fast, cheap could not '
            'start (%d). %s' % (pl.TARGET, refused, fate)) in response.text
    assert fake.lines()[-3:] == [
        'PUT /v2/images/%s/stage' % pl.TARGET, 'POST ' + pl.IMPORT_PATH,
        'DELETE ' + TARGET_PATH]
    assert any('could not start' in m
               for m in pl.messages(caplog, logging.ERROR))


def test_import_start_is_retried_after_a_server_error(pipeline, caplog):
    fake = pipeline.fake
    fake.answers['import'] = [500]
    fake.progress[pl.TARGET] = [ended(status='active', stores='fast,cheap')]

    response = pipeline.upload()

    assert response.status_int == 204
    assert len(fake.find('POST', pl.IMPORT_PATH)) == 2
    assert fake.find('DELETE') == []
    warning, = pl.messages(caplog, logging.WARNING)
    assert 'failed (attempt 1 of 3)' in warning


def test_import_start_gives_up_after_three_server_errors(pipeline):
    fake = pipeline.fake
    fake.answers['import'] = [500, 503, 500]

    response = pipeline.upload(status=500)

    assert len(fake.find('POST', pl.IMPORT_PATH)) == 3
    assert 'could not start (500). The image was deleted' in response.text
    assert fake.lines()[-1] == 'DELETE ' + TARGET_PATH


@pytest.mark.parametrize('refused', [400, 409, 413])
def test_stage_refused_after_reading_is_answered_as_is(pipeline, caplog,
                                                       refused):
    pipeline.fake.answers['stage'] = refused

    response = pipeline.upload(status=refused)

    assert 'fake glance refused stage' in response.text
    assert pipeline.fake.lines()[-2:] == [
        'PUT /v2/images/%s/stage' % pl.TARGET, 'PATCH ' + TARGET_PATH]
    assert 'baseref_import' not in pipeline.fake.images[pl.TARGET]
    assert pipeline.fake.find('POST') == []
    assert pipeline.fake.find('DELETE') == []
    assert pipeline.fake.find('PUT', pl.FILE_PATH) == []
    warning, = pl.messages(caplog, logging.WARNING)
    assert 'after %d bytes of the body were read' % len(pl.BODY) in warning


@pytest.mark.parametrize('refused', [403, 413, 500])
def test_stage_refused_before_reading_becomes_a_plain_upload(
        pipeline, caplog, refused):
    pipeline.fake.answers['stage'] = refused
    pipeline.fake.stage_refusal_reads_body = False

    response = pipeline.upload()

    assert response.status_int == 204
    assert response.headers['X-Fake-Glance'] == 'file'
    upload, = pipeline.fake.find('PUT', pl.FILE_PATH)
    assert upload.store == 'fast'
    assert upload.body == pl.BODY
    assert upload.same_input
    assert upload.context is pipeline.context
    assert pipeline.fake.find('POST') == []
    assert 'baseref_import' not in pipeline.fake.images[pl.TARGET]
    warning, = pl.messages(caplog, logging.WARNING)
    assert ('staging was refused before any data was read (%d' % refused
            in warning)
    assert 'uploading it to fast only' in warning


def test_missing_staging_directory_means_one_store_without_staging(
        make_pipeline, global_conf, tmp_path):
    _staging_dir(global_conf, str(tmp_path / 'staging'))
    (tmp_path / 'staging').mkdir()
    pipeline = make_pipeline()
    (tmp_path / 'staging').rmdir()  # the staging disk went away

    response = pipeline.upload()

    assert response.headers['X-Fake-Glance'] == 'file'
    upload, = pipeline.fake.find('PUT', pl.FILE_PATH)
    assert upload.store == 'fast'
    assert pipeline.fake.find('PUT', action='/stage') == []


def test_image_deleted_during_import_is_gone(pipeline):
    pipeline.fake.progress[pl.TARGET] = [TASK, 404]

    response = pipeline.upload(status=410)

    assert ('Image %s was deleted while glance imported it.' % pl.TARGET
            in response.text)
    assert pipeline.fake.find('DELETE') == []


def test_failed_look_at_the_image_is_retried(pipeline, caplog):
    pipeline.fake.progress[pl.TARGET] = [
        TASK, 503, ended(status='active', stores='fast,cheap')]

    response = pipeline.upload()

    assert response.status_int == 204
    assert len(polls(pipeline.fake)) == 3
    warning, = pl.messages(caplog, logging.WARNING)
    assert 'looking at image %s during its import failed' % pl.TARGET in (
        warning)


STALE_TASK = [{'id': 'task-1', 'status': 'processing',
               'created_at': '2026-01-01T00:00:00Z',
               'updated_at': '2026-01-01T00:00:00Z'}]


@pytest.mark.parametrize('after_timeout,deleted,task_at_delete,logged', [
    ([TASK, ended(status='importing')], True, False,
     'could not be written to stores fast,cheap'),
    ([TASK], True, True, 'its task stopped without ending the import'),
    ([TASK, 404], False, None, None),
], ids=['task stops', 'task stops working', 'deleted by someone else'])
def test_timeout_answers_504_and_cleans_up_after_the_task(
        make_pipeline, caplog, after_timeout, deleted, task_at_delete,
        logged):
    pipeline = make_pipeline(import_timeout='1')
    fake = pipeline.fake
    fake.tasks[pl.TARGET] = STALE_TASK
    # Looks at 0, 0.05, 0.15, 0.35, 0.75 and 1.25 s: pauses double from
    # 0.05 s up to poll_interval (0.5 s); the last one is past the timeout.
    main_looks = 6
    fake.progress[pl.TARGET] = [TASK] * main_looks + after_timeout

    response = pipeline.upload(status=504)
    pl.join_watchers([pipeline.filter])

    assert ('The import of image %s into stores fast, cheap did not end '
            'within 1 seconds (import_timeout).' % pl.TARGET
            in response.text)
    assert len(polls(fake, 'MainThread')) == main_looks
    watched = polls(fake, WATCHER)
    if after_timeout == [TASK]:
        # Glance's task is asked about every 30 s; it has not moved for
        # far longer than watch_timeout: dead, though its lock stays.
        assert 30 <= len(watched) <= 80
    else:
        assert len(watched) == 2
    deletes = fake.find('DELETE', TARGET_PATH)
    if deleted:
        delete, = deletes
        assert delete.thread.startswith(WATCHER)
        assert bool(delete.image.get('os_glance_import_task')) is (
            task_at_delete)
    else:
        assert deletes == []
    errors = pl.messages(caplog, logging.ERROR)
    if logged:
        assert any(logged in m for m in errors), errors


def test_watcher_keeps_an_active_image_whose_task_died(make_pipeline,
                                                       caplog):
    """first_store, and glance's task stops without ending the import.

    The caller was told the upload worked, so the image must stay; the log
    must not claim it is being deleted.
    """
    pipeline = make_pipeline(respond_after='first_store')
    fake = pipeline.fake
    fake.tasks[pl.TARGET] = STALE_TASK
    fake.progress[pl.TARGET] = [TASK, dict(TASK, status='active',
                                           stores='fast')]

    response = pipeline.upload()
    pl.join_watchers([pipeline.filter])

    assert response.status_int == 204
    assert len(polls(fake, WATCHER)) >= 1
    assert fake.find('DELETE') == []
    claims = [m for m in pl.messages(caplog) if 'deleting' in m]
    assert claims == []
    warning = pl.messages(caplog, logging.WARNING)[-1]
    assert 'is active in fast; its task stopped without ending' in warning


def test_failed_look_never_deletes_an_active_image(make_pipeline):
    pipeline = make_pipeline(respond_after='staged')
    fake = pipeline.fake
    fake.tasks[pl.TARGET] = STALE_TASK
    fake.progress[pl.TARGET] = [dict(TASK, status='active', stores='fast'),
                                503]

    assert pipeline.upload().status_int == 204
    pl.join_watchers([pipeline.filter])

    assert fake.find('DELETE') == []


@pytest.mark.parametrize('breaks', ['non-JSON answer', 'judging'])
def test_error_after_staging_is_a_500_and_the_image_is_cleaned_up(
        make_pipeline, monkeypatch, caplog, breaks):
    pipeline = make_pipeline()
    fake = pipeline.fake
    fake.progress[pl.TARGET] = [TASK, ended(status='importing')]
    if breaks == 'judging':
        real_judge = settle.judge
        calls = []

        def judge(image, stores):
            calls.append(image)
            if len(calls) == 1:
                raise RuntimeError('a bug in judging')
            return real_judge(image, stores)
        monkeypatch.setattr(settle, 'judge', judge)
    else:
        real_get = inprocess.InProcessGlance.get_image

        def get_image(self, image_id):
            importing = fake.find('POST', pl.IMPORT_PATH)
            if importing and not fake.find('DELETE') and (
                    threading.current_thread().name == 'MainThread'):
                # glance answered something that is not JSON
                raise ValueError('Expecting value: line 1 column 1')
            return real_get(self, image_id)
        monkeypatch.setattr(inprocess.InProcessGlance, 'get_image',
                            get_image)

    response = pipeline.upload(status=500)
    pl.join_watchers([pipeline.filter])

    assert 'The upload of image %s into stores fast, cheap failed' % (
        pl.TARGET) in response.text
    assert 'deleted once the import task of glance stops' in response.text
    delete, = fake.find('DELETE', TARGET_PATH)
    assert delete.thread.startswith(WATCHER)
    assert not delete.image.get('os_glance_import_task')
    assert any('unexpected error after its data was staged' in m
               for m in pl.messages(caplog, logging.ERROR))


def _staging_dir(global_conf, path):
    """Glance's own staging option, as glance_store registers it."""
    global_conf.register_opt(cfg.StrOpt('filesystem_store_datadir'),
                             group='os_glance_staging_store')
    global_conf.set_override('filesystem_store_datadir', path,
                             group='os_glance_staging_store')


@pytest.mark.parametrize('unready,reason', [
    ('methods', 'glance-direct is not in enabled_import_methods '
                '(web-download, copy-image)'),
    ('no methods', 'glance-direct is not in enabled_import_methods (none)'),
    ('staging missing', 'missing; it goes to cheap only'),
    ('staging unset', 'glance has no staging directory'),
], ids=['no glance-direct', 'no methods', 'staging missing',
        'staging unset'])
def test_without_multistore_import_only_the_first_store_is_written(
        pipeline, caplog, global_conf, tmp_path, unready, reason):
    fake = pipeline.fake
    fake.images[pl.BASE]['stores'] = 'cheap,fast'
    if unready == 'methods':
        fake.import_methods = ['web-download', 'copy-image']
    elif unready == 'no methods':
        fake.import_methods = []
    elif unready == 'staging missing':
        _staging_dir(global_conf, str(tmp_path / 'missing'))
    else:
        _staging_dir(global_conf, '')

    for _ in range(3):
        fake.images[pl.TARGET].update(status='queued', stores='')
        response = pipeline.upload()
        assert response.headers['X-Fake-Glance'] == 'file'

    assert [s.store for s in fake.find('PUT')] == ['cheap'] * 3
    assert fake.find('POST') == []
    warnings = pl.messages(caplog, logging.WARNING)
    # A staging fault is a WARNING on every upload it sends to one store,
    # naming the image; a configuration without glance-direct is said once.
    assert len(warnings) == (3 if unready.startswith('staging') else 1), (
        warnings)
    assert reason in warnings[0]
    if unready.startswith('staging'):
        assert pl.TARGET in warnings[0]


def test_existing_staging_directory_allows_the_import(pipeline, global_conf,
                                                      tmp_path):
    _staging_dir(global_conf, str(tmp_path))
    pipeline.fake.progress[pl.TARGET] = [ended(status='active',
                                               stores='fast,cheap')]

    pipeline.upload()

    assert import_body(pipeline.fake)['stores'] == ['fast', 'cheap']


@pytest.mark.parametrize('target,reason', [
    ({'status': 'active'}, 'the image is active'),
    ({'status': 'saving'}, 'the image is saving'),
    ({'disk_format': fake_glance.GONE}, 'the image has no disk_format'),
    ({'container_format': ''}, 'the image has no container_format'),
    ({'disk_format': None, 'container_format': None},
     'the image has no disk_format or container_format'),
    (None, 'the image itself could not be read (404)'),
], ids=['active', 'saving', 'no disk_format', 'empty container_format',
        'no formats', 'missing'])
def test_image_glance_would_not_import_goes_to_the_first_store(
        pipeline, caplog, target, reason):
    fake = pipeline.fake
    fake.images[pl.BASE]['stores'] = 'cheap,fast'
    if target is None:
        del fake.images[pl.TARGET]
    else:
        for key, value in target.items():
            if value is fake_glance.GONE:
                del fake.images[pl.TARGET][key]
            else:
                fake.images[pl.TARGET][key] = value

    response = pipeline.upload()

    assert response.headers['X-Fake-Glance'] == 'file'
    upload, = fake.find('PUT')
    assert upload.path == pl.FILE_PATH
    assert upload.store == 'cheap'
    assert upload.same_input
    assert fake.find('POST') == []
    decision, = [m for m in pl.messages(caplog, logging.INFO)
                 if 'upload to cheap' in m]
    assert 'the base image is in cheap,fast, but %s;' % reason in decision


def test_worker_shutdown_while_waiting_hands_the_image_on(make_pipeline,
                                                          caplog):
    """uWSGI's or eventlet's shutdown raises in the waiting request."""
    pipeline = make_pipeline()
    fake = pipeline.fake
    fake.progress[pl.TARGET] = [TASK, TASK, ended(status='importing')]

    def shutdown(seconds):
        raise SystemExit('worker stopping')
    pipeline.filter.executor.colocated.sleep = shutdown

    with pytest.raises(SystemExit):
        pipeline.upload()
    pl.join_watchers([pipeline.filter])

    delete, = fake.find('DELETE', TARGET_PATH)
    assert delete.thread.startswith(WATCHER)
    assert any('unexpected error after its data was staged: SystemExit' in m
               for m in pl.messages(caplog, logging.ERROR))
    # The staged answer was closed (the pipeline fixture checks that all
    # of them were).


def test_timeout_with_the_image_active_is_a_success(make_pipeline, caplog):
    """A store hangs (librados without timeouts): glance alone would have
    answered 204 with the image in one store, so the filter does too."""
    pipeline = make_pipeline(import_timeout='1')
    fake = pipeline.fake
    active_in_fast = dict(TASK, status='active', stores='fast')
    fake.progress[pl.TARGET] = [TASK, TASK] + [active_in_fast] * 4 + [
        active_in_fast, ended(status='active', stores='fast,cheap')]

    response = pipeline.upload()
    pl.join_watchers([pipeline.filter])

    assert response.status_int == 204
    assert fake.find('DELETE') == []
    assert 'baseref_import' not in fake.images[pl.TARGET]
    warning = [m for m in pl.messages(caplog, logging.WARNING)
               if 'import_timeout (1s) passed' in m]
    assert warning and 'active in fast' in warning[0]
