"""Make Debian's Ceph bindings (``rados``, ``rbd``) importable here.

glance_store's RBD driver and Cinder's RBD driver import ``rados`` and
``rbd``, which are not on PyPI: they exist as Debian's builds
(python3-rados, python3-rbd) for the system Python 3.11, in
/usr/lib/python3/dist-packages. Run with a virtualenv's Python, this
links the two extension modules into ``<venv>/debian-ceph-bindings`` and
names that directory in a ``.pth`` file of the venv's site-packages, so
that the venv imports them and nothing else of Debian's Python (which
``--system-site-packages`` would bring in).

Exit status 0 also when the packages are missing (then it says so): only
the RBD tests need them, and they fail with the reason.
"""

import pathlib
import sys
import sysconfig

DEBIAN_DIST_PACKAGES = pathlib.Path('/usr/lib/python3/dist-packages')
MODULES = ('rados', 'rbd')
LINK_DIR = 'debian-ceph-bindings'
PTH_NAME = 'debian_ceph_bindings.pth'


def extension_files():
    """The Debian build of each module for this Python, or None for one
    that is missing."""
    suffix = sysconfig.get_config_var('EXT_SUFFIX')
    return {name: (DEBIAN_DIST_PACKAGES / (name + suffix))
            if (DEBIAN_DIST_PACKAGES / (name + suffix)).is_file() else None
            for name in MODULES}


def install():
    """Link the modules and write the .pth; returns what is missing."""
    files = extension_files()
    missing = sorted(name for name, path in files.items() if path is None)
    if missing:
        return missing
    link_dir = pathlib.Path(sys.prefix) / LINK_DIR
    link_dir.mkdir(exist_ok=True)
    for path in files.values():
        link = link_dir / path.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(path)
    site_packages = pathlib.Path(sysconfig.get_paths()['purelib'])
    (site_packages / PTH_NAME).write_text(str(link_dir) + '\n')
    return []


def main():
    if sys.prefix == sys.base_prefix:
        print('ceph_bindings: not in a virtualenv; nothing done',
              file=sys.stderr)
        return 2
    missing = install()
    if missing:
        print('ceph_bindings: no Debian build of %s for Python %s in %s '
              '(apt-get install python3-rados python3-rbd); the RBD tests '
              'will fail' % (', '.join(missing),
                             sysconfig.get_python_version(),
                             DEBIAN_DIST_PACKAGES), file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
