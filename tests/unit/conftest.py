"""Fixtures of the unit tests: the filter built by paste around a fake."""

import logging

from oslo_config import cfg
import pytest
import webtest

from glance_baseref import middleware
from tests.unit import fake_glance
from tests.unit import pipeline as pl


@pytest.fixture(autouse=True)
def global_conf(monkeypatch):
    """A stand-in for oslo.config's global CONF, empty like outside glance.

    The filter must not use it when given its own ConfigOpts; the staging
    check reads glance's own options from it.
    """
    stand_in = cfg.ConfigOpts()
    monkeypatch.setattr(cfg, 'CONF', stand_in)
    return stand_in


@pytest.fixture
def conf():
    return cfg.ConfigOpts()


@pytest.fixture
def fake():
    fake = fake_glance.FakeGlance()
    fake.images[pl.TARGET] = {'status': 'queued', 'disk_format': 'raw',
                              'container_format': 'bare', 'owner': 'p1'}
    fake.images[pl.BASE] = {'status': 'active', 'stores': 'fast,cheap',
                            'disk_format': 'raw',
                            'container_format': 'bare', 'owner': 'p1'}
    yield fake
    for event in fake.blocked.values():
        event.set()


@pytest.fixture
def caplog_info(caplog):
    caplog.set_level(logging.INFO, logger='glance_baseref')
    return caplog


@pytest.fixture
def make_pipeline(fake, conf, caplog_info):
    """Build the filter through its paste factory, as glance would."""
    built = []

    def make(context=True, **local_conf):
        settings = dict(pl.FAST, oslo_config_config=conf)
        settings.update(local_conf)
        flt = middleware.filter_factory({}, **settings)(fake)
        clock = pl.FakeClock()
        flt.executor.colocated.clock = clock.clock
        flt.executor.colocated.sleep = clock.sleep
        pl.fake_time_for(flt.watcher, clock)
        ctx = fake_glance.Context() if context else None
        app = webtest.TestApp(fake_glance.ContextFilter(flt, fake, ctx))
        built.append(flt)
        return pl.Pipeline(app, flt, fake, ctx, clock)

    yield make
    for event in fake.blocked.values():
        event.set()
    pl.join_watchers(built)
    # Whatever the filter asked glance for, it closed (or handed on).
    assert fake.unclosed() == []


@pytest.fixture
def pipeline(make_pipeline):
    return make_pipeline()
