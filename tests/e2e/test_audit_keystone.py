"""glance-baseref-audit, the console script, against a real Keystone.

The tool runs as an operator runs it: the installed ``glance-baseref-audit``
in a subprocess, credentials in ``OS_*`` variables (or clouds.yaml), glance
found in Keystone's catalog (service type ``image``, no endpoint
override). The glance is the session's keystone-flavor glance; the tests
name their images with ``--image``, because other tests use that glance
too and a repair must not touch their images.
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
    report = json.loads(done.stdout)
    assert report['partial'] is False and done.stderr == ''
    assert [(f['image_id'], f['base_ref'], f['missing'])
            for f in report['missing']] == [
        (image_id, wrong['base']['id'], ['cheap', 'cold'])]

    done = audit(env, 'repair', '--image', image_id)
    assert done.returncode == 0, done.stdout + done.stderr
    header, row = done.stdout.splitlines()
    assert row.split()[:4] == [image_id, 'copied', 'cheap,cold',
                               'cheap,cold']
    image = wrong['owner'].get_image(image_id)
    assert harness.image_stores(image) == {'fast', 'cheap', 'cold'}
    assert keystone_glance.env.stores_holding(image_id) == {
        'fast', 'cheap', 'cold'}

    done = audit(env, 'check', '--image', image_id)
    assert done.returncode == 0, done.stdout + done.stderr
    done = audit(env, 'repair', '--image', image_id)
    assert done.stdout.startswith('nothing to repair')
    assert done.returncode == 0


def test_a_member_gets_a_partial_check_and_no_repair(keystone, wrong):
    env = keystone.openrc(keystone.user('p1', MEMBER))
    image_id = wrong['image']['id']
    done = audit(env, 'check', '--image', image_id)
    assert done.returncode == 1
    assert 'the result is partial: the token has no admin role' in \
        done.stderr
    done = audit(env, 'repair', '--image', image_id)
    assert done.returncode == 2
    assert 'repair needs the admin role' in done.stderr
    assert harness.image_stores(wrong['owner'].get_image(image_id)) == {
        'fast'}


def test_clouds_yaml(keystone, wrong, tmp_path):
    user = keystone.user('p1', MEMBER)
    clouds = tmp_path / 'clouds.yaml'
    clouds.write_text(json.dumps({'clouds': {'audit-test': {
        'auth': {'auth_url': keystone.auth_url, 'username': user,
                 'password': keystone.password,
                 'project_name': keystone.users[user]['project'],
                 'user_domain_name': 'Default',
                 'project_domain_name': 'Default'},
    }}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env['OS_CLIENT_CONFIG_FILE'] = str(clouds)
    done = audit(env, '--os-cloud', 'audit-test', 'check', '--image',
                 wrong['image']['id'], '-f', 'json')
    assert done.returncode == 1, done.stderr
    assert [f['missing'] for f in json.loads(done.stdout)['missing']] == [
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
    assert b'1/1 images checked' in drawn and b'\r' in drawn
    piped = audit(env, 'check', '--image', image_id)
    assert 'images checked' not in piped.stderr and '\r' not in piped.stderr
