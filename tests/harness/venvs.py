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

The build uses ``uv`` when it is installed next to the running
interpreter or on PATH (cinder + nova: 17-20 s with uv, 62-114 s with
pip; keystone with uWSGI: 41 s with uv), else pip. uv compiles the
bytecode too, as pip does: the tests run with PYTHONDONTWRITEBYTECODE.
"""

import fcntl
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
CONSTRAINTS_DIR = REPO_ROOT / 'constraints'
VENV_DIR_VARIABLE = 'GLANCE_BASEREF_VENV_DIR'

#: name -> (release whose upper-constraints apply, requirements).
SERVICES = {
    'keystone': ('2026.2', ('keystone==30.0.0', 'uWSGI>=2.0.20',
                            'PyMySQL')),
    # Cinder's and Nova's own client code (tests/harness/drivers), one
    # virtualenv for both: they install together cleanly and it is built
    # in about 60 s instead of 95 s for two (doc/clients.md).
    'clients': ('2026.2', ('cinder==29.0.0', 'nova==34.0.0')),
    # The deployment tools whose own code checks doc/deploy.md's recipes
    # (tests/functional/test_deploy_recipes.py). kolla-build renders the
    # image template (it imports docker even for --template-only) and
    # kolla-ansible's merge_configs merges configuration, under the
    # ansible-core it requires; kolla-ansible 23 needs Python 3.12, 22.2.0
    # is 2026.1's. openstack-ansible's config_template on PyPI (2.1.1,
    # 2024) predates ansible-core 2.19 and fails to load under it, so it
    # has a virtualenv of its own with ansible-core 2.17.
    'kolla-tools': ('2026.2', ('kolla==23.0.0', 'kolla-ansible==22.2.0',
                               'docker')),
    'osa-tools': ('2026.2', ('ansible-config-template==2.1.1',
                             'ansible-core>=2.17,<2.18')),
}

#: name -> {package: version} that replace the pins of its release's
#: upper-constraints. The 2026.2 file was copied before nova 34.0.0 was
#: released, and nova 34.0.0 requires newer versions of these two.
CONSTRAINT_OVERRIDES = {
    'clients': {'keystoneauth1': '5.16.0',
                'oslo.versionedobjects': '3.12.0'},
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
    spec = {
        'python': '%d.%d' % sys.version_info[:2],
        'release': release,
        'requirements': list(requirements),
        'constraints_sha256': hashlib.sha256(
            constraints.read_bytes()).hexdigest(),
    }
    if name in CONSTRAINT_OVERRIDES:
        spec['constraint_overrides'] = CONSTRAINT_OVERRIDES[name]
    return spec, constraints


def service_venv(name):
    """The virtualenv of service ``name``, built when missing or stale."""
    spec, constraints = _spec(name)
    path = venv_root() / name
    stamp = path / 'glance-baseref-spec.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ('.%s.lock' % name), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _read_stamp(stamp) != spec:
            _build(path, spec['requirements'], constraints,
                   spec.get('constraint_overrides'))
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


def _overridden(constraints, overrides, target):
    """Write ``constraints`` to ``target`` with ``overrides`` pinned."""
    names = {_canonical(name) for name in overrides}
    lines = [line for line in constraints.read_text().splitlines()
             if _canonical(line.split('===')[0]) not in names]
    lines += ['%s===%s' % pin for pin in sorted(overrides.items())]
    target.write_text('\n'.join(lines) + '\n')
    return target


def _canonical(name):
    """A package name as pip compares it (PEP 503)."""
    return re.sub(r'[-_.]+', '-', name.strip()).lower()


def _uv():
    """The uv next to this interpreter or on PATH, or None."""
    beside = pathlib.Path(sys.executable).parent / 'uv'
    return str(beside) if beside.is_file() else shutil.which('uv')


def _build(path, requirements, constraints, overrides):
    if path.exists():
        subprocess.run(['rm', '-rf', str(path)], check=True)
    if overrides:
        constraints = _overridden(
            constraints, overrides,
            path.with_name('.%s-constraints.txt' % path.name))
    python = str(path / 'bin' / 'python')
    uv = _uv()
    if uv:
        steps = [
            [uv, 'venv', '--quiet', '--python', sys.executable, str(path)],
            [uv, 'pip', 'install', '--quiet', '--compile-bytecode',
             '--python', python, '-c', str(constraints)],
        ]
    else:
        steps = [
            [sys.executable, '-m', 'venv', str(path)],
            [python, '-m', 'pip', 'install', '--quiet',
             '--disable-pip-version-check', '-c', str(constraints)],
        ]
    steps[-1] += list(requirements)
    for cmd in steps:
        result = subprocess.run(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                timeout=_INSTALL_TIMEOUT)
        if result.returncode:
            raise VenvError('building %s failed (%d): %s\n%s'
                            % (path, result.returncode, ' '.join(cmd),
                               result.stdout[-4000:]))
