"""The one piece of glance's code the filter uses: the recorded stage host.

Glance hides ``os_glance_stage_host`` from its API, so
``glance_baseref.stage_host`` reads it from glance's image repository.
This checks, on every glance release of the matrix, that the read still
finds what glance's own stage call records.
"""

from oslo_config import cfg
import pytest

from glance_baseref import stage_host

SELF_URL = 'http://node-a.example:9292'


def _context(project='p1'):
    from glance import context
    return context.RequestContext(project_id=project, user_id='u-' + project,
                                  roles=['member', 'reader'])


@pytest.fixture
def self_url():
    cfg.CONF.set_override('worker_self_reference_url', SELF_URL)
    yield SELF_URL
    cfg.CONF.clear_override('worker_self_reference_url')


@pytest.mark.release
def test_the_stage_host_glance_records_is_read_back(glance, self_url):
    image_id = glance.create_image()
    response = glance.request(
        'PUT', '/v2/images/%s/stage' % image_id, body=b'staged bytes',
        headers={'Content-Type': 'application/octet-stream'})
    assert response.status_int == 204, response

    assert stage_host.self_url() == SELF_URL
    assert stage_host.recorded_stage_host(_context(), image_id) == SELF_URL
    # Hidden from the API, as the module says.
    assert 'os_glance_stage_host' not in glance.image(image_id)
    glance.request('DELETE', '/v2/images/%s' % image_id)


@pytest.mark.release
def test_no_stage_host_before_staging(glance, self_url):
    image_id = glance.create_image()

    assert stage_host.recorded_stage_host(_context(), image_id) is None
