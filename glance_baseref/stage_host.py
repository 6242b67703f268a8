"""Imports that glance hands on to the glance-api node that staged the image.

With several glance-api nodes and staging local to each, glance records
on a staged image the node that holds the data (``os_glance_stage_host``,
that node's ``worker_self_reference_url``). A ``glance-direct`` import
arriving at another node is proxied there with only the caller's token,
and that node judges the ``stores``: one it lacks fails the import (409
there, 500 to the caller), where the same request without the base header
would have gone to its default store and succeeded.

So before filling in ``stores`` for such an import, the filter asks the
staging node, as the caller (``GET /v2/info/stores`` with the caller's
token, as glance's own proxy does), which stores it has, and keeps only
those; when it cannot tell, it leaves the request untouched. Either way the
decision line says so.

Glance hides ``os_glance_stage_host`` from every API answer, so it is read
from glance's own image repository with the caller's context: the one
place where the filter uses glance's code rather than glance's API. An
unexpected error there (an upgrade of glance that moved it) is a WARNING,
once per process, and the request is left untouched.

The other node is asked without following redirects and without proxy
settings from the environment (the request carries the caller's token), and
checks https with the CA file of ``[keystone_authtoken] cafile`` when
glance-api.conf sets one, else the system's.
"""

import dataclasses
import logging
import threading

from oslo_config import cfg
import requests

from glance_baseref import stores as stores_mod

LOG = logging.getLogger(__name__)

_IMPORT_METHOD = 'glance-direct'
_repo_warned = threading.Event()


def self_url():
    """The URL glance on this node records as its own stage host.

    Glance uses ``worker_self_reference_url``, else ``public_endpoint``.
    A node with neither never proxies by its own configuration and is
    taken as the only one (outside glance these options do not exist).
    """
    try:
        return (cfg.CONF.worker_self_reference_url
                or cfg.CONF.public_endpoint)
    except cfg.NoSuchOptError:
        return None


def recorded_stage_host(context, image_id):
    """``os_glance_stage_host`` of the image, read as the caller."""
    from glance import db as glance_db  # only inside glance-api
    image = glance_db.ImageRepo(context, glance_db.get_api()).get(image_id)
    return image.extra_properties.get('os_glance_stage_host')


def _ca_file():
    try:
        return cfg.CONF.keystone_authtoken.cafile or True
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
        return True


def remote_writable_stores(host, context, timeout):
    """The writable, non-reserved stores the node at ``host`` has."""
    headers = {'Accept': 'application/json'}
    if getattr(context, 'auth_token', None):
        headers['X-Auth-Token'] = context.auth_token
    if getattr(context, 'request_id', None):
        headers['X-OpenStack-Request-ID'] = context.request_id
    with requests.Session() as session:
        session.trust_env = False
        response = session.get(host.rstrip('/') + '/v2/info/stores',
                               headers=headers, timeout=timeout,
                               allow_redirects=False, verify=_ca_file())
    if response.is_redirect:
        raise ValueError('%s answered a redirect to %s'
                         % (host, response.headers.get('Location')))
    response.raise_for_status()
    return [s['id'] for s in response.json().get('stores', [])
            if not s['id'].startswith(stores_mod.RESERVED_PREFIX)
            and str(s.get('read-only', 'false')).lower() != 'true']


@dataclasses.dataclass(frozen=True)
class StageHostRule:
    """Keeps filled-in stores to what the staging node has."""

    timeout: float

    def narrow(self, context, image_id, body, targets):
        """``targets`` as glance on the staging node can take them.

        Unchanged when glance runs the import on this node; otherwise
        only the stores that node has, or none (the request is left
        untouched) when they cannot be read.
        """
        method = body.get('method')
        if not isinstance(method, dict) or method.get(
                'name') != _IMPORT_METHOD:
            return targets
        here = self_url()
        if not here:
            return targets
        try:
            host = recorded_stage_host(context, image_id)
        except Exception as exc:
            if type(exc).__name__ not in ('NotFound', 'ImageNotFound'):
                # glance answers for a missing image itself; anything
                # else may be an upgrade that moved glance's code
                _warn_repo_error(exc)
            return targets
        if not host or host == here:
            return targets
        try:
            theirs = remote_writable_stores(host, context, self.timeout)
        except Exception as exc:
            return dataclasses.replace(
                targets, stores=(), reason='%s; staged on %s, whose stores '
                'could not be read (%s), so glance there picks them'
                % (targets.reason, host, _short(exc)))
        kept = tuple(s for s in targets.stores if s in theirs)
        lacking = [s for s in targets.stores if s not in theirs]
        if not lacking:
            note = 'staged on %s, which has them all' % host
        else:
            note = 'staged on %s, which lacks %s' % (host, ','.join(lacking))
        return dataclasses.replace(targets, stores=kept,
                                   reason='%s; %s' % (targets.reason, note))


def _warn_repo_error(exc):
    if _repo_warned.is_set():
        return
    _repo_warned.set()
    LOG.warning('glance_baseref: reading os_glance_stage_host from glance\'s '
                'image repository failed (%s); imports are left as the '
                'caller sent them. This is the one use of glance\'s own code '
                'by the filter: check that this glance release is '
                'supported.', _short(exc))


def _short(exc):
    return ('%s: %s' % (type(exc).__name__, exc))[:200]
