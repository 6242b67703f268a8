"""Reaching glance: a keystoneauth session, the image endpoint, the roles.

Authentication takes keystoneauth's standard options and their ``OS_*``
environment variables (``--os-auth-url``, ``--os-username``, ...,
``--os-auth-type`` for other plugins), the session options (``--insecure``,
``--os-cacert``, ``--timeout``, ...) and the adapter options
(``--os-interface``, ``--os-region-name``, ``--os-endpoint-override``).
Glance is found in the token's catalog under the service type ``image``
unless ``--os-endpoint-override`` names it. ``--os-cloud`` reads
clouds.yaml through openstacksdk when that is installed; it is not a
dependency of this package.
"""

import dataclasses
import os

import glanceclient
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading

SERVICE_TYPE = 'image'
ADMIN_ROLE = 'admin'
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
    retries: int = 3

    @property
    def is_admin(self):
        return self.roles is not None and ADMIN_ROLE in self.roles

    def client(self):
        """A glanceclient v2 client; one per thread (requests' pools).

        keystoneauth does the retries: pauses of 0.5 s doubling (or what
        a Retry-After header says), each one logged as a warning.
        """
        return glanceclient.Client(
            '2', self.endpoint, session=self.session,
            status_code_retries=self.retries,
            retriable_status_codes=list(RETRIED_STATUSES),
            connect_retries=self.retries)


def register_arguments(parser, argv):
    """Add keystoneauth's session, auth and adapter options to ``parser``."""
    loading.register_session_argparse_arguments(parser)
    loading.register_auth_argparse_arguments(parser, argv,
                                             default='password')
    loading.register_adapter_argparse_arguments(parser,
                                                service_type=SERVICE_TYPE)
    parser.add_argument(
        '--os-cloud', default=os.environ.get('OS_CLOUD'), metavar='<name>',
        help='A cloud of clouds.yaml (needs openstacksdk installed); '
             'replaces the auth options. Default: $OS_CLOUD.')
    parser.add_argument(
        '--retries', type=int, default=3, metavar='N',
        help='How often a request that glance answers %s is tried again '
             '(default 3).' % '/'.join(map(str, RETRIED_STATUSES)))


def connect(args, auth=None):
    """A :class:`Connection` from parsed arguments.

    ``auth`` replaces the plugin the arguments describe (for programs
    that embed the tool with an auth plugin of their own).
    """
    try:
        if args.os_cloud and auth is None:
            session, endpoint = _from_cloud(args)
        else:
            session, endpoint = _from_arguments(args, auth)
        if not endpoint:
            raise ConnectError('no %r endpoint (interface %s) in the '
                               'catalog; name one with '
                               '--os-endpoint-override'
                               % (args.os_service_type, args.os_interface))
        roles, project_id = _token_roles(session)
    except ks_exc.ClientException as exc:
        raise ConnectError('%s: %s' % (type(exc).__name__, exc)) from exc
    return Connection(session=session, endpoint=endpoint, roles=roles,
                      project_id=project_id, retries=max(0, args.retries))


def _from_arguments(args, auth):
    if auth is None:
        auth = loading.load_auth_from_argparse_arguments(args)
    session = loading.load_session_from_argparse_arguments(args, auth=auth)
    endpoint = args.os_endpoint_override or session.get_endpoint(
        service_type=args.os_service_type,
        service_name=args.os_service_name,
        interface=args.os_interface, region_name=args.os_region_name)
    return session, endpoint


def _from_cloud(args):
    try:
        from openstack import config as os_config
    except ImportError as exc:
        raise ConnectError('--os-cloud needs openstacksdk (pip install '
                           'openstacksdk); or give the --os-* auth options '
                           'or OS_* variables instead') from exc
    try:
        region = os_config.OpenStackConfig().get_one(
            cloud=args.os_cloud, region_name=args.os_region_name)
    except Exception as exc:  # openstacksdk's own config errors
        raise ConnectError('cloud %r: %s' % (args.os_cloud, exc)) from exc
    session = region.get_session()
    endpoint = args.os_endpoint_override or session.get_endpoint(
        service_type=args.os_service_type,
        interface=args.os_interface or region.get_interface(),
        region_name=region.region_name or None)
    return session, endpoint


def _token_roles(session):
    """The token's role names and project, or (None, None) when unknown.

    Identity plugins (password, token, application credential, ...) know
    them from Keystone; plugins such as ``admin_token`` do not.
    """
    get_access = getattr(session.auth, 'get_access', None)
    if get_access is None:
        return None, None
    access = get_access(session)
    return tuple(access.role_names or ()), access.project_id
