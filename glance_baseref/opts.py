"""The options of the filter, declared once.

They live in the ``[glance_baseref]`` group of glance-api.conf; a key of the
same name in the ``[filter:baseref]`` section of glance-api-paste.ini wins
over it (see :mod:`glance_baseref.settings`).
"""

import copy

from oslo_config import cfg

GROUP = 'glance_baseref'

OPTS = [
    cfg.BoolOpt(
        'enabled', default=True,
        help='Store uploads that carry x-openstack-base-image-ref in the '
             'stores of their base image. When false the filter passes '
             'every request on untouched.'),
    cfg.ListOpt(
        'allowed_stores', default=[],
        help='Stores the filter may choose. Empty means every enabled, '
             'writable store. Reserved os_glance_* stores are never chosen, '
             'whatever this says.'),
    cfg.BoolOpt(
        'wait_for_all_stores', default=True,
        help='With two or more target stores: answer the upload only when '
             'glance has finished writing every store. When false, answer '
             'as soon as the image is active in its first store and let '
             'glance write the other copies in the background; an image '
             'that is not active once glance is done is deleted.'),
    cfg.BoolOpt(
        'all_stores_must_succeed', default=False,
        help='Passed to glance\'s import: when true, the upload fails '
             'unless every target store was written. When false, an image '
             'written to some of its stores is a success and the stores '
             'that failed are logged.'),
    cfg.IntOpt(
        'import_timeout', default=3600, min=1,
        help='Seconds an upload to two or more stores may take, staging '
             'included, before the filter answers 504. The image is then '
             'deleted as soon as glance\'s import task has stopped (see '
             'watch_timeout). The '
             'default leaves room for images of many GB written serially.'),
    cfg.IntOpt(
        'watch_timeout', default=3600, min=1,
        help='Seconds the filter keeps watching an import it no longer '
             'waits for (after a 504, or with wait_for_all_stores = false) '
             'until glance\'s import task stops. The image is deleted only '
             'then, since deleting it while the task writes leaves that '
             'store\'s data behind; past this time it is deleted anyway.'),
    cfg.FloatOpt(
        'poll_interval', default=1.0, min=0.05, max=60.0,
        help='Longest time, in seconds, between two looks at the image '
             'while glance imports it into its stores. The first looks '
             'come after 0.05 s and the pause doubles up to this value, so '
             'that small images are answered soon after glance is done.'),
    cfg.FloatOpt(
        'lookup_timeout', default=10.0, min=0.1,
        help='Seconds the base-image lookup may take. Past that the upload '
             'goes to glance\'s default store and the reason is logged.'),
]


def list_opts():
    """Options for oslo-config-generator, as fresh copies."""
    return [(GROUP, copy.deepcopy(OPTS))]
