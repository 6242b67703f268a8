"""``glance-baseref-paste-ini PATH``: put baseref into a glance-api-paste.ini.

For deployments that ship glance's own paste ini and have no way to
override it (kolla images, distribution packages): every pipeline of
``[composite:api]`` gets ``baseref`` right after its context filter
(``context`` or ``unauthenticated-context``), and ``[filter:baseref]`` is
added. Everything else in the file, comments included, stays as it was.
Running it again changes nothing. ``--check`` changes nothing and exits
1 when the file still needs the change.
"""

import argparse
import re
import sys

FILTER_NAME = 'baseref'
FILTER_SECTION = '[filter:%s]\nuse = egg:glance_baseref#baseref\n' % (
    FILTER_NAME)
CONTEXT_FILTERS = ('context', 'unauthenticated-context')
_SECTION = re.compile(r'^\s*\[([^\]]+)\]')
_PIPELINE = re.compile(r'^(\s*[^#;\s][^=:]*?\s*[=:]\s*)(.*?)(\s*)$')


def with_baseref(text):
    """``text`` with baseref in every pipeline and its filter section."""
    lines = text.splitlines(keepends=True)
    section = None
    has_filter = False
    out = []
    for line in lines:
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip()
            has_filter = has_filter or section == 'filter:%s' % FILTER_NAME
        elif section == 'composite:api':
            line = _pipeline_with_baseref(line)
        out.append(line)
    result = ''.join(out)
    if not has_filter:
        if result and not result.endswith('\n'):
            result += '\n'
        result += '\n' + FILTER_SECTION
    return result


def _pipeline_with_baseref(line):
    match = _PIPELINE.match(line.rstrip('\n'))
    if not match:
        return line
    key, value, tail = match.groups()
    words = value.split()
    if FILTER_NAME in words:
        return line
    for at, word in enumerate(words):
        if word in CONTEXT_FILTERS:
            words.insert(at + 1, FILTER_NAME)
            newline = '\n' if line.endswith('\n') else ''
            return key + ' '.join(words) + tail + newline
    return line


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='glance-baseref-paste-ini',
        description='Put the baseref filter right after the context filter '
                    'in every pipeline of a glance-api-paste.ini, in place.')
    parser.add_argument('path', help='The glance-api-paste.ini to change.')
    parser.add_argument('--check', action='store_true',
                        help='Change nothing; exit 1 if the file needs the '
                             'change.')
    args = parser.parse_args(argv)
    with open(args.path, encoding='utf-8') as f:
        text = f.read()
    changed = with_baseref(text)
    if args.check:
        return 1 if changed != text else 0
    if changed != text:
        with open(args.path, 'w', encoding='utf-8') as f:
            f.write(changed)
    return 0


if __name__ == '__main__':
    sys.exit(main())
