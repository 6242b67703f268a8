"""The start-up check of the serving shape (glance_baseref.serving).

The filter is built through its paste factory, as glance builds it, in a
process made to look like a uWSGI worker (a ``uwsgi`` module with
``opt``, ``numproc`` and ``worker_id``) or like glance's eventlet server
(``eventlet.patcher.is_monkey_patched('thread')``).
"""

import logging
import sys
import types

import pytest

from glance_baseref import serving
from glance_baseref import settings as settings_mod

HOLDS = '1 thread per process'


def uwsgi_module(threads=None, processes=2, worker_id=1):
    """A stand-in for the module uWSGI gives its workers."""
    opt = {'processes': str(processes).encode()}
    if threads is not None:
        opt['threads'] = str(threads).encode()
    return types.SimpleNamespace(opt=opt, numproc=processes,
                                 worker_id=lambda: worker_id)


def eventlet_module(patched=True):
    patcher = types.SimpleNamespace(
        is_monkey_patched=lambda name: patched and name == 'thread')
    return types.SimpleNamespace(patcher=patcher)


@pytest.fixture
def serve_under(monkeypatch):
    def under(uwsgi=None, eventlet=None):
        monkeypatch.delitem(sys.modules, 'uwsgi', raising=False)
        monkeypatch.delitem(sys.modules, 'eventlet', raising=False)
        if uwsgi is not None:
            monkeypatch.setitem(sys.modules, 'uwsgi', uwsgi)
        if eventlet is not None:
            monkeypatch.setitem(sys.modules, 'eventlet', eventlet)
    return under


def shape_lines(caplog):
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == serving.__name__]


@pytest.mark.parametrize('threads,respond_after', [
    (None, 'all_stores'), (1, 'all_stores'), (1, 'first_store')],
    ids=['threads unset', 'all_stores', 'first_store'])
def test_one_thread_per_process_warns_once(make_pipeline, caplog,
                                           serve_under, threads,
                                           respond_after):
    serve_under(uwsgi=uwsgi_module(threads, processes=2))
    make_pipeline(respond_after=respond_after)

    (level, message), = shape_lines(caplog)
    assert level == logging.WARNING
    assert HOLDS in message
    assert '(2 processes)' in message
    assert 'respond_after = %s' % respond_after in message
    assert 'respond_after = staged' in message
    assert 'doc/scaling-out.md' in message


@pytest.mark.parametrize('uwsgi,options', [
    (uwsgi_module(threads=4), {}),
    (uwsgi_module(threads=1), {'respond_after': 'staged'}),
    (uwsgi_module(threads=1), {'mode': 'report'}),
    (uwsgi_module(threads=1), {'enabled': 'false'}),
    (uwsgi_module(threads=1, worker_id=2), {}),
], ids=['several threads', 'staged', 'report mode', 'disabled',
        'not the first worker'])
def test_no_warning_when_no_upload_holds_the_only_thread(
        make_pipeline, caplog, serve_under, uwsgi, options):
    serve_under(uwsgi=uwsgi)
    make_pipeline(**options)
    assert shape_lines(caplog) == []


def test_under_eventlet_all_stores_is_one_info_line(
        make_pipeline, caplog, serve_under):
    # uWSGI's module beside a patched eventlet cannot happen in glance,
    # but shows that green threads win: no thread is held there.
    serve_under(uwsgi=uwsgi_module(threads=1), eventlet=eventlet_module())
    make_pipeline()

    (level, message), = shape_lines(caplog)
    assert level == logging.INFO
    assert "glance's eventlet server" in message
    assert 'hold no thread' in message


@pytest.mark.parametrize('respond_after', ['staged', 'first_store'])
def test_under_eventlet_an_early_answer_warns_about_sighup(
        make_pipeline, caplog, serve_under, respond_after):
    serve_under(eventlet=eventlet_module())
    make_pipeline(respond_after=respond_after)

    (level, message), = shape_lines(caplog)
    assert level == logging.WARNING
    assert 'respond_after = %s' % respond_after in message
    assert 'SIGHUP' in message
    assert 'respond_after = all_stores' in message


@pytest.mark.parametrize('options', [
    {'enabled': 'false'}, {'mode': 'report', 'respond_after': 'staged'}])
def test_under_eventlet_nothing_when_the_filter_waits_for_nothing(
        make_pipeline, caplog, serve_under, options):
    serve_under(eventlet=eventlet_module())
    make_pipeline(**options)
    assert shape_lines(caplog) == []


def test_eventlet_imported_but_not_patched_is_not_eventlet(serve_under):
    serve_under(eventlet=eventlet_module(patched=False))
    assert serving.current_shape().server == 'other'


def test_webtest_or_unknown_server_says_nothing(make_pipeline, caplog,
                                                serve_under):
    serve_under()
    make_pipeline()
    assert serving.current_shape() == serving.Shape('other', None, None)
    assert shape_lines(caplog) == []


@pytest.mark.parametrize('value,threads', [
    (b'8', 8), ('8', 8), ([b'2', b'8'], 8), (b'x', 1)])
def test_threads_read_from_uwsgi_options(serve_under, value, threads):
    module = uwsgi_module()
    module.opt['threads'] = value
    serve_under(uwsgi=module)
    assert serving.current_shape() == serving.Shape('uwsgi', threads, 2)


def test_check_returns_what_it_logged():
    settings = settings_mod.load({})
    message = serving.check(settings, serving.Shape('uwsgi', 1, 4))
    assert HOLDS in message and '(4 processes)' in message
    assert serving.check(settings, serving.Shape('uwsgi', 2, 4)) is None
