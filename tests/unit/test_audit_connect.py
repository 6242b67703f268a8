"""Reaching glance: one precedence rule (options, then OS_* variables,
then clouds.yaml), and what the tool says when it cannot connect."""

import argparse
import json
import os
import sys
import warnings

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from openstack import config as os_config

import glance_baseref.audit
from glance_baseref.audit import cli
from glance_baseref.audit import connect

CLOUD = {
    'auth': {'auth_url': 'http://yaml.invalid:5000/v3', 'username': 'u',
             'password': 'p', 'project_name': 'pr',
             'user_domain_name': 'Default',
             'project_domain_name': 'Default'},
    'interface': 'internal',
    'region_name': 'R1',
    'verify': False,
    'api_timeout': 30,
}


@pytest.fixture
def clouds(tmp_path, monkeypatch):
    """A clouds.yaml with cloud c1, and no OS_* variable but its path."""
    path = tmp_path / 'clouds.yaml'
    path.write_text(json.dumps({'clouds': {'c1': CLOUD}}))
    for name in list(os.environ):
        if name.startswith('OS_'):
            monkeypatch.delenv(name)
    monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(path))
    monkeypatch.setenv('HOME', str(tmp_path))
    return path


def region(*argv):
    parser = argparse.ArgumentParser()
    connect.register_arguments(parser, list(argv))
    args = parser.parse_args(list(argv))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # openstacksdk on verify + cacert
        return os_config.OpenStackConfig().get_one(
            cloud=args.os_cloud, **connect.cloud_options(args))


def described(cloud_region):
    session = cloud_region.get_session()
    return dict(auth_url=session.auth.auth_url,
                interface=cloud_region.get_interface('image'),
                region=cloud_region.get_region_name('image'),
                verify=session.verify, timeout=session.timeout,
                endpoint=cloud_region.get_endpoint('image'))


def test_the_cloud_applies_when_nothing_else_is_said(clouds):
    assert described(region('--os-cloud', 'c1')) == dict(
        auth_url=CLOUD['auth']['auth_url'], interface='internal',
        region='R1', verify=False, timeout=30, endpoint=None)


@pytest.mark.parametrize('cloud_from_env', [False, True])
def test_an_option_beats_the_cloud(clouds, monkeypatch, cloud_from_env):
    argv = ['--os-auth-url', 'http://option.invalid/v3', '--os-interface',
            'admin', '--timeout', '7', '--os-cacert', str(clouds)]
    if cloud_from_env:
        monkeypatch.setenv('OS_CLOUD', 'c1')    # was: OS_CLOUD won
    else:
        argv += ['--os-cloud', 'c1']
    got = described(region(*argv))
    assert (got['auth_url'], got['interface'], got['timeout'],
            got['verify']) == ('http://option.invalid/v3', 'admin', 7.0,
                               str(clouds))


def test_a_variable_beats_the_cloud_and_an_option_beats_the_variable(
        clouds, monkeypatch):
    monkeypatch.setenv('OS_CLOUD', 'c1')
    monkeypatch.setenv('OS_AUTH_URL', 'http://env.invalid/v3')
    monkeypatch.setenv('OS_INTERFACE', 'public')
    got = described(region())
    assert (got['auth_url'], got['interface']) == ('http://env.invalid/v3',
                                                   'public')
    got = described(region('--os-auth-url', 'http://option.invalid/v3'))
    assert got['auth_url'] == 'http://option.invalid/v3'


def test_insecure_and_endpoint_override_reach_the_session(clouds):
    got = described(region('--os-cloud', 'c1', '--insecure',
                           '--os-endpoint-override', 'http://g.invalid'))
    assert (got['verify'], got['endpoint']) == (False, 'http://g.invalid')


def test_a_plugin_that_does_not_tell_roles(clouds):
    session = ks_session.Session(
        auth=token_endpoint.Token('http://glance.invalid', 'tok'))
    parser = argparse.ArgumentParser()
    argv = ['--os-endpoint-override', 'http://glance.invalid']
    connect.register_arguments(parser, argv)
    conn = connect.from_arguments(parser.parse_args(argv),
                                  auth=session.auth)
    assert conn.roles is None and conn.endpoint == 'http://glance.invalid'
    assert 'does not tell' in conn.who()


def test_without_the_extra_the_tool_names_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'cliff', None)
    assert cli.main(['check']) == cli.EXIT_ERROR
    assert 'install "glance_baseref[audit]"' in capsys.readouterr().err
    assert glance_baseref.audit


def test_missing_credentials_are_an_error_not_a_traceback(
        clouds, monkeypatch, capsys):
    monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(clouds) + '.none')
    assert cli.main(['check']) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert 'glance-baseref-audit: error: ' in err
    assert 'auth-url' in err.replace('_', '-')
