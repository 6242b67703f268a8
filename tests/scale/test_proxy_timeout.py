"""A load balancer whose server timeout is shorter than an upload."""

import time

import glanceclient.exc
import pytest

from tests import harness
from tests.harness import haproxy
from tests.scale.checks import assert_image
from tests.scale.checks import decided
from tests.scale.checks import FULL
from tests.scale.checks import volume
from tests.scale.checks import wait_imported


#: Long enough that, once the body has arrived, writing it takes well over
#: the proxies' timeouts below: two stores one after the other on c, three
#: in parallel on a. 128 MiB into three took 1.2 s on a quiet 2-core
#: machine, too close to 1 s; twice that leaves room for a faster one.
BIG = 256 * 1024 * 1024


def short_proxy(tmp_path, node, timeout_server):
    """HAProxy with a short ``timeout server`` in front of one node only.

    Not started: the ``with`` block starts and stops it.
    """
    return haproxy.HAProxy(tmp_path, [(node.name, node.url)],
                           timeout_server=timeout_server)


def test_import_timeout_below_the_proxy_timeout_answers_first(
        cluster, client, tmp_path):
    # The setting doc/scaling-out.md recommends: import_timeout plus
    # poll_interval below every proxy's idle timeout (here c: 1 s + 0.2 s
    # against HAProxy's 2 s), so that the caller gets the filter's 504 and
    # the image is cleaned up, not a proxy's 504 over an image that then
    # turns active anyway.
    node = cluster.node('c')
    base = harness.make_base_image(client(node.url), ('fast', 'cheap'),
                                   volume('base on c'))
    with short_proxy(tmp_path, node, '2s') as proxy:
        glance = client(proxy.url)
        image_id = glance.create_image(name='slow')['id']
        began = time.monotonic()
        with pytest.raises(glanceclient.exc.HTTPException) as caught:
            glance.upload(image_id, volume('slow on c', BIG),
                          base_image_ref=base['id'])
        waited = time.monotonic() - began
    # glanceclient has no class of its own for 504: read the page.
    assert '504 Gateway Timeout' in caught.value.details, caught.value
    assert 'import_timeout' in caught.value.details, caught.value
    (line,) = decided(node, image_id)
    assert 'answered 504' in line, line
    client(node.url).wait_deleted(image_id)
    assert cluster.files_for(image_id) == {}
    print('256 MiB into fast,cheap on c (serial): the filter answered 504 '
          'after %.2fs; image deleted, no file left' % waited)


def test_import_timeout_above_the_proxy_timeout_loses_the_answer(
        cluster, client, tmp_path):
    # What the recommendation avoids (node a: import_timeout 3600 s):
    # HAProxy answers 504 while glance goes on writing, and the image the
    # caller was told failed ends active in every store.
    node = cluster.node('a')
    base = harness.make_base_image(client(node.url), FULL,
                                   volume('base on a in three stores'))
    data = volume('slow on a', BIG)
    with short_proxy(tmp_path, node, '1s') as proxy:
        glance = client(proxy.url)
        image_id = glance.create_image(name='slow')['id']
        began = time.monotonic()
        with pytest.raises(glanceclient.exc.HTTPException) as caught:
            glance.upload(image_id, data, base_image_ref=base['id'])
        waited = time.monotonic() - began
    # HAProxy's own page ("Time-out"), not the filter's.
    assert '504 Gateway Time-out' in caught.value.details, caught.value
    direct = client(node.url)
    wait_imported(direct, image_id)
    assert_image(cluster, direct, image_id, FULL, data)
    print('256 MiB into three stores on a (parallel): HAProxy answered 504 '
          'after %.2fs; the image ended active in all three after %.2fs'
          % (waited, time.monotonic() - began))
