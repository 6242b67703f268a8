"""The second piece of glance's code the filter uses: resuming a dead import.

``resume_imports`` sets an image that a dead worker left ``importing``
back to ``uploading`` through glance's image repository
(``glance_baseref.resume``), and glance then imports the staged data
again. This makes such an image the way a killed worker leaves it (staged,
``importing``, the lock of a task that no longer runs) on every glance
release of the matrix, resumes it through the filter, and checks that it
lands.
"""

import time

import pytest

from tests.functional.test_colocation import assert_landed
from tests.functional.test_colocation import DATA


def _context(project='p1'):
    from glance import context
    return context.RequestContext(project_id=project, user_id='u-' + project,
                                  roles=['member', 'reader'])


def _left_by_a_dead_worker(glance, image_id, stores):
    """Staged, then importing with a stale task's lock, as after kill -9."""
    from glance import db as glance_db
    response = glance.request(
        'PUT', '/v2/images/%s/stage' % image_id, body=DATA,
        headers={'Content-Type': 'application/octet-stream'})
    assert response.status_int == 204, response
    db_api = glance_db.get_api()
    context = _context()
    task = db_api.task_create(context, {
        'type': 'api_image_import', 'status': 'processing',
        'owner': 'p1', 'input': {'image_id': image_id},
        'image_id': image_id, 'user_id': 'u-p1',
        'request_id': 'req-dead'})
    # Older than glance's lock expiry: glance's own update would stamp now.
    from glance.db.sqlalchemy import api as sql_api
    import sqlalchemy
    with sql_api.get_engine().begin() as connection:
        connection.execute(
            sqlalchemy.text('UPDATE tasks SET updated_at = :stale '
                            'WHERE id = :id'),
            {'stale': '2020-01-01 00:00:00', 'id': task['id']})
    repo = glance_db.ImageRepo(context, db_api)
    image = repo.get(image_id)
    image.status = 'importing'
    image.extra_properties.update({
        'os_glance_import_task': task['id'],
        'os_glance_importing_to_stores': ','.join(stores),
        'baseref_import': '2020-01-01T00:00:00Z here'})
    repo.save(image, from_state='uploading')
    return task['id']


@pytest.mark.release
def test_a_dead_import_is_resumed_and_lands(env, load_pipeline, no_filter):
    from tests.functional.conftest import Glance
    resuming = Glance(env, load_pipeline(resume_imports='true',
                                         watch_timeout='60'))
    image_id = resuming.create_image()
    _left_by_a_dead_worker(resuming, image_id, ['cheap', 'cold'])
    request = {'method': {'name': 'glance-direct'}}
    # Glance alone cannot finish it: the image is not uploading.
    alone = no_filter.request('POST', '/v2/images/%s/import' % image_id,
                              json=request)
    assert alone.status_int == 409, alone

    response = resuming.request('POST', '/v2/images/%s/import' % image_id,
                                json=request)

    assert response.status_int == 202, response
    image = resuming.wait_import(image_id)
    deadline = time.monotonic() + 30
    while 'baseref_import' in image and time.monotonic() < deadline:
        time.sleep(0.1)  # the watcher removes the mark once settled
        image = resuming.image(image_id)
    assert 'baseref_import' not in image
    assert_landed(resuming, image_id, ['cheap', 'cold'])
