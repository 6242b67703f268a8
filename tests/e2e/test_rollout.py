"""Roll-out settings on glance-api 33 under uWSGI: report mode, respond_after.

Each test uploads the way Cinder does (tests.harness.CinderLikeClient) to
a glance whose filter runs with one setting, then checks the answer, the
image, the files of every store, staging, and glance's log.
"""

import hashlib
import os
import time

import glanceclient.exc
import pytest

from tests import harness
from tests.e2e.conftest import start_deployment
from tests.e2e.conftest import stop_deployment

VOLUME = os.urandom(24 * 1024 * 1024 + 5)
ALL = ('fast', 'cheap', 'cold')


@pytest.fixture(scope='module')
def deployments(tmp_path_factory):
    """Glances by filter settings, started on first use, for the module."""
    started = {}

    def get(**baseref):
        key = tuple(sorted(baseref.items()))
        if key not in started:
            base_dir = tmp_path_factory.mktemp('rollout')
            started[key] = start_deployment(base_dir,
                                            baseref_options=baseref)
        return started[key]
    yield get
    for deployment in started.values():
        stop_deployment(deployment)


def filter_lines(deployment, image_id):
    return [ln for ln in deployment.log().splitlines()
            if 'glance_baseref' in ln and image_id in ln]


def assert_files(deployment, image_id, stores):
    files = deployment.env.files_for(image_id)
    assert set(files) == set(stores), files
    for store in stores:
        (path,) = files[store]
        with open(path, 'rb') as f:
            assert hashlib.sha512(f.read()).digest() == hashlib.sha512(
                VOLUME).digest()


# -- mode = report ------------------------------------------------------------

@pytest.mark.parametrize('header,would', [
    ('base', 'stores cheap,cold by stage+import; handed on untouched'),
    ('invalid', 'refused with 400: The x-openstack-base-image-ref header '
                'is not a UUID'),
], ids=['co-location', 'invalid header'])
def test_report_mode_changes_nothing_and_logs_would(deployments, header,
                                                    would):
    deployment = deployments(mode='report')
    client = deployment.client('p1')
    base = harness.make_base_image(client, ('cheap', 'cold'), b'base')['id']
    image_id = client.create_image(name='volume')['id']
    value = base if header == 'base' else 'not-an-image'

    client.upload(image_id, VOLUME, base_image_ref=value)

    image = client.get_image(image_id)
    assert image['status'] == 'active'
    assert harness.image_stores(image) == {'fast'}  # glance's default
    assert 'base_image_ref' not in image
    assert_files(deployment, image_id, ('fast',))
    assert client.image_tasks(image_id) == []
    line, = filter_lines(deployment, image_id)
    assert ' INFO ' in line
    assert 'glance_baseref: would: image %s' % image_id in line
    assert would in line


# -- respond_after ----------------------------------------------------------

@pytest.fixture(scope='module')
def base_everywhere(deployments):
    bases = {}

    def get(deployment):
        if deployment not in bases:
            bases[deployment] = harness.make_base_image(
                deployment.client('p1'), ALL, b'base')['id']
        return bases[deployment]
    return get


@pytest.mark.parametrize('respond_after', [
    'all_stores', 'first_store', 'staged'])
def test_each_respond_after_answers_at_its_moment(deployments,
                                                  base_everywhere,
                                                  respond_after):
    deployment = deployments(respond_after=respond_after)
    client = deployment.client('p1')
    image_id = client.create_image(name='volume')['id']

    client.upload(image_id, VOLUME, base_image_ref=base_everywhere(
        deployment))
    at_answer = client.get_image(image_id)

    if respond_after == 'all_stores':
        assert 'os_glance_import_task' not in at_answer
        assert at_answer['status'] == 'active'
        assert harness.image_stores(at_answer) == set(ALL)
    elif respond_after == 'first_store':
        # Serial import (max_parallel_stores = 1): the image turns active
        # after the first store and glance writes the others afterwards.
        assert at_answer['status'] == 'active'
        assert 'os_glance_import_task' in at_answer
        assert harness.image_stores(at_answer) < set(ALL)
    else:
        # Glance answers the import start once its lock is set; the task
        # turns the image from uploading to importing a moment later.
        assert at_answer['status'] in ('uploading', 'importing')
        assert 'os_glance_import_task' in at_answer
        assert harness.image_stores(at_answer) == set()
    final = client.wait_for(image_id, harness.import_finished)
    assert final['status'] == 'active'
    assert harness.image_stores(final) == set(ALL)
    assert_files(deployment, image_id, ALL)
    line, = filter_lines(deployment, image_id)
    assert 'answered 204 No Content' in line


def test_staged_import_that_fails_is_deleted_in_the_background(
        tmp_path):
    """With staged the uploader gets 204; the watcher cleans up."""
    # Every store fails: with all_stores_must_succeed (refused with
    # staged at start-up) a single failed store would do.
    deployment = start_deployment(tmp_path, baseref_options={
        'respond_after': 'staged'})
    try:
        client = deployment.client('p1')
        base = harness.make_base_image(client, ALL, b'base')['id']
        for store in ALL:
            deployment.env.break_store(store)
        image_id = client.create_image(name='volume')['id']

        client.upload(image_id, VOLUME, base_image_ref=base)

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                client.get_image(image_id)
            except glanceclient.exc.HTTPNotFound:
                break
            time.sleep(0.2)
        else:
            pytest.fail('image %s was not deleted' % image_id)
        assert deployment.env.files_for(image_id) == {}
        lines = filter_lines(deployment, image_id)
        assert ('import accepted, glance goes on with fast,cheap,cold, '
                'answered 204' in lines[0]), lines
        assert any(' ERROR ' in ln and 'deleting it' in ln for ln in lines)
    finally:
        for store in ALL:
            deployment.env.repair_store(store)
        stop_deployment(deployment)


def test_deprecated_paste_key_still_works_and_warns_once(make_glance):
    deployment = make_glance(paste_options={'wait_for_all_stores': False})
    client = deployment.client('p1')
    base = harness.make_base_image(client, ALL, b'base')['id']
    image_id = client.create_image(name='volume')['id']

    client.upload(image_id, VOLUME, base_image_ref=base)
    at_answer = client.get_image(image_id)

    assert at_answer['status'] == 'active'
    assert 'os_glance_import_task' in at_answer
    client.wait_for(image_id, harness.import_finished)
    warnings = [ln for ln in deployment.log().splitlines()
                if 'wait_for_all_stores' in ln and 'deprecated' in ln]
    assert len(warnings) == 1, warnings
    assert ' WARNING ' in warnings[0]
