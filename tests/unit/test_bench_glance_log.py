"""The benchmark's clock for glance's imports: log lines to the millisecond.

Case 5 of ``./run bench`` judges answers 0.25 s after an import's end, so
the milliseconds of glance's log lines must be read, and in the same clock
as :func:`time.time`.
"""

import time

import pytest

from benchmarks import glance_log

TASK = '6c0b6bd2-4a36-4ad9-9f0e-2d2bde7e2f6a'
OTHER = 'a1f9a3c3-0a43-4a4f-bb5b-7fd4f6e8e0d1'


def _line(wall, message):
    """A glance-api.log line as oslo.log writes it (local time, ms)."""
    return '%s.%03d 4242 INFO glance.domain [-] %s\n' % (
        time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(wall)),
        int(round(wall % 1 * 1000)) % 1000, message)


def test_import_times_read_milliseconds_in_the_wall_clock(tmp_path):
    start = int(time.time()) + 0.125
    end = start + 7.981
    log = tmp_path / 'glance-api.log'
    log.write_text(
        _line(start - 3, glance_log.started_text(OTHER))
        + _line(start, glance_log.started_text(TASK))
        + _line(end - 1, glance_log.completed_text(OTHER))
        + _line(end, glance_log.completed_text(TASK)))
    started, ended = glance_log.import_times(log, TASK, timeout=1)
    assert started == pytest.approx(start, abs=0.0005)
    assert ended == pytest.approx(end, abs=0.0005)


def test_a_failed_import_is_reported_at_once(tmp_path):
    log = tmp_path / 'glance-api.log'
    log.write_text(_line(time.time(), glance_log.failed_text(TASK)))
    began = time.monotonic()
    with pytest.raises(glance_log.ImportNotLogged, match='failed'):
        glance_log.import_times(log, TASK, timeout=30)
    assert time.monotonic() - began < 5


def test_an_unfinished_import_times_out(tmp_path):
    log = tmp_path / 'glance-api.log'
    log.write_text(_line(time.time(), glance_log.started_text(TASK)))
    with pytest.raises(glance_log.ImportNotLogged, match='no line'):
        glance_log.import_times(log, TASK, timeout=0.3, interval=0.05)
