"""Virtualenvs of their own for the OpenStack services the tests run.

Keystone, Cinder and Nova pin libraries that clash with the glance under
test, so each runs from a virtualenv of its own, built here on first use
and kept for later runs. A virtualenv is rebuilt when its requirements
change (a stamp file holds what it was built from), and a file lock makes
concurrent test runs wait for one build instead of racing it.

Where: ``$GLANCE_BASEREF_VENV_DIR/<name>``, by default ``.venvs/<name>`` in
the repository. Each installs under OpenStack's upper-constraints of its
release, copied into ``constraints/`` (the machines cannot reach the
openstack/requirements repository).
"""

import fcntl
import hashlib
import json
import os
import pathlib
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
CONSTRAINTS_DIR = REPO_ROOT / 'constraints'
VENV_DIR_VARIABLE = 'GLANCE_BASEREF_VENV_DIR'

#: name -> (release whose upper-constraints apply, requirements).
SERVICES = {
    'keystone': ('2026.2', ('keystone==30.0.0', 'uWSGI>=2.0.20',
                            'PyMySQL')),
}

_INSTALL_TIMEOUT = 1200


class VenvError(RuntimeError):
    """A service virtualenv could not be built."""


def constraints_file(release):
    """Path of the upper-constraints of ``release`` (e.g. ``2025.1``)."""
    path = CONSTRAINTS_DIR / ('upper-constraints-%s.txt' % release)
    if not path.is_file():
        raise VenvError('no upper-constraints for release %s at %s'
                        % (release, path))
    return path


def venv_root():
    return pathlib.Path(os.environ.get(VENV_DIR_VARIABLE)
                        or REPO_ROOT / '.venvs')


def _spec(name):
    try:
        release, requirements = SERVICES[name]
    except KeyError:
        raise VenvError('unknown service %r; known: %s'
                        % (name, ', '.join(sorted(SERVICES)))) from None
    constraints = constraints_file(release)
    return {
        'python': '%d.%d' % sys.version_info[:2],
        'release': release,
        'requirements': list(requirements),
        'constraints_sha256': hashlib.sha256(
            constraints.read_bytes()).hexdigest(),
    }, constraints


def service_venv(name):
    """The virtualenv of service ``name``, built when missing or stale."""
    spec, constraints = _spec(name)
    path = venv_root() / name
    stamp = path / 'glance-baseref-spec.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ('.%s.lock' % name), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _read_stamp(stamp) != spec:
            _build(path, spec['requirements'], constraints)
            stamp.write_text(json.dumps(spec, indent=1) + '\n')
    return path


def bin_path(name, script):
    """Path of ``script`` in the virtualenv of service ``name``."""
    return service_venv(name) / 'bin' / script


def _read_stamp(stamp):
    try:
        return json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None


def _build(path, requirements, constraints):
    if path.exists():
        subprocess.run(['rm', '-rf', str(path)], check=True)
    steps = [
        [sys.executable, '-m', 'venv', str(path)],
        [str(path / 'bin' / 'python'), '-m', 'pip', 'install', '--quiet',
         '--disable-pip-version-check', '-c', str(constraints)]
        + list(requirements),
    ]
    for cmd in steps:
        result = subprocess.run(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                timeout=_INSTALL_TIMEOUT)
        if result.returncode:
            raise VenvError('building %s failed (%d): %s\n%s'
                            % (path, result.returncode, ' '.join(cmd),
                               result.stdout[-4000:]))
