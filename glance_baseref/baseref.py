"""Reading the x-openstack-base-image-ref header Cinder sends."""

import uuid

from oslo_utils import uuidutils

BASE_IMAGE_HEADER = 'x-openstack-base-image-ref'
HEADER_SOURCE = 'The %s header' % BASE_IMAGE_HEADER
BASE_IMAGE_ENVIRON_KEY = 'HTTP_X_OPENSTACK_BASE_IMAGE_REF'
STORE_ENVIRON_KEY = 'HTTP_X_IMAGE_META_STORE'

# The longest form is_uuid_like accepts is 'urn:uuid:{...}' (47 characters);
# anything much longer is refused before it is parsed or logged.
_MAX_LENGTH = 64


class InvalidBaseImageRef(ValueError):
    """The header is present but does not name exactly one image."""


def parse_base_image_ref(raw, source=HEADER_SOURCE):
    """Return the canonical lower-case UUID the header value names.

    Surrounding blanks are ignored; every form oslo.utils'
    ``is_uuid_like`` accepts (upper case, braces, ``urn:uuid:``, no hyphens)
    is normalized. Anything else raises :class:`InvalidBaseImageRef` with a
    message fit for the caller, naming ``source`` (what held the value).
    """
    value = raw.strip(' \t')
    if not value:
        raise InvalidBaseImageRef(
            '%s is empty; it must hold the UUID of one image.' % source)
    if ',' in value:
        raise InvalidBaseImageRef(
            '%s holds several values; it must hold the UUID of exactly '
            'one image.' % source)
    if len(value) > _MAX_LENGTH:
        raise InvalidBaseImageRef(
            '%s is %d characters long; it must hold the UUID of one '
            'image.' % (source, len(value)))
    if not value.isascii() or not value.isprintable() or \
            not uuidutils.is_uuid_like(value):
        raise InvalidBaseImageRef(
            '%s is not a UUID; it must hold the UUID of one image.'
            % source)
    return str(uuid.UUID(value))
