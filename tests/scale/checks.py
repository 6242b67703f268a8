"""What the scale-out tests check about an image, and where."""

import hashlib

from tests import harness

FULL = ('fast', 'cheap', 'cold')
WITHOUT_COLD = ('fast', 'cheap')
SIZE = 1024 * 1024 + 4099  # a chunk and a bit, not a multiple of one


def volume(label, size=SIZE):
    """``size`` bytes that differ with ``label``."""
    seed = hashlib.sha512(label.encode()).digest() * 1024  # 64 KiB
    return (seed * (size // len(seed) + 1))[:size]


def decided(node, image_id):
    """The filter's decision lines on ``node`` about ``image_id``."""
    return [line for line in node.log().splitlines()
            if 'glance_baseref: image %s ' % image_id in line]


def assert_image(cluster, glance, image_id, stores, data):
    """Active in exactly ``stores`` with ``data``, by the API and on disk."""
    image = glance.get_image(image_id)
    assert image['status'] == 'active', image
    assert harness.image_stores(image) == set(stores), image
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    files = cluster.files_for(image_id)
    assert cluster.stores_holding(image_id) == set(stores), files
    for store in stores:
        (path,) = files[store]
        with open(path, 'rb') as f:
            assert hashlib.md5(f.read()).hexdigest() == image['checksum']


def wait_imported(glance, image_id):
    return glance.wait_for(image_id, lambda i: harness.import_finished(i)
                           and i['status'] in ('active', 'queued'),
                           timeout=60)
