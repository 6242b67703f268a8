"""respond_after: when a co-located upload is answered, and how soon."""

import logging

from oslo_config import cfg
from oslo_log import versionutils
import pytest

from glance_baseref import opts
from glance_baseref import settings
from tests.unit import pipeline as pl
from tests.unit.test_colocated import ended
from tests.unit.test_colocated import polls
from tests.unit.test_colocated import STALE_TASK
from tests.unit.test_colocated import TASK
from tests.unit.test_colocated import WATCHER

DEPRECATION = 'deprecated for removal'


@pytest.mark.parametrize('final,deleted', [
    (ended(status='active', stores='fast,cheap'), False),
    (ended(status='active', stores='fast', os_glance_failed_import='cheap'),
     False),
    (TASK, True),
    (ended(status='importing'), True),
    (ended(status='queued'), True),
], ids=['written', 'one store failed', 'task never stops', 'stuck importing',
        'back to queued'])
def test_staged_answers_once_the_import_is_accepted(make_pipeline, caplog,
                                                    final, deleted):
    pipeline = make_pipeline(respond_after='staged', watch_timeout='3')
    fake = pipeline.fake
    fake.progress[pl.TARGET] = [TASK, TASK, final]
    fake.tasks[pl.TARGET] = STALE_TASK

    response = pipeline.upload()
    pl.join_watchers([pipeline.filter])
    answered = [s.line for s in fake.seen if s.thread == 'MainThread']

    assert response.status_int == 204
    assert response.headers['X-Fake-Glance'] == 'stage'
    # Answered right after glance accepted the import: no look before.
    assert answered[-2:] == ['PUT /v2/images/%s/stage' % pl.TARGET,
                             'POST ' + pl.IMPORT_PATH]
    assert polls(fake, 'MainThread') == []
    assert len(polls(fake, WATCHER)) >= 3
    assert bool(fake.find('DELETE')) == deleted
    decision, = [m for m in pl.messages(caplog, logging.INFO)
                 if 'stage+import' in m]
    assert ('stores fast,cheap by stage+import; import accepted, glance goes '
            'on with fast,cheap, answered 204 No Content in ') in decision
    errors = pl.messages(caplog, logging.ERROR)
    assert bool(errors) == deleted


@pytest.mark.parametrize('respond_after,answered_at', [
    ('all_stores', 'ended'), ('first_store', 'active'), ('staged', None)])
def test_each_mode_answers_at_its_moment(make_pipeline, respond_after,
                                         answered_at):
    pipeline = make_pipeline(respond_after=respond_after)
    fake = pipeline.fake
    active = dict(TASK, status='active', stores='fast')
    fake.progress[pl.TARGET] = [TASK, TASK, active, active,
                                ended(status='active', stores='fast,cheap')]

    pipeline.upload()

    seen = [s.image for s in polls(fake, 'MainThread')]
    if answered_at is None:
        assert seen == []
    elif answered_at == 'active':
        assert [i['status'] for i in seen] == ['importing'] * 2 + ['active']
    else:
        assert 'os_glance_import_task' not in seen[-1]
        assert len(seen) == 5


def _conf_file(tmp_path, conf, text):
    path = tmp_path / 'glance-api.conf'
    path.write_text('[glance_baseref]\n' + text)
    conf(args=[], default_config_files=[str(path)])
    return conf


@pytest.fixture
def deprecation_not_yet_logged(monkeypatch):
    """Both once-per-process warnings, as in a fresh glance-api process."""
    monkeypatch.setattr(settings, '_paste_deprecation_warned',
                        type(settings._paste_deprecation_warned)())
    opt, = [o for o in opts.OPTS if o.dest == 'wait_for_all_stores']
    monkeypatch.setattr(opt, '_logged_deprecation', False)
    # oslo.config reports through oslo.log, which also logs a message once.
    monkeypatch.setattr(versionutils, '_deprecated_messages_sent', {})


# glance-api.conf lines, paste keys, respond_after, deprecation warned
DEPRECATED = [
    ('', {}, 'all_stores', False),
    ('wait_for_all_stores = false\n', {}, 'first_store', True),
    ('wait_for_all_stores = true\n', {}, 'all_stores', True),
    ('', {'wait_for_all_stores': 'false'}, 'first_store', True),
    ('', {'wait-for-all-stores': 'true'}, 'all_stores', True),
    ('wait_for_all_stores = false\nrespond_after = staged\n', {}, 'staged',
     True),
    ('respond_after = all_stores\n', {'wait_for_all_stores': 'false'},
     'all_stores', True),
    ('wait_for_all_stores = true\n', {'respond_after': 'staged'}, 'staged',
     True),
    ('wait_for_all_stores = true\n', {'wait_for_all_stores': 'false'},
     'first_store', True),
    ('respond_after = first_store\n', {}, 'first_store', False),
]


@pytest.mark.usefixtures('deprecation_not_yet_logged')
@pytest.mark.parametrize('conf_text,paste,expected,warned', DEPRECATED)
def test_wait_for_all_stores_still_works_deprecated(
        tmp_path, conf, caplog, conf_text, paste, expected, warned):
    caplog.set_level(logging.INFO)
    _conf_file(tmp_path, conf, conf_text)

    for _ in range(2):  # a second filter in the same process: no warning
        built = settings.load(dict(paste, oslo_config_config=conf))
        assert built.respond_after == expected

    warnings = [r.getMessage() for r in caplog.records
                if DEPRECATION in r.getMessage()]
    assert len(warnings) == (1 if warned else 0), warnings
    if warned:
        assert 'wait_for_all_stores' in warnings[0]
        assert 'respond_after' in warnings[0]


def test_respond_after_set_to_its_default_still_wins(tmp_path, conf):
    _conf_file(tmp_path, conf, 'wait_for_all_stores = false\n'
                               'respond_after = all_stores\n')

    assert settings.load({'oslo_config_config': conf}).respond_after == (
        'all_stores')


def test_override_in_code_counts_as_set(conf):
    conf.register_opts(opts.OPTS, group=opts.GROUP)
    conf.set_override('wait_for_all_stores', False, group=opts.GROUP)

    assert settings.load({'oslo_config_config': conf}).respond_after == (
        'first_store')


# -- how soon the answer follows the end ------------------------------------

END = 7.0  # when glance removes the staged file and ends the task


@pytest.fixture
def staging(global_conf, tmp_path, fake):
    """Glance's staging store configured, as inside glance-api."""
    global_conf.register_opt(cfg.StrOpt('filesystem_store_datadir'),
                             group='os_glance_staging_store')
    global_conf.set_override('filesystem_store_datadir', str(tmp_path),
                             group='os_glance_staging_store')
    fake.staging_dir = tmp_path
    return tmp_path


def _import_ending_at(pipeline, end, staging_dir=None,
                      then=ended(status='active', stores='fast,cheap')):
    """Glance's import: the staged file goes at ``end``, and the image
    becomes ``then``. Returns the times of the looks at the image."""
    clock = pipeline.clock
    looked_at = []

    def state():
        looked_at.append(clock.now)
        return TASK if clock.now < end else then
    pipeline.fake.progress[pl.TARGET] = state
    if staging_dir is not None:
        clock.at(end, (staging_dir / pl.TARGET).unlink)
    return looked_at


@pytest.mark.parametrize('poll_interval', ['1.0', '5.0'])
def test_answer_follows_the_removal_of_the_staged_file(
        make_pipeline, staging, poll_interval):
    pipeline = make_pipeline(poll_interval=poll_interval)
    looked_at = _import_ending_at(pipeline, END, staging)

    response = pipeline.upload()

    assert response.status_int == 204
    assert END <= looked_at[-1] <= END + 0.06
    # Few looks while the staged file is there: the pauses still grow
    # (a look every 0.05 s would be 140).
    assert len(looked_at) <= 13
    gaps = [b - a for a, b in zip(looked_at, looked_at[1:])]
    assert max(gaps) <= float(poll_interval) + 1e-9
    assert min(gaps) >= 0.05 - 1e-9


def test_without_a_staged_file_looks_back_off_to_poll_interval(
        make_pipeline):
    pipeline = make_pipeline(poll_interval='1.0')
    looked_at = _import_ending_at(pipeline, END)

    pipeline.upload()

    assert looked_at[:5] == pytest.approx([0, 0.05, 0.15, 0.35, 0.75])
    assert looked_at[-1] - looked_at[-2] == pytest.approx(1.0)


def test_staged_file_gone_at_once_means_a_look_every_tick(make_pipeline,
                                                          staging):
    pipeline = make_pipeline(poll_interval='1.0')
    looked_at = _import_ending_at(pipeline, 0.2)
    pipeline.clock.at(0.0, (staging / pl.TARGET).unlink)

    pipeline.upload()

    gaps = [b - a for a, b in zip(looked_at, looked_at[1:])]
    assert gaps == pytest.approx([0.05] * len(gaps))
    assert 0.2 <= looked_at[-1] <= 0.26


def test_staged_file_gone_long_before_the_end_means_the_usual_pace(
        make_pipeline, staging):
    """image_conversion removes the staged file before any store."""
    pipeline = make_pipeline(poll_interval='1.0')
    looked_at = _import_ending_at(pipeline, 10.0)
    pipeline.clock.at(0.0, (staging / pl.TARGET).unlink)

    pipeline.upload()

    # A quarter of a second of quick looks, then the doubling pauses.
    quick = [t for t in looked_at if t <= 0.3]
    assert len(quick) <= 7, looked_at
    assert len(looked_at) <= 10.0 / 1.0 + 12, looked_at


def test_conversion_plugin_means_the_staged_file_is_not_watched(
        make_pipeline, staging, global_conf):
    global_conf.register_opt(cfg.ListOpt('image_import_plugins'),
                             group='image_import_opts')
    global_conf.set_override('image_import_plugins', ['image_conversion'],
                             group='image_import_opts')
    pipeline = make_pipeline(poll_interval='1.0')
    looked_at = _import_ending_at(pipeline, 10.0)
    pipeline.clock.at(0.0, (staging / pl.TARGET).unlink)

    pipeline.upload()

    # 0.05 s doubling up to 1 s from the start: no quick looks at all.
    gaps = [b - a for a, b in zip(looked_at, looked_at[1:])]
    assert gaps[:5] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8])


def test_first_store_looks_at_least_every_fifth_of_a_second(make_pipeline,
                                                            staging):
    pipeline = make_pipeline(poll_interval='1.0', watch_timeout='3',
                             respond_after='first_store')
    pipeline.fake.tasks[pl.TARGET] = STALE_TASK
    looked_at = _import_ending_at(
        pipeline, END, then=dict(TASK, status='active', stores='fast'))

    pipeline.upload()
    pl.join_watchers([pipeline.filter])

    main = [t for t in looked_at if t <= END + 0.25]
    gaps = [b - a for a, b in zip(main, main[1:])]
    assert max(gaps) <= 0.2 + 1e-9
    assert END <= main[-1] <= END + 0.2 + 1e-9
