"""A recording stand-in for the glance API below the filter.

:class:`FakeGlance` answers the few glance v2 calls the filter makes and
records every request it sees, the caller's and the filter's own
sub-requests alike, as :class:`Seen` entries. :class:`ContextFilter` plays
glance's context filter: it attaches a request context the way webob keeps
``req.context`` and notes the caller's environ and ``wsgi.input`` so that the
fake can tell whether the filter handed them on untouched.
"""

import dataclasses
import json
import re
import threading

import webob

from glance_baseref import inprocess

_IMAGE_PATH = re.compile(
    r'^/v2/images/(?P<id>[^/]+)(?P<action>/file|/stage|/import|/tasks)?$')

# A state that removes a property from the image.
GONE = None


@dataclasses.dataclass
class Context:
    """The part of glance's RequestContext the fake looks at."""

    project_id: str = 'p1'


@dataclasses.dataclass
class Seen:
    """One request as the fake glance received it."""

    method: str
    path: str
    headers: dict
    context: object
    subrequest: bool
    thread: str
    body: bytes
    content_length: str
    same_input: bool
    untouched: bool
    image: dict = None

    @property
    def store(self):
        return self.headers.get('x-image-meta-store')

    @property
    def line(self):
        return '%s %s' % (self.method, self.path)


def _headers(environ):
    return {k[5:].lower().replace('_', '-'): v
            for k, v in environ.items() if k.startswith('HTTP_')}


def _read_body(environ):
    stream = environ.get('wsgi.input')
    if stream is None:
        return b''
    length = environ.get('CONTENT_LENGTH')
    return stream.read(int(length)) if length else stream.read()


class FakeGlance:
    """A WSGI app answering like glance 33 with multi-store, and recording.

    * ``stores``: what ``GET /v2/info/stores`` lists; ``None`` answers 404
      like a glance without ``enabled_backends``.
    * ``import_methods``: what ``GET /v2/info/import`` lists.
    * ``images``: id -> image properties; ``owner`` other than the caller's
      project (and not ``public``) makes the image invisible: 404.
    * ``progress``: id -> states served by successive ``GET`` of the image
      once its import was accepted; a dict updates the image (``GONE``
      removes a key), an int is answered as that error status. The last
      state repeats. A callable instead of a list gives the state of each
      ``GET``.
    * ``answers``: ``'stage'``, ``'import'``, ``'delete'``, ``'file'``,
      ``'patch'``, ``'tasks'``, ``'info_import'`` -> status to answer
      instead of success (a list: one status per call, ``None`` or an
      empty list = success).
    * ``staging_dir``: when set, staging writes ``<dir>/<id>`` there, as
      glance's file staging store does.
    * ``broken``: path -> what its ``GET`` gets: an error status, or an
      exception to raise.
    * ``blocked``: id -> Event the ``GET`` of that image waits for.
    * ``tasks``: id -> what ``GET /v2/images/{id}/tasks`` lists.
    """

    def __init__(self):
        self.stores = [
            {'id': 'fast', 'description': 'SSD', 'default': 'true'},
            {'id': 'cheap', 'description': 'HDD'},
            {'id': 'cold', 'description': 'tape-ish'},
            {'id': 'archive', 'description': 'old', 'read-only': 'true'},
        ]
        self.import_methods = ['glance-direct', 'web-download',
                               'copy-image']
        self.images = {}
        self.progress = {}
        self.answers = {}
        self.blocked = {}
        self.broken = {}
        self.tasks = {}
        self.staging_dir = None
        # Glance refuses most stages before reading the body (quota,
        # policy, a staging file that cannot be opened).
        self.stage_refusal_reads_body = True
        self.seen = []
        self.caller_environ = None
        self.caller_snapshot = None
        self.caller_input = None
        self._importing = set()
        self._last_served = {}
        self._answered = []
        self._lock = threading.Lock()

    # What the tests look at.

    def lines(self):
        return [s.line for s in self.seen]

    def find(self, method, path=None, action=None):
        """Requests with that method, and that path or path ending."""
        return [s for s in self.seen if s.method == method
                and (path is None or s.path == path)
                and (action is None or s.path.endswith(action))]

    # The WSGI app.

    def __call__(self, environ, start_response):
        untouched = (environ is self.caller_environ
                     and dict(environ) == self.caller_snapshot)
        body_input = environ.get('wsgi.input')
        # The filter may count what glance reads (body_reads), no more.
        body_input = getattr(body_input, 'stream', body_input)
        same_input = (self.caller_input is not None
                      and body_input is self.caller_input)
        seen = Seen(
            method=environ['REQUEST_METHOD'], path=environ['PATH_INFO'],
            headers=_headers(environ),
            context=inprocess.request_context(environ),
            subrequest=bool(environ.get(inprocess.SUBREQUEST_MARKER)),
            thread=threading.current_thread().name,
            body=b'' if self._refuses_stage_unread(environ)
            else _read_body(environ),
            content_length=environ.get('CONTENT_LENGTH'),
            same_input=same_input, untouched=untouched)
        with self._lock:
            self.seen.append(seen)
        response = self._answer(seen)
        answer = _Tracked(response(environ, start_response), seen)
        with self._lock:
            self._answered.append(answer)
        return answer

    def _refuses_stage_unread(self, environ):
        return (environ['PATH_INFO'].endswith('/stage')
                and self.answers.get('stage')
                and not self.stage_refusal_reads_body)

    def unclosed(self):
        """Requests whose answer was never closed by whoever got it."""
        with self._lock:
            return [a.seen.line for a in self._answered if not a.closed]

    def _answer(self, seen):
        if seen.method == 'GET' and seen.path in self.broken:
            return self._broken(seen)
        if seen.path == '/v2/info/stores' and seen.method == 'GET':
            return self._info_stores(seen)
        if seen.path == '/v2/info/import' and seen.method == 'GET':
            return self._status('info_import') or _json(
                {'import-methods': {'value': list(self.import_methods)}})
        match = _IMAGE_PATH.match(seen.path)
        if match is None:
            return _other()
        image_id, action = match.group('id'), match.group('action')
        handler = {
            ('GET', None): self._get_image,
            ('DELETE', None): self._delete,
            ('PATCH', None): self._patch,
            ('PUT', '/file'): self._file,
            ('PUT', '/stage'): self._stage,
            ('POST', '/import'): self._import,
            ('GET', '/tasks'): self._tasks,
        }.get((seen.method, action))
        if handler is None:
            return _other()
        return handler(seen, image_id)

    def _status(self, kind):
        status = self.answers.get(kind)
        if isinstance(status, list):  # one answer per call, then success
            status = status.pop(0) if status else None
        if status is None:
            return None
        return _error(status, 'fake glance refused %s' % kind)

    def _broken(self, seen):
        match = _IMAGE_PATH.match(seen.path)
        blocked = self.blocked.get(match.group('id')) if match else None
        if blocked is not None:
            blocked.wait(5)
        failure = self.broken[seen.path]
        if isinstance(failure, Exception):
            raise failure
        return _error(failure, 'fake glance answered %d' % failure)

    def _info_stores(self, seen):
        if self.stores is None:
            return _error(404, 'The resource could not be found.')
        return _json({'stores': [dict(s) for s in self.stores]})

    def _visible(self, seen, image_id):
        image = self.images.get(image_id)
        if image is None:
            return None
        owner = image.get('owner')
        project = getattr(seen.context, 'project_id', None)
        if owner and owner != project and image.get('visibility') != 'public':
            return None
        return image

    def _get_image(self, seen, image_id):
        blocked = self.blocked.get(image_id)
        if blocked is not None:
            blocked.wait(5)
        with self._lock:
            image = self._visible(seen, image_id)
            if image is not None and image_id in self._importing:
                states = self.progress.get(image_id) or [{}]
                if callable(states):
                    state = states()
                else:
                    state = states.pop(0) if len(states) > 1 else states[0]
                if isinstance(state, int):
                    return _error(state, 'fake glance answered %d' % state)
                for key, value in state.items():
                    if value is GONE:
                        image.pop(key, None)
                    else:
                        image[key] = value
            if image is None:
                return _not_found(image_id)
            served = {k: v for k, v in image.items()
                      if k not in ('owner', 'visibility')}
            served['id'] = image_id
            self._last_served[image_id] = dict(served)
            seen.image = dict(served)
        return _json(served)

    def _delete(self, seen, image_id):
        seen.image = self._last_served.get(image_id)
        refused = self._status('delete')
        if refused:
            return refused
        if self.images.pop(image_id, None) is None:
            return _not_found(image_id)
        return webob.Response(status=204)

    def _patch(self, seen, image_id):
        """Glance's JSON patch, ``add`` only (it replaces, as in v2.1)."""
        if not seen.subrequest:
            return _other()
        refused = self._status('patch')
        if refused:
            return refused
        with self._lock:
            image = self._visible(seen, image_id)
            if image is None:
                return _not_found(image_id)
            for change in json.loads(seen.body):
                name = change['path'].lstrip('/')
                if change['op'] == 'remove':
                    if name not in image:
                        return _error(409, 'no property %s' % name)
                    del image[name]
                    continue
                assert change['op'] == 'add', change
                image[name] = change['value']
            served = dict(image, id=image_id)
        return _json(served)

    def _file(self, seen, image_id):
        refused = self._status('file')
        if refused:
            return refused
        image = self.images.get(image_id)
        if image is not None:
            default = [s['id'] for s in self.stores or ()
                       if s.get('default') == 'true']
            image.update(status='active',
                         stores=seen.store or ','.join(default))
        return _uploaded('file')

    def _stage(self, seen, image_id):
        refused = self._status('stage')
        if refused:
            return refused
        if image_id in self.images:
            self.images[image_id]['status'] = 'uploading'
        if self.staging_dir is not None:
            (self.staging_dir / image_id).write_bytes(seen.body)
        return _uploaded('stage')

    def _import(self, seen, image_id):
        refused = self._status('import')
        if refused:
            return refused
        image = self.images.get(image_id)
        if image is None:
            return _not_found(image_id)
        image.update(status='importing', os_glance_import_task='task-1')
        self._importing.add(image_id)
        return webob.Response(status=202, content_type='application/json',
                              body=b'{}')

    def _tasks(self, seen, image_id):
        return self._status('tasks') or _json(
            {'tasks': list(self.tasks.get(image_id, []))})


class _Tracked:
    """An answer's app_iter that notes whether it was closed (PEP 3333)."""

    def __init__(self, app_iter, seen):
        self.app_iter = app_iter
        self.seen = seen
        self.closed = False

    def __iter__(self):
        return iter(self.app_iter)

    def close(self):
        self.closed = True
        close = getattr(self.app_iter, 'close', None)
        if close is not None:
            close()


class ContextFilter:
    """Glance's context filter, as far as the filter under test can tell.

    With ``context=None`` it attaches nothing, like a pipeline where the
    filter sits before the context filter.
    """

    def __init__(self, app, fake, context):
        self.app = app
        self.fake = fake
        self.context = context

    def __call__(self, environ, start_response):
        if self.context is not None:
            environ.setdefault('webob.adhoc_attrs', {})['context'] = (
                self.context)
        self.fake.caller_environ = environ
        self.fake.caller_input = environ.get('wsgi.input')
        self.fake.caller_snapshot = dict(environ)
        return self.app(environ, start_response)


def _json(body, status=200):
    return webob.Response(status=status, content_type='application/json',
                          body=json.dumps(body).encode())


def _error(status, message):
    response = webob.Response(status=status, content_type='text/plain')
    response.text = '%s\n\n%s\n\n' % (response.status, message)
    return response


def _not_found(image_id):
    return _error(404, 'No image found with ID %s' % image_id)


def _uploaded(kind):
    response = webob.Response(status=204)
    response.headers['X-Fake-Glance'] = kind
    return response


def _other():
    response = webob.Response(status=200, content_type='text/plain',
                              body=b'fake glance: other')
    response.headers['X-Fake-Glance'] = 'other'
    return response
