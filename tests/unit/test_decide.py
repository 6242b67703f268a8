"""Decisions as data: one row per rule of doc/behaviour.md.

The decider is given the fake glance in-process, as the filter gives it
glance; what it returns is compared whole. Nothing is carried out here:
the executor's tests are the other unit tests, through the paste factory.
"""

import json
import threading

from oslo_config import cfg
import pytest
import webob

from glance_baseref import deadline
from glance_baseref import decide
from glance_baseref import decision as d
from glance_baseref import inprocess
from glance_baseref import settings
from tests.unit import fake_glance
from tests.unit import pipeline as pl

T, B = pl.TARGET, pl.BASE


def _decider(conf, **options):
    options = dict({'record_base_image': 'false'}, **options)
    return decide.Decider(settings.load(dict(options,
                                             oslo_config_config=conf)))


def _glance(fake):
    environ = webob.Request.blank('/v2/images/%s/file' % T).environ
    environ['webob.adhoc_attrs'] = {'context': fake_glance.Context()}
    return inprocess.InProcessGlance(fake, environ)


def _upload(fake, conf, header=B, content_length=None, **options):
    decider = _decider(conf, **options)
    return decider.upload(_glance(fake), T, header, content_length,
                          deadline.Deadline(decider.settings.lookup_timeout))


def _reason_base(stores):
    return 'the base image is in %s' % stores


UPLOAD_RULES = [
    # (rule, change to the fake, options, header, expected decision)
    ('glance without enabled_backends: nothing to say',
     lambda f: setattr(f, 'stores', None), {}, B,
     d.Decision(d.HAND_ON, T, quiet=True)),
    ('a header that is not one UUID is refused',
     None, {}, 'a,b',
     d.Decision(d.REFUSE, T, refusal='The x-openstack-base-image-ref '
                'header holds several values; it must hold the UUID of '
                'exactly one image.')),
    ('a missing base image means the default store',
     lambda f: f.images.pop(B), {}, B,
     d.Decision(d.HAND_ON, T, 'the base image was not found', B)),
    ('an invisible base image reads as a missing one',
     lambda f: f.images[B].update(owner='p2'), {}, B,
     d.Decision(d.HAND_ON, T, 'the base image was not found', B)),
    ('a base image that is not active means the default store',
     lambda f: f.images[B].update(status='deactivated'), {}, B,
     d.Decision(d.HAND_ON, T, 'the base image is deactivated, not active',
                B)),
    ('a base image in no usable store means the default store',
     lambda f: f.images[B].update(stores='archive,elsewhere'), {}, B,
     d.Decision(d.HAND_ON, T, 'none of the base image stores '
                '(archive,elsewhere) is usable here (elsewhere is not '
                'enabled here)', B)),
    ('one usable store: steered there',
     lambda f: f.images[B].update(stores='archive,cold'), {}, B,
     d.Decision(d.STEER, T, _reason_base('archive,cold'), B, ('cold',))),
    ('several usable stores: stage and import into all',
     None, {}, B,
     d.Decision(d.COLOCATE, T, _reason_base('fast,cheap'), B,
                ('fast', 'cheap'))),
    ('allowed_stores keeps the base order',
     lambda f: f.images[B].update(stores='cold,fast,cheap'),
     {'allowed_stores': 'cheap,cold'}, B,
     d.Decision(d.COLOCATE, T, _reason_base('cold,fast,cheap'), B,
                ('cold', 'cheap'))),
    ('several, but the image is not queued: its first store only',
     lambda f: f.images[T].update(status='active'), {}, B,
     d.Decision(d.STEER, T, _reason_base('fast,cheap') +
                ', but the image is active', B, ('fast',))),
    ('several, but no glance-direct: the first store only',
     lambda f: setattr(f, 'import_methods', ['web-download']), {}, B,
     d.Decision(d.STEER, T, _reason_base('fast,cheap') + ', but glance-direct '
                'is not in enabled_import_methods (web-download)', B,
                ('fast',))),
    ('a visible base is recorded when asked',
     None, {'record_base_image': 'true'}, B,
     d.Decision(d.COLOCATE, T, _reason_base('fast,cheap') +
                '; base_image_ref set', B, ('fast', 'cheap'),
                record_base=B)),
    ('a base recorded already is not recorded again',
     lambda f: f.images[T].update(base_image_ref=B),
     {'record_base_image': 'true'}, B,
     d.Decision(d.COLOCATE, T, _reason_base('fast,cheap'), B,
                ('fast', 'cheap'))),
    ('a visible base that is not active is still recorded',
     lambda f: f.images[B].update(status='queued'),
     {'record_base_image': 'true'}, B,
     d.Decision(d.HAND_ON, T, 'the base image is queued, not active; '
                'base_image_ref set', B, record_base=B)),
    ('the property is followed like the header, and not recorded',
     lambda f: f.images[T].update(base_image_ref=B),
     {'use_base_image_property': 'true', 'record_base_image': 'true'},
     None,
     d.Decision(d.COLOCATE, T, _reason_base('fast,cheap'),
                B + ' (from its base_image_ref property)',
                ('fast', 'cheap'))),
    ('an unusable property means the default store, never a 400',
     lambda f: f.images[T].update(base_image_ref='x,y'),
     {'use_base_image_property': 'true'}, None,
     d.Decision(d.HAND_ON, T, 'The base_image_ref property holds several '
                'values')),
    ('no property at all: nothing to say',
     None, {'use_base_image_property': 'true'}, None,
     d.Decision(d.HAND_ON, T, quiet=True)),
]


@pytest.mark.parametrize('change,options,header,expected', [
    row[1:] for row in UPLOAD_RULES], ids=[row[0] for row in UPLOAD_RULES])
def test_upload_decisions(fake, conf, change, options, header, expected):
    if change is not None:
        change(fake)

    assert _upload(fake, conf, header, **options) == expected
    # Deciding reads only.
    assert {s.method for s in fake.seen} <= {'GET'}


def test_staging_that_cannot_take_the_upload_means_one_store(
        fake, conf, global_conf, tmp_path):
    global_conf.register_opt(cfg.StrOpt('filesystem_store_datadir'),
                             group='os_glance_staging_store')
    global_conf.set_override('filesystem_store_datadir',
                             str(tmp_path / 'gone'),
                             group='os_glance_staging_store')
    (tmp_path / 'gone').mkdir()
    decider = _decider(conf)
    decider.upload(_glance(fake), T, B, None, deadline.Deadline(2))
    (tmp_path / 'gone').rmdir()  # the staging disk went away since

    decided = decider.upload(_glance(fake), T, B, None, deadline.Deadline(2))
    assert decided.action == d.STEER
    assert decided.stores == ('fast',)
    assert decided.reason.endswith(
        ', but the staging directory %s is missing' % (tmp_path / 'gone'))

    (tmp_path / 'gone').mkdir()
    assert _upload(fake, conf).action == d.COLOCATE
    decided = _upload(fake, conf, content_length=2 ** 62)
    assert decided.action == d.STEER
    assert 'bytes free for %d' % 2 ** 62 in decided.reason


def test_the_whole_decision_has_one_deadline(fake, conf):
    """A hung read of the target image counts as much as the lookup."""
    fake.blocked[T] = threading.Event()
    fake.images[B]['stores'] = 'cold'
    decided = _upload(fake, conf, lookup_timeout='0.2',
                      record_base_image='true')
    assert decided == d.Decision(
        d.HAND_ON, T, 'the decision (the base image lookup included) took '
        'more than 0.2s, past lookup_timeout', B)


def _import(fake, conf, body, header=B, **options):
    decider = _decider(conf, **options)
    return decider.import_request(_glance(fake), T, header, body,
                                  deadline.Deadline(2.0))


GLANCE_DIRECT = {'method': {'name': 'glance-direct'}}
IMPORT_RULES = [
    ('stores are filled in, with the option for all_stores_must_succeed',
     None, GLANCE_DIRECT, {},
     d.Decision(d.FILL_IMPORT, T, _reason_base('fast,cheap'), B,
                ('fast', 'cheap'), request='import',
                import_body=json.dumps(dict(
                    GLANCE_DIRECT, stores=['fast', 'cheap'],
                    all_stores_must_succeed=False))),),
    ('the caller\'s all_stores_must_succeed is kept',
     None, dict(GLANCE_DIRECT, all_stores_must_succeed=True),
     {},
     d.Decision(d.FILL_IMPORT, T, _reason_base('fast,cheap'), B,
                ('fast', 'cheap'), request='import',
                import_body=json.dumps(dict(
                    GLANCE_DIRECT, all_stores_must_succeed=True,
                    stores=['fast', 'cheap']))),),
    ('the caller\'s own stores win',
     None, dict(GLANCE_DIRECT, stores=['cold']), {},
     d.Decision(d.HAND_ON, T, request='import', quiet=True)),
    ('a body that is not a small JSON object is glance\'s to judge',
     None, None, {},
     d.Decision(d.HAND_ON, T, request='import', quiet=True)),
    ('copy-image leaves out the stores the image is in',
     lambda f: f.images[T].update(status='active', stores='fast'),
     {'method': {'name': 'copy-image'}}, {},
     d.Decision(d.FILL_IMPORT, T, _reason_base('fast,cheap') +
                '; the image is in fast already', B, ('cheap',),
                request='import', import_body=json.dumps({
                    'method': {'name': 'copy-image'}, 'stores': ['cheap'],
                    'all_stores_must_succeed': False})),),
    ('no usable store: left alone',
     lambda f: f.images.pop(B), GLANCE_DIRECT, {},
     d.Decision(d.HAND_ON, T, 'the base image was not found', B,
                request='import')),
]


@pytest.mark.parametrize('change,body,options,expected', [
    row[1:] for row in IMPORT_RULES], ids=[row[0] for row in IMPORT_RULES])
def test_import_decisions(fake, conf, change, body, options, expected):
    if change is not None:
        change(fake)
    assert _import(fake, conf, body, **options) == expected
    assert {s.method for s in fake.seen} <= {'GET'}


def test_an_invalid_header_on_an_import_is_refused(fake, conf):
    decided = _import(fake, conf, GLANCE_DIRECT, header='nope')
    assert decided.action == d.REFUSE
    assert 'is not a UUID' in decided.refusal


def test_staging_back_after_an_outage_means_co_location_again(
        fake, conf, global_conf, tmp_path):
    """The store list is kept per process; the staging check is not."""
    global_conf.register_opt(cfg.StrOpt('filesystem_store_datadir'),
                             group='os_glance_staging_store')
    global_conf.set_override('filesystem_store_datadir',
                             str(tmp_path / 'staging'),
                             group='os_glance_staging_store')
    decider = _decider(conf)

    def decided():
        return decider.upload(_glance(fake), T, B, None,
                              deadline.Deadline(2)).action

    assert decided() == d.STEER        # missing when the catalog is read
    (tmp_path / 'staging').mkdir()
    assert decided() == d.COLOCATE
