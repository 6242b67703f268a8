"""What only a real identity layer adds: tokens, on glance's keystone flavor.

glance-api runs its shipped ``keystone`` pipeline (``authtoken context
baseref``) against a real Keystone. The cases (doc/identity.md has the
answers in a table):

* no token, a token Keystone never issued, and an expired one: 401 before
  the filter does anything. Glance's authtoken filter has
  ``delay_auth_decision = true``: it only marks the request unauthenticated,
  and glance's ``context`` filter answers the 401 (webob's text; authtoken
  adds its ``WWW-Authenticate: Keystone uri=...``). Nothing is staged,
  stored or tasked, even with a base image that the filter would copy.
* a user token with a service token (``X-Service-Token``, as Cinder sends
  with ``[service_user] send_service_user_token = true``): co-located as
  for the user alone, and the import runs as the user. With a valid
  service token keystonemiddleware accepts an *expired* user token (the
  reason Cinder sends one: long uploads), so the upload still co-locates.

Covered by the keystone runs of other modules: a token of a project that
cannot see the base image (test_cinder_upload, test_security: the default
store, as for a missing base) and a token without ``member``
(test_security: glance's own 403, nothing staged).
"""

import pytest

from tests import harness
from tests.e2e.checks import assert_nothing_written

HEADER = harness.BASE_IMAGE_HEADER
DATA = b'volume data ' * 4096
BASE_STORES = ['cheap', 'cold']
OCTET = {'Content-Type': 'application/octet-stream'}
GLANCE_DIRECT = {'method': {'name': 'glance-direct'}}
# webob's HTTPUnauthorized, as raised by glance's context filter.
CONTEXT_FILTER_401 = b'This server could not verify that you are authorized'

pytestmark = pytest.mark.identities('keystone')


@pytest.fixture(scope='module')
def base(glance):
    """p1's base image in two stores: the filter's stage+import path."""
    return harness.make_base_image(glance.client('p1'), BASE_STORES, DATA,
                                   name='identity-base')['id']


def user_token(keystone, kind):
    """The p1 member's token of this kind (None: no token)."""
    return {
        'missing': None,
        'invalid': 'gAAAAAB-a-token-that-keystone-never-issued',
        'expired': keystone.expired_token('p1-member'),
        'valid': keystone.token('p1-member'),
    }[kind]


def baseref_lines(deployment, image_id):
    return [line for line in deployment.log().splitlines()
            if 'glance_baseref' in line and image_id in line]


def send(client, path, image_id, base):
    """The upload or the import of ``image_id`` with the base header."""
    if path == 'upload':
        return client.request('PUT', '/v2/images/%s/file' % image_id,
                              headers=dict(OCTET, **{HEADER: base}),
                              data=iter([DATA]))
    return client.request('POST', '/v2/images/%s/import' % image_id,
                          headers={HEADER: base}, json=GLANCE_DIRECT)


@pytest.mark.parametrize('path', ['upload', 'import'])
@pytest.mark.parametrize('token', ['missing', 'invalid', 'expired'])
def test_no_valid_token_is_refused_before_the_filter(glance, keystone, p1,
                                                     base, token, path):
    caller = keystone.token_client(user_token(keystone, token),
                                   glance.server.url)
    image_id = p1.create_image(name='volume')['id']
    if path == 'import':
        p1.stage(image_id, DATA)
    before = glance.env.files_for(image_id)

    status, headers, body = send(caller, path, image_id, base)
    assert status == 401, body
    assert CONTEXT_FILTER_401 in body, body
    assert headers['WWW-Authenticate'] == (
        'Keystone uri="%s"' % keystone.auth_url)
    assert_nothing_written(glance, p1, image_id, path, before)
    assert baseref_lines(glance, image_id) == []

    # Control: the same request with the user's valid token co-locates.
    assert send(p1, path, image_id, base)[0] in (202, 204)
    image = p1.wait_for(image_id, harness.import_finished)
    assert harness.image_stores(image) == set(BASE_STORES), image
    assert len(baseref_lines(glance, image_id)) == 1


@pytest.mark.release
@pytest.mark.parametrize('token', ['valid', 'expired'])
def test_user_and_service_token_colocate_as_the_user(
        glance, keystone, p1, base, token):
    caller = keystone.token_client(user_token(keystone, token),
                                   glance.server.url, service_token=True)
    image_id = p1.create_image(name='volume')['id']
    caller.upload(image_id, DATA, base_image_ref=base)

    image = p1.wait_for(image_id, harness.import_finished)
    assert image['status'] == 'active', image
    assert harness.image_stores(image) == set(BASE_STORES), image
    assert glance.env.stores_holding(image_id) == set(BASE_STORES)
    (task,) = p1.image_tasks(image_id)
    assert (task['owner'], task['user_id']) == (p1.project_id, p1.user_id)
