"""Bad input, one case each, against glance-api 33 under uWSGI.

The catalogue behind the README section "Bad input". Every case sends one
request that a careless or hostile caller could send and checks the
documented answer; where the answer is an error, the target image must be
left as it was, with no byte of it in any store, in staging or in the
tasks store.

How each value is sent (the ``via`` of a case):

* ``session``: ``CinderLikeClient.request``, i.e. the keystoneauth session
  Cinder uses, with a chunked body as Cinder's ``images.upload`` sends it.
  requests and keystoneauth refuse header values with leading blanks, CR
  or LF, and keystoneauth refuses non-ASCII bytes.
* ``http.client``: the standard library client, for what the session
  cannot send: non-ASCII bytes, leading blanks, a header repeated on two
  lines, an obsolete line folding (CRLF + space inside the value).

Import bodies that the filter must leave to glance are checked by sending
the same body twice, to twin staged images, with and without the header:
the answers and the final images must not differ.
"""

import http.client
import json
import re
import types
import urllib.parse
import uuid

import glanceclient.exc
from keystoneauth1 import exceptions as ks_exc
import pytest

from tests import harness
from tests.e2e.conftest import DEFAULT_STORE

HEADER = harness.BASE_IMAGE_HEADER
DATA = b'volume data ' * 1024
OCTET = {'Content-Type': 'application/octet-stream'}
AS_JSON = {'Accept': 'application/json'}
IMPORT_HEADERS = {'Content-Type': 'application/json',
                  'Accept': 'application/json'}
GLANCE_DIRECT = {'method': {'name': 'glance-direct'}}
UUID_RE = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                     r'[0-9a-f]{12}')


@pytest.fixture(scope='module')
def bases(glance):
    """Images the header values refer to, made once for the module."""
    p1 = glance.client('p1')
    admin = glance.client('p1', roles=('admin', 'member', 'reader'))
    made = types.SimpleNamespace()
    made.cheap = harness.make_base_image(p1, ['cheap'], DATA,
                                         name='base-cheap')['id']
    made.cold = harness.make_base_image(p1, ['cold'], DATA,
                                        name='base-cold')['id']
    made.deleted = harness.make_base_image(p1, ['cold'], DATA,
                                           name='base-deleted')['id']
    p1.delete_image(made.deleted)
    made.deactivated = harness.make_base_image(p1, ['cheap'], DATA,
                                               name='base-deactivated')['id']
    status, _, body = admin.request(
        'POST', '/v2/images/%s/actions/deactivate' % made.deactivated)
    assert status == 204, body
    made.queued = p1.create_image(name='base-queued')['id']
    made.staged = p1.create_image(name='base-staged')['id']
    p1.stage(made.staged, DATA)
    made.missing = str(uuid.uuid4())
    return made


# ----------------------------------------------------------------------
# sending


def _http_client_request(client, method, path, headers, body):
    """One request through http.client; ``headers`` is a list of pairs.

    Values may be bytes (sent as they are) and a name may repeat.
    """
    url = urllib.parse.urlsplit(client.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.putrequest(method, path)
        pairs = list(client.auth.identity_headers().items())
        pairs.append(('X-Auth-Token', 'harness-token'))
        for name, value in pairs + list(headers):
            conn.putheader(name, value)
        conn.putheader('Content-Length', str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return (response.status, dict(response.getheaders()),
                response.read())
    finally:
        conn.close()


def put_file(client, image_id, values, via='session', extra=None):
    """``PUT /v2/images/{id}/file`` with the header once per value."""
    path = '/v2/images/%s/file' % image_id
    other = dict(OCTET, **AS_JSON)
    other.update(extra or {})
    if via == 'session':
        (value,) = values
        headers = dict(other, **{HEADER: value})
        return client.request('PUT', path, headers=headers,
                              data=iter([DATA]))
    assert via == 'http.client', via
    pairs = [(HEADER, v) for v in values] + list(other.items())
    return _http_client_request(client, 'PUT', path, pairs, DATA)


def message_of(body):
    """The ``message`` of a JSON error body, without webob's markup."""
    message = json.loads(body)['message']
    return message.split('<br />')[0].strip()


def assert_untouched(deployment, client, image_id, status='queued',
                     files=None):
    """The image is as it was and nothing of it was written anywhere."""
    image = client.get_image(image_id)
    assert image['status'] == status, image
    assert not image.get('stores'), image
    if status == 'queued':
        assert image['size'] is None, image
    assert deployment.env.files_for(image_id) == (files or {})


def assert_stored(deployment, client, image_id, stores):
    image = client.get_image(image_id)
    assert image['status'] == 'active', image
    assert harness.image_stores(image) == set(stores), image
    assert set(deployment.env.files_for(image_id)) == set(stores)


# ----------------------------------------------------------------------
# PUT /v2/images/{id}/file: the header's value


def refused(fragment):
    """Expected outcome: 400 whose message names the header."""
    return ('refused', fragment)


UPLOAD_CASES = [
    # value(bases, own image id) -> the header values, one per line
    pytest.param(lambda b, own: [''], 'session',
                 refused('is empty'), id='empty'),
    pytest.param(lambda b, own: [' \t '], 'http.client',
                 refused('is empty'), id='blanks-only'),
    pytest.param(lambda b, own: ['\t%s ' % b.cheap], 'http.client',
                 ('cheap',), id='surrounding-blanks'),
    pytest.param(lambda b, own: [b.cheap.upper()], 'session',
                 ('cheap',), id='upper-case'),
    pytest.param(lambda b, own: ['{%s}' % b.cheap], 'session',
                 ('cheap',), id='braces'),
    pytest.param(lambda b, own: ['urn:uuid:%s' % b.cheap], 'session',
                 ('cheap',), id='urn'),
    pytest.param(lambda b, own: [b.cheap.replace('-', '')], 'session',
                 ('cheap',), id='no-hyphens'),
    pytest.param(lambda b, own: ['cirros-0.6.2-x86_64-disk'], 'session',
                 refused('is not a UUID'), id='image-name'),
    pytest.param(lambda b, own: [b.cheap[:-1]], 'session',
                 refused('is not a UUID'), id='truncated-uuid'),
    pytest.param(lambda b, own: ['%s,%s' % (b.cheap, b.cold)], 'session',
                 refused('holds several values'), id='comma-list'),
    pytest.param(lambda b, own: ['%s,' % b.cheap], 'session',
                 refused('holds several values'), id='trailing-comma'),
    pytest.param(lambda b, own: ['%s %s' % (b.cheap, b.cold)], 'session',
                 refused(''), id='space-separated'),
    pytest.param(lambda b, own: [b.cheap, b.cold], 'http.client',
                 refused('holds several values'), id='repeated-header'),
    pytest.param(lambda b, own: [b.cheap, b.cheap], 'http.client',
                 refused('holds several values'),
                 id='repeated-header-same-value'),
    pytest.param(lambda b, own: ['f' * 8192], 'session',
                 refused('is 8192 characters long'), id='8KiB'),
    pytest.param(lambda b, own: ['0' * 61440], 'session',
                 refused('is 61440 characters long'), id='60KiB'),
    pytest.param(lambda b, own: [b.cheap + '\x00'], 'session',
                 refused('is not a UUID'), id='nul-byte'),
    pytest.param(lambda b, own: ['\x1b[2J' + b.cheap], 'session',
                 refused('is not a UUID'), id='escape-sequence'),
    pytest.param(lambda b, own: [b.cheap[:18] + '\r\n ' + b.cheap[18:]],
                 'http.client', refused('is not a UUID'), id='obs-fold'),
    pytest.param(lambda b, own: [(b.cheap[:-1] + '\u00e9').encode()],
                 'http.client', refused('is not a UUID'), id='utf-8'),
    pytest.param(lambda b, own: [b.cheap.encode() + b'\xa0'],
                 'http.client', refused('is not a UUID'), id='latin-1-nbsp'),
    pytest.param(lambda b, own: ['../%s' % b.cheap], 'session',
                 refused('is not a UUID'), id='path-traversal'),
    pytest.param(lambda b, own: ['/v2/images/%s' % b.cheap], 'session',
                 refused('is not a UUID'), id='api-path'),
    pytest.param(lambda b, own: [b.cheap.replace('-', '%2D')], 'session',
                 refused('is not a UUID'), id='percent-encoded'),
    pytest.param(lambda b, own: [own], 'session',
                 (DEFAULT_STORE,), id='the-image-itself'),
    pytest.param(lambda b, own: [b.missing], 'session',
                 (DEFAULT_STORE,), id='missing-image'),
    pytest.param(lambda b, own: [b.deleted], 'session',
                 (DEFAULT_STORE,), id='deleted-image'),
    pytest.param(lambda b, own: [b.queued], 'session',
                 (DEFAULT_STORE,), id='queued-base'),
    pytest.param(lambda b, own: [b.staged], 'session',
                 (DEFAULT_STORE,), id='staged-base'),
    pytest.param(lambda b, own: [b.deactivated], 'session',
                 (DEFAULT_STORE,), id='deactivated-base'),
]


@pytest.mark.parametrize('values, via, expected', UPLOAD_CASES)
def test_upload_header_value(glance, p1, bases, values, via, expected):
    image_id = p1.create_image(name='volume')['id']
    status, _headers, body = put_file(p1, image_id,
                                      values(bases, image_id), via)
    if expected[0] == 'refused':
        assert status == 400, body
        message = message_of(body)
        assert message.startswith('The %s header ' % HEADER), message
        assert expected[1] in message
        assert json.loads(body)['code'] == '400 Bad Request'
        assert_untouched(glance, p1, image_id)
    else:
        assert status == 204, body
        assert_stored(glance, p1, image_id, expected)


def test_refusal_is_html_unless_json_is_asked(glance, p1):
    image_id = p1.create_image(name='volume')['id']
    status, headers, body = put_file(p1, image_id, ['nope'],
                                     extra={'Accept': '*/*'})
    assert status == 400
    assert headers['Content-Type'].startswith('text/html')
    assert (b'The %s header is not a UUID' % HEADER.encode()) in body
    assert_untouched(glance, p1, image_id)


def test_cinder_upload_is_refused_before_its_body(glance, p1):
    """glanceclient's chunked upload of several MiB gets a clean 400."""
    image_id = p1.create_image(name='volume')['id']
    with pytest.raises(glanceclient.exc.HTTPBadRequest) as caught:
        p1.upload(image_id, b'\0' * (4 * 1024 * 1024 + 1),
                  base_image_ref='f' * 8192)
    assert HEADER in str(caught.value)
    assert_untouched(glance, p1, image_id)


def test_store_header_wins_over_an_invalid_base_header(glance, p1):
    image_id = p1.create_image(name='volume')['id']
    status, _, body = put_file(p1, image_id, ['nope'],
                               extra={harness.STORE_HEADER: 'cold'})
    assert status == 204, body
    assert_stored(glance, p1, image_id, ('cold',))


@pytest.mark.parametrize('method, suffix, expected', [
    ('PUT', '/stage', 204),
    ('GET', '', 200),
], ids=['stage', 'get-image'])
def test_other_requests_ignore_the_header(glance, p1, method, suffix,
                                          expected):
    image_id = p1.create_image(name='volume')['id']
    headers = dict(OCTET, **{HEADER: 'nope'})
    data = DATA if method == 'PUT' else None
    status, _, body = p1.request(method, '/v2/images/%s%s'
                                 % (image_id, suffix), headers=headers,
                                 data=data)
    assert status == expected, body


def _without_ids(body):
    return UUID_RE.sub('<id>', body.decode('utf-8', 'replace'))


@pytest.mark.parametrize('target', [
    'unknown-image', 'active-image', 'image-without-disk-format'])
def test_glance_judges_a_target_that_cannot_take_data(glance, p1, bases,
                                                      target):
    """The filter answers as glance does, with or without the header."""
    def make():
        if target == 'unknown-image':
            return str(uuid.uuid4())
        if target == 'active-image':
            return harness.make_base_image(p1, ['cold'], DATA,
                                           name='active-target')['id']
        return dict(p1.client().images.create(name='no-format'))['id']

    answers = []
    for header in ({HEADER: bases.cheap}, {}):
        image_id = make()
        headers = dict(OCTET, **header)
        status, _, body = p1.request('PUT', '/v2/images/%s/file' % image_id,
                                     headers=headers, data=iter([DATA]))
        files = glance.env.files_for(image_id)
        answers.append((status, _without_ids(body), sorted(files)))
    assert answers[0] == answers[1], (
        'with the header: %r\nwithout it:      %r' % tuple(answers))
    assert answers[0][0] == {'unknown-image': 404, 'active-image': 409,
                             'image-without-disk-format': 400}[target]


# ----------------------------------------------------------------------
# POST /v2/images/{id}/import


def staged_image(client):
    image_id = client.create_image(name='volume')['id']
    client.stage(image_id, DATA)
    return image_id


def post_import(client, image_id, body, headers, chunked=False):
    """POST the import; a dropped connection reads as status None."""
    all_headers = dict(IMPORT_HEADERS, **headers)
    try:
        return client.request('POST', '/v2/images/%s/import' % image_id,
                              headers=all_headers,
                              data=iter([body]) if chunked else body)
    except ks_exc.ConnectionError as exc:
        return None, {}, ('no answer: %s' % exc).encode()


@pytest.mark.parametrize('value, fragment', [
    ('nope', 'is not a UUID'),
    ('', 'is empty'),
    ('%s,%s' % (uuid.uuid4(), uuid.uuid4()), 'holds several values'),
], ids=['not-a-uuid', 'empty', 'comma-list'])
def test_import_header_value(glance, p1, value, fragment):
    image_id = staged_image(p1)
    staged = glance.env.files_for(image_id)
    status, _, body = post_import(p1, image_id,
                                  json.dumps(GLANCE_DIRECT).encode(),
                                  {HEADER: value})
    assert status == 400, body
    assert message_of(body).startswith('The %s header ' % HEADER)
    assert fragment in message_of(body)
    assert_untouched(glance, p1, image_id, status='uploading', files=staged)
    (path,) = staged['staging']
    with open(path, 'rb') as f:
        assert f.read() == DATA


def import_outcome(deployment, client, image_id, answer):
    """What the caller saw and what became of the image, ids removed."""
    status, _, body = answer
    if status == 202:
        image = client.wait_for(image_id, harness.import_finished,
                                timeout=60)
    else:
        image = client.get_image(image_id)
    return (status, _without_ids(body), image['status'],
            sorted(harness.image_stores(image)),
            sorted(deployment.env.files_for(image_id)))


def _deeply_nested():
    return b'[' * 30000 + b']' * 30000   # under 64 KiB, depth 30000


IMPORT_BODIES = [
    # name, body bytes, extra headers, chunked, glance's status
    ('not-json', b'method=glance-direct', {}, False, 400),
    ('json-array', b'[{"method": {"name": "glance-direct"}}]', {}, False,
     500),
    ('json-string', b'"glance-direct"', {}, False, 400),
    ('json-null', b'null', {}, False, 400),
    ('empty-body', b'', {}, False, 400),
    ('over-64KiB', json.dumps(dict(GLANCE_DIRECT, pad='x' * 70000)).encode(),
     {}, False, 202),
    ('chunked', json.dumps(GLANCE_DIRECT).encode(), {}, True, 400),
    ('stores-empty', json.dumps(dict(GLANCE_DIRECT, stores=[])).encode(),
     {}, False, 202),
    ('stores-null', json.dumps(dict(GLANCE_DIRECT, stores=None)).encode(),
     {}, False, 500),
    ('all-stores-false',
     json.dumps(dict(GLANCE_DIRECT, all_stores=False)).encode(), {}, False,
     202),
    ('store-header', json.dumps(GLANCE_DIRECT).encode(),
     {harness.STORE_HEADER: 'cold'}, False, 202),
    ('utf-8-bom', b'\xef\xbb\xbf' + json.dumps(GLANCE_DIRECT).encode(), {},
     False, 400),
    ('utf-16', json.dumps(GLANCE_DIRECT).encode('utf-16'), {}, False, 400),
    ('lone-surrogate',
     b'{"method": {"name": "glance-direct"}, "note": "\xed\xa0\x80"}', {},
     False, 400),
    ('deeply-nested', _deeply_nested(), {}, False, 500),
]


@pytest.mark.parametrize('body, extra, chunked, glance_status',
                         [pytest.param(*case[1:], id=case[0])
                          for case in IMPORT_BODIES])
def test_import_body_is_left_to_glance(glance, p1, bases, body, extra,
                                       chunked, glance_status):
    """Same answer and same image with the header as without it."""
    outcomes = []
    for header in ({HEADER: bases.cheap}, {}):
        image_id = staged_image(p1)
        answer = post_import(p1, image_id, body, dict(extra, **header),
                             chunked)
        outcomes.append(import_outcome(glance, p1, image_id, answer))
    with_header, without_header = outcomes
    assert with_header == without_header, (
        'with the header: %r\nwithout it:      %r' % tuple(outcomes))
    assert without_header[0] == glance_status


def test_import_control_json_object_gets_the_base_stores(glance, p1, bases):
    """The body cases above would pass if the filter ignored imports."""
    image_id = staged_image(p1)
    answer = post_import(p1, image_id, json.dumps(GLANCE_DIRECT).encode(),
                         {HEADER: bases.cheap})
    outcome = import_outcome(glance, p1, image_id, answer)
    assert outcome[0] == 202, outcome
    assert outcome[3:] == (['cheap'], ['cheap'])
