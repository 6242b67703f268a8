"""Imports that glance proxies to the node that staged the image.

Glance hands such an import on with only the caller's token and needs
``[keystone_authtoken]`` for it: these run on the real Keystone.
"""

import pytest

from tests import harness
from tests.scale.checks import assert_image
from tests.scale.checks import decided
from tests.scale.checks import volume
from tests.scale.checks import wait_imported


def import_through(glance, image_id, base_id):
    """``POST .../import`` (glance-direct, no stores) with the header."""
    status, _headers, body = glance.request(
        'POST', '/v2/images/%s/import' % image_id,
        headers={harness.BASE_IMAGE_HEADER: base_id},
        json={'method': {'name': 'glance-direct'}})
    return status, body


def staged_on(glance, data):
    image_id = glance.create_image(name='staged')['id']
    glance.stage(image_id, data)
    return image_id


def test_import_proxied_to_the_staging_node_keeps_the_filled_in_stores(
        cluster, client):
    through_a = client(cluster.node('a').url)
    through_b = client(cluster.node('b').url)
    base = harness.make_base_image(through_a, ('cheap', 'cold'),
                                   volume('base for a proxied import'))
    data = volume('staged on a')
    image_id = staged_on(through_a, data)

    status, body = import_through(through_b, image_id, base['id'])

    assert status == 202, body
    wait_imported(through_a, image_id)
    assert_image(cluster, through_a, image_id, ('cheap', 'cold'), data)
    (line,) = decided(cluster.node('b'), image_id)
    assert 'staged on %s, which has them all; stores cheap,cold by ' \
        'import request; stores set' % cluster.node('a').url in line, line
    # Glance forwards only the token: the filter on a does not act again.
    assert decided(cluster.node('a'), image_id) == []
    assert 'Proxying POST request to host %s' % cluster.node('a').url in (
        cluster.node('b').log())


@pytest.mark.parametrize('staging,importing,note', [
    ('c', 'a', 'which lacks cold'),
    ('a', 'c', 'which has them all'),
], ids=['staged on the node with fewer stores',
        'staged on the node with more stores'])
def test_a_valid_header_never_fails_a_proxied_import(cluster, client,
                                                     staging, importing,
                                                     note):
    staging_node = cluster.node(staging)
    staged_client = client(staging_node.url)
    importing_client = client(cluster.node(importing).url)
    base = harness.make_base_image(client(cluster.node('a').url),
                                   ('cheap', 'cold'),
                                   volume('base in cheap and cold'))
    data = volume('staged on %s' % staging)
    image_id = staged_on(staged_client, data)

    status, body = import_through(importing_client, image_id, base['id'])

    # Without the header glance takes this import (202); with it, the
    # filter must not ask the staging node for a store it lacks.
    assert status == 202, body
    wait_imported(staged_client, image_id)
    assert_image(cluster, staged_client, image_id, ('cheap',), data)
    (line,) = decided(cluster.node(importing), image_id)
    assert 'staged on %s, %s; stores cheap by import request; stores set' % (
        staging_node.url, note) in line, line
    assert decided(staging_node, image_id) == []
