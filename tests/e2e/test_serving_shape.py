"""The start-up check of the serving shape, under real uWSGI (glance 33).

glance_baseref.serving reads ``threads`` through the ``uwsgi`` module that
uWSGI gives its workers; one WARNING when a co-located upload would hold
its process's only thread, from the first worker only. (Under glance's
eventlet server: tests/e2e/test_eventlet.py.)
"""

import time

import pytest

from tests import harness

HOLDS = 'uWSGI serves glance-api with 1 thread per process'


@pytest.mark.parametrize('threads,respond_after,warnings', [
    (1, 'all_stores', 1), (1, 'staged', 0), (4, 'all_stores', 0)])
def test_one_warning_when_an_upload_holds_the_only_thread(
        tmp_path, threads, respond_after, warnings):
    env = harness.GlanceEnv.create(
        tmp_path, baseref_options={'respond_after': respond_after})
    server = harness.GlanceServer(env, processes=2, threads=threads)
    try:
        server.start(timeout=90)  # two workers load glance at once
        # lazy-apps: each worker loads the pipeline, and uWSGI logs
        # "WSGI app 0 (mountpoint='') ready in N seconds" for each.
        deadline = time.monotonic() + 60
        while server.log_path.read_text().count(') ready in ') < 2:
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.1)
        lines = [ln for ln in env.log_path.read_text().splitlines()
                 if 'glance_baseref' in ln and ' WARNING ' in ln]
    finally:
        server.stop()
        env.destroy()
    assert len(lines) == warnings, lines
    if warnings:
        assert HOLDS in lines[0]
        assert '(2 processes)' in lines[0]
        assert 'respond_after = staged' in lines[0]
