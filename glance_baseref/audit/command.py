"""Running ``check`` and ``repair`` once the arguments are parsed."""

import sys

from glance_baseref.audit import cli
from glance_baseref.audit import connect
from glance_baseref.audit import output
from glance_baseref.audit import repair
from glance_baseref.audit import scan


def say(text):
    sys.stderr.write('%s: %s\n' % (cli.PROG, text))


def run(args, auth=None):
    """Connect, read, then check or repair; returns the exit status."""
    try:
        conn = connect.connect(args, auth)
    except connect.ConnectError as exc:
        say('error: %s' % exc)
        return cli.EXIT_ERROR
    repairing = args.command == 'repair' and not args.dry_run
    if repairing and conn.roles is not None and not conn.is_admin:
        say('error: repair needs the admin role: it starts copy-image '
            'imports, an admin operation under glance\'s default policy '
            '(copy_image: role:admin); this token has the roles %s'
            % (', '.join(conn.roles) or 'none'))
        return cli.EXIT_ERROR
    notice = _partial_notice(conn)
    if notice:
        say(notice)

    progress = output.Progress(sys.stderr)
    try:
        result = _read(conn.client(), args, repairing, progress)
    except scan.ScanError as exc:
        progress.clear()
        say('error: %s' % exc)
        return cli.EXIT_ERROR
    progress.clear()
    for error in result.errors:
        say('error: %s' % error)
    partial = None if conn.roles is None else not conn.is_admin
    if args.command == 'check':
        return _check(args, result, partial)
    return _repair(args, conn, result, partial, progress)


def _read(client, args, repairing, progress):
    allowed = tuple(s.strip() for s in args.allowed_stores.split(',')
                    if s.strip())
    catalog = scan.read_catalog(client)
    if repairing:
        methods = scan.import_methods(client)
        if repair.COPY_IMAGE not in methods:
            raise scan.ScanError(
                'repair needs the %s import method, and this glance offers '
                '%s (enabled_import_methods)'
                % (repair.COPY_IMAGE, ', '.join(methods) or 'none'))
    return scan.scan(client, catalog, allowed, project=args.project,
                     image_ids=args.image, page_size=args.page_size,
                     progress=progress)


def _check(args, result, partial):
    text = (output.check_json(result, partial) if args.format == 'json'
            else output.check_table(result))
    sys.stdout.write(text + '\n')
    if result.errors:
        return cli.EXIT_ERROR
    missing = any(f.missing for f in result.findings)
    return cli.EXIT_MISSING if missing else cli.EXIT_OK


def _repair(args, conn, result, partial, progress):
    repairer = repair.Repairer(conn, timeout=args.copy_timeout,
                               poll_interval=args.poll_interval,
                               progress=progress)
    outcomes = repairer.run(result.findings, args.max_concurrent,
                            args.dry_run)
    progress.clear()
    if args.format == 'json':
        sys.stdout.write(output.repair_json(outcomes, result.errors, partial,
                                            args.dry_run) + '\n')
    elif outcomes:
        sys.stdout.write(output.repair_table(outcomes) + '\n')
    else:
        sys.stdout.write('nothing to repair: %d images read, %d with '
                         'base_image_ref, none lacks a usable store of its '
                         'base\n' % (result.images_read,
                                     len(result.findings)))
    if result.errors or any(o.result in repair.ERROR_RESULTS
                            for o in outcomes):
        return cli.EXIT_ERROR
    if any(o.result in repair.UNFIXED_RESULTS for o in outcomes):
        return cli.EXIT_MISSING
    return cli.EXIT_OK


def _partial_notice(conn):
    if conn.roles is None:
        return ('the result may be partial: the auth plugin does not say '
                'which roles the token has, and without the admin role '
                'only the images the token can see are checked')
    if not conn.is_admin:
        return ('the result is partial: the token has no admin role '
                '(roles: %s), so only the images project %s can see are '
                'checked' % (', '.join(conn.roles) or 'none',
                             conn.project_id))
    return ''
