"""Fail when the running environment strays from OpenStack's constraints.

    python tools/check_constraints.py requirements/glance-2025.1.txt

Reads the ``-c`` upper-constraints file(s) that a requirements file names
and checks every installed distribution they pin: installed at another
version is an error. tox installs the release's glance and the test tools
under those constraints, but then installs this project itself without
them, so a requirement of ours that needs a newer library than the release
pins would upgrade it silently; this check makes that a failure instead.
"""

import argparse
import importlib.metadata
import pathlib
import sys

from packaging.markers import Marker
from packaging.utils import canonicalize_name


def constraint_files(requirements):
    """The files that ``-c`` lines of ``requirements`` name, resolved."""
    found = []
    for line in requirements.read_text(encoding='utf-8').splitlines():
        line = line.split('#', 1)[0].strip()
        if line.startswith('-c'):
            found.append(requirements.parent / line[2:].strip())
    return found


def pins(constraints):
    """``{canonical name: version}`` of the pins that apply here."""
    pinned = {}
    for line in constraints.read_text(encoding='utf-8').splitlines():
        spec, _, marker = line.split('#', 1)[0].partition(';')
        if '===' not in spec or (marker and not
                                 Marker(marker.strip()).evaluate()):
            continue
        name, version = spec.split('===', 1)
        pinned[canonicalize_name(name.strip())] = version.strip()
    return pinned


def installed():
    """``{canonical name: version}`` of the running environment."""
    return {canonicalize_name(dist.metadata['Name']): dist.version
            for dist in importlib.metadata.distributions()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('requirements', type=pathlib.Path)
    args = parser.parse_args(argv)
    files = constraint_files(args.requirements)
    if not files:
        parser.error('%s names no -c constraints file' % args.requirements)
    have = installed()
    strays = []
    for constraints in files:
        for name, version in sorted(pins(constraints).items()):
            if name in have and have[name] != version:
                strays.append('%s %s installed, %s pins %s'
                              % (name, have[name], constraints.name,
                                 version))
    for stray in strays:
        print(stray, file=sys.stderr)
    checked = sum(name in have for f in files for name in pins(f))
    print('%d installed packages checked against %s: %d off'
          % (checked, ', '.join(f.name for f in files), len(strays)))
    return 1 if strays else 0


if __name__ == '__main__':
    sys.exit(main())
