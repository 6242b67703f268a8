"""Run as a script: the filter's cost of looking, under eventlet.

``python -m tests.unit.green_looks`` monkey-patches this process as
glance's ``glance-api`` script does, builds the filter through its paste
factory around the fake glance, and makes one co-located upload whose
import takes 8 looks. Each look (``GET`` of the image) yields to the hub
for 20 ms, as a database round trip through PyMySQL does, while another
green thread keeps the CPU busy, as glance's import does when it hashes
and writes (not with the argument ``quiet``). It prints the filter's
DEBUG line about the looks.
"""

import eventlet

eventlet.monkey_patch()

import logging  # noqa: E402 - after monkey-patching, as glance-api does
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from oslo_config import cfg  # noqa: E402
import webtest  # noqa: E402

from glance_baseref import middleware  # noqa: E402
from tests.unit import fake_glance  # noqa: E402
from tests.unit import pipeline as pl  # noqa: E402

LOOKS = 8
ROUND_TRIP_SECONDS = 0.02


class RoundTrips:
    """Each GET of the uploaded image waits for the "database" first."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if (environ['REQUEST_METHOD'] == 'GET'
                and environ['PATH_INFO'] == '/v2/images/' + pl.TARGET):
            time.sleep(ROUND_TRIP_SECONDS)
        return self.app(environ, start_response)


def busy(stop):
    """Glance's import, as far as the CPU can tell: work, then yield."""
    while not stop.is_set():
        until = time.perf_counter() + 0.005
        while time.perf_counter() < until:
            pass
        time.sleep(0)


def main():
    logging.basicConfig(stream=sys.stdout, level=logging.DEBUG,
                        format='%(levelname)s %(message)s')
    fake = fake_glance.FakeGlance()
    fake.images[pl.TARGET] = {'status': 'queued', 'disk_format': 'raw',
                              'container_format': 'bare', 'owner': 'p1'}
    fake.images[pl.BASE] = {'status': 'active', 'stores': 'fast,cheap',
                            'owner': 'p1'}
    importing = {'status': 'importing', 'os_glance_import_task': 'task'}
    fake.progress[pl.TARGET] = [importing] * (LOOKS - 1) + [
        {'status': 'active', 'stores': 'fast,cheap',
         'os_glance_import_task': fake_glance.GONE}]
    settings = dict(pl.FAST, poll_interval='0.05',
                    oslo_config_config=cfg.ConfigOpts())
    flt = middleware.filter_factory({}, **settings)(RoundTrips(fake))
    app = webtest.TestApp(fake_glance.ContextFilter(flt, fake,
                                                    fake_glance.Context()))
    stop = threading.Event()
    worker = threading.Thread(target=busy, args=(stop,))
    if 'quiet' not in sys.argv[1:]:
        worker.start()
    try:
        app.put(pl.FILE_PATH, pl.BODY, headers=pl.with_base(pl.BASE),
                content_type='application/octet-stream', status=204)
    finally:
        stop.set()
        if worker.is_alive():
            worker.join()


if __name__ == '__main__':
    main()
