"""``glance-baseref-audit check|repair``, for hosts without the openstack CLI.

The same commands as ``openstack image baseref check|repair``
(:mod:`.commands`), in a cliff app of their own whose ``--os-*`` options
are openstacksdk's, resolved the way python-openstackclient resolves
them (:mod:`.connect`). The ``--os-*`` options go before the command,
the command's options after it.
"""

import functools
import logging
import sys

EXIT_ERROR = 2
PROG = 'glance-baseref-audit'


class _ClientManager:
    """The app's ``client_manager``: the connection, made when first used."""

    def __init__(self, options, auth):
        self._options = options
        self._auth = auth

    @functools.cached_property
    def image_baseref(self):
        from glance_baseref.audit import connect
        return connect.from_arguments(self._options, self._auth)


def _app_class():
    from cliff import app
    from cliff import commandmanager

    from glance_baseref import __version__
    from glance_baseref.audit import commands
    from glance_baseref.audit import connect

    class AuditApp(app.App):
        NAME = PROG
        CONSOLE_MESSAGE_FORMAT = PROG + ': %(levelname)s: %(message)s'

        def __init__(self, argv, auth=None):
            self._argv = list(argv)
            self._auth = auth
            self.client_manager = None
            manager = commandmanager.CommandManager('glance_baseref.audit')
            manager.add_command('check', commands.Check)
            manager.add_command('repair', commands.Repair)
            super().__init__(
                description='Find, and repair, images that are not in every '
                            'usable store of their base image, and imports '
                            'that did not settle. See doc/audit.md.',
                version=__version__, command_manager=manager,
                deferred_help=True)

        def build_option_parser(self, description, version,
                                argparse_kwargs=None):
            # Without allow_abbrev, the command's --image would be read as
            # openstacksdk's --image-api-version.
            argparse_kwargs = dict(argparse_kwargs or {}, allow_abbrev=False)
            parser = super().build_option_parser(description, version,
                                                 argparse_kwargs)
            connect.register_arguments(parser, self._argv)
            return parser

        def configure_logging(self):
            super().configure_logging()
            self.console_handler = logging.getLogger('').handlers[-1]

        def initialize_app(self, argv):
            self.client_manager = _ClientManager(self.options, self._auth)

        def interact(self):
            self.parser.print_usage(self.stderr)
            self.stderr.write('%s: a command is needed: check or repair\n'
                              % PROG)
            raise SystemExit(EXIT_ERROR)

    return AuditApp


def main(argv=None, auth=None):
    """Run the tool; returns the exit status.

    ``auth``: a keystoneauth plugin that replaces the one the options
    describe (for programs that embed the tool).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        app_class = _app_class()
    except ImportError as exc:
        sys.stderr.write('%s: needs python-glanceclient, keystoneauth1, '
                         'openstacksdk and cliff; install '
                         '"glance_baseref[audit]" (%s)\n' % (PROG, exc))
        return EXIT_ERROR
    app = app_class(argv, auth=auth)
    root = logging.getLogger('')
    level = root.level
    try:
        return app.run(argv)
    finally:
        # cliff sets up the root logger for a process that ends with the
        # command; an embedding program (or a test) goes on.
        handler = getattr(app, 'console_handler', None)
        if handler is not None:
            root.removeHandler(handler)
        root.setLevel(level)
