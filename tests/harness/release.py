"""Which glance release the tests run against, and how uWSGI serves it.

Each tox env of the release matrix installs one glance under its release's
upper-constraints (``requirements/glance-<release>.txt``); the harness
serves the glance of the running interpreter. Tests whose expectation
differs between releases key it on :func:`glance_version` and say why
(doc/compatibility.md lists every such difference).
"""

import functools
import importlib.metadata
import importlib.util
import os
import re
import sys
import time

#: How long uWSGI may take to log a request it has answered, seconds.
LOG_DELAY = 10

#: glance's major version -> its OpenStack release.
RELEASES = {
    28: '2024.1',
    29: '2024.2',
    30: '2025.1',
    31: '2025.2',
    32: '2026.1',
    33: '2026.2',
}


def _version(distribution):
    text = importlib.metadata.version(distribution)
    return tuple(int(part) for part in text.split('.')[:3])


@functools.lru_cache(maxsize=None)
def glance_version():
    """The installed glance's version as a tuple of ints, e.g. (28, 2, 0)."""
    return _version('glance')


def glance_release():
    """The OpenStack release of the installed glance, e.g. ``'2024.1'``."""
    major = glance_version()[0]
    try:
        return RELEASES[major]
    except KeyError:
        raise RuntimeError('glance %d.x is not in the release matrix (%s)'
                           % (major, ', '.join(sorted(RELEASES.values()))))


def has_wsgi_module():
    """Whether glance has ``glance.wsgi.api`` (added in 2025.1, glance 30).

    glance 28 (2024.1) ships only the pbr-generated script
    ``bin/glance-wsgi-api``, which uWSGI loads as a file.
    """
    try:
        return importlib.util.find_spec('glance.wsgi.api') is not None
    except ModuleNotFoundError:  # no glance.wsgi package at all
        return False


def uwsgi_app_setting():
    """The uWSGI ``(option, value)`` that loads this glance-api."""
    if has_wsgi_module():
        return ('module', 'glance.wsgi.api:application')
    script = os.path.join(os.path.dirname(sys.executable), 'glance-wsgi-api')
    if not os.path.isfile(script):
        raise RuntimeError('glance %s has neither glance.wsgi.api nor %s'
                           % ('.'.join(map(str, glance_version())), script))
    return ('wsgi-file', script)


def has_eventlet_server():
    """Whether glance's ``glance-api`` script still serves (glance <= 32).

    glance 28-32 (2024.1-2026.1, deprecated in 2026.1) serve with eventlet;
    glance 33's script only prints that standalone glance-api is gone.
    """
    return glance_version()[0] <= 32


def reload_drops_requests():
    """Whether a SIGHUP to glance's eventlet server drops requests in flight.

    Measured with glance 28.2.0 under 2024.1's constraints (eventlet
    0.35.1): the retiring worker closes the connections of the requests
    it still serves at once, a plain upload's too (the client gets a
    connection error, the plain image goes back to ``queued``), while the
    request itself runs on: a co-located upload still ends active in its
    stores. With eventlet 0.39.0 (2025.1) and 0.40.2 (2025.2) the answer
    reaches the client.
    """
    return _version('eventlet') < (0, 39, 0)


def loses_early_answers():
    """Whether the client may lose an answer sent before the body was read.

    When glance (or the filter) answers a chunked upload before reading its
    body (the filter's 400 for a bad header, a store that fails at once),
    urllib3 1.26.18, 2024.1's upper-constraint, raised a connection reset
    for 2 of 3 such uploads instead of returning the answer (measured
    against one glance 28 server: the same client with urllib3 1.26.20,
    as 2025.1 and 2025.2 pin, and with urllib3 2.x, as 2026.1 and 2026.2
    pin, got the answer 3 of 3). A Cinder on 2024.1's libraries sees a
    failed request instead of the status; the upload fails either way.
    """
    return _version('urllib3') < (1, 26, 20)


def early_answer_errors(expected):
    """What an upload answered before its body was read may raise here.

    ``expected``, plus glanceclient's ``CommunicationError`` (the lost
    answer) where :func:`loses_early_answers`.
    """
    import glanceclient.exc  # the unit env has no glanceclient
    if loses_early_answers():
        return (expected, glanceclient.exc.CommunicationError)
    return expected


def check_early_answer(server, image_id, error, status):
    """``PUT /v2/images/<image_id>/file`` was answered ``status`` early.

    uWSGI's log must hold exactly that answer, and the client's ``error``
    must carry it, unless this client loses early answers
    (:func:`loses_early_answers`): then it is the connection reset.
    """
    import glanceclient.exc
    path = '/v2/images/%s/file' % image_id
    # uWSGI logs a request after its answer went out: the client may have
    # it a moment before the log line is written.
    deadline = time.monotonic() + LOG_DELAY
    logged = server.answered('PUT', path)
    while not logged and time.monotonic() < deadline:
        time.sleep(0.05)
        logged = server.answered('PUT', path)
    if logged != [status]:
        raise AssertionError('uWSGI logged %r for the upload, not [%d]'
                             % (logged, status))
    if isinstance(error, glanceclient.exc.CommunicationError):
        if not loses_early_answers():
            raise AssertionError('the answer was lost: %s' % error)
        return
    seen = re.match(r'HTTP (\d{3})', str(error))
    if not seen or int(seen.group(1)) != status:
        raise AssertionError('the client saw %r, not %d' % (error, status))
