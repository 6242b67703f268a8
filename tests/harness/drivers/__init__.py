"""Cinder's and Nova's own code as glance clients, run from the tests.

The scripts in this package run inside the ``clients`` virtualenv
(cinder 29.0.0 and nova 34.0.0, see tests/harness/venvs.py), each as a
subprocess: both services patch their process (eventlet, threading
backends) and pin libraries that the glance under test does not use, so
neither may be imported into the pytest process. They import nothing
from this repository.

A script reads one JSON request on stdin (the token travels there, not in
``argv``) and prints its JSON result as the last line of stdout; its
stderr is the services' own logging, kept for the error message.
"""

import json
import pathlib
import re
import subprocess

from tests.harness import ceph as ceph_harness
from tests.harness import keystone as keystone_harness
from tests.harness import venvs

HERE = pathlib.Path(__file__).resolve().parent

#: The virtualenv the scripts run in.
VENV = 'clients'


class DriverError(RuntimeError):
    """A script crashed or printed no result (not: the upload failed)."""


def run(script, request, timeout=300):
    """Run ``script`` (a file name in this package) with ``request``."""
    python = venvs.service_venv(VENV) / 'bin' / 'python'
    proc = subprocess.run([str(python), str(HERE / script)],
                          input=json.dumps(request), capture_output=True,
                          text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        raise DriverError('%s exited %d\nstdout:\n%s\nstderr:\n%s'
                          % (script, proc.returncode, proc.stdout[-2000:],
                             proc.stderr[-6000:]))
    result = json.loads(lines[-1])
    result['log'] = proc.stderr
    return result


def upload_headers(result):
    """Headers of the ``PUT /v2/images/{id}/file`` a script sent.

    Read from keystoneauth's request log in the script's stderr (token
    values appear there as hashes). Raises AssertionError unless there
    was exactly one such request.
    """
    puts = [line for line in result['log'].splitlines()
            if 'REQ: curl' in line and ' -X PUT ' in line
            and '/file ' in line]
    assert len(puts) == 1, puts
    return dict(re.findall(r'-H "([^:"]+): ([^"]*)"', puts[0]))


def credentials(keystone, user):
    """What a service's request context holds for ``user``: a fresh
    project-scoped token, the ids, the role names."""
    session = keystone.session(user)
    access = session.auth.get_access(session)
    return {'token': access.auth_token, 'user_id': access.user_id,
            'project_id': access.project_id, 'roles': access.role_names}


def service_user_options(keystone, user='cinder'):
    """``[service_user]`` auth options of Keystone's ``user`` (password)."""
    auth = keystone.auth(user)
    return {'auth_type': 'password', 'auth_url': auth.auth_url,
            'username': user, 'password': keystone.password,
            'project_name': keystone.users[user]['project'],
            'user_domain_name': keystone_harness.DOMAIN,
            'project_domain_name': keystone_harness.DOMAIN}


def cinder_upload(creds, glance_url, volume_path, base_image_ref=None,
                  store_id=None, service_user=None, name='volume-upload',
                  rbd=None, timeout=300):
    """Upload the file ``volume_path`` as Cinder's volume manager does.

    ``base_image_ref``: the volume was created from that image (its
    ``glance_metadata['image_id']``); ``store_id``: its volume type's
    ``image_service:store_id``; ``service_user``: Cinder's
    ``[service_user]`` options (see :func:`service_user_options`), which
    make it send ``X-Service-Token`` too; ``rbd``: upload the RBD volume
    it names instead of a file, with Cinder's RBD driver (see
    :func:`rbd_volume`; ``volume_path`` is then None). Returns
    ``image_id``, ``error`` (None on success), ``status`` ('deleted' once
    Cinder deleted it) and, after a failure, ``status_after_failure``
    (what Cinder's clean-up found).
    """
    return run('cinder_upload.py', dict(
        creds, glance_url=glance_url,
        volume_path=volume_path and str(volume_path),
        base_image_ref=base_image_ref, store_id=store_id,
        service_user=service_user, name=name, rbd=rbd), timeout=timeout)


def rbd_volume(cluster, volume_id):
    """The ``rbd`` argument of :func:`cinder_upload` for the volume
    ``volume-<volume_id>`` in the ``volumes`` pool of ``cluster`` (a
    :class:`tests.harness.ceph.CephCluster`), read as user ``cinder``.

    The clients virtualenv gets Debian's ``rados`` and ``rbd`` bindings
    here (tools/ceph_bindings.py), as Cinder's RBD driver needs them.
    """
    ceph_harness.link_bindings(venvs.service_venv(VENV))
    return {'conf': str(cluster.conf_path), 'user': 'cinder',
            'pool': ceph_harness.VOLUMES_POOL,
            'keyring': str(cluster.keyring_path('cinder')),
            'volume_id': volume_id}


def nova_snapshot(creds, glance_url, disk_path, base_image_ref=None,
                  disk_format='qcow2', name='snapshot'):
    """Snapshot an instance booted from ``base_image_ref`` as Nova does.

    ``disk_path`` holds the snapshot's data in ``disk_format``. Returns
    ``image_id``, ``error`` (None on success) and the ``properties`` Nova
    created the image with.
    """
    return run('nova_snapshot.py', dict(
        creds, glance_url=glance_url, disk_path=str(disk_path),
        base_image_ref=base_image_ref, disk_format=disk_format, name=name))
