"""The audit's rule: which usable stores of its base an image lacks."""

import pytest

from glance_baseref.audit import findings
from glance_baseref import stores

BASE = '9c2d1f0e-0000-4000-8000-000000000001'
IMAGE = '1f0e9c2d-0000-4000-8000-000000000002'
CATALOG = stores.StoreCatalog(multistore=True,
                              writable=('fast', 'cheap', 'cold'),
                              read_only=('web',), default='fast')


def image(stores_='fast', status='active', ref=BASE, **extra):
    return dict(id=IMAGE, status=status, stores=stores_, size=3,
                base_image_ref=ref, **extra)


def base(stores_='cheap,cold', status='active'):
    return dict(id=BASE, status=status, stores=stores_)


@pytest.mark.parametrize('image_stores, base_stores, allowed, missing', [
    ('fast', 'cheap,cold', (), ('cheap', 'cold')),
    ('cheap', 'cheap,cold', (), ('cold',)),
    ('cheap,cold', 'cheap,cold', (), ()),
    ('fast', 'cheap,cold', ('cold',), ('cold',)),
    # Not usable here: read-only, reserved, or not enabled on this glance.
    ('fast', 'web,os_glance_staging_store,old,cold', (), ('cold',)),
])
def test_missing_stores_follow_the_filter_rules(image_stores, base_stores,
                                                allowed, missing):
    finding = findings.assess(image(image_stores), base(base_stores),
                              CATALOG, allowed)
    assert finding.missing == missing
    assert finding.skipped == ''
    assert set(finding.ignored) | set(missing) <= set(base_stores.split(','))


def test_ignored_lists_base_stores_not_usable_here():
    finding = findings.assess(image('fast'), base('cheap,old,web'), CATALOG)
    assert finding.missing == ('cheap',)
    assert finding.ignored == ('old', 'web')


@pytest.mark.parametrize('the_image, the_base, why', [
    (image(ref='not-a-uuid'), base(),
     'base_image_ref is not exactly one UUID'),
    (image(ref='%s,%s' % (BASE, BASE)), base(),
     'base_image_ref is not exactly one UUID'),
    (image(ref=IMAGE), base(), 'base_image_ref names the image itself'),
    (image(ref=['x']), base(), 'base_image_ref is not a string'),
    (image(), None, 'the base image is gone or not visible'),
    (image(), base(status='deactivated'),
     'the base image is deactivated, not active'),
    (image(status='queued', stores_=''), base(),
     'the image is queued, not active'),
])
def test_what_cannot_be_judged_is_skipped_with_the_reason(the_image,
                                                          the_base, why):
    finding = findings.assess(the_image, the_base, CATALOG)
    assert finding.skipped == why
    assert finding.missing == ()


def test_base_id_is_canonical():
    finding = findings.assess(image(ref=BASE.upper()), base(), CATALOG)
    assert finding.base_ref == BASE
