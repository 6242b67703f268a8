"""What the unit tests share: ids, the pipeline, a fake clock, log helpers."""

import dataclasses
import threading

import webtest

from glance_baseref import middleware
from tests.unit import fake_glance

TARGET = '6f1c2f7e-4b1d-4c55-9a55-0d5b2d4f3a10'
BASE = '0b8e4a9c-2d34-4f7e-8a1b-5c6d7e8f9a01'
BODY = b'volume bytes \x00\x01\x02' * 64
FILE_PATH = '/v2/images/%s/file' % TARGET
IMPORT_PATH = '/v2/images/%s/import' % TARGET
BASE_HEADER = 'x-openstack-base-image-ref'

# Quick, and no real sleep: the fake clock jumps by poll_interval.
# Recording the base image (on by default) adds a GET and a PATCH of the
# target to most uploads; it has its own tests (test_lineage.py) and is
# off here so that the other tests see the requests of their subject.
FAST = {'poll_interval': '0.5', 'import_timeout': '10',
        'lookup_timeout': '2', 'record_base_image': 'false'}


class FakeClock:
    """``clock``/``sleep`` for ColocatedUpload: sleeping moves time on."""

    def __init__(self):
        self.now = 0.0
        self._lock = threading.Lock()
        self._due = []

    def clock(self):
        with self._lock:
            return self.now

    def sleep(self, seconds):
        with self._lock:
            self.now += seconds
            due = [a for t, a in self._due if t <= self.now]
            self._due = [(t, a) for t, a in self._due if t > self.now]
        for action in due:
            action()

    def at(self, when, action):
        """Run ``action`` once a sleep has moved the time past ``when``."""
        with self._lock:
            self._due.append((when, action))


@dataclasses.dataclass
class Pipeline:
    """The context filter, the filter under test and the fake glance."""

    app: webtest.TestApp
    filter: middleware.BaseRefFilter
    fake: fake_glance.FakeGlance
    context: object
    clock: FakeClock

    def upload(self, base=BASE, headers=None, status=None):
        """Cinder's ``PUT /file``, with the base-image header if base."""
        return self.app.put(FILE_PATH, BODY, headers=with_base(base, headers),
                            content_type='application/octet-stream',
                            status=status)

    def import_(self, body, base=BASE, headers=None, status=None):
        """``POST /import`` with that raw body."""
        return self.app.post(IMPORT_PATH, body,
                             headers=with_base(base, headers),
                             content_type='application/json', status=status)


def with_base(base, headers=None):
    headers = dict(headers or {})
    if base is not None:
        headers[BASE_HEADER] = base
    return headers


def join_watchers(filters, timeout=5.0):
    """Wait until the filters' watchers follow nothing; fail if one hangs."""
    for flt in filters:
        assert flt.watcher.wait_until_idle(timeout), flt.watcher.pending()


def fake_time_for(watcher, clock):
    """The watcher's pauses move the fake clock instead of waiting."""
    real_idle = watcher.idle

    def idle(seconds):
        if seconds is None:
            real_idle(0.01)
        else:
            clock.sleep(seconds)
    watcher.clock = clock.clock
    watcher.idle = idle


def records(caplog, level=None):
    """The filter's log records, at that level if given."""
    return [r for r in caplog.records
            if r.name.startswith('glance_baseref')
            and (level is None or r.levelno == level)]


def messages(caplog, level=None, settings_line=True):
    """The filter's messages; without the start-up settings line if asked."""
    return [r.getMessage() for r in records(caplog, level)
            if settings_line or r.name != 'glance_baseref.settings']
