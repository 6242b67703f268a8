"""A Glance client that talks like Cinder, with or without keystone.

Cinder uploads a volume to an image through a keystoneauth1 session and a
glanceclient v2 client built per call on that session. For
``PUT /v2/images/{id}/file`` it sets ``client.http_client.additional_headers``
to ``x-image-meta-store`` and/or ``x-openstack-base-image-ref`` (only those
that have a value) and calls ``client.images.upload(image_id, file)``; the
body goes out chunked (1 MiB chunks), without Content-Length. This module
reproduces exactly that request.

One client class serves both identities of the tests, through the
keystoneauth auth plugin it is given:

* real Keystone (``auth`` given, see :meth:`tests.harness.keystone.Keystone.
  client`): a password plugin, a plain token plugin as Cinder's
  ``_ContextAuthPlugin`` (the user's token), or either wrapped with a
  service token; glance runs the ``keystone`` flavor and validates them;
* header identity (no ``auth``): glance runs its ``context`` filter without
  ``authtoken`` (see glance_env), so every request carries the headers
  keystonemiddleware would have set. They come from :class:`IdentityToken`
  rather than from glanceclient's ``identity_headers``, which percent-quotes
  values and so breaks the comma in ``X-Roles``.
"""

import io
import json
import time
import uuid

import glanceclient
import glanceclient.exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

#: The two headers Cinder may add to an upload.
STORE_HEADER = 'x-image-meta-store'
BASE_IMAGE_HEADER = 'x-openstack-base-image-ref'


class IdentityToken(token_endpoint.Token):
    """Token plugin that also asserts a keystone-validated identity.

    ``get_headers()`` returns X-Auth-Token plus what keystonemiddleware
    puts on a request after validating a token, so that glance's
    ``context`` filter builds a real, per-project request context.
    """

    def __init__(self, endpoint, project_id, user_id, roles,
                 token='harness-token'):
        super().__init__(endpoint, token)
        self.project_id = project_id
        self.user_id = user_id
        self.roles = tuple(roles)

    def identity_headers(self):
        return {
            'X-Identity-Status': 'Confirmed',
            'X-Roles': ','.join(self.roles),
            'X-Project-Id': self.project_id,
            'X-User-Id': self.user_id,
        }

    def get_headers(self, session, **kwargs):
        headers = {'X-Auth-Token': self.get_token(session)}
        headers.update(self.identity_headers())
        return headers


class CinderLikeClient:
    """One identity talking to one glance endpoint.

    Without ``auth``: the header identity ``project_id``, ``user_id``,
    ``roles``. With a keystoneauth ``auth`` plugin: whatever identity it
    authenticates (``project_id`` and ``user_id`` are then Keystone's, or
    None for a bare token); ``url`` None finds glance (service type
    ``image``) in the catalog.
    """

    def __init__(self, url, project_id='p1', user_id='u1',
                 roles=('member', 'reader'), timeout=300, auth=None):
        if auth is None:
            auth = IdentityToken(url.rstrip('/'), project_id, user_id,
                                 roles)
        self.auth = auth
        self.session = ks_session.Session(auth=auth, timeout=timeout)
        if not isinstance(auth, IdentityToken):
            project_id = auth.get_project_id(self.session)
            user_id = auth.get_user_id(self.session)
            if url is None:
                url = self.session.get_endpoint(service_type='image',
                                                interface='public')
        self.url = url.rstrip('/')
        self.project_id = project_id
        self.user_id = user_id
        self.roles = tuple(roles)
        self.last_request_id = None

    def client(self):
        """A fresh glanceclient v2 client, as Cinder builds one per call."""
        self.last_request_id = 'req-%s' % uuid.uuid4()
        return glanceclient.Client('2', self.url, session=self.session,
                                   auth=self.auth,
                                   global_request_id=self.last_request_id)

    # ------------------------------------------------------------------
    # glanceclient wrappers

    def create_image(self, name='test-image', disk_format='raw',
                     container_format='bare', **props):
        """Create an image record; returns it as a dict."""
        image = self.client().images.create(
            name=name, disk_format=disk_format,
            container_format=container_format, **props)
        return dict(image)

    def upload(self, image_id, data, base_image_ref=None, store=None):
        """``PUT /v2/images/{id}/file`` exactly as Cinder sends it.

        ``data`` is a file object or bytes (wrapped in a file object so the
        body is chunked, as with a volume file). Raises glanceclient's
        HTTP exceptions on an error answer.
        """
        if isinstance(data, (bytes, bytearray)):
            data = io.BytesIO(data)
        client = self.client()
        keys = (STORE_HEADER, BASE_IMAGE_HEADER)
        values = (store, base_image_ref)
        headers = {k: v for k, v in zip(keys, values) if v is not None}
        if headers:
            client.http_client.additional_headers = headers
        return client.images.upload(image_id, data)

    def stage(self, image_id, data):
        """``PUT /v2/images/{id}/stage`` (chunked, like upload)."""
        if isinstance(data, (bytes, bytearray)):
            data = io.BytesIO(data)
        return self.client().images.stage(image_id, data)

    def get_image(self, image_id):
        """The image as a dict (raises glanceclient.exc.HTTPNotFound)."""
        return dict(self.client().images.get(image_id))

    def delete_image(self, image_id):
        return self.client().images.delete(image_id)

    def import_image(self, image_id, method='glance-direct', **kwargs):
        """``POST /v2/images/{id}/import``.

        kwargs go to glanceclient's ``images.image_import`` (``stores``,
        ``all_stores``, ``allow_failure``, ``uri``, ...). Note glanceclient's
        spelling: ``allow_failure=True`` (its default) sends
        ``all_stores_must_succeed: false``; ``allow_failure=False`` sends
        nothing, and glance's default is true. Use :meth:`request` for an
        exact body.
        """
        return self.client().images.image_import(image_id, method=method,
                                                 **kwargs)

    def list_images(self, **filters):
        return [dict(i) for i in self.client().images.list(filters=filters)]

    def image_tasks(self, image_id):
        """``GET /v2/images/{id}/tasks`` -> list of task dicts."""
        status, _headers, body = self.request(
            'GET', '/v2/images/%s/tasks' % image_id)
        if status != 200:
            raise RuntimeError('GET tasks: %s %r' % (status, body))
        return json.loads(body)['tasks']

    def wait_for(self, image_id, predicate, timeout=60, interval=0.2):
        """Poll the image until ``predicate(image_dict)`` is true.

        Returns the image; raises TimeoutError with the last image seen.
        """
        deadline = time.monotonic() + timeout
        while True:
            image = self.get_image(image_id)
            if predicate(image):
                return image
            if time.monotonic() > deadline:
                raise TimeoutError('image %s: condition not met within %ss; '
                                   'last seen: %r' % (image_id, timeout,
                                                      image))
            time.sleep(interval)

    def wait_deleted(self, image_id, timeout=60, interval=0.2):
        """Poll until the image is gone (404); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                image = self.get_image(image_id)
            except glanceclient.exc.HTTPNotFound:
                return
            if time.monotonic() > deadline:
                raise TimeoutError('image %s still there after %ss: %r'
                                   % (image_id, timeout, image))
            time.sleep(interval)

    # ------------------------------------------------------------------
    # raw HTTP

    def request(self, method, path, headers=None, json=None, data=None):
        """One HTTP request with the identity headers, nothing else added.

        Returns ``(status, headers, body_bytes)``; never raises on an
        HTTP error status. ``data`` may be bytes (sent with Content-Length)
        or an iterator of bytes (sent chunked).
        """
        resp = self.session.request(self.url + path, method,
                                    headers=dict(headers or {}), json=json,
                                    data=data, raise_exc=False,
                                    connect_retries=0)
        return resp.status_code, resp.headers, resp.content


def image_stores(image):
    """Set of store ids of an image dict (glance joins them with commas)."""
    return {s for s in (image.get('stores') or '').split(',') if s}


def import_finished(image):
    """True once glance dropped the import task marker from the image.

    ``status == 'active'`` alone is not "done": with
    all_stores_must_succeed false the image turns active after its first
    store.
    """
    return 'os_glance_import_task' not in image


def make_base_image(client, stores, data, name='base-image', timeout=120,
                    **props):
    """An active image whose data lives in exactly ``stores``.

    Uses what a plain project member may do: create, stage, then a
    glance-direct import into ``stores`` with all_stores_must_succeed.
    Waits for the end of the import (not just ``active``) and checks the
    result. Returns the image dict.
    """
    stores = list(stores)
    if not stores:
        raise ValueError('at least one store')
    image = client.create_image(name=name, **props)
    client.stage(image['id'], data)
    client.import_image(image['id'], method='glance-direct', stores=stores,
                        allow_failure=False)
    # The 202 comes once os_glance_import_task is set; wait for its removal.
    image = client.wait_for(
        image['id'],
        lambda i: import_finished(i) and i['status'] in ('active', 'queued'),
        timeout=timeout)
    if image['status'] != 'active' or image_stores(image) != set(stores):
        raise RuntimeError('base image %s ended %s in %s, wanted %s: %r'
                           % (image['id'], image['status'],
                              sorted(image_stores(image)), stores, image))
    return image
