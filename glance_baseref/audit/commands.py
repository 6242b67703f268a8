"""``check`` and ``repair``: the cliff commands of both front ends.

``glance-baseref-audit check|repair`` (:mod:`.cli`) and ``openstack image
baseref check|repair`` (:mod:`.osc`) are these two classes. Only the
connection differs: each front end puts a ``image_baseref`` attribute on
its app's ``client_manager`` that gives a
:class:`~glance_baseref.audit.connect.Connection`. cliff prints the rows
(``-f table|json|value|csv|yaml``, ``-c COLUMN``); counts, notices and
errors go to stderr.

Exit status: 0 nothing to report (or everything repaired), 1 something
lacks a store or an import mark is not settled (``check``), or was left
on purpose (``repair``: dry run, an import still in progress), 2 an error
(a connection, a listing, a 403, a failed copy, a stuck import). Errors
win over 1.
"""

import argparse

from cliff import columns
from cliff import lister
from keystoneauth1 import exceptions as ks_exc

from glance_baseref.audit import connect
from glance_baseref.audit import marks
from glance_baseref.audit import output
from glance_baseref.audit import repair
from glance_baseref.audit import scan

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

CHECK_COLUMNS = ('image', 'base', 'status', 'result', 'missing', 'size',
                 'lock', 'task', 'idle', 'marked', 'node', 'detail')
REPAIR_COLUMNS = ('image', 'result', 'missing', 'copied', 'failed',
                  'detail')


class StoreList(columns.FormattableColumn):
    """Store names: ``a,b`` (or ``-``) in a table, a list in JSON/YAML."""

    def human_readable(self):
        return ','.join(self._value) or '-'

    def machine_readable(self):
        return list(self._value)


class Maybe(columns.FormattableColumn):
    """A value that only some rows have: ``-`` in a table, null in JSON."""

    def human_readable(self):
        return '-' if self._value is None else str(self._value)

    def machine_readable(self):
        return self._value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError('%s is not 1 or more' % text)
    return value


class _AuditCommand(lister.Lister):
    """What check and repair share: options, connection, exit status."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--project', metavar='P',
                            help='Only images owned by project P.')
        parser.add_argument('--image', nargs='+', default=[], metavar='ID',
                            help='Only these images.')
        parser.add_argument(
            '--allowed-stores', default='', metavar='S1,S2',
            help='Only these stores count as usable (the filter\'s '
                 'allowed_stores); default: every enabled, writable store.')
        parser.add_argument('--page-size', type=_positive_int, default=100,
                            metavar='N',
                            help='Images per listing request (default 100).')
        parser.add_argument(
            '--retries', type=int, default=3, metavar='N',
            help='How often a request that glance answers %s is tried '
                 'again (default 3).'
                 % '/'.join(map(str, connect.RETRIED_STATUSES)))
        return parser

    def say(self, text):
        self.app.stderr.write('%s: %s\n' % (self.app.NAME, text))

    def run(self, parsed_args):
        """cliff's run, with the exit status of the audit."""
        self.status = EXIT_OK
        self.progress = output.Progress(self.app.stderr)
        try:
            super().run(parsed_args)
        except (connect.ConnectError, scan.ScanError,
                ks_exc.ClientException) as exc:
            self.progress.clear()
            self.say('error: %s' % exc)
            return EXIT_ERROR
        return self.status

    def raise_status(self, status):
        self.status = max(self.status, status)

    def connect(self):
        return self.app.client_manager.image_baseref

    def start_scan(self, conn, args):
        client = conn.client(max(0, args.retries))
        catalog = scan.read_catalog(client)
        allowed = tuple(s.strip() for s in args.allowed_stores.split(',')
                        if s.strip())
        return client, scan.Scan(client, catalog, allowed)

    def scanned(self, audit, args):
        """The findings, read page by page (a generator)."""
        images = audit.images(project=args.project, image_ids=args.image,
                              page_size=args.page_size,
                              progress=self.progress)
        return audit.findings(images)

    def finish_scan(self, conn, audit, args):
        """Counts, errors and the partial-result notice, on stderr."""
        self.progress.clear()
        for error in audit.errors:
            self.say('error: %s' % error)
        if audit.errors:
            self.raise_status(EXIT_ERROR)
        notice = _partial_notice(conn, audit, args)
        if notice:
            self.say(notice)
        self.say('%d images read, %d with base_image_ref, %d lack a store '
                 'of their base' % (audit.images_read, audit.with_base,
                                    audit.lacking))


class Check(_AuditCommand):
    """List images that lack a store of their base, or whose import
    (marked by the filter) did not settle."""

    def take_action(self, args):
        conn = self.connect()
        _client, audit = self.start_scan(conn, args)
        return CHECK_COLUMNS, self._rows(conn, audit, args)

    def _rows(self, conn, audit, args):
        for found in self.scanned(audit, args):
            self.raise_status(EXIT_FINDINGS if isinstance(found, marks.Mark)
                              or found.missing else EXIT_OK)
            yield _check_row(found)
        self.finish_scan(conn, audit, args)


class Repair(_AuditCommand):
    """Settle marked imports and copy images into the stores of their
    base that they lack (copy-image)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--max-concurrent', type=_positive_int,
                            default=2, metavar='N',
                            help='Imports running at once (default 2).')
        parser.add_argument('--dry-run', action='store_true',
                            help='Say what would be done; change nothing.')
        parser.add_argument('--copy-timeout', type=float, default=3600,
                            metavar='S', help='Seconds one image\'s copy '
                            'may take (default 3600).')
        parser.add_argument('--poll-interval', type=float, default=2.0,
                            metavar='S', help='Longest pause between two '
                            'looks at an importing image (default 2).')
        return parser

    def take_action(self, args):
        conn = self.connect()
        client, audit = self.start_scan(conn, args)
        if not args.dry_run:
            methods = scan.import_methods(client)
            if repair.COPY_IMAGE not in methods:
                raise scan.ScanError(
                    'repair needs the %s import method, and this glance '
                    'offers %s (enabled_import_methods)'
                    % (repair.COPY_IMAGE, ', '.join(methods) or 'none'))
        to_settle, to_copy = [], []
        for found in self.scanned(audit, args):
            if isinstance(found, marks.Mark):
                to_settle.append(found)
            elif found.missing:
                to_copy.append(found)
        self.finish_scan(conn, audit, args)
        repairer = repair.Repairer(conn, timeout=args.copy_timeout,
                                   poll_interval=args.poll_interval,
                                   progress=self.progress,
                                   retries=max(0, args.retries))
        outcomes = repairer.settle(to_settle, args.dry_run)
        outcomes += repairer.run(to_copy, args.max_concurrent, args.dry_run)
        self.progress.clear()
        for outcome in outcomes:
            if outcome.result in repair.ERROR_RESULTS:
                self.raise_status(EXIT_ERROR)
            elif outcome.result in repair.UNFIXED_RESULTS:
                self.raise_status(EXIT_FINDINGS)
        if not outcomes:
            self.say('nothing to repair')
        return REPAIR_COLUMNS, [
            (o.image_id, o.result, StoreList(o.wanted), StoreList(o.copied),
             StoreList(o.failed), o.detail or '-') for o in outcomes]


def _check_row(found):
    if isinstance(found, marks.Mark):
        return (found.image_id, found.base_ref or '-', found.status,
                found.state, StoreList(()), Maybe(None), Maybe(found.lock),
                found.task_status or '-', Maybe(found.idle),
                found.marked_at or '-', found.node or '-', found.detail)
    if found.missing:
        result = 'missing'
        detail = ('not usable here: %s' % ','.join(found.ignored)
                  if found.ignored else '-')
    else:
        result, detail = 'not judged', found.skipped
    return (found.image_id, found.base_ref, found.status, result,
            StoreList(found.missing), Maybe(found.size), Maybe(None), '-',
            Maybe(None), '-', '-', detail)


def _partial_notice(conn, audit, args):
    """Why the listing may not hold every image, when it may not.

    Whether a token lists other projects' images is glance's policy's
    call, not a role's name. The listing shows it: a private or shared
    image of another project means the token sees beyond its project.
    """
    if args.image or (args.project and args.project == conn.project_id):
        return ''
    if conn.roles is None:
        return ('the result may be partial: the auth plugin does not say '
                'which project the token is for, and glance lists only '
                'the images its policy lets a token see')
    if any(owner != conn.project_id for owner in audit.owners_seen):
        return ''
    return ('the result may be partial: the listing held no private or '
            'shared image of another project, so glance\'s policy may '
            'limit this token (%s) to what its project can see'
            % conn.who())
