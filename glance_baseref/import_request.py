"""Adding the base image's stores to a ``POST /v2/images/{id}/import``.

The import request body is a small JSON object. It is read only when its
length is declared and small; anything else is handed on untouched for
glance to judge, as if the filter were not there.
"""

import io
import json

MAX_BODY_BYTES = 64 * 1024

# Keys by which the caller already chose the stores itself.
_CHOSEN_BY_CALLER = ('stores', 'all_stores')


def read_small_json_object(environ):
    """Return the body as a dict, or None; the body stays readable."""
    try:
        length = int(environ.get('CONTENT_LENGTH') or '')
    except ValueError:
        return None
    if length <= 0 or length > MAX_BODY_BYTES:
        return None
    raw = environ['wsgi.input'].read(length)
    # Whatever happens next, glance must see the bytes the caller sent.
    environ['wsgi.input'] = io.BytesIO(raw)
    try:
        # Strict UTF-8 and no exotic failure: what glance itself would
        # refuse is left for glance to refuse.
        body = json.loads(raw.decode('utf-8'))
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def chooses_own_stores(body):
    return any(key in body for key in _CHOSEN_BY_CALLER)


def replace_body(environ, text):
    """Hand on ``text`` (JSON) as the request's body."""
    raw = text.encode()
    environ['wsgi.input'] = io.BytesIO(raw)
    environ['CONTENT_LENGTH'] = str(len(raw))
