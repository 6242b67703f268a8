"""Upload a "volume" to glance with Cinder's own code (cinder 29.0.0).

Runs inside the ``clients`` virtualenv (tests/harness/venvs.py), never in
the pytest process: Cinder monkey-patches the process with eventlet.
Reads one JSON request on stdin and prints one JSON result as the last
line of stdout (see :func:`tests.harness.drivers.cinder_upload`).

What runs is what a cinder-volume service runs for ``os-volume_upload_image``
after the API has created the image record:

1. ``GlanceImageService.create`` makes the image (as cinder's volume API
   does, with the image service of a non-admin user context).
2. ``glance.get_remote_image_service`` and
   ``volume_utils.upload_volume(ctx, image_service, image_meta, path,
   volume)``, which is what the LVM driver's ``copy_volume_to_image`` calls.
   It reads the base image from ``volume.glance_metadata['image_id']`` and
   the store from the volume type's ``image_service:store_id`` extra spec,
   and sends them as ``x-openstack-base-image-ref`` and
   ``x-image-meta-store`` with glanceclient's chunked ``images.upload``.
3. On failure, ``VolumeManager._delete_image``: the volume manager's own
   clean-up, which deletes the image only when it is ``queued`` or
   ``saving``.

With ``rbd`` in the request, step 2 is what Cinder's RBD driver runs
instead: ``RBDDriver.copy_volume_to_image`` on the RBD image
``volume-<volume_id>`` in the ``rbd.pool`` pool of a real Ceph cluster.
For a raw image it opens the volume through os-brick's RBD connector
(``RBDVolumeIOWrapper``, librbd reads) and hands that to
``volume_utils.upload_volume(..., volume_fd=...)``, so the bytes glance
gets are read from Ceph while they are sent. The driver's options
(``rbd_ceph_conf``, ``rbd_user``, ``rbd_pool``) come from the
configuration file, in a backend section, as cinder.conf holds them.
os-brick reads the user's keyring from
``/etc/ceph/<cluster>.client.<user>.keyring`` unless the connection
carries it; one machine cannot hold two clusters' keyrings there, so
the driver is given ``rbd_keyring_conf`` as cinderlib gives it, and
passes the keyring in the connection.

Quirks of running Cinder outside its service (measured with 29.0.0):

* ``cinder.monkey_patch.patch()`` comes first, as in cinder/cmd/volume.py,
  and ``cinder.image.image_utils`` must be imported before
  ``cinder.image.glance`` (the other order is a circular import).
* Only ``auth_strategy = keystone`` (the default) gives glanceclient a
  keystoneauth session, and only that client sends
  ``http_client.additional_headers``: with ``noauth`` neither header goes
  out. ``glance_num_retries = 0`` so that a failure is seen once.
* ``RequestContext(is_admin=False)`` explicitly: ``None`` loads cinder's
  policy files. Cinder sends ``X-Auth-Token`` and
  ``X-OpenStack-Request-ID`` from the context, nothing else.
* ``run_as_root=False``: the volume is a plain file the driver can read.
* ``[service_user]`` (``send_service_user_token`` and the service user's
  password credentials) must come from a configuration file: keystoneauth
  registers the auth plugin's options only while loading them, so they
  cannot be set as overrides beforehand. Cinder then wraps the user's
  token with ``ServiceTokenAuthWrapper`` and sends ``X-Service-Token``.
  keystoneauth's request log (DEBUG, on stderr) shows the headers sent,
  token values hashed.
* A volume not created from an image has ``glance_metadata == {}`` (what
  cinder's Volume object loads when there is none).
"""

import sys

from cinder import monkey_patch

monkey_patch.patch()

import json  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
import uuid  # noqa: E402

from cinder.image import image_utils  # noqa: E402,F401 - before glance
from cinder.image import glance  # noqa: E402
from cinder import context as cinder_context  # noqa: E402
from cinder import exception  # noqa: E402
from cinder import objects  # noqa: E402
from oslo_config import cfg  # noqa: E402

objects.register_all()  # the volume manager's module needs them at import

from cinder.volume import manager  # noqa: E402
from cinder.volume import volume_utils  # noqa: E402


#: The cinder.conf section of the RBD backend (``rbd`` requests).
RBD_BACKEND = 'ceph-site'


def configure(glance_url, service_user, rbd=None):
    """Cinder's options; ``service_user``: ``[service_user]`` auth
    options (None: no service token); ``rbd``: the RBD backend's
    ``conf``, ``user`` and ``pool``."""
    sections = {}
    if service_user:
        sections['service_user'] = dict(service_user,
                                        send_service_user_token='true')
    if rbd:
        sections[RBD_BACKEND] = {
            'volume_backend_name': RBD_BACKEND,
            'rbd_ceph_conf': rbd['conf'], 'rbd_user': rbd['user'],
            'rbd_pool': rbd['pool']}
    files = []
    if sections:
        with tempfile.NamedTemporaryFile('w', suffix='.conf',
                                         delete=False) as conf_file:
            for section, options in sections.items():
                conf_file.write('[%s]\n' % section)
                conf_file.writelines('%s = %s\n' % item
                                     for item in sorted(options.items()))
        files.append(conf_file.name)
    conf = cfg.CONF
    conf([], project='cinder', default_config_files=files)
    conf.set_override('glance_api_servers', [glance_url])
    conf.set_override('auth_strategy', 'keystone')
    conf.set_override('glance_num_retries', 0)


def rbd_driver(ctx, rbd):
    """Cinder's RBD driver for the backend section, set up as the
    volume manager sets its driver up."""
    from cinder.volume import configuration as volume_configuration
    from cinder.volume.drivers import rbd as rbd_volume_driver
    configuration = volume_configuration.Configuration(
        manager.volume_backend_opts, config_group=RBD_BACKEND)
    # Read with getattr by the driver (cinderlib's way): see the module
    # docstring.
    configuration.rbd_keyring_conf = rbd['keyring']
    driver = rbd_volume_driver.RBDDriver(configuration=configuration)
    driver.do_setup(ctx)
    driver.check_for_setup_error()
    return driver


def volume_object(ctx, base_image_ref, store_id, volume_id=None):
    extra_specs = {}
    if store_id:
        extra_specs['image_service:store_id'] = store_id
    volume_type = objects.VolumeType(ctx, id=str(uuid.uuid4()),
                                     name='test-type',
                                     extra_specs=extra_specs)
    glance_metadata = {'image_id': base_image_ref} if base_image_ref else {}
    # _name_id None: the RBD volume is named after the id (volume.name),
    # as for a volume that was never migrated.
    return objects.Volume(ctx, id=volume_id or str(uuid.uuid4()), size=1,
                          glance_metadata=glance_metadata,
                          volume_type=volume_type, _name_id=None)


def show_status(ctx, image_service, image_id):
    """The image's status, or 'deleted' when glance no longer has it."""
    try:
        return image_service.show(ctx, image_id)['status']
    except exception.ImageNotFound:
        return 'deleted'


def main(request):
    logging.basicConfig(level=logging.WARNING, format='%(name)s %(message)s')
    # keystoneauth's request log (stderr) shows the headers sent.
    logging.getLogger('keystoneauth.session').setLevel(logging.DEBUG)
    rbd = request.get('rbd')
    configure(request['glance_url'], request.get('service_user'), rbd)
    ctx = cinder_context.RequestContext(
        request['user_id'], request['project_id'],
        roles=request.get('roles', ['member', 'reader']), is_admin=False,
        auth_token=request['token'], service_catalog=[])
    volume = volume_object(ctx, request.get('base_image_ref'),
                           request.get('store_id'),
                           rbd and rbd['volume_id'])
    image_meta = glance.get_default_image_service().create(ctx, {
        'name': request.get('name', 'volume-upload'),
        'container_format': 'bare', 'disk_format': 'raw'})
    result = {'image_id': image_meta['id'], 'error': None}
    image_service, _ = glance.get_remote_image_service(ctx, image_meta['id'])
    try:
        if rbd:
            rbd_driver(ctx, rbd).copy_volume_to_image(
                ctx, volume, image_service, image_meta)
        else:
            volume_utils.upload_volume(ctx, image_service, image_meta,
                                       request['volume_path'], volume,
                                       run_as_root=False)
    except Exception as error:
        result['error'] = '%s: %s' % (type(error).__name__, error)
        result['traceback'] = traceback.format_exc()
        # What the volume manager finds, then its own clean-up.
        result['status_after_failure'] = show_status(
            ctx, image_service, image_meta['id'])
        manager.VolumeManager._delete_image(None, ctx, image_meta['id'],
                                            image_service)
    result['status'] = show_status(ctx, image_service, image_meta['id'])
    return result


if __name__ == '__main__':
    answer = main(json.load(sys.stdin))
    sys.stdout.write('\n' + json.dumps(answer) + '\n')
