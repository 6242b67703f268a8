"""Case 8: co-location into two Ceph clusters, one RBD store each.

Two single-node Ceph 16.2 clusters (tests/harness/ceph.py) and one
glance-api 33 under uWSGI with ``site_a:rbd, site_b:rbd, local:file``
(``site_a`` the default), ``max_parallel_stores = 2`` and the filter
(``respond_after = all_stores``). Variants, alternating round by round,
the same clusters and the same glance for all (requests without the base
header pass the filter untouched; case 1 measures that cost):

* plain upload into the default cluster: what Cinder waits today;
* the filter: Cinder's upload with the base header, answered once the
  image is in both clusters;
* a client that stages and imports into both clusters itself
  (glance-direct, ``max_parallel_stores = 2``), then looks every POLL s
  until the import has ended;
* today's workaround: plain upload, then ``copy-image`` into site_b by an
  admin (glance copies serially).

Times are from the upload's first byte to the answer (what the uploader
waits) and to the end of glance's import as glance logged it; every
image is read back from no cluster here (the tests do that), but its
stores are checked after each sample.
"""

import time

from benchmarks import cases
from benchmarks import common
from tests import harness
from tests.harness import ceph

SITES = ('site_a', 'site_b')
SERVER = 'rbd'
PLAIN = 'plain upload, one cluster'
FILTER = 'filter, respond_after=all_stores'
CLIENT = 'client: stage + import'
MANUAL = 'today: upload + copy-image'


class _Logs:
    """What :func:`benchmarks.cases.logged_import` reads: the log of the
    one server."""

    def __init__(self, env):
        self.envs = {SERVER: env}


def start(work, database, log):
    """Two clusters and the glance; returns ``(clusters, env, server)``."""
    began = time.monotonic()
    clusters = ceph.start_clusters(work, SITES)
    log('  two Ceph clusters up in %.0f s' % (time.monotonic() - began))
    try:
        env = harness.GlanceEnv.create(
            work / 'glance-rbd', stores=('local',), default_store='site_a',
            rbd_stores={name: cluster.glance_store_options()
                        for name, cluster in clusters.items()},
            max_parallel_stores=2, database=database,
            baseref_options={'respond_after': 'all_stores'})
        server = harness.GlanceServer(env).start(timeout=120)
    except BaseException:
        for cluster in clusters.values():
            cluster.stop()
        raise
    return clusters, env, server


def stop(clusters, env, server):
    try:
        server.stop()
    finally:
        env.destroy()
        for cluster in clusters.values():
            cluster.stop()


def _upload(member, admin, image_id, data, base):
    member.upload(image_id, data)


def _colocated(member, admin, image_id, data, base):
    member.upload(image_id, data, base_image_ref=base)


def _stage_and_import(member, admin, image_id, data, base):
    member.stage(image_id, data)
    member.import_image(image_id, method='glance-direct', stores=list(SITES),
                        allow_failure=True)


def _upload_then_copy(member, admin, image_id, data, base):
    """The uploader is answered after the upload; then the admin copies."""
    member.upload(image_id, data)
    return lambda: admin.import_image(image_id, method='copy-image',
                                      stores=['site_b'], allow_failure=True)


#: name -> (what the clients send, stores it ends in, whether glance
#: runs an import task).
VARIANTS = {
    PLAIN: (_upload, ('site_a',), False),
    FILTER: (_colocated, SITES, True),
    CLIENT: (_stage_and_import, SITES, True),
    MANUAL: (_upload_then_copy, SITES, True),
}


def _measure(logs, member, admin, base, path, name):
    """One sample of variant ``name``: ``(image id, Upload)``."""
    send, stores, imports = VARIANTS[name]
    image_id = member.create_image(name=name)['id']
    started = time.time()
    with open(path, 'rb') as data:
        then = send(member, admin, image_id, data, base)
    answered = time.time()
    if then:
        then()
    if not imports:
        cases._expect(member, image_id, stores, name)
        return image_id, cases.Upload(started, answered)
    # As a client must, to learn the outcome; the end is taken from
    # glance's log, so these looks add no delay to the times.
    cases._wait_import(member, image_id)
    import_started, ended = cases.logged_import(logs, SERVER, member,
                                                image_id)
    cases._expect(member, image_id, stores, name)
    return image_id, cases.Upload(started, answered, ended, import_started)


def run(work, database, results, size_mib, repeat, path, log):
    """Case 8; adds its rows to ``results``."""
    clusters, env, server = start(work, database, log)
    try:
        member = harness.CinderLikeClient(server.url, project_id='p1',
                                          user_id='member1')
        admin = harness.CinderLikeClient(server.url, project_id='p1',
                                         user_id='admin1',
                                         roles=('admin', 'member', 'reader'))
        base = harness.make_base_image(member, SITES, b'base ' * 1000)['id']
        logs = _Logs(env)
        uploads = {name: [] for name in VARIANTS}
        for number, order in common.alternating(list(VARIANTS), repeat):
            for name in order:
                image_id, upload = _measure(logs, member, admin, base, path,
                                            name)
                member.delete_image(image_id)
                uploads[name].append(upload)
                log('  %s, round %d/%d, %-34s waits %6.2f s, in every '
                    'cluster after %6.2f s' % (
                        cases._size(size_mib), number + 1, repeat, name,
                        upload.waited, upload.total))
    finally:
        stop(clusters, env, server)
    label = cases._size(size_mib)
    for name in VARIANTS:
        results.add('8', '%s: time the uploader waits' % label, name,
                    [u.waited for u in uploads[name]], 's',
                    baseline=name == PLAIN)
    for name in VARIANTS:
        if name != PLAIN:
            results.add('8', '%s: until active in both clusters' % label,
                        name, [u.total for u in uploads[name]], 's',
                        baseline=name == CLIENT)
    log(results.text('8'))
