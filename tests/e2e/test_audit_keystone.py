"""The audit as operators run it, against a real Keystone.

The installed ``glance-baseref-audit`` and the real ``openstack`` command
(python-openstackclient from PyPI, the ``osc`` extra, in this venv) in a
subprocess, credentials in ``OS_*`` variables or clouds.yaml, glance found
in Keystone's catalog (service type ``image``, no endpoint override).
The glance is the session's keystone-flavor glance; the tests name their
images with ``--image``, because other tests use that glance too and a
repair must not touch their images.
"""

import json
import os
import pty
import subprocess
import sys

import pytest

from tests import harness

DATA = b'k' * 4096
ADMIN = ('admin', 'member', 'reader')
MEMBER = ('member', 'reader')
AUDIT = os.path.join(os.path.dirname(sys.executable), 'glance-baseref-audit')
OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')


def audit(env, *args, stderr=subprocess.PIPE):
    return subprocess.run([AUDIT] + list(args), env=env, text=True,
                          stdout=subprocess.PIPE, stderr=stderr,
                          timeout=300, check=False)


@pytest.fixture
def wrong(keystone_glance):
    """An image of p1 in fast only, naming a base in cheap and cold."""
    owner = keystone_glance.client('p1')
    base = harness.make_base_image(owner, ['cheap', 'cold'], DATA)
    image = owner.create_image(name='misplaced', base_image_ref=base['id'])
    owner.upload(image['id'], DATA)
    image = owner.wait_for(image['id'], lambda i: i['status'] == 'active')
    assert harness.image_stores(image) == {'fast'}
    return dict(owner=owner, base=base, image=image)


def test_check_then_repair_through_the_catalog(keystone, keystone_glance,
                                               wrong):
    env = keystone.openrc(keystone.user('p1', ADMIN))
    image_id = wrong['image']['id']
    done = audit(env, 'check', '--image', image_id, '-f', 'json')
    assert done.returncode == 1, done.stderr
    assert [(r['image'], r['base'], r['result'], r['missing'])
            for r in json.loads(done.stdout)] == [
        (image_id, wrong['base']['id'], 'missing', ['cheap', 'cold'])]
    assert done.stderr == ('glance-baseref-audit: 1 images read, 1 with '
                           'base_image_ref, 1 lack a store of their base\n')

    done = audit(env, 'repair', '--image', image_id, '-f', 'value')
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split()[:2] == [image_id, 'copied']
    image = wrong['owner'].get_image(image_id)
    assert harness.image_stores(image) == {'fast', 'cheap', 'cold'}
    assert keystone_glance.env.stores_holding(image_id) == {
        'fast', 'cheap', 'cold'}

    done = audit(env, 'check', '--image', image_id)
    assert done.returncode == 0, done.stdout + done.stderr
    done = audit(env, 'repair', '--image', image_id)
    assert 'nothing to repair' in done.stderr
    assert done.returncode == 0


def test_a_member_checks_and_glance_refuses_its_repair(keystone, wrong):
    env = keystone.openrc(keystone.user('p1', MEMBER))
    image_id = wrong['image']['id']
    done = audit(env, 'check', '--image', image_id)
    assert done.returncode == 1
    done = audit(env, 'repair', '--image', image_id, '-f', 'json')
    assert done.returncode == 2
    (row,) = json.loads(done.stdout)
    assert row['result'] == 'error'
    assert "glance's policy refused copy-image for this token" in \
        row['detail'] and 'roles member, reader): HTTP 403' in row['detail']
    assert harness.image_stores(wrong['owner'].get_image(image_id)) == {
        'fast'}


def test_clouds_yaml(cloud_env, wrong):
    done = audit(cloud_env(MEMBER), '--os-cloud', 'baseref', 'check',
                 '--image', wrong['image']['id'], '-f', 'json')
    assert done.returncode == 1, done.stderr
    assert [r['missing'] for r in json.loads(done.stdout)] == [
        ['cheap', 'cold']]


def test_progress_bar_only_on_a_terminal(keystone, wrong):
    env = keystone.openrc(keystone.user('p1', MEMBER))
    image_id = wrong['image']['id']
    controller, terminal = pty.openpty()
    try:
        done = audit(env, 'check', '--image', image_id, stderr=terminal)
        os.close(terminal)
        terminal = None
        drawn = b''
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO once the terminal side is closed
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(controller)
    assert done.returncode == 1
    assert b'\r1 images read' in drawn
    piped = audit(env, 'check', '--image', image_id)
    assert '\r' not in piped.stderr


@pytest.fixture
def cloud_env(keystone, tmp_path):
    """``env(roles)``: an environment whose clouds.yaml has a cloud
    ``baseref`` of a new p1 user with those roles, and no OS_* variable."""
    def env(roles):
        user = keystone.user('p1', roles)
        clouds = tmp_path / ('clouds-%s.yaml' % user)
        clouds.write_text(json.dumps({'clouds': {'baseref': {
            'auth': {'auth_url': keystone.auth_url, 'username': user,
                     'password': keystone.password,
                     'project_name': keystone.users[user]['project'],
                     'user_domain_name': 'Default',
                     'project_domain_name': 'Default'},
            'interface': 'public',
        }}}))
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith('OS_')}
        environ['OS_CLIENT_CONFIG_FILE'] = str(clouds)
        return environ
    return env


def openstack(env, *args):
    return subprocess.run([OPENSTACK, '--os-cloud', 'baseref', 'image',
                           'baseref'] + list(args), env=env, text=True,
                          capture_output=True, timeout=300, check=False)


def test_openstack_check_table_and_json_then_repair_as_admin(
        cloud_env, wrong, keystone_glance):
    env = cloud_env(ADMIN)
    image_id = wrong['image']['id']
    done = openstack(env, 'check', '--image', image_id)
    assert done.returncode == 1, done.stderr
    rows = [[c.strip() for c in line.split('|')[1:-1]]
            for line in done.stdout.splitlines() if line.startswith('|')]
    assert rows[0][:5] == ['image', 'base', 'status', 'result', 'missing']
    assert rows[1][:5] == [image_id, wrong['base']['id'], 'active',
                           'missing', 'cheap,cold']

    done = openstack(env, 'check', '-f', 'json', '--image', image_id)
    assert done.returncode == 1, done.stderr
    assert [(r['image'], r['missing']) for r in json.loads(done.stdout)] \
        == [(image_id, ['cheap', 'cold'])]

    done = openstack(env, 'repair', '--dry-run', '-f', 'json', '--image',
                     image_id)
    assert done.returncode == 1, done.stderr
    assert [r['result'] for r in json.loads(done.stdout)] == ['would copy']
    assert harness.image_stores(wrong['owner'].get_image(image_id)) == {
        'fast'}

    done = openstack(env, 'repair', '-f', 'json', '--image', image_id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [(r['result'], r['copied']) for r in json.loads(done.stdout)] \
        == [('copied', ['cheap', 'cold'])]
    assert keystone_glance.env.stores_holding(image_id) == {
        'fast', 'cheap', 'cold'}
    done = openstack(env, 'check', '--image', image_id)
    assert done.returncode == 0, done.stdout + done.stderr


def test_openstack_as_a_member_checks_and_glance_refuses_repair(
        cloud_env, wrong):
    env = cloud_env(MEMBER)
    image_id = wrong['image']['id']
    done = openstack(env, 'check', '-f', 'value', '-c', 'result',
                     '--image', image_id)
    assert (done.returncode, done.stdout) == (1, 'missing\n'), done.stderr
    done = openstack(env, 'repair', '-f', 'json', '--image', image_id)
    assert done.returncode == 2
    (row,) = json.loads(done.stdout)
    assert row['result'] == 'error'
    assert 'roles member, reader): HTTP 403' in row['detail']
    assert harness.image_stores(wrong['owner'].get_image(image_id)) == {
        'fast'}
