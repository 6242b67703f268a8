"""The x-openstack-base-image-ref header: refused, or read as one UUID."""

import pytest

from tests.unit import pipeline as pl

INVALID = {
    'empty': '',
    'blank': ' \t ',
    'not a uuid': 'not-a-uuid',
    'truncated': pl.BASE[:-1],
    'two values': '%s,%s' % (pl.BASE, pl.TARGET),
    'two values, blank': '%s %s' % (pl.BASE, pl.TARGET),
    'too long': pl.BASE + '0' * 40,
    'not ascii': pl.BASE[:-1] + '\u00e9',
    'inner tab': pl.BASE[:8] + '\t' + pl.BASE[9:],
}


def _no_request_for_the_upload(fake):
    return [s.line for s in fake.seen
            if not s.path.startswith('/v2/info/')]


@pytest.mark.parametrize('kind', ['file', 'import'])
@pytest.mark.parametrize('value', INVALID.values(), ids=INVALID.keys())
def test_invalid_header_is_refused_before_anything_is_sent(
        pipeline, value, kind):
    if kind == 'file':
        response = pipeline.upload(base=value, status=400)
    else:
        response = pipeline.import_(b'{"method": {"name": "glance-direct"}}',
                                    base=value, status=400)

    assert response.status_int == 400
    assert 'The x-openstack-base-image-ref header ' in response.text
    assert 'UUID' in response.text
    assert _no_request_for_the_upload(pipeline.fake) == []


def test_invalid_header_answer_is_json_when_asked(pipeline):
    response = pipeline.upload(base='nope', headers={
        'Accept': 'application/json'}, status=400)

    assert response.content_type == 'application/json'
    assert response.json['code'] == '400 Bad Request'
    assert response.json['message'].startswith(
        'The x-openstack-base-image-ref header is not a UUID; it must hold '
        'the UUID of one image.')


@pytest.mark.parametrize('value,why', [
    ('', 'is empty'),
    ('a,b', 'holds several values'),
    ('f' * 65, 'is 65 characters long'),
    ('nope', 'is not a UUID'),
])
def test_invalid_header_answer_says_why(pipeline, value, why):
    response = pipeline.upload(base=value, status=400)

    assert 'The x-openstack-base-image-ref header %s' % why in response.text


@pytest.mark.parametrize('form', [
    pl.BASE.upper(),
    '{%s}' % pl.BASE,
    'urn:uuid:%s' % pl.BASE,
    pl.BASE.replace('-', ''),
    ' \t%s\t ' % pl.BASE,
    '  {%s}  ' % pl.BASE.replace('-', '').upper(),
], ids=['upper', 'braces', 'urn', 'no hyphens', 'blanks', 'all at once'])
def test_uuid_forms_are_read_as_the_canonical_id(pipeline, form):
    pipeline.fake.images[pl.BASE]['stores'] = 'cold'

    pipeline.upload(base=form)

    lookups = [s for s in pipeline.fake.seen
               if s.method == 'GET' and s.path.startswith('/v2/images/')]
    assert [s.path for s in lookups] == ['/v2/images/%s' % pl.BASE]
    assert pipeline.fake.find('PUT', pl.FILE_PATH)[0].store == 'cold'
