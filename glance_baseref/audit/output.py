"""What the tool prints: tables or JSON on stdout, progress on stderr."""

import json
import threading

_BAR_WIDTH = 30


class Progress:
    """One self-overwriting status line, only when ``stream`` is a terminal.

    Redirected to a file or a pipe, stderr then holds only the messages
    that matter (errors, the partial-result notice), never ``\\r`` noise.
    """

    def __init__(self, stream):
        self.stream = stream
        self.enabled = bool(getattr(stream, 'isatty', lambda: False)())
        self._width = 0
        self._lock = threading.Lock()

    def show(self, text):
        if not self.enabled:
            return
        with self._lock:
            padding = ' ' * max(0, self._width - len(text))
            self.stream.write('\r' + text + padding)
            self.stream.flush()
            self._width = len(text)

    def count(self, done, what):
        self.show('%d %s' % (done, what))

    def bar(self, done, total, what):
        filled = _BAR_WIDTH * done // total if total else _BAR_WIDTH
        self.show('[%s%s] %d/%d %s' % ('#' * filled,
                                       '.' * (_BAR_WIDTH - filled),
                                       done, total, what))

    def clear(self):
        if self.enabled and self._width:
            self.show('')
            self.stream.write('\r')
            self.stream.flush()
            self._width = 0


def table(headers, rows):
    """Rows of strings as aligned columns, the headers first."""
    rows = [headers] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    return '\n'.join(
        '  '.join(cell.ljust(width) for cell, width in zip(row, widths))
        .rstrip() for row in rows)


def joined(values):
    return ','.join(values) or '-'


def check_table(result):
    """The images that lack stores, then those that were not judged."""
    missing = [f for f in result.findings if f.missing]
    skipped = [f for f in result.findings if f.skipped]
    parts = []
    if missing:
        parts.append(table(
            ['image', 'base', 'missing stores', 'size'],
            [[f.image_id, f.base_ref, joined(f.missing),
              '-' if f.size is None else f.size] for f in missing]))
    parts.append('%d images read, %d with base_image_ref, %d lack a store '
                 'of their base' % (result.images_read,
                                    len(result.findings), len(missing)))
    if skipped:
        parts.append('not judged:\n' + table(
            ['image', 'base_image_ref', 'why'],
            [[f.image_id, f.base_ref, f.skipped] for f in skipped]))
    return '\n\n'.join(parts)


def check_json(result, partial):
    return json.dumps({
        'partial': partial,
        'images_read': result.images_read,
        'missing': [f.as_dict() for f in result.findings if f.missing],
        'skipped': [f.as_dict() for f in result.findings if f.skipped],
        'errors': list(result.errors),
    }, indent=2, sort_keys=True)


def repair_table(outcomes):
    return table(
        ['image', 'result', 'missing', 'copied', 'failed', 'detail'],
        [[o.image_id, o.result, joined(o.wanted), joined(o.copied),
          joined(o.failed), o.detail or '-'] for o in outcomes])


def repair_json(outcomes, errors, partial, dry_run):
    return json.dumps({
        'partial': partial,
        'dry_run': dry_run,
        'images': [o.as_dict() for o in outcomes],
        'errors': list(errors),
    }, indent=2, sort_keys=True)
