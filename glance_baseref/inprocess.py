"""In-process sub-requests to the wrapped glance app, as the caller.

Every call runs with the caller's own request context, so glance applies
the caller's policies and visibility rules: no token, no loopback HTTP and
no elevated rights. The sub-requests carry no body from the caller, except
:meth:`InProcessGlance.stage`, which hands the caller's own upload on.
"""

import json

import webob

# Keys of the caller's environ a sub-request keeps; everything else
# (body, headers, the caller's response objects) stays with the caller.
_KEPT_ENVIRON_KEYS = (
    'SCRIPT_NAME', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL',
    'REMOTE_ADDR', 'HTTP_HOST', 'wsgi.url_scheme', 'wsgi.errors',
    'wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once',
    'HTTP_X_OPENSTACK_REQUEST_ID',
)
# Set on every sub-request, so that what runs below the filter (and the
# tests) can tell the filter's own calls from the caller's request.
SUBREQUEST_MARKER = 'glance_baseref.subrequest'
# Glance's patch dialect in which ``add`` also replaces a property.
JSON_PATCH = 'application/openstack-images-v2.1-json-patch'


def request_context(environ):
    """The context glance's context filter attached to the request."""
    return environ.get('webob.adhoc_attrs', {}).get('context')


class GlanceError(Exception):
    """A sub-request got an answer other than the one it needs."""

    def __init__(self, what, response):
        self.status_int = response.status_int
        self.explanation = _explanation(response)
        super().__init__('%s: %s %s' % (what, response.status,
                                        self.explanation))

    @classmethod
    def from_status(cls, status_int, what):
        """An error the filter concludes itself, with no glance answer."""
        return cls(what, webob.Response(status=status_int))


def _explanation(response):
    try:
        text = response.text
    except Exception:  # the text only feeds a log line
        return ''
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # webob error pages repeat the status line first; the rest says why.
    return ' '.join(lines[1:] or lines)[:500]


class InProcessGlance:
    """Calls to the glance app below the filter, on behalf of one caller."""

    def __init__(self, app, environ):
        self.app = app
        self.environ = environ
        self.context = request_context(environ)

    def detached(self):
        """The same caller, keeping only what later sub-requests need.

        For work that outlives the request (watching an import): neither
        the caller's environ nor its body is kept.
        """
        kept = {k: self.environ[k] for k in _KEPT_ENVIRON_KEYS
                if k in self.environ}
        kept['webob.adhoc_attrs'] = {'context': self.context}
        return InProcessGlance(self.app, kept)

    def _call(self, method, path, body=None,
              content_type='application/json'):
        env = {k: self.environ[k] for k in _KEPT_ENVIRON_KEYS
               if k in self.environ}
        env['webob.adhoc_attrs'] = {'context': self.context}
        env[SUBREQUEST_MARKER] = True
        req = webob.Request.blank(path, environ=env, method=method)
        req.accept = 'application/json'
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = content_type
        return req.get_response(self.app)

    def _json(self, what, method, path, body=None, ok=(200,), **kwargs):
        response = self._call(method, path, body, **kwargs)
        if response.status_int not in ok:
            raise GlanceError(what, response)
        return response.json_body if response.body else {}

    def get_image(self, image_id):
        return self._json('GET image %s' % image_id,
                          'GET', '/v2/images/%s' % image_id)

    def stores_info(self):
        return self._json('GET /v2/info/stores', 'GET', '/v2/info/stores')

    def import_info(self):
        return self._json('GET /v2/info/import', 'GET', '/v2/info/import')

    def image_tasks(self, image_id):
        return self._json('GET tasks of image %s' % image_id,
                          'GET', '/v2/images/%s/tasks' % image_id)

    def start_import(self, image_id, stores, all_stores_must_succeed):
        body = {'method': {'name': 'glance-direct'},
                'stores': list(stores),
                'all_stores_must_succeed': all_stores_must_succeed}
        return self._json('import image %s' % image_id, 'POST',
                          '/v2/images/%s/import' % image_id, body, ok=(202,))

    def set_properties(self, image_id, properties):
        """Add or replace properties (JSON patch ``add`` replaces)."""
        return self._json('PATCH image %s' % image_id, 'PATCH',
                          '/v2/images/%s' % image_id,
                          [{'op': 'add', 'path': '/%s' % name,
                            'value': value}
                           for name, value in sorted(properties.items())],
                          content_type=JSON_PATCH)

    def remove_property(self, image_id, name):
        return self._json('PATCH image %s' % image_id, 'PATCH',
                          '/v2/images/%s' % image_id,
                          [{'op': 'remove', 'path': '/%s' % name}],
                          content_type=JSON_PATCH)

    def delete_image(self, image_id):
        self._json('DELETE image %s' % image_id, 'DELETE',
                   '/v2/images/%s' % image_id, ok=(204, 404))

    def stage(self, image_id, body_input=None):
        """Hand the caller's upload to ``PUT .../stage`` instead of ``/file``.

        The environ is the caller's own, so glance reads the body exactly
        as it would have for the upload (``uwsgi.chunked_read()`` included);
        ``body_input`` only counts what glance reads of ``wsgi.input``.
        """
        return self._caller_body('/v2/images/%s/stage' % image_id,
                                 body_input)

    def upload(self, image_id, store, body_input=None):
        """Hand the caller's upload on as ``PUT .../file`` into ``store``."""
        return self._caller_body('/v2/images/%s/file' % image_id,
                                 body_input, store=store)

    def _caller_body(self, path, body_input, store=None):
        env = dict(self.environ)
        env['PATH_INFO'] = path
        env['webob.adhoc_attrs'] = {'context': self.context}
        env[SUBREQUEST_MARKER] = True
        if body_input is not None:
            env['wsgi.input'] = body_input
        if store is not None:
            env['HTTP_X_IMAGE_META_STORE'] = store
        return webob.Request(env).get_response(self.app)
