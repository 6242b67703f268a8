"""Upload an instance snapshot to glance with Nova's own code (nova 34.0.0).

Runs inside the ``clients`` virtualenv (tests/harness/venvs.py), never in
the pytest process. Reads one JSON request on stdin and prints one JSON
result as the last line of stdout (see
:func:`tests.harness.drivers.nova_snapshot`).

What runs is the part of a libvirt snapshot of a qcow2 or raw disk that
talks to glance:

1. nova-api: ``compute_utils.create_image(ctx, instance, name, 'snapshot',
   image_api)``. It turns the instance's ``image_*`` system metadata into
   image properties, so ``image_base_image_ref`` becomes the property
   ``base_image_ref``, and creates the image (``POST /v2/images``).
2. nova-compute, libvirt driver: ``image_api.get``, then the driver's own
   ``_create_snapshot_metadata`` and ``image_api.update(ctx, image_id,
   metadata, image_file)``: a ``PATCH`` of disk and container format, then
   glanceclient's chunked ``images.upload`` (``PUT /v2/images/{id}/file``)
   with neither ``x-image-meta-store`` nor the base header.

An RBD-backed instance snapshots inside Ceph and only registers a location
(``direct_snapshot``): it uploads nothing, so it is not covered here.

Quirks of running Nova outside its services (measured with 34.0.0):

* ``monkey_patch.patch(backend='threading')`` first, as nova/cmd/compute.py
  does: nova-compute runs with native threads in 34.0.0.
* Glance is named by ``[glance] endpoint_override`` (a keystoneauth
  adapter option; ``api_servers`` is deprecated), so the context carries
  no service catalog. ``[glance] num_retries = 0`` so that a failure is
  seen once.
* ``RequestContext(is_admin=False)`` explicitly: ``None`` loads Nova's
  policy. Nova sends the context's token as ``X-Auth-Token``.
* The instance is an unsaved ``objects.Instance``: nothing here touches a
  database.
"""

import sys

from nova import monkey_patch

monkey_patch.patch(backend='threading')

import json  # noqa: E402
import logging  # noqa: E402
import traceback  # noqa: E402
import uuid  # noqa: E402

from nova.compute import utils as compute_utils  # noqa: E402
import nova.conf  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova.image import glance  # noqa: E402
from nova import objects  # noqa: E402
from nova.virt.libvirt import driver as libvirt_driver  # noqa: E402


def configure(glance_url):
    conf = nova.conf.CONF
    conf([], project='nova', default_config_files=[])
    conf.set_override('endpoint_override', glance_url, group='glance')
    conf.set_override('num_retries', 0, group='glance')


def instance_object(ctx, base_image_ref, disk_format):
    """An instance booted from ``base_image_ref`` (None: no image)."""
    system_metadata = {'image_disk_format': disk_format,
                       'image_container_format': 'bare'}
    if base_image_ref:
        system_metadata['image_base_image_ref'] = base_image_ref
    return objects.Instance(
        ctx, uuid=str(uuid.uuid4()), project_id=ctx.project_id,
        user_id=ctx.user_id, image_ref=base_image_ref or '',
        kernel_id='', ramdisk_id='', os_type=None,
        system_metadata=system_metadata)


def main(request):
    logging.basicConfig(level=logging.WARNING, format='%(name)s %(message)s')
    # keystoneauth's request log (stderr) shows the headers sent.
    logging.getLogger('keystoneauth.session').setLevel(logging.DEBUG)
    configure(request['glance_url'])
    objects.register_all()
    ctx = nova_context.RequestContext(
        request['user_id'], request['project_id'],
        roles=request.get('roles', ['member', 'reader']), is_admin=False,
        auth_token=request['token'], service_catalog=[])
    disk_format = request.get('disk_format', 'qcow2')
    instance = instance_object(ctx, request.get('base_image_ref'),
                               disk_format)
    image_api = glance.API()
    # nova-api
    image = compute_utils.create_image(
        ctx, instance, request.get('name', 'snapshot'), 'snapshot',
        image_api)
    result = {'image_id': image['id'], 'error': None,
              'properties': image['properties']}
    # nova-compute, libvirt driver
    try:
        snapshot = image_api.get(ctx, image['id'])
        metadata = libvirt_driver.LibvirtDriver._create_snapshot_metadata(
            None, instance.image_meta, instance, disk_format,
            snapshot['name'])
        with open(request['disk_path'], 'rb') as image_file:
            image_api.update(ctx, image['id'], metadata, image_file)
    except Exception as error:
        result['error'] = '%s: %s' % (type(error).__name__, error)
        result['traceback'] = traceback.format_exc()
    return result


if __name__ == '__main__':
    answer = main(json.load(sys.stdin))
    sys.stdout.write('\n' + json.dumps(answer) + '\n')
