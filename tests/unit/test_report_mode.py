"""mode = report: decide as usual, log ``would:``, change nothing."""

import logging

import pytest

from tests.unit import pipeline as pl

IMPORT_BODY = b'{"method": {"name": "glance-direct"}}'
WOULD = 'glance_baseref: would: image %s' % pl.TARGET

# name -> (paste keys, base header, base image stores, target property,
#          what the would: lines say)
UPLOADS = {
    'several stores': (
        {}, pl.BASE, 'fast,cheap', None,
        ['base %s: the base image is in fast,cheap; stores fast,cheap by '
         'stage+import; handed on untouched in ' % pl.BASE]),
    'one store': (
        {}, pl.BASE, 'cold', None,
        ['base %s: the base image is in cold; stores cold by upload to '
         'cold; handed on untouched in ' % pl.BASE]),
    'invalid header': (
        {}, 'not-an-image', 'cold', None,
        ['refused with 400: The x-openstack-base-image-ref header is not '
         'a UUID']),
    'base recorded': (
        {'record_base_image': 'true'}, pl.BASE, 'cold', None,
        ['base %s: the base image is in cold; base_image_ref set; stores '
         'cold by upload to cold; handed on untouched in ' % pl.BASE]),
    'base property': (
        {'use_base_image_property': 'true'}, None, 'fast,cheap', pl.BASE,
        ['base %s (from its base_image_ref property): the base image is in '
         'fast,cheap; stores fast,cheap by stage+import; handed on '
         'untouched in ' % pl.BASE]),
    'invalid base property': (
        {'use_base_image_property': 'true'}, None, 'cold', 'a,b',
        [': The base_image_ref property holds several values; stores '
         'default by upload to the default store']),
}


@pytest.mark.parametrize('case', sorted(UPLOADS))
def test_report_mode_changes_nothing_and_says_what_it_would_do(
        make_pipeline, caplog, case):
    local_conf, base, base_stores, prop, would = UPLOADS[case]
    pipeline = make_pipeline(mode='report', **local_conf)
    fake = pipeline.fake
    fake.images[pl.BASE]['stores'] = base_stores
    if prop is not None:
        fake.images[pl.TARGET]['base_image_ref'] = prop
    target_before = dict(fake.images[pl.TARGET])

    response = pipeline.upload(base=base, status='*')

    lines = pl.messages(caplog, logging.INFO)
    assert response.status_int == 204
    assert response.headers['X-Fake-Glance'] == 'file'
    caller, = [s for s in fake.seen if not s.subrequest]
    assert caller.line == 'PUT ' + pl.FILE_PATH
    assert caller.untouched and caller.same_input
    assert caller.body == pl.BODY
    assert caller.store is None
    assert {s.method for s in fake.seen if s.subrequest} <= {'GET'}
    # Glance's plain upload, nothing else: the default store, no property.
    assert fake.images[pl.TARGET] == dict(target_before, status='active',
                                          stores='fast')
    about_image = [ln for ln in lines if pl.TARGET in ln]
    assert len(about_image) == len(would)
    for line, expected in zip(about_image, would):
        assert line.startswith(WOULD), line
        assert expected in line, line
    assert pl.messages(caplog, logging.WARNING) == []


@pytest.mark.parametrize('base,would', [
    (pl.BASE, 'base %s: the base image is in cheap,cold; stores cheap,cold '
              'by import request; handed on untouched in ' % pl.BASE),
    ('a,b', 'refused with 400: The x-openstack-base-image-ref header holds '
            'several values'),
], ids=['stores', 'invalid header'])
def test_report_mode_leaves_the_import_request_alone(make_pipeline, caplog,
                                                     base, would):
    pipeline = make_pipeline(mode='report')
    pipeline.fake.images[pl.BASE]['stores'] = 'cheap,cold'

    response = pipeline.import_(IMPORT_BODY, base=base)

    assert response.status_int == 202  # glance's own answer
    posted, = pipeline.fake.find('POST', pl.IMPORT_PATH)
    assert posted.body == IMPORT_BODY
    assert posted.content_length == str(len(IMPORT_BODY))
    line, = [ln for ln in pl.messages(caplog, logging.INFO)
             if pl.TARGET in ln]
    assert line.startswith(WOULD)
    assert would in line


def test_report_mode_still_lets_the_store_header_win(make_pipeline, caplog):
    pipeline = make_pipeline(mode='report')

    pipeline.upload(headers={'x-image-meta-store': 'cold'})

    assert pipeline.fake.lines() == ['PUT ' + pl.FILE_PATH]
    line, = [ln for ln in pl.messages(caplog, logging.INFO)
             if pl.TARGET in ln]
    assert line.startswith(WOULD)
    assert "x-image-meta-store 'cold' wins" in line


def test_disabled_report_mode_is_silent(make_pipeline, caplog):
    pipeline = make_pipeline(enabled='false', mode='report',
                             use_base_image_property='true')
    pipeline.fake.images[pl.TARGET]['base_image_ref'] = pl.BASE

    pipeline.upload()
    pipeline.upload(base='not-an-image')
    pipeline.upload(base=None)

    assert pipeline.fake.lines() == ['PUT ' + pl.FILE_PATH] * 3
    assert pl.messages(caplog, settings_line=False) == [
        'glance_baseref: disabled; every request passes on untouched']


def test_report_mode_says_so_when_built(make_pipeline, caplog):
    make_pipeline(mode='report')

    assert pl.messages(caplog, settings_line=False) == [
        'glance_baseref: report mode; decisions are logged with would: '
        'and every request passes on untouched']
