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
    cfg.StrOpt(
        'mode', default='enforce',
        choices=[
            ('enforce', 'act on every decision'),
            ('report', 'decide and log each decision, prefixed "would:", '
                       'but change nothing'),
        ],
        help='With report the filter decides as usual and logs what it '
             'would have done (the stores and how, or the 400 it would '
             'have answered), then passes every request on untouched: no '
             'steering, no staging, no 400, no property read or written. '
             'Meant for a careful roll-out: read the would: lines, then '
             'enforce.'),
    cfg.ListOpt(
        'allowed_stores', default=[],
        help='Stores the filter may choose. Empty means every enabled, '
             'writable store. Reserved os_glance_* stores are never chosen, '
             'whatever this says.'),
    cfg.StrOpt(
        'respond_after', default='all_stores',
        choices=[
            ('all_stores', 'answer once glance has finished writing every '
                           'store; a failed import is answered 500'),
            ('first_store', 'answer once the image is active in its first '
                            'store; glance writes the other stores in the '
                            'background'),
            ('staged', 'answer once glance has staged the data and '
                       'accepted the import; the image is still importing '
                       'and becomes active on its own, and a failed import '
                       'is no longer reported to the uploader'),
        ],
        help='With two or more target stores: when the upload is '
             'answered 204. Whatever the answer, the filter watches an '
             'import it no longer waits for until glance\'s task stops and '
             'deletes the image if it is not active then (see '
             'watch_timeout). Wins over wait_for_all_stores.'),
    cfg.BoolOpt(
        'wait_for_all_stores', default=True,
        deprecated_for_removal=True,
        deprecated_reason='Replaced by respond_after: true is all_stores, '
                          'false is first_store.',
        help='True means respond_after = all_stores, false means '
             'respond_after = first_store. Ignored when respond_after is '
             'set.'),
    cfg.BoolOpt(
        'all_stores_must_succeed', default=False,
        help='Passed to glance\'s import, also on an import request whose '
             'stores the filter fills in and whose caller did not set it '
             '(glance\'s own default there is true): when true, the upload '
             'fails unless every target store was written. When false, an '
             'image written to some of its stores is a success and the '
             'stores that failed are logged. True requires respond_after = '
             'all_stores: glance-api does not start otherwise.'),
    cfg.IntOpt(
        'import_timeout', default=3600, min=1,
        help='Seconds an upload to two or more stores may take, staging '
             'included. Past it, an image that is active in some stores '
             'already is answered 204, as glance alone answers a plain '
             'upload into one store, and the filter follows the rest of '
             'the import; otherwise the answer is 504 and the image is '
             'deleted as soon as glance\'s import task has stopped. The '
             'default leaves room for images of many GB written serially.'),
    cfg.IntOpt(
        'watch_timeout', default=3600, min=1,
        help='Seconds glance\'s import task of an image may go without '
             'progress (its updated_at, which glance refreshes while it '
             'copies data) before the filter takes the import as dead. '
             'The filter watches every import it no longer waits for '
             '(after a 504, or when respond_after is not all_stores) as '
             'long as glance holds the import and its task moves; then it '
             'removes its mark from an active image and deletes one that '
             'is not. The default is glance\'s own expiry of an import '
             'lock.'),
    cfg.FloatOpt(
        'poll_interval', default=1.0, min=0.05, max=60.0,
        help='Longest time, in seconds, between two looks at the image '
             'while glance writes its stores. The first looks come after '
             '0.05 s and the pause doubles up to this value. Meanwhile the '
             'filter checks every 0.05 s whether glance has removed the '
             'staged data, its last step, and from then on looks every '
             '0.05 s; while waiting for the first store (respond_after = '
             'first_store) the pause is at most 0.2 s. So the answer comes '
             'soon after glance is done, and a large import costs few '
             'looks.'),
    cfg.BoolOpt(
        'use_base_image_property', default=False,
        help='Also co-locate uploads that carry neither '
             'x-openstack-base-image-ref nor x-image-meta-store (Nova '
             'snapshots) when the target image\'s base_image_ref property '
             'holds one image id, as if the header carried it. An invalid '
             'property value never fails the upload: it goes to the '
             'default store and the reason is logged. Costs every such '
             'upload one in-process GET of its image.'),
    cfg.BoolOpt(
        'record_base_image', default=True,
        help='On an upload with a valid x-openstack-base-image-ref and no '
             'x-image-meta-store, set the property base_image_ref of the '
             'new image to the base image\'s id (as Nova does for '
             'snapshots) before the data is written, when the caller can '
             'see the base image. A different value already there is '
             'replaced and logged; when glance refuses (quota, policy, '
             'protected property) a warning is logged and the upload goes '
             'on.'),
    cfg.FloatOpt(
        'lookup_timeout', default=10.0, min=0.1,
        help='Seconds the base-image lookup may take. Past that the upload '
             'goes to glance\'s default store and the reason is logged.'),
    cfg.BoolOpt(
        'resume_imports', default=False,
        help='Let a glance-direct import request finish an import that the '
             'filter started and whose glance-api worker died: the image '
             'carries the baseref_import mark, is still importing with no '
             'store written, glance\'s task has not moved for '
             'watch_timeout seconds, and its staged data is on this node. '
             'The filter then sets the image back to uploading through '
             'glance\'s own image repository, as the caller (who must be '
             'allowed to modify the image), and hands the request on, so '
             'that glance imports the staged data again. '
             'glance-baseref-audit repair sends such requests. This is the '
             'one place besides stage_host where the filter uses glance\'s '
             'code rather than its API, hence off by default.'),
]


def list_opts():
    """Options for oslo-config-generator, as fresh copies."""
    return [(GROUP, copy.deepcopy(OPTS))]
