"""The base image as a property of the new image: read it, record it.

Nova names a snapshot's base image in its ``base_image_ref`` property;
Cinder-made images name none. With ``use_base_image_property`` an upload
without the header follows the property; with ``record_base_image`` an
upload with the header leaves the base's id in the property, so that the
lineage survives the upload.
"""

from glance_baseref import baseref

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


def planned_record(image, base_id):
    """``(value, note)``: what recording ``base_id`` would change.

    ``value`` is '' when the property already holds ``base_id``; ``note``
    is for the decision line.
    """
    current = image.get(PROPERTY)
    if current == base_id:
        return '', ''
    if current is None:
        return base_id, 'base_image_ref set'
    return base_id, 'base_image_ref %r replaced' % str(current)[:_SHOWN]
