"""Reaching glance: a keystoneauth session, the image endpoint, the token.

Both front ends end here. ``openstack image baseref ...`` takes the
session and endpoint that python-openstackclient built
(:func:`from_client_manager`). ``glance-baseref-audit`` builds them the
same way python-openstackclient does, with openstacksdk's
``OpenStackConfig``: :func:`register_arguments` adds its options
(``--os-cloud``, the auth plugin's ``--os-*`` options, ``--insecure``,
``--os-cacert``, ``--timeout``, ``--os-interface``,
``--os-region-name``, ``--os-endpoint-override``), and
:func:`from_arguments` resolves them with ``get_one(argparse=...)``: an
option beats an ``OS_*`` variable, which beats the cloud's entry in
clouds.yaml, and the cloud's ``interface``, ``verify``/``cacert`` and
region apply unless an option or variable says otherwise.
"""

import dataclasses
import os

import glanceclient
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

SERVICE_TYPE = 'image'
# Statuses keystoneauth tries again (with a doubling pause) before the
# answer reaches the tool: glance's own errors, and a proxy or load
# balancer in front of it that has no healthy glance for a moment.
RETRIED_STATUSES = (500, 502, 503, 504)


class ConnectError(Exception):
    """No session or no glance endpoint; the message says why."""


@dataclasses.dataclass(frozen=True)
class Connection:
    session: object
    endpoint: str
    roles: tuple = None     # None: the auth plugin does not tell
    project_id: str = None

    def client(self, retries=3, endpoint=None):
        """A glanceclient v2 client; one per thread (requests' pools).

        keystoneauth does the retries: pauses of 0.5 s doubling (or what
        a Retry-After header says), each one logged as a warning.
        ``endpoint`` names one glance-api node instead of the catalog's.
        """
        return glanceclient.Client(
            '2', endpoint or self.endpoint, session=self.session,
            status_code_retries=retries,
            retriable_status_codes=list(RETRIED_STATUSES),
            connect_retries=retries)

    def who(self):
        """The token in words, for messages about what glance refused."""
        if self.roles is None:
            return 'a token whose roles the auth plugin does not tell'
        # Keystone lists a token's roles in no fixed order.
        return 'project %s, roles %s' % (
            self.project_id, ', '.join(sorted(self.roles)) or 'none')


def register_arguments(parser, argv):
    """Add openstacksdk's auth, session and adapter options to ``parser``.

    keystoneauth gives ``--os-interface`` the default ``public`` and
    ``--timeout`` 600, which would beat a cloud's own ``interface`` and
    ``api_timeout``; here an option left out means "not said".
    """
    from openstack import config as os_config
    os_config.OpenStackConfig().register_argparse_arguments(
        parser, argv, service_keys=[SERVICE_TYPE])
    parser.set_defaults(os_interface=os.environ.get('OS_INTERFACE'),
                        timeout=None, insecure=None)


def cloud_options(args):
    """``get_one`` keywords from the options, for one precedence rule.

    The option's value (which keystoneauth already defaults to its
    ``OS_*`` variable) goes into the ``auth`` dict and the cloud's keys,
    where openstacksdk lets it beat clouds.yaml. ``get_one(argparse=...)``
    alone puts auth options beside ``auth``, where the cloud's entry wins,
    and drops ``--insecure``, ``--os-cacert`` and ``--timeout``.
    """
    from keystoneauth1 import loading
    options = {}
    auth_type = getattr(args, 'os_auth_type', None)
    if auth_type:
        options['auth_type'] = auth_type
        auth = {}
        for opt in loading.get_plugin_loader(auth_type).get_options():
            value = getattr(args, 'os_' + opt.dest, None)
            if value not in (None, ''):
                auth[opt.dest] = value
        if auth:
            options['auth'] = auth
    if args.insecure:
        options['verify'] = False
    elif args.os_cacert:
        options['verify'] = True    # with this CA, whatever the cloud says
    for key, value in (('cacert', args.os_cacert), ('cert', args.os_cert),
                       ('key', args.os_key), ('api_timeout', args.timeout),
                       ('interface', args.os_interface),
                       ('region_name', args.os_region_name),
                       ('%s_endpoint_override' % SERVICE_TYPE,
                        args.os_endpoint_override)):
        if value not in (None, ''):
            options[key] = value
    return options


def from_arguments(args, auth=None):
    """A :class:`Connection` from the options of :func:`register_arguments`.

    ``auth`` replaces the auth plugin that the options describe (for
    programs that embed the tool with a plugin of their own); the TLS and
    endpoint options still apply.
    """
    from openstack import config as os_config
    from openstack import exceptions as sdk_exc
    try:
        config = os_config.OpenStackConfig()
        options = cloud_options(args)
        if auth is None:
            region = config.get_one(cloud=args.os_cloud, **options)
            session = region.get_session()
        else:
            region = config.get_one(cloud=args.os_cloud, validate=False,
                                    **options)
            verify, cert = region.get_requests_verify_args()
            session = ks_session.Session(
                auth=auth, verify=verify, cert=cert,
                timeout=region.config.get('api_timeout'))
        endpoint = region.get_endpoint(SERVICE_TYPE)
        interface = region.get_interface(SERVICE_TYPE)
        if not endpoint:
            endpoint = session.get_endpoint(
                service_type=SERVICE_TYPE, interface=interface,
                region_name=region.get_region_name(SERVICE_TYPE))
        return _connection(session, endpoint, interface)
    except (ks_exc.ClientException, sdk_exc.SDKException) as exc:
        raise ConnectError('%s: %s' % (type(exc).__name__, exc)) from exc


def from_client_manager(client_manager):
    """A :class:`Connection` from python-openstackclient's ClientManager."""
    try:
        endpoint = client_manager.get_endpoint_for_service_type(
            SERVICE_TYPE, region_name=client_manager.region_name,
            interface=client_manager.interface)
        return _connection(client_manager.session, endpoint,
                           client_manager.interface)
    except ks_exc.ClientException as exc:
        raise ConnectError('%s: %s' % (type(exc).__name__, exc)) from exc


def _connection(session, endpoint, interface):
    if not endpoint:
        raise ConnectError('no %r endpoint (interface %s) in the catalog; '
                           'name one with --os-endpoint-override'
                           % (SERVICE_TYPE, interface or 'public'))
    roles, project_id = _token_roles(session)
    return Connection(session=session, endpoint=endpoint, roles=roles,
                      project_id=project_id)


def _token_roles(session):
    """The token's role names and project, or (None, None) when unknown.

    Identity plugins (password, token, application credential, ...) know
    them from Keystone; plugins such as ``admin_token`` do not. They are
    only reported: whether a role may do something is glance's policy's
    call, which the tool learns by asking.
    """
    get_access = getattr(session.auth, 'get_access', None)
    if get_access is None:
        return None, None
    access = get_access(session)
    return tuple(access.role_names or ()), access.project_id
