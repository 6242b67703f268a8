"""Reaching glance: what the tool says when it cannot, or cannot tell."""

import sys

from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import pytest

import glance_baseref.audit
from glance_baseref.audit import cli
from glance_baseref.audit import command
from glance_baseref.audit import connect


def parse(*argv):
    argv = list(argv) + ['check']
    return cli.build_parser(argv).parse_args(argv)


def test_a_plugin_that_does_not_tell_roles_makes_the_result_maybe_partial():
    session = ks_session.Session(
        auth=token_endpoint.Token('http://glance.invalid', 'tok'))
    conn = connect.connect(parse('--os-endpoint-override',
                                 'http://glance.invalid'),
                           auth=session.auth)
    assert conn.roles is None and not conn.is_admin
    assert command._partial_notice(conn).startswith(
        'the result may be partial')


def test_os_cloud_without_openstacksdk_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, 'openstack', None)
    with pytest.raises(connect.ConnectError, match='needs openstacksdk'):
        connect.connect(parse('--os-cloud', 'mycloud'))


def test_without_glanceclient_the_tool_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'glanceclient', None)
    # Forget the imported module, so that main imports it afresh.
    monkeypatch.delitem(sys.modules, 'glance_baseref.audit.connect')
    monkeypatch.delattr(glance_baseref.audit, 'connect')
    assert cli.main(['check']) == cli.EXIT_ERROR
    assert 'install "glance_baseref[audit]"' in capsys.readouterr().err


def test_missing_credentials_are_an_error_not_a_traceback(
        monkeypatch, capsys):
    monkeypatch.delenv('OS_AUTH_URL', raising=False)
    monkeypatch.delenv('OS_CLOUD', raising=False)
    assert cli.main(['check']) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith('glance-baseref-audit: error: ')
    assert 'auth-url' in err.replace('_', '-')
