"""The base image as a property of the new image: read it, record it.

Nova names a snapshot's base image in its ``base_image_ref`` property;
Cinder-made images name none. With ``use_base_image_property`` an upload
without the header follows the property; with ``record_base_image`` an
upload with the header leaves the base's id in the property, so that the
lineage survives the upload.
"""

import logging

from glance_baseref import baseref
from glance_baseref import inprocess

LOG = logging.getLogger(__name__)

PROPERTY = 'base_image_ref'
PROPERTY_SOURCE = 'The %s property' % PROPERTY
# How much of a property value (the caller's own text) a log line shows.
_SHOWN = 80


def base_from_property(image, image_id):
    """``(base_id, why_not)`` from the image's ``base_image_ref``.

    ``base_id`` is None when the property is absent (``why_not`` empty) or
    unusable (``why_not`` says why, for the log; never an error for the
    caller, who may not be able to fix it).
    """
    raw = image.get(PROPERTY)
    if raw is None:
        return None, ''
    if not isinstance(raw, str):
        return None, '%s is not a UUID' % PROPERTY_SOURCE
    try:
        base_id = baseref.parse_base_image_ref(raw, PROPERTY_SOURCE)
    except baseref.InvalidBaseImageRef as exc:
        return None, str(exc).split(';')[0]
    if base_id == image_id:
        return None, '%s names the image itself' % PROPERTY_SOURCE
    return base_id, ''


def record(glance, image, image_id, base_id, settings):
    """Set ``base_image_ref`` of the image to ``base_id``, as the caller.

    Returns what was done, for the decision line ('' for nothing). In
    report mode nothing is changed. A refusal by glance is logged as a
    warning and swallowed: the upload goes on without the property.
    """
    current = image.get(PROPERTY)
    if current == base_id:
        return ''
    if current is None:
        done = 'base_image_ref set'
    else:
        done = 'base_image_ref %r replaced' % str(current)[:_SHOWN]
    if not settings.report_only:
        try:
            glance.set_property(image_id, PROPERTY, base_id)
        except inprocess.GlanceError as exc:
            LOG.warning('glance_baseref: image %s: could not record its '
                        'base image %s in base_image_ref; the upload goes '
                        'on without it: %s', image_id, base_id, exc)
            return 'base_image_ref not recorded'
    return done
