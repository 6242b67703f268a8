"""The real glance 33 app, in-process under webtest, with the filter.

glance keeps its configuration in the global oslo CONF, so one glance is
initialised per test process (``init_app()`` with OS_GLANCE_CONFIG_DIR
set). Pipelines with other filter settings are further paste apps loaded
from variants of the same paste ini: same database, same stores.
"""

import os
import shutil
import time
import uuid

import pytest
import webtest

from tests.harness import glance_env

STORES = ('fast', 'cheap', 'cold')
DEFAULT_STORE = 'fast'


def identity(project='p1', user='u1', roles='member,reader'):
    """What keystonemiddleware would have told glance's context filter."""
    return {'X-Identity-Status': 'Confirmed', 'X-Roles': roles,
            'X-Project-Id': project, 'X-User-Id': user,
            'Accept': 'application/json'}


class Glance:
    """A webtest client of one pipeline, acting as one project."""

    def __init__(self, env, app, project='p1'):
        self.env = env
        self.app = webtest.TestApp(app, lint=False)  # glance closes its input
        self.headers = identity(project=project, user='u-' + project)

    def request(self, method, path, headers=None, expect_errors=True,
                **kwargs):
        all_headers = dict(self.headers, **(headers or {}))
        return self.app.request(path, method=method, headers=all_headers,
                                expect_errors=expect_errors, **kwargs)

    def create_image(self, **props):
        body = dict(name='img-%s' % uuid.uuid4().hex[:6],
                    disk_format='raw', container_format='bare', **props)
        response = self.app.post_json('/v2/images', body,
                                      headers=self.headers)
        return response.json['id']

    def image(self, image_id):
        return self.app.get('/v2/images/%s' % image_id,
                            headers=self.headers).json

    def upload(self, image_id, data, headers=None):
        headers = dict(headers or {},
                       **{'Content-Type': 'application/octet-stream'})
        return self.request('PUT', '/v2/images/%s/file' % image_id,
                            headers=headers, body=data)

    def wait_import(self, image_id, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            image = self.image(image_id)
            if 'os_glance_import_task' not in image:
                return image
            if time.monotonic() > deadline:
                raise AssertionError('import of %s did not end: %s'
                                     % (image_id, image))
            time.sleep(0.1)

    def base_image(self, stores, data=b'base image bytes', **props):
        """An active image in exactly ``stores``, made without the filter."""
        image_id = self.create_image(**props)
        if len(stores) == 1:
            response = self.upload(image_id, data,
                                   {'x-image-meta-store': stores[0]})
            assert response.status_int == 204, response
        else:
            response = self.request(
                'PUT', '/v2/images/%s/stage' % image_id, body=data,
                headers={'Content-Type': 'application/octet-stream'})
            assert response.status_int == 204, response
            response = self.request(
                'POST', '/v2/images/%s/import' % image_id,
                json={'method': {'name': 'glance-direct'},
                      'stores': list(stores)})
            assert response.status_int == 202, response
            self.wait_import(image_id)
        image = self.image(image_id)
        assert image['status'] == 'active', image
        assert sorted(image['stores'].split(',')) == sorted(stores), image
        return image_id


@pytest.fixture(scope='session')
def glance_env_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('functional-glance')


@pytest.fixture(scope='session')
def env(glance_env_dir):
    env = glance_env.GlanceEnv.create(glance_env_dir, stores=STORES,
                                      default_store=DEFAULT_STORE)
    old = os.environ.get('OS_GLANCE_CONFIG_DIR')
    os.environ.update(env.env_vars())
    yield env
    if old is None:
        os.environ.pop('OS_GLANCE_CONFIG_DIR', None)
    else:
        os.environ['OS_GLANCE_CONFIG_DIR'] = old
    env.destroy()


@pytest.fixture(scope='session')
def glance_app(env):
    """The pipeline glance itself builds from etc/paste.ini (with baseref)."""
    from glance.common import wsgi_app
    return wsgi_app.init_app()


@pytest.fixture(scope='session')
def load_pipeline(env, glance_app):
    """Load the same glance with other filter settings; cached."""
    from glance.common import config
    cache = {}

    def load(with_filter=True, **paste_options):
        key = (with_filter, tuple(sorted(paste_options.items())))
        if key not in cache:
            saved = dict(env.settings)
            env.reconfigure(with_filter=with_filter,
                            paste_options=paste_options)
            variant = env.etc_dir / ('variant-%d.ini' % len(cache))
            shutil.copy(env.paste_path, variant)
            env.reconfigure(with_filter=saved['with_filter'],
                            paste_options=saved['paste_options'])
            cache[key] = config.load_paste_app('glance-api',
                                               conf_file=str(variant))
        return cache[key]
    return load


@pytest.fixture
def glance(env, glance_app):
    return Glance(env, glance_app)


@pytest.fixture
def other_project(env, glance_app):
    return Glance(env, glance_app, project='p2')


@pytest.fixture
def no_filter(env, load_pipeline):
    return Glance(env, load_pipeline(with_filter=False))
