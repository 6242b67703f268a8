"""Checks that several end-to-end modules make on a real glance."""

import contextlib
import hashlib
import os
import time

import glanceclient.exc

from tests import harness

#: A volume the size Cinder sends in several 1 MiB chunks, the last one
#: short, so that chunk boundaries are exercised.
VOLUME = os.urandom(3 * 1024 * 1024 + 17)


def assert_landed(deployment, client, image_id, stores, data=VOLUME):
    """The image is active with ``data`` in exactly ``stores``, on disk too.

    Staging and the tasks store count as places, so a leftover staged
    file fails the check.
    """
    image = client.get_image(image_id)
    assert image['status'] == 'active', image
    assert harness.image_stores(image) == set(stores), image
    assert image['size'] == len(data)
    digest = hashlib.sha512(data)
    assert image['os_hash_value'] == digest.hexdigest()
    files = deployment.env.files_for(image_id)
    assert set(files) == set(stores), files
    for store in stores:
        (path,) = files[store]
        with open(path, 'rb') as f:
            assert hashlib.sha512(f.read()).digest() == digest.digest(), path


def assert_nothing_written(deployment, owner, image_id, path, files_before):
    """A refused upload or import left the image as it was.

    ``path`` is ``'upload'`` (the image stays ``queued``) or ``'import'``
    (it stays ``uploading``, staged); no store, no new file, no task.
    """
    image = owner.get_image(image_id)
    assert image['status'] == ('queued' if path == 'upload'
                               else 'uploading'), image
    assert not image.get('stores'), image
    assert deployment.env.files_for(image_id) == files_before
    assert owner.image_tasks(image_id) == []


@contextlib.contextmanager
def broken(deployment, *stores):
    """Writes to ``stores`` fail (for root too) until the block ends."""
    for store in stores:
        deployment.env.break_store(store)
    try:
        yield
    finally:
        for store in stores:
            deployment.env.repair_store(store)


def image_or_none(client, image_id):
    """The image, or None once glance says it is gone."""
    try:
        return client.get_image(image_id)
    except glanceclient.exc.HTTPNotFound:
        return None


def wait_until(what, predicate, timeout=60, interval=0.02):
    """``predicate()``'s first true value; fails after ``timeout`` s
    saying ``what`` (a text, or a function that gives one then)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, 'never: %s' % (
            what() if callable(what) else what)
        time.sleep(interval)
