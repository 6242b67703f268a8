"""What the filter decided for one request: plain, immutable data.

:mod:`glance_baseref.decide` computes a :class:`Decision` by reading only
(the store list, the base image, the target image); the executor
(:mod:`glance_baseref.execute`) carries it out. Report mode logs the same
decision and hands the request on, so it cannot write by construction, and
tests can check decisions as data.
"""

import dataclasses

# What to do with the request.
HAND_ON = 'hand_on'          # hand it on untouched (default store)
REFUSE = 'refuse'          # answer 400 before reading the body
STEER = 'steer'            # upload into one store (x-image-meta-store)
COLOCATE = 'colocate'      # stage, then glance-direct import into stores
FILL_IMPORT = 'fill'       # hand on an import request with a new body
RESUME = 'resume'          # finish an import whose worker died


@dataclasses.dataclass(frozen=True)
class Decision:
    action: str
    image_id: str
    reason: str = ''
    #: the base image's id as the log line shows it (with its source)
    base: str = ''
    stores: tuple = ()
    #: the caller-facing text of a 400 (``REFUSE``)
    refusal: str = ''
    #: the id to write into ``base_image_ref`` first ('' for nothing)
    record_base: str = ''
    #: the new body of an import request, JSON text (``FILL_IMPORT``)
    import_body: str = ''
    #: nothing worth a decision line (no multi-store, no context, ...)
    quiet: bool = False
    #: ``upload`` (``PUT .../file``) or ``import`` (``POST .../import``)
    request: str = 'upload'

    @property
    def how(self):
        """How the stores are reached, for the decision line."""
        if self.action == COLOCATE:
            return 'stage+import'
        if self.action == RESUME:
            return 'resumed import'
        if self.request == 'import':
            return 'import request'
        if self.action == STEER:
            return 'upload to %s' % self.stores[0]
        return 'upload to the default store'


def passing(image_id, reason='', base='', quiet=False, **kwargs):
    """A decision to hand the request on untouched."""
    return Decision(HAND_ON, image_id, reason=reason, base=base, quiet=quiet,
                    **kwargs)
