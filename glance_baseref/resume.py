"""Finishing an import whose glance-api worker died (``resume_imports``).

After a worker is killed mid-import, glance 33 leaves the image
``importing``, its lock (``os_glance_import_task``) held by a task that
will never move again, and the data still staged on that node. No API call
finishes it: ``glance-direct`` needs the image ``uploading``, and that
check comes before the lock's expiry is looked at. So an uploader told
204 (``respond_after = staged``) would lose its image.

With ``resume_imports`` on, a ``glance-direct`` import request for such an
image, one the filter marked (``baseref_import``), sent to the node that
holds its staged data (the node the mark names; ``glance-baseref-audit
repair`` does this), resumes it: the filter checks that the caller may
modify the image (an in-process ``PATCH`` as the caller), sets the image
back to ``uploading`` without the dead lock through glance's own image
repository, and hands the request on, so that glance imports the staged
data again. Like ``stage_host``, this uses glance's code, not its API.
"""

from glance_baseref import settle

#: What a dead import leaves on the image, removed before it is resumed.
_IMPORT_PROPERTIES = (settle.LOCK, 'os_glance_importing_to_stores',
                      'os_glance_failed_import')


class CannotResume(Exception):
    """The image is no longer in the state a resume starts from."""


def stores_to_resume(image, requested):
    """The stores to import into: those asked for, else those glance had
    left to write, less those the image is in already."""
    from glance_baseref import stores as stores_mod
    wanted = list(requested or ()) or (
        stores_mod.stores_of(image, 'os_glance_importing_to_stores')
        + stores_mod.stores_of(image, 'os_glance_failed_import'))
    has = stores_mod.stores_of(image)
    return tuple(s for i, s in enumerate(wanted)
                 if s not in has and s not in wanted[:i])


def back_to_uploading(context, image_id):
    """``importing`` -> ``uploading``, without the dead import's properties.

    Glance's domain allows importing -> queued -> uploading; each step is
    saved with the state it comes from, so a concurrent change wins.
    """
    from glance import db as glance_db  # only inside glance-api
    repo = glance_db.ImageRepo(context, glance_db.get_api())
    image = repo.get(image_id)
    if image.status != 'importing' or image.locations:
        raise CannotResume('image %s is %s with %d locations'
                           % (image_id, image.status, len(image.locations)))
    for name in _IMPORT_PROPERTIES:
        image.extra_properties.pop(name, None)
    image.status = 'queued'
    repo.save(image, from_state='importing')
    image = repo.get(image_id)
    image.status = 'uploading'
    repo.save(image, from_state='queued')
