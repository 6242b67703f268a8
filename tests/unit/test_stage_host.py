"""POST /import of an image staged on another glance-api node.

Glance proxies such an import to the staging node, which refuses stores it
lacks; the filter keeps the filled-in stores to those that node has, or
leaves the request untouched. Glance's database (where the stage host is
recorded) and the other node's ``GET /v2/info/stores`` are stood in for.
"""

import http.server
import json
import logging
import threading

from oslo_config import cfg
import pytest

from glance_baseref import stage_host
from tests.unit import pipeline as pl

HERE = 'http://10.0.0.1:9292'
THERE = 'http://10.0.0.3:9292'
GLANCE_DIRECT = b'{"method": {"name": "glance-direct"}}'


@pytest.fixture
def node(global_conf, monkeypatch):
    """This node's self URL, the recorded stage host, the other's stores."""
    global_conf.register_opts([cfg.StrOpt('worker_self_reference_url'),
                               cfg.StrOpt('public_endpoint')])
    global_conf.set_override('worker_self_reference_url', HERE)
    seen = {'host': THERE, 'stores': ['fast', 'cheap'], 'asked': []}

    def recorded(context, image_id):
        assert image_id == pl.TARGET
        return seen['host']

    def remote(host, context, timeout):
        seen['asked'].append((host, context, timeout))
        if isinstance(seen['stores'], Exception):
            raise seen['stores']
        return seen['stores']

    monkeypatch.setattr(stage_host, 'recorded_stage_host', recorded)
    monkeypatch.setattr(stage_host, 'remote_writable_stores', remote)
    return seen


def _posted_body(fake):
    posted, = fake.find('POST', pl.IMPORT_PATH)
    return posted.body


def _decision(caplog):
    lines = [m for m in pl.messages(caplog, logging.INFO)
             if m.startswith('glance_baseref: image %s base' % pl.TARGET)]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize('theirs,stores,note', [
    (['fast', 'cheap', 'cold'], ['cheap', 'cold'],
     'staged on %s, which has them all' % THERE),
    (['fast', 'cheap'], ['cheap'], 'staged on %s, which lacks cold' % THERE),
], ids=['has them all', 'lacks one'])
def test_stores_kept_to_those_of_the_staging_node(pipeline, node, caplog,
                                                  theirs, stores, note):
    node['stores'] = theirs
    pipeline.fake.images[pl.BASE]['stores'] = 'cheap,cold'

    pipeline.import_(GLANCE_DIRECT)

    assert json.loads(_posted_body(pipeline.fake))['stores'] == stores
    (host, context, timeout), = node['asked']
    assert (host, context) == (THERE, pipeline.context)
    assert timeout == pipeline.filter.settings.lookup_timeout
    line = _decision(caplog)
    assert note in line
    assert 'stores %s by import request; stores set' % ','.join(stores) in (
        line)


@pytest.mark.parametrize('theirs,why', [
    (['fast'], 'which lacks cheap,cold'),
    (OSError('connection refused'), 'whose stores could not be read '
     '(OSError: connection refused), so glance there picks them'),
], ids=['has none of them', 'unreadable'])
def test_request_left_alone_when_the_staging_node_cannot_take_them(
        pipeline, node, caplog, theirs, why):
    node['stores'] = theirs
    pipeline.fake.images[pl.BASE]['stores'] = 'cheap,cold'

    pipeline.import_(GLANCE_DIRECT)

    assert _posted_body(pipeline.fake) == GLANCE_DIRECT
    line = _decision(caplog)
    assert 'staged on %s, %s' % (THERE, why) in line
    assert 'stores default by import request; left alone' in line


@pytest.mark.parametrize('host', [HERE, None], ids=['here', 'not recorded'])
def test_import_run_here_gets_this_nodes_stores(pipeline, node, host):
    node['host'] = host
    pipeline.fake.images[pl.BASE]['stores'] = 'cheap,cold'

    pipeline.import_(GLANCE_DIRECT)

    assert json.loads(_posted_body(pipeline.fake))['stores'] == [
        'cheap', 'cold']
    assert node['asked'] == []


def test_other_import_methods_are_never_proxied(pipeline, node):
    # Glance proxies glance-direct only; the data of other methods does
    # not sit in one node's staging.
    body = {'method': {'name': 'web-download', 'uri': 'http://x/y'}}
    pipeline.fake.images[pl.BASE]['stores'] = 'cheap,cold'

    pipeline.import_(json.dumps(body).encode())

    assert json.loads(_posted_body(pipeline.fake))['stores'] == [
        'cheap', 'cold']
    assert node['asked'] == []


def test_node_without_a_self_url_is_taken_as_the_only_one(
        pipeline, node, global_conf):
    global_conf.clear_override('worker_self_reference_url')
    pipeline.fake.images[pl.BASE]['stores'] = 'cheap,cold'

    pipeline.import_(GLANCE_DIRECT)

    assert json.loads(_posted_body(pipeline.fake))['stores'] == [
        'cheap', 'cold']
    assert node['asked'] == []


def test_public_endpoint_stands_for_the_self_url(pipeline, node,
                                                 global_conf):
    # Glance's own rule: worker_self_reference_url, else public_endpoint.
    global_conf.clear_override('worker_self_reference_url')
    global_conf.set_override('public_endpoint', THERE)
    pipeline.fake.images[pl.BASE]['stores'] = 'cheap,cold'

    pipeline.import_(GLANCE_DIRECT)

    assert json.loads(_posted_body(pipeline.fake))['stores'] == [
        'cheap', 'cold']
    assert node['asked'] == []


def test_unexpected_repository_error_is_one_warning(pipeline, node, caplog,
                                                    monkeypatch):
    def moved(context, image_id):
        raise AttributeError("module 'glance.db' has no attribute 'ImageRepo'")
    monkeypatch.setattr(stage_host, 'recorded_stage_host', moved)
    monkeypatch.setattr(stage_host, '_repo_warned', threading.Event())
    pipeline.fake.images[pl.BASE]['stores'] = 'cheap,cold'

    pipeline.import_(GLANCE_DIRECT)
    pipeline.fake.seen.clear()
    pipeline.import_(GLANCE_DIRECT)

    warning, = pl.messages(caplog, logging.WARNING)
    assert 'reading os_glance_stage_host from glance\'s image repository ' \
        'failed (AttributeError' in warning
    # Unchanged from before: the stores are filled as if on one node.
    assert json.loads(_posted_body(pipeline.fake))['stores'] == [
        'cheap', 'cold']


class _OtherNode(http.server.BaseHTTPRequestHandler):
    """A glance node that redirects, and records what it was sent."""

    seen = []

    def do_GET(self):
        _OtherNode.seen.append(dict(self.headers))
        self.send_response(302)
        self.send_header('Location', 'http://169.254.169.254/latest')
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


def test_other_node_is_asked_without_following_redirects_or_env_proxies(
        monkeypatch):
    server = http.server.HTTPServer(('127.0.0.1', 0), _OtherNode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # A proxy from the environment would swallow the request.
    monkeypatch.setenv('http_proxy', 'http://127.0.0.1:9')
    monkeypatch.setenv('no_proxy', '')
    try:
        context = type('Context', (), {'auth_token': 'tok',
                                       'request_id': 'req-1'})()
        with pytest.raises(ValueError, match='answered a redirect'):
            stage_host.remote_writable_stores(
                'http://127.0.0.1:%d' % server.server_port, context, 5)
    finally:
        server.shutdown()
        server.server_close()
    sent, = _OtherNode.seen
    assert sent['X-Auth-Token'] == 'tok'
