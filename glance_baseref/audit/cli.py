"""``glance-baseref-audit check|repair``: arguments, output, exit status.

Exit status: 0 nothing is missing (or everything was copied), 1 some
image lacks a store of its base (check, ``repair --dry-run``, or an image
repair skipped on purpose), 2 an error (errors win over 1).
"""

import argparse
import logging
import sys

EXIT_OK = 0
EXIT_MISSING = 1
EXIT_ERROR = 2

PROG = 'glance-baseref-audit'


def build_parser(argv):
    from glance_baseref.audit import connect
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='Find, and repair with copy-image, images that are not '
                    'in every usable store of the base image their '
                    'base_image_ref property names.',
        epilog='The --os-* options go before the command. See doc/audit.md.')
    connect.register_arguments(parser, argv)
    commands = parser.add_subparsers(dest='command', required=True)
    common = _common_parser()
    commands.add_parser(
        'check', parents=[common],
        help='List images that lack a store of their base.')
    repair = commands.add_parser(
        'repair', parents=[common],
        help='Copy images into the stores they lack (admin).')
    repair.add_argument('--max-concurrent', type=_positive_int, default=2,
                        metavar='N', help='Imports running at once '
                        '(default 2).')
    repair.add_argument('--dry-run', action='store_true',
                        help='Say what would be copied; copy nothing.')
    repair.add_argument('--copy-timeout', type=float, default=3600,
                        metavar='S', help='Seconds one image\'s copy may take '
                        '(default 3600).')
    repair.add_argument('--poll-interval', type=float, default=2.0,
                        metavar='S', help='Longest pause between two looks '
                        'at an importing image (default 2).')
    return parser


def _common_parser():
    """The options of both commands; they follow the command's name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--project', metavar='P',
                        help='Only images owned by project P.')
    common.add_argument('--image', nargs='+', default=[], metavar='ID',
                        help='Only these images.')
    common.add_argument(
        '--allowed-stores', default='', metavar='S1,S2',
        help='Only these stores count as usable (the filter\'s '
             'allowed_stores); default: every enabled, writable store.')
    common.add_argument('-f', '--format', choices=('table', 'json'),
                        default='table', help='Output on stdout.')
    common.add_argument('--page-size', type=_positive_int, default=100,
                        metavar='N',
                        help='Images per listing request (default 100).')
    return common


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError('%s is not 1 or more' % text)
    return value


def main(argv=None, auth=None):
    """Run the tool; returns the exit status.

    ``auth``: a keystoneauth plugin that replaces the one the options
    describe (for programs that embed the tool).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    # keystoneauth's retry warnings, under the tool's name (a program that
    # embeds the tool and configured logging keeps its own handlers).
    logging.basicConfig(format=PROG + ': %(levelname)s: %(message)s',
                        level=logging.WARNING)
    try:
        parser = build_parser(argv)
    except ImportError as exc:
        _say('needs python-glanceclient and keystoneauth1; install '
             '"glance_baseref[audit]" (%s)' % exc)
        return EXIT_ERROR
    args = parser.parse_args(argv)
    # command imports glanceclient too; build_parser has shown it is there.
    from glance_baseref.audit import command
    return command.run(args, auth)


def _say(text):
    sys.stderr.write('%s: %s\n' % (PROG, text))
