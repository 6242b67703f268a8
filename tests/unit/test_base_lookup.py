"""Where a base image lookup sends the upload: its store, or the default."""

import logging
import re
import threading
import time

import pytest

from tests.unit import fake_glance
from tests.unit import pipeline as pl


def _decision(caplog):
    """The one INFO line the filter logs per decision."""
    lines = [m for m in pl.messages(caplog, logging.INFO)
             if m.startswith('glance_baseref: image %s base' % pl.TARGET)]
    assert len(lines) == 1, lines
    return lines[0]


def _upload_seen(fake):
    uploads = fake.find('PUT', pl.FILE_PATH)
    assert len(uploads) == 1
    return uploads[0]


@pytest.mark.parametrize('base,local_conf,reason', [
    (None, {}, 'the base image was not found'),
    ({'status': 'queued'}, {}, 'the base image is queued, not active'),
    ({'status': 'deactivated'}, {},
     'the base image is deactivated, not active'),
    ({'stores': ''}, {}, 'the base image is in no store'),
    ({'stores': fake_glance.GONE}, {}, 'the base image is in no store'),
    ({'stores': 'os_glance_staging_store,os_glance_tasks_store'}, {},
     'none of the base image stores (os_glance_staging_store,'
     'os_glance_tasks_store) is usable here'),
    ({'stores': 'archive'}, {},
     'none of the base image stores (archive) is usable here'),
    ({'stores': 'elsewhere'}, {},
     'none of the base image stores (elsewhere) is usable here '
     '(elsewhere is not enabled here)'),
    ({'stores': 'fast,cheap'}, {'allowed_stores': 'cold'},
     'none of the base image stores (fast,cheap) is usable here'),
], ids=['missing', 'queued', 'deactivated', 'empty stores', 'no stores',
        'reserved only', 'read-only only', 'unknown here', 'not allowed'])
def test_unusable_base_means_default_store(make_pipeline, caplog, base,
                                           local_conf, reason):
    pipeline = make_pipeline(**local_conf)
    fake = pipeline.fake
    if base is None:
        del fake.images[pl.BASE]
    else:
        for key, value in base.items():
            if value is fake_glance.GONE:
                fake.images[pl.BASE].pop(key)
            else:
                fake.images[pl.BASE][key] = value

    response = pipeline.upload()

    assert response.status_int == 204
    assert response.headers['X-Fake-Glance'] == 'file'
    seen = _upload_seen(fake)
    assert seen.store is None
    assert seen.untouched and seen.same_input and seen.body == pl.BODY
    assert fake.find('PUT', action='/stage') == []
    line = _decision(caplog)
    assert '%s; stores default by upload to the default store' % reason in (
        line)


def test_reserved_stores_listed_by_glance_are_never_chosen(pipeline):
    pipeline.fake.stores.append({'id': 'os_glance_staging_store'})
    pipeline.fake.images[pl.BASE]['stores'] = 'os_glance_staging_store'

    pipeline.upload()

    assert _upload_seen(pipeline.fake).store is None


def _strip_timing(text):
    return re.sub(r' in \d+\.\d+s$', '', text)


def test_missing_and_invisible_base_look_the_same(make_pipeline, fake,
                                                  caplog):
    """The caller must not learn that someone else's image exists."""
    answers = []
    for exists in (False, True):
        fake.seen.clear()
        caplog.clear()
        if exists:
            fake.images[pl.BASE]['owner'] = 'p2'
        else:
            stored = fake.images.pop(pl.BASE)
        pipeline = make_pipeline()
        response = pipeline.upload()
        lookup = fake.find('GET', '/v2/images/%s' % pl.BASE)
        answers.append((
            response.status, sorted(response.headers.items()),
            response.body, [_strip_timing(m) for m in pl.messages(caplog)],
            _upload_seen(fake).store, len(lookup)))
        if not exists:
            fake.images[pl.BASE] = stored

    assert answers[0] == answers[1]
    assert answers[0][4] is None
    assert answers[0][5] == 1


def test_lookup_runs_as_the_caller(pipeline):
    pipeline.fake.images[pl.BASE]['stores'] = 'cold'

    pipeline.upload(headers={'X-Auth-Token': 'secret',
                             'X-Openstack-Request-Id': 'req-1'})

    lookup, = pipeline.fake.find('GET', '/v2/images/%s' % pl.BASE)
    assert lookup.context is pipeline.context
    assert lookup.subrequest
    assert lookup.body == b''
    assert 'x-auth-token' not in lookup.headers
    assert pl.BASE_HEADER not in lookup.headers
    assert lookup.headers['x-openstack-request-id'] == 'req-1'
    assert lookup.headers['accept'] == 'application/json'


@pytest.mark.parametrize('failure,reason', [
    ('raises', 'the base image lookup failed: RuntimeError: boom'),
    (500, 'the base image lookup failed: GET image %s: 500 Internal '
          'Server Error' % pl.BASE),
    (403, 'the base image lookup failed: GET image %s: 403 Forbidden'
     % pl.BASE),
])
def test_failed_lookup_means_default_store(pipeline, caplog, failure,
                                           reason):
    if failure == 'raises':
        failure = RuntimeError('boom')
    pipeline.fake.broken['/v2/images/%s' % pl.BASE] = failure

    response = pipeline.upload()

    assert response.headers['X-Fake-Glance'] == 'file'
    assert _upload_seen(pipeline.fake).store is None
    assert reason in _decision(caplog)


def test_slow_lookup_means_default_store_in_time(make_pipeline, caplog):
    pipeline = make_pipeline(lookup_timeout='0.1')
    pipeline.fake.blocked[pl.BASE] = threading.Event()

    started = time.monotonic()
    response = pipeline.upload()
    took = time.monotonic() - started

    assert response.headers['X-Fake-Glance'] == 'file'
    assert _upload_seen(pipeline.fake).store is None
    assert 'lookup included) took more than 0.1s' in _decision(caplog)
    assert 0.1 <= took < 2


@pytest.mark.parametrize('base_stores,allowed,store', [
    ('cold', '', 'cold'),
    ('archive,cold', '', 'cold'),
    ('os_glance_staging_store,cheap', '', 'cheap'),
    ('fast,cold', 'cold', 'cold'),
    ('fast,cheap,cold', ' cold , elsewhere ', 'cold'),
], ids=['one', 'read-only skipped', 'reserved skipped', 'allowed',
        'allowed with blanks'])
def test_one_usable_store_steers_the_upload_there(make_pipeline, caplog,
                                                  base_stores, allowed,
                                                  store):
    pipeline = make_pipeline(allowed_stores=allowed)
    pipeline.fake.images[pl.BASE]['stores'] = base_stores

    response = pipeline.upload()

    assert response.status_int == 204
    assert response.headers['X-Fake-Glance'] == 'file'
    assert pipeline.fake.lines() == [
        'GET /v2/info/stores', 'GET /v2/info/import',
        'GET /v2/images/%s' % pl.BASE, 'PUT ' + pl.FILE_PATH]
    seen = _upload_seen(pipeline.fake)
    assert seen.store == store
    assert seen.same_input and seen.body == pl.BODY
    assert seen.context is pipeline.context
    assert not seen.subrequest
    assert 'stores %s by upload to %s; handed on' % (store, store) in (
        _decision(caplog))


@pytest.mark.parametrize('base_stores,reason', [
    ('cheap,elsewhere', 'the base image is in cheap,elsewhere (elsewhere is '
     'not enabled here)'),
    ('gone,cheap,elsewhere', 'the base image is in gone,cheap,elsewhere '
     '(gone,elsewhere are not enabled here)'),
], ids=['one', 'two'])
def test_log_names_base_stores_this_node_lacks(make_pipeline, caplog,
                                               base_stores, reason):
    # Nodes of one glance whose stores differ: the log says why a store
    # of the base image was left out.
    pipeline = make_pipeline()
    pipeline.fake.images[pl.BASE]['stores'] = base_stores

    response = pipeline.upload()

    assert response.status_int == 204
    assert _upload_seen(pipeline.fake).store == 'cheap'
    assert '%s; stores cheap by upload to cheap' % reason in _decision(caplog)
