"""The transcript of doc/audit.md's examples, from a real run.

Starts a Keystone 30 and a glance-api 33 (keystone flavor, no filter,
MariaDB) with the test harness, registers glance in Keystone's catalog,
places images wrong on purpose (plain uploads to one store, with
``base_image_ref`` set at create; one image whose base is then deleted),
and runs the installed ``glance-baseref-audit`` as an operator would, with
``OS_*`` variables of an admin and of a member of the project. Prints each
command with its stdout, stderr and exit status; stops everything at the
end. Run it with the interpreter of ``tox -e py3``:

    GLANCE_BASEREF_VENV_DIR=... .tox/py3/bin/python tools/audit_example.py
"""

import datetime
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e import conftest  # noqa: E402
from tests import harness  # noqa: E402
from tests.harness import keystone as keystone_harness  # noqa: E402

BIN = os.path.dirname(sys.executable)
DATA = b'x' * (1 << 20)


def place_images(owner):
    base = harness.make_base_image(owner, ['cheap', 'cold'], DATA,
                                   name='base')

    def misplaced(name, base_id, store=None):
        image = owner.create_image(name=name, base_image_ref=base_id)
        owner.upload(image['id'], DATA, store=store)
        return owner.wait_for(image['id'], lambda i: i['status'] == 'active')

    misplaced('snapshot-1', base['id'])
    half = misplaced('snapshot-2', base['id'], store='cheap')
    old = harness.make_base_image(owner, ['cold'], DATA, name='old-base')
    misplaced('orphan', old['id'])
    owner.delete_image(old['id'])
    # What a glance-api worker killed mid-upload leaves: the filter's mark,
    # the data staged, no import (the mark is three hours old).
    stuck = owner.create_image(name='crashed', baseref_import=(
        datetime.datetime.now(datetime.timezone.utc)
        - datetime.timedelta(hours=3)).strftime('%Y-%m-%dT%H:%M:%SZ')
        + ' glance-api-2')
    owner.stage(stuck['id'], DATA)
    return half


def run(env, user, *args, command=('glance-baseref-audit',)):
    print('\n$ %s %s    # as %s' % (' '.join(command), ' '.join(args), user))
    done = subprocess.run([os.path.join(BIN, command[0])]
                          + list(command[1:]) + list(args), env=env,
                          text=True, capture_output=True, check=False)
    sys.stdout.write(done.stdout)
    if done.stderr:
        sys.stdout.write('[stderr] ' + done.stderr)
    print('[exit %d]' % done.returncode)


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix='audit-example-'))
    keystone = keystone_harness.Keystone.start(work / 'keystone')
    glance = None
    try:
        glance = conftest.start_deployment(
            work / 'glance', keystone=keystone, database='mariadb',
            with_filter=False)
        keystone.register_image_endpoint(glance.server.url)
        half = place_images(keystone.client('p1', ('member', 'reader')))
        # An image of another project, which only the admin lists.
        other = keystone.client('p2', ('member', 'reader'))
        other.upload(other.create_image(name='p2-image')['id'], DATA)
        admin = keystone.user('p1', ('admin', 'member', 'reader'))
        member = keystone.user('p1', ('member', 'reader'))
        as_admin, as_member = keystone.openrc(admin), keystone.openrc(member)
        openstack = ('openstack', 'image', 'baseref')
        # The columns that fit a page; -f json shows all of them.
        narrow = ('-c', 'image', '-c', 'status', '-c', 'result', '-c',
                  'missing', '-c', 'node', '-c', 'idle')
        run(as_admin, admin, 'check', *narrow, command=openstack)
        run(as_admin, admin, 'check', '--image', half['id'], '-f', 'json',
            command=openstack)
        run(as_member, member, 'check', *narrow)
        run(as_member, member, 'repair', '-c', 'image', '-c', 'result',
            '-c', 'detail')
        run(as_admin, admin, 'repair', '--dry-run', '-f', 'value', '-c',
            'image', '-c', 'result')
        run(as_admin, admin, 'repair', '-c', 'image', '-c', 'result', '-c',
            'missing', '-c', 'copied', '-c', 'failed')
        run(as_admin, admin, 'repair', '-f', 'json')
        run(as_admin, admin, 'check', *narrow)
    finally:
        try:
            if glance is not None:
                conftest.stop_deployment(glance)
        finally:
            keystone.stop()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
