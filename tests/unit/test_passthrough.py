"""Requests the filter must hand on exactly as they came, and nothing else."""

import logging

import pytest

from tests.unit import pipeline as pl

UNTOUCHED_IMPORT = b'{"method": {"name": "glance-direct"}}'


def _send(pipeline, kind, base=pl.BASE, headers=None):
    if kind == 'file':
        return pipeline.upload(base=base, headers=headers)
    return pipeline.import_(UNTOUCHED_IMPORT, base=base, headers=headers)


def _assert_only_the_request(fake, line, body):
    """The fake saw the caller's request alone, untouched."""
    assert fake.lines() == [line]
    seen = fake.seen[0]
    assert seen.untouched
    assert seen.same_input
    assert seen.body == body
    assert not seen.subrequest


@pytest.mark.parametrize('kind,line,body', [
    ('file', 'PUT ' + pl.FILE_PATH, pl.BODY),
    ('import', 'POST ' + pl.IMPORT_PATH, UNTOUCHED_IMPORT),
])
@pytest.mark.parametrize('why', ['no header', 'disabled', 'store chosen'])
def test_passes_through_untouched(make_pipeline, why, kind, line, body):
    base, headers, local_conf = pl.BASE, None, {}
    if why == 'no header':
        base = None
    elif why == 'disabled':
        local_conf = {'enabled': 'false'}
    else:
        headers = {'x-image-meta-store': 'cold'}
    pipeline = make_pipeline(**local_conf)

    _send(pipeline, kind, base=base, headers=headers)

    _assert_only_the_request(pipeline.fake, line, body)
    expected_store = 'cold' if why == 'store chosen' else None
    assert pipeline.fake.seen[0].store == expected_store


@pytest.mark.parametrize('method,path', [
    ('GET', pl.FILE_PATH),
    ('POST', pl.FILE_PATH),
    ('PUT', '/v2/images/%s/stage' % pl.TARGET),
    ('PUT', pl.FILE_PATH + '/more'),
    ('PUT', '/v1/images/%s/file' % pl.TARGET),
    ('PUT', '/v2/images/%s/file' % pl.TARGET.replace('-', '_')),
    ('PUT', pl.IMPORT_PATH),
    ('GET', pl.IMPORT_PATH),
    ('PATCH', '/v2/images/%s' % pl.TARGET),
    ('DELETE', '/v2/images/%s' % pl.TARGET),
    ('POST', '/v2/images'),
])
def test_other_methods_and_paths_pass_through(pipeline, method, path):
    body = b'' if method in ('GET', 'DELETE') else pl.BODY
    pipeline.app.request(path, method=method, body=body,
                         headers={pl.BASE_HEADER: pl.BASE})

    _assert_only_the_request(pipeline.fake, '%s %s' % (method, path), body)


def test_disabled_filter_says_so_once_when_built(make_pipeline, caplog):
    pipeline = make_pipeline(enabled='false')
    pipeline.upload()
    pipeline.upload()

    assert pl.messages(caplog, settings_line=False) == [
        'glance_baseref: disabled; every request passes on untouched']


def test_non_multistore_glance_is_left_alone(pipeline, caplog):
    pipeline.fake.stores = None

    for _ in range(3):
        response = pipeline.upload()
        assert response.headers['X-Fake-Glance'] == 'file'

    fake = pipeline.fake
    assert fake.lines() == ['GET /v2/info/stores'] + [
        'PUT ' + pl.FILE_PATH] * 3
    uploads = fake.find('PUT', pl.FILE_PATH)
    assert [(s.untouched, s.same_input, s.store) for s in uploads] == [
        (True, True, None)] * 3
    infos = pl.records(caplog, logging.INFO)
    assert len(infos) == 1
    assert 'no multi-store configuration' in infos[0].getMessage()


def test_non_multistore_glance_ignores_an_invalid_header(pipeline):
    pipeline.fake.stores = None

    pipeline.upload(base='not a uuid')

    assert pipeline.fake.find('PUT', pl.FILE_PATH)[0].untouched


def test_store_list_is_read_once_for_many_requests(pipeline):
    pipeline.fake.images[pl.BASE]['stores'] = 'cold'

    for _ in range(3):
        pipeline.upload()
        pipeline.import_(UNTOUCHED_IMPORT)

    lines = pipeline.fake.lines()
    assert lines.count('GET /v2/info/stores') == 1
    assert lines.count('GET /v2/info/import') == 1


@pytest.mark.parametrize('failure', ['500', 'raises'])
def test_unreadable_store_list_means_default_store_then_retry(
        pipeline, caplog, failure):
    fake = pipeline.fake
    fake.images[pl.BASE]['stores'] = 'cold'
    fake.broken['/v2/info/stores'] = (
        RuntimeError('boom') if failure == 'raises' else 500)

    pipeline.upload()

    first = fake.find('PUT', pl.FILE_PATH)
    assert len(first) == 1 and first[0].untouched
    assert fake.find('GET', '/v2/images/%s' % pl.BASE) == []
    infos = pl.messages(caplog, logging.INFO)
    assert len(infos) == 1
    assert 'the store list could not be read' in infos[0]

    # Not remembered: the next upload reads the list again and uses it.
    fake.broken.clear()
    pipeline.upload()

    assert fake.lines().count('GET /v2/info/stores') == 2
    assert fake.find('PUT', pl.FILE_PATH)[1].store == 'cold'


@pytest.mark.parametrize('kind,line,body', [
    ('file', 'PUT ' + pl.FILE_PATH, pl.BODY),
    ('import', 'POST ' + pl.IMPORT_PATH, UNTOUCHED_IMPORT),
])
def test_without_request_context_passes_through_and_warns_once(
        make_pipeline, caplog, kind, line, body):
    pipeline = make_pipeline(context=False)

    for _ in range(3):
        pipeline.fake.seen.clear()
        _send(pipeline, kind)
        _assert_only_the_request(pipeline.fake, line, body)

    warnings = pl.messages(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert 'without a request context' in warnings[0]
    assert 'after the context filter' in warnings[0]
