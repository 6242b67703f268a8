"""``openstack image baseref check|repair``: the python-openstackclient plugin.

Installed with the ``osc`` extra. python-openstackclient finds this module
through the ``openstack.cli.extension`` entry point, and the commands
through ``openstack.image_baseref.v1``. They are the commands of
``glance-baseref-audit`` (:mod:`.commands`), connected through the session,
region and interface that ``openstack`` already resolved from
``--os-cloud``, clouds.yaml, ``OS_*`` and ``--os-*``.
"""

from glance_baseref.audit import commands
from glance_baseref.audit import connect

API_NAME = 'image_baseref'
API_VERSION_OPTION = 'os_image_baseref_api_version'
DEFAULT_API_VERSION = '1'
API_VERSIONS = ('1',)


def make_client(instance):
    """``client_manager.image_baseref``: a :class:`connect.Connection`."""
    return connect.from_client_manager(instance)


def build_option_parser(parser):
    # python-openstackclient asks every plugin for a version option.
    parser.add_argument(
        '--os-image-baseref-api-version', metavar='<version>',
        default=DEFAULT_API_VERSION,
        help='The glance_baseref command set (only 1).')
    return parser


class Check(commands.Check):
    """List images that lack a store of their base, or whose import
    (marked by glance_baseref's filter) did not settle."""


class Repair(commands.Repair):
    """Settle marked imports and copy images into the stores of their
    base that they lack (copy-image)."""
