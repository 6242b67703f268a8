"""glance-baseref-audit against glance 33 under uWSGI, images placed wrong.

The images are placed wrong on purpose: plain uploads into one store each,
with ``base_image_ref`` set when the image is created (as Nova does), next
to base images that live in several stores. The glance here has no filter
in its pipeline (the tool does not need it) and runs on MariaDB, because
copy-image tasks of several images at once lock sqlite.

Identity: this glance trusts the identity headers that keystonemiddleware
would set (see tests/harness/glance_env.py), so the tool gets a
keystoneauth plugin that sends them, through ``cli.main(auth=...)``, and
finds glance with ``--os-endpoint-override``.
"""

import datetime
import json
import uuid

import pytest
from keystoneauth1 import access

from glance_baseref.audit import cli
from glance_baseref.audit.commands import CHECK_COLUMNS
from glance_baseref.audit.commands import EXIT_ERROR
from glance_baseref.audit.commands import EXIT_FINDINGS
from glance_baseref.audit.commands import EXIT_OK
from tests import harness
from tests.e2e import conftest

ADMIN = ('admin', 'member', 'reader')
MEMBER = ('member', 'reader')
DATA = b'x' * 4096


class HeaderIdentity(harness.IdentityToken):
    """The harness's header identity, which also tells the tool its roles.

    A keystone plugin learns the roles from the token; this one knows them
    because it asserts them itself, in ``X-Roles``.
    """

    def get_access(self, session, **kwargs):
        return access.create(body={'token': {
            'methods': ['token'], 'expires_at': '2999-01-01T00:00:00Z',
            'roles': [{'id': r, 'name': r} for r in self.roles],
            'project': {'id': self.project_id, 'name': self.project_id,
                        'domain': {'id': 'default', 'name': 'Default'}},
            'user': {'id': self.user_id, 'name': self.user_id,
                     'domain': {'id': 'default', 'name': 'Default'}},
        }}, auth_token='harness-token')


@pytest.fixture(scope='module')
def audit_glance(tmp_path_factory):
    deployment = conftest.start_deployment(
        tmp_path_factory.mktemp('audit-glance'), with_filter=False,
        database='mariadb')
    yield deployment
    conftest.stop_deployment(deployment)


@pytest.fixture
def project():
    """A project of its own per test, so that --project isolates it."""
    return 'audit-%s' % uuid.uuid4().hex[:8]


@pytest.fixture
def proxy(audit_glance):
    with harness.FaultProxy(audit_glance.server.url) as running:
        yield running


def client(deployment, project, roles=MEMBER):
    return harness.CinderLikeClient(deployment.server.url,
                                    project_id=project,
                                    user_id='u-%s' % project, roles=roles)


def run_audit(capsys, url, args, project='audit-admin', roles=ADMIN):
    """Run the tool in-process; returns (exit status, stdout, stderr)."""
    auth = HeaderIdentity(url, project, 'u-%s' % project, roles)
    args = list(args)
    status = cli.main(['--os-endpoint-override', url] + args[:1]
                      + ['--retries', '2'] + args[1:], auth=auth)
    out, err = capsys.readouterr()
    return status, out, err


def check_json(capsys, url, *args, **kwargs):
    status, out, err = run_audit(capsys, url, ['check', '-f', 'json']
                                 + list(args), **kwargs)
    return status, json.loads(out), err


def misplaced(owner, base, store=None, name='misplaced'):
    """An active image naming ``base`` but uploaded to one store only."""
    image = owner.create_image(name=name, base_image_ref=base['id'])
    owner.upload(image['id'], DATA, store=store)
    return owner.wait_for(image['id'], lambda i: i['status'] == 'active')


@pytest.fixture
def lineage(audit_glance, project):
    """A base in cheap+cold and three images that name it.

    ``wrong`` is in fast only, ``half`` in cheap only, ``right`` in cheap
    and cold already.
    """
    owner = client(audit_glance, project)
    base = harness.make_base_image(owner, ['cheap', 'cold'], DATA)
    right = harness.make_base_image(owner, ['cheap', 'cold'], DATA,
                                    name='right', base_image_ref=base['id'])
    return dict(owner=owner, base=base, right=right,
                wrong=misplaced(owner, base),
                half=misplaced(owner, base, store='cheap'))


def missing_by_image(rows):
    return {r['image']: r['missing'] for r in rows
            if r['result'] == 'missing'}


def not_judged(rows):
    return {r['image']: r['detail'] for r in rows
            if r['result'] == 'not judged'}


def test_check_lists_images_missing_stores_of_their_base(
        capsys, audit_glance, project, lineage):
    status, report, err = check_json(capsys, audit_glance.server.url,
                                     '--project', project)
    assert missing_by_image(report) == {
        lineage['wrong']['id']: ['cheap', 'cold'],
        lineage['half']['id']: ['cold'],
    }
    assert status == EXIT_FINDINGS
    assert 'error' not in err and 'partial' not in err


def test_check_table_and_exit_0_when_nothing_is_missing(
        capsys, audit_glance, project, lineage):
    url = audit_glance.server.url
    status, out, _err = run_audit(capsys, url, ['check', '--image',
                                                lineage['wrong']['id']])
    assert status == EXIT_FINDINGS
    header, row = [line.split('|')[1:-1] for line in out.splitlines()
                   if line.startswith('|')]
    assert [cell.strip() for cell in header] == list(CHECK_COLUMNS)
    assert [cell.strip() for cell in row][:6] == [
        lineage['wrong']['id'], lineage['base']['id'], 'active', 'missing',
        'cheap,cold', str(len(DATA))]
    status, out, err = run_audit(capsys, url, ['check', '--image',
                                               lineage['right']['id']])
    assert status == EXIT_OK and out.strip() == ''
    assert '1 with base_image_ref, 0 lack a store' in err


def test_check_as_a_member_may_be_partial(capsys, audit_glance, project,
                                          lineage):
    status, report, err = check_json(capsys, audit_glance.server.url,
                                     project=project, roles=MEMBER)
    assert 'the result may be partial: the listing held no private or ' \
        'shared image of another project' in err
    assert 'roles member, reader' in err
    assert set(missing_by_image(report)) == {lineage['wrong']['id'],
                                             lineage['half']['id']}
    assert status == EXIT_FINDINGS


def test_check_reads_every_page(capsys, audit_glance, project, proxy):
    owner = client(audit_glance, project)
    base = harness.make_base_image(owner, ['cheap'], DATA)
    # Created first, so that the newest-first listing has it on its last
    # page; the other images name the base but have no data (queued).
    wrong = misplaced(owner, base)
    for number in range(22):
        owner.create_image(name='queued-%d' % number,
                           base_image_ref=base['id'])
    status, report, _err = check_json(capsys, proxy.url, '--page-size', '5',
                                      '--project', project)
    listed = [p for p, _s in proxy.requests('GET', r'^/v2/images\?')]
    # 24 images (os_hidden false) in pages of 5, then the hidden pass.
    assert len(listed) >= 6, listed
    assert '24 images read' in _err
    assert missing_by_image(report) == {wrong['id']: ['cheap']}
    assert len(not_judged(report)) == 22
    assert status == EXIT_FINDINGS


def test_check_skips_what_cannot_be_judged(capsys, audit_glance, project):
    owner = client(audit_glance, project)
    admin = client(audit_glance, project, roles=ADMIN)
    gone_base = harness.make_base_image(owner, ['cheap'], DATA)
    orphan = misplaced(owner, gone_base)
    owner.delete_image(gone_base['id'])
    inactive_base = harness.make_base_image(owner, ['cheap'], DATA)
    under_inactive = misplaced(owner, inactive_base)
    admin.client().images.deactivate(inactive_base['id'])
    live_base = harness.make_base_image(owner, ['cheap'], DATA)
    queued = owner.create_image(name='queued', base_image_ref=live_base['id'])
    not_uuid = owner.create_image(name='bad', base_image_ref='a,b')
    status, report, _err = check_json(
        capsys, audit_glance.server.url, '--image', orphan['id'],
        under_inactive['id'], queued['id'], not_uuid['id'])
    assert not_judged(report) == {
        orphan['id']: 'the base image is gone or not visible',
        under_inactive['id']: 'the base image is deactivated, not active',
        queued['id']: 'the image is queued, not active',
        not_uuid['id']: 'base_image_ref is not exactly one UUID',
    }
    assert missing_by_image(report) == {}
    assert status == EXIT_OK


def test_errors_win_over_missing(capsys, audit_glance, project, lineage,
                                 proxy):
    other_base = harness.make_base_image(lineage['owner'], ['cold'], DATA)
    proxy.add('GET', '^/v2/images/%s$' % other_base['id'], status=503)
    broken = misplaced(lineage['owner'], other_base)
    status, report, err = check_json(
        capsys, proxy.url, '--image', lineage['wrong']['id'], broken['id'])
    assert set(missing_by_image(report)) == {lineage['wrong']['id']}
    assert not_judged(report)[broken['id']].startswith(
        'the base image could not be read')
    assert ('error: base image %s: HTTP 503: fault injected by the test '
            'proxy' % other_base['id']) in err
    # --retries 2: keystoneauth asked three times before giving up.
    assert len(proxy.requests('GET', other_base['id'])) == 3
    assert status == EXIT_ERROR


def test_glance_5xx_is_retried_then_reported(capsys, audit_glance, project,
                                             lineage, proxy):
    proxy.add('GET', r'^/v2/info/stores$', status=503, times=2)
    status, report, _err = check_json(capsys, proxy.url,
                                      '--project', project)
    assert len(proxy.requests('GET', r'^/v2/info/stores$')) == 3
    assert status == EXIT_FINDINGS and 'error' not in _err

    proxy.add('GET', r'^/v2/images\?', status=500)
    status, out, err = run_audit(capsys, proxy.url,
                                 ['check', '--project', project])
    assert 'error: listing the images failed' in err and '500' in err
    assert out.strip() == ''
    assert status == EXIT_ERROR


def stores_on_disk(deployment, image):
    return deployment.env.stores_holding(image['id'])


def test_repair_copies_the_missing_stores_and_runs_again_safely(
        capsys, audit_glance, project, lineage):
    url = audit_glance.server.url
    owner = lineage['owner']
    status, out, err = run_audit(capsys, url, ['repair', '-f', 'json',
                                               '--project', project])
    outcomes = {o['image']: o for o in json.loads(out)}
    assert {i: (o['result'], o['copied']) for i, o in outcomes.items()} == {
        lineage['wrong']['id']: ('copied', ['cheap', 'cold']),
        lineage['half']['id']: ('copied', ['cold']),
    }
    assert status == EXIT_OK, err
    for name, stores in (('wrong', {'fast', 'cheap', 'cold'}),
                         ('half', {'cheap', 'cold'})):
        image = owner.get_image(lineage[name]['id'])
        assert harness.image_stores(image) == stores
        assert stores_on_disk(audit_glance, image) == stores
    tasks = len(owner.image_tasks(lineage['wrong']['id']))

    status, report, _err = check_json(capsys, url, '--project', project)
    assert status == EXIT_OK and missing_by_image(report) == {}
    status, out, err = run_audit(capsys, url, ['repair', '--project',
                                               project])
    assert out.strip() == '' and 'nothing to repair' in err
    assert status == EXIT_OK
    assert len(owner.image_tasks(lineage['wrong']['id'])) == tasks


def test_repair_as_a_member_reports_the_policy_refusal(
        capsys, audit_glance, project, lineage):
    """No role name is assumed: the copy is tried and glance says 403."""
    status, out, err = run_audit(capsys, audit_glance.server.url,
                                 ['repair', '-f', 'json', '--project',
                                  project, '--max-concurrent', '1'],
                                 project=project, roles=MEMBER)
    results = {o['result']: o['detail'] for o in json.loads(out)}
    assert sorted(results) == ['error', 'not tried'], results
    assert results['error'].startswith(
        "glance's policy refused copy-image for this token (project %s, "
        "roles member, reader): HTTP 403" % project)
    assert status == EXIT_ERROR
    image = lineage['owner'].get_image(lineage['wrong']['id'])
    assert harness.image_stores(image) == {'fast'}


def test_repair_dry_run_copies_nothing(capsys, audit_glance, project,
                                       lineage):
    status, out, _err = run_audit(capsys, audit_glance.server.url,
                                  ['repair', '--dry-run', '--project',
                                   project])
    rows = {line.split('|')[1].strip(): line.split('|')[2].strip()
            for line in out.splitlines()[3:-1]}
    assert rows == {lineage['wrong']['id']: 'would copy',
                    lineage['half']['id']: 'would copy'}
    assert status == EXIT_FINDINGS
    image = lineage['owner'].get_image(lineage['wrong']['id'])
    assert harness.image_stores(image) == {'fast'}


def test_repair_reports_an_image_deleted_mid_copy(capsys, audit_glance,
                                                  project, lineage, proxy):
    victim = lineage['wrong']['id']
    admin = client(audit_glance, project, roles=ADMIN)
    proxy.add('POST', '^/v2/images/%s/import$' % victim,
              after=lambda *_: admin.delete_image(victim))
    status, out, err = run_audit(capsys, proxy.url, ['repair', '-f', 'json',
                                                     '--project', project])
    outcomes = {o['image']: o for o in json.loads(out)}
    assert outcomes[victim]['result'] == 'gone'
    assert outcomes[victim]['detail'] == 'the image was deleted'
    assert outcomes[lineage['half']['id']]['result'] == 'copied'
    assert status == EXIT_OK, err


def test_repair_reports_glance_5xx_per_image(capsys, audit_glance, project,
                                             lineage, proxy):
    failing = lineage['half']['id']
    proxy.add('POST', '^/v2/images/%s/import$' % failing, status=503)
    status, out, _err = run_audit(capsys, proxy.url, ['repair', '-f',
                                                      'json', '--project',
                                                      project])
    rows = {o['image']: o for o in json.loads(out)}
    assert rows[failing]['result'] == 'error'
    assert '503' in rows[failing]['detail']
    assert 'after 2 retries' in rows[failing]['detail']
    assert rows[lineage['wrong']['id']]['result'] == 'copied'
    assert len(proxy.requests('POST', failing)) == 3
    assert status == EXIT_ERROR


def test_store_no_longer_enabled_is_ignored(capsys, make_glance):
    deployment = make_glance(stores=('fast', 'cheap', 'old'),
                             with_filter=False)
    owner = client(deployment, 'p-old')
    base = harness.make_base_image(owner, ['cheap', 'old'], DATA)
    wrong = misplaced(owner, base)
    deployment.env.reconfigure(stores=('fast', 'cheap'))
    deployment.server.restart()
    assert harness.image_stores(owner.get_image(base['id'])) == {
        'cheap', 'old'}
    url = deployment.server.url
    status, report, _err = check_json(capsys, url, '--image', wrong['id'])
    (finding,) = report
    assert (finding['missing'], finding['detail']) == (
        ['cheap'], 'not usable here: old')
    assert status == EXIT_FINDINGS
    status, out, _err = run_audit(capsys, url, ['repair', '--image',
                                                wrong['id']])
    assert status == EXIT_OK, out
    assert harness.image_stores(owner.get_image(wrong['id'])) == {
        'fast', 'cheap'}


def test_an_unknown_image_is_an_error(capsys, audit_glance, project,
                                      lineage):
    unknown = str(uuid.uuid4())
    status, report, err = check_json(capsys, audit_glance.server.url,
                                     '--image', unknown,
                                     lineage['wrong']['id'])
    assert ('error: image %s: HTTP 404 Not Found: No image found with ID '
            '%s' % (unknown, unknown)) in err
    assert set(missing_by_image(report)) == {lineage['wrong']['id']}
    assert status == EXIT_ERROR


def test_repair_needs_copy_image_enabled(capsys, make_glance):
    deployment = make_glance(with_filter=False,
                             import_methods=('glance-direct',))
    owner = client(deployment, 'p-nocopy')
    base = harness.make_base_image(owner, ['cheap'], DATA)
    wrong = misplaced(owner, base)
    url = deployment.server.url
    status, _out, err = run_audit(capsys, url, ['check', '--image',
                                                wrong['id']])
    assert status == EXIT_FINDINGS
    status, out, err = run_audit(capsys, url, ['repair', '--image',
                                               wrong['id']])
    assert err == ('glance-baseref-audit: error: repair needs the '
                   'copy-image import method, and this glance offers '
                   'glance-direct (enabled_import_methods)\n')
    assert out.strip() == '' and status == EXIT_ERROR
    assert harness.image_stores(owner.get_image(wrong['id'])) == {'fast'}


def test_hidden_images_and_allowed_stores(capsys, audit_glance, project,
                                          lineage):
    owner = lineage['owner']
    hidden = owner.create_image(name='hidden', os_hidden=True,
                                base_image_ref=lineage['base']['id'])
    owner.upload(hidden['id'], DATA)
    owner.wait_for(hidden['id'], lambda i: i['status'] == 'active')
    url = audit_glance.server.url
    status, report, _err = check_json(capsys, url, '--project', project)
    assert missing_by_image(report)[hidden['id']] == ['cheap', 'cold']
    status, report, _err = check_json(capsys, url, '--project', project,
                                      '--allowed-stores', 'cold,fast')
    assert missing_by_image(report) == {
        lineage['wrong']['id']: ['cold'], lineage['half']['id']: ['cold'],
        hidden['id']: ['cold']}
    ignored = {r['image']: r['detail'] for r in report}
    assert ignored[lineage['wrong']['id']] == 'not usable here: cheap'
    assert status == EXIT_FINDINGS


def marked(owner, name, minutes_ago, **properties):
    """An image with the filter's mark, as a crashed worker leaves it."""
    when = datetime.datetime.now(datetime.timezone.utc) - \
        datetime.timedelta(minutes=minutes_ago)
    mark = '%s node-7' % when.strftime('%Y-%m-%dT%H:%M:%SZ')
    return owner.create_image(name=name, baseref_import=mark, **properties)


def test_marked_images_are_listed_then_settled(capsys, audit_glance,
                                               project, lineage):
    """Each state a crash can leave that glance's API can produce here:
    reverted (queued), the mark left on an active image, staging cut
    short (uploading, no task), and an upload still staging."""
    owner = lineage['owner']
    url = audit_glance.server.url
    reverted = marked(owner, 'reverted', 300)
    left = marked(owner, 'left', 300, base_image_ref=lineage['base']['id'])
    owner.upload(left['id'], DATA)
    owner.wait_for(left['id'], lambda i: i['status'] == 'active')
    stuck = marked(owner, 'stuck', 300)
    owner.stage(stuck['id'], DATA)
    staging = marked(owner, 'staging', 2)
    owner.stage(staging['id'], DATA)
    ids = [reverted['id'], left['id'], stuck['id'], staging['id']]

    status, rows, _err = check_json(capsys, url, '--image', *ids)
    found = {(r['image'], r['result']) for r in rows}
    assert found == {(reverted['id'], 'reverted'), (left['id'], 'mark left'),
                     (left['id'], 'missing'), (stuck['id'], 'stuck'),
                     (staging['id'], 'in progress')}, found
    by_image = {r['image']: r for r in rows if r['result'] != 'missing'}
    assert (by_image[stuck['id']]['status'], by_image[stuck['id']]['node'],
            by_image[stuck['id']]['lock']) == ('uploading', 'node-7', False)
    assert status == EXIT_FINDINGS

    status, out, _err = run_audit(capsys, url, ['repair', '-f', 'json',
                                                '--image'] + ids)
    results = {(o['image'], o['result']) for o in json.loads(out)}
    assert results == {(reverted['id'], 'deleted'),
                       (left['id'], 'mark removed'), (left['id'], 'copied'),
                       (stuck['id'], 'stuck'),
                       (staging['id'], 'in progress')}, results
    assert status == EXIT_ERROR     # the stuck one
    owner.wait_deleted(reverted['id'])
    settled = owner.get_image(left['id'])
    assert 'baseref_import' not in settled
    assert harness.image_stores(settled) == {'fast', 'cheap', 'cold'}
    assert owner.get_image(stuck['id'])['status'] == 'uploading'


def test_a_marked_import_in_progress_is_left_then_its_mark_removed(
        capsys, make_glance):
    """A real import holds glance's lock while the audit looks: `in
    progress`, from glance's own task; once it has ended and only the
    mark is left (as when the filter's worker died right at the end),
    repair removes the mark."""
    deployment = make_glance(with_filter=False, database='mariadb')
    url = deployment.server.url
    owner = client(deployment, 'p-inprogress')
    image = marked(owner, 'importing-now', 0)
    owner.stage(image['id'], b'i' * (256 << 20))
    owner.import_image(image['id'], stores=['fast', 'cheap', 'cold'])
    status, rows, _err = check_json(capsys, url, '--image', image['id'])
    (row,) = rows
    # glance takes the lock, then moves the image from uploading to
    # importing once its task runs.
    assert (row['result'], row['lock'], row['node']) == (
        'in progress', True, 'node-7'), row
    assert row['status'] in ('uploading', 'importing'), row
    assert row['task'] in ('pending', 'processing') and row['idle'] < 60
    assert status == EXIT_FINDINGS
    status, out, _err = run_audit(capsys, url, ['repair', '-f', 'json',
                                                '--image', image['id']])
    assert [(o['result']) for o in json.loads(out)] == ['in progress']
    assert status == EXIT_FINDINGS

    owner.wait_for(image['id'], harness.import_finished, timeout=180)
    status, rows, _err = check_json(capsys, url, '--image', image['id'])
    assert [(r['result'], r['status'], r['lock']) for r in rows] == [
        ('mark left', 'active', False)]
    status, out, _err = run_audit(capsys, url, ['repair', '-f', 'json',
                                                '--image', image['id']])
    assert [o['result'] for o in json.loads(out)] == ['mark removed']
    assert status == EXIT_OK
    assert 'baseref_import' not in owner.get_image(image['id'])
