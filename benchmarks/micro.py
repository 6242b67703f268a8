"""The filter's own cost, in-process, in microseconds per request.

The filter, built through its paste factory, wraps a minimal WSGI app that
answers at once; the same app called directly is the baseline. For the
steered upload the app also answers the filter's sub-requests (store list,
import methods, the base image) from constant JSON, so the time is the
filter's decision path without glance's database: parsing the header,
building the sub-request, the thread hand-off of the lookup, reading the
JSON answer, choosing the store and the log call.
"""

import json
import time

from glance_baseref import middleware

IMAGE_ID = '1f0e0c33-8f7e-4a56-9d52-5f3ad0a2f0c1'
BASE_ID = '9c2d1a4e-2c7b-4d8e-8b4f-0b6a2e9f7d10'

_STORES = json.dumps({'stores': [
    {'id': 'fast', 'default': 'true'}, {'id': 'cheap'}, {'id': 'cold'},
]}).encode()
_IMPORT = json.dumps({'import-methods': {
    'value': ['glance-direct', 'copy-image']}}).encode()
_BASE = json.dumps({'id': BASE_ID, 'status': 'active',
                    'stores': 'cheap'}).encode()
_JSON = [('Content-Type', 'application/json')]


def fake_glance(environ, start_response):
    """Answers what the filter asks and 204 to everything else."""
    path = environ['PATH_INFO']
    if path == '/v2/info/stores':
        body = _STORES
    elif path == '/v2/info/import':
        body = _IMPORT
    elif path == '/v2/images/' + BASE_ID:
        body = _BASE
    else:
        start_response('204 No Content', [])
        return [b'']
    start_response('200 OK', _JSON + [('Content-Length', str(len(body)))])
    return [body]


def _start_response(status, headers, exc_info=None):
    return None


def _environ(method, path, **headers):
    environ = {
        'REQUEST_METHOD': method, 'PATH_INFO': path, 'SCRIPT_NAME': '',
        'QUERY_STRING': '', 'SERVER_NAME': '127.0.0.1',
        'SERVER_PORT': '9292', 'SERVER_PROTOCOL': 'HTTP/1.1',
        'wsgi.url_scheme': 'http', 'HTTP_HOST': '127.0.0.1:9292',
        'HTTP_X_AUTH_TOKEN': 'token', 'HTTP_X_ROLES': 'member,reader',
    }
    environ.update(headers)
    return environ


REQUESTS = (
    ('GET image', _environ('GET', '/v2/images/' + IMAGE_ID), True),
    ('list images', _environ('GET', '/v2/images'), True),
    ('upload without headers',
     _environ('PUT', '/v2/images/%s/file' % IMAGE_ID), True),
    ('upload with base header, steered (fake glance)',
     _environ('PUT', '/v2/images/%s/file' % IMAGE_ID,
              HTTP_X_OPENSTACK_BASE_IMAGE_REF=BASE_ID), False),
)


def _per_call_us(app, template, calls):
    """Microseconds per call of ``app`` on fresh copies of an environ."""
    context = object()
    environs = []
    for _ in range(calls):
        environ = dict(template)
        environ['webob.adhoc_attrs'] = {'context': context}
        environs.append(environ)
    started = time.perf_counter()
    for environ in environs:
        for _chunk in app(environ, _start_response):
            pass
    return (time.perf_counter() - started) / calls * 1e6


def run(rounds=7, calls=20000, log=print):
    """Returns ``[(name, pass_through, filter_us, bare_us)]`` medians."""
    filtered = middleware.filter_factory({})(fake_glance)
    results = []
    for name, template, pass_through in REQUESTS:
        n = calls if pass_through else max(calls // 10, 100)
        with_filter, bare = [], []
        for number in range(rounds):
            pair = ((filtered, with_filter), (fake_glance, bare))
            for app, samples in (pair if number % 2 else pair[::-1]):
                samples.append(_per_call_us(app, template, n))
        with_filter.sort()
        bare.sort()
        f_us, b_us = with_filter[rounds // 2], bare[rounds // 2]
        log('  %-48s filter %8.2f us   app alone %6.2f us   added %8.2f us'
            % (name, f_us, b_us, f_us - b_us))
        results.append((name, pass_through, f_us, b_us))
    return results
