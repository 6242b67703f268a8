"""A throw-away Glance 33 deployment on local disk, for tests.

:class:`GlanceEnv` writes everything ``glance.wsgi.api:application`` needs
into one directory (config files, file stores, staging, database) so that a
test can run a real glance-api (see :mod:`tests.harness.uwsgi_server`) with
the ``baseref`` filter in its pipeline, without keystone and without touching
``/etc/glance``.

Layout of ``base_dir``::

    etc/glance-api.conf           generated, see _api_conf()
    etc/glance-image-import.conf  [image_import_opts] max_parallel_stores
    etc/glance-api-paste.ini      derived from the repository's etc/paste.ini
    stores/<name>/                one file store per name
    staging/                      os_glance_staging_store
    tasks/                        os_glance_tasks_store
    glance.sqlite                 when database='sqlite'
    glance-api.log                glance's own log

Facts about glance 33 / glance_store 5.7 this module relies on (measured
on glance 33.0.0 under uWSGI):

* The file driver has no read-only option. A store whose
  ``configure_add()`` raises ``BadStoreConfiguration`` loses its
  WRITE_ACCESS capability but stays registered and readable: uploads to it
  answer 410 Gone, and ``GET /v2/info/stores`` still lists it WITHOUT
  ``"read-only"`` (glance only marks ``http`` stores read-only); an import
  into it fails like a broken store (``os_glance_failed_import``), and
  deleting an image that lives in it answers 204 but leaves its file. We make
  ``configure_add()`` fail after the data directory has been set up by
  pointing ``filesystem_store_metadata_file`` at a file that fails the
  metadata schema, so the store keeps its real directory and files.
  ``http_stores`` adds real ``http`` stores, which are the only ones that
  ``/v2/info/stores`` reports as ``"read-only": "true"``.
* Staging: see :meth:`GlanceEnv.create` (``staging``).
"""

import os
import pathlib
import re
import subprocess
import sys

from tests.harness import ini
from tests.harness import mariadb

#: The repository root: tests/harness/glance_env.py -> parents[2].
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

#: The paste ini this project ships; the test ini is derived from it.
REPO_PASTE_INI = REPO_ROOT / 'etc' / 'paste.ini'

#: MariaDB used for database='mariadb' (see tests/harness/mariadb.py).
MARIADB_HOST = mariadb.HOST
MARIADB_PORT = mariadb.PORT
MARIADB_USER = mariadb.USER

#: Pipelines of [composite:api] that glance ships without keystone auth.
NOAUTH_PIPELINES = ('default', 'caching', 'cachemanagement')

_SECTION_RE = re.compile(r'^\s*\[(?P<name>[^\]]+)\]\s*$')
_KEY_RE = re.compile(r'^(?P<key>[A-Za-z0-9_.+\-]+)\s*=\s*(?P<value>.*)$')


def _venv_bin(name):
    """Path of a console script installed next to the running interpreter.

    Deliberately not resolving symlinks: in a virtualenv ``sys.executable``
    is a link to the base interpreter, but the scripts live next to the link.
    """
    return os.path.join(os.path.dirname(sys.executable), name)


class GlanceEnvError(RuntimeError):
    """The environment could not be set up."""


class GlanceEnv:
    """Configuration, stores and database of one local glance-api.

    Build it with :meth:`create`; the constructor only records paths.
    """

    def __init__(self, base_dir, stores_dir=None):
        self.base_dir = pathlib.Path(base_dir).resolve()
        self.stores_dir = pathlib.Path(
            stores_dir or self.base_dir / 'stores').resolve()
        self.etc_dir = self.base_dir / 'etc'
        self.config_path = self.etc_dir / 'glance-api.conf'
        self.import_config_path = self.etc_dir / 'glance-image-import.conf'
        self.paste_path = self.etc_dir / 'glance-api-paste.ini'
        self.log_path = self.base_dir / 'glance-api.log'
        self.tasks_dir = self.base_dir / 'tasks'
        self.healthcheck_disable_path = self.base_dir / 'healthcheck_disable'
        self.database = None
        self.database_url = None
        self.database_name = None
        self.settings = {}

    # ------------------------------------------------------------------
    # construction

    @classmethod
    def create(cls, base_dir, stores=('fast', 'cheap', 'cold'),
               default_store='fast', with_filter=True, baseref_options=None,
               database='sqlite', max_parallel_stores=1,
               import_methods=('glance-direct', 'web-download',
                               'copy-image'),
               staging=True, read_only_stores=(), paste_options=None,
               http_stores=(), paste_template=None, stores_dir=None,
               api_options=None, authtoken=None, rbd_stores=None,
               import_options=None, api_sections=None):
        """Write a complete glance-api configuration into ``base_dir``.

        :param stores: names of the file stores (``enabled_backends``).
        :param default_store: ``[glance_store] default_backend``, one of
            ``stores`` or ``rbd_stores``.
        :param with_filter: keep ``baseref`` in the paste pipelines.
        :param baseref_options: dict option -> value for the
            ``[glance_baseref]`` section of glance-api.conf.
        :param paste_options: dict option -> value written as paste
            ``local_conf`` keys into ``[filter:baseref]`` (these win over
            glance-api.conf in the filter).
        :param database: ``'sqlite'`` (``base_dir/glance.sqlite``),
            ``'mariadb'`` (a fresh uniquely named database on
            127.0.0.1:3306, dropped again by :meth:`destroy`), or the
            SQLAlchemy URL of a database that another environment created
            (several glance-api nodes on one database); that one is
            neither created nor dropped here. sqlite fails concurrent
            writes with "database is locked"; use mariadb for anything
            parallel.
        :param max_parallel_stores: ``[image_import_opts]`` of
            glance-image-import.conf (1 = sequential imports).
        :param import_methods: ``enabled_import_methods``.
        :param staging: False leaves glance without a usable staging
            directory. glance_store's file driver creates a missing
            datadir at start-up, so a merely non-existent path is not
            enough; the staging datadir is put *below a regular file*
            (``base_dir/no-staging``), which cannot be created. Measured
            with glance 33: the app still starts (the staging store only
            loses write access, and glance logs "Import methods are enabled
            but staging directory ... does not exist; Imports will fail!"),
            ``GET /v2/info/import`` still lists all methods, and
            ``PUT /v2/images/{id}/stage`` answers 500 (glance's stage
            handler does not catch glance_store's StoreAddDisabled), the
            image stays ``queued``; a glance-direct import then answers 409
            "Image needs to be staged". Plain uploads (``PUT .../file``)
            are unaffected.
        :param read_only_stores: names (from ``stores``) whose file store
            must refuse writes; see the module docstring for how and what
            glance reports. Reads of images already in them keep working.
        :param http_stores: extra ``http`` stores (no data; glance lists
            them as ``"read-only": "true"``).
        :param paste_template: paste ini to derive from (default: the
            repository's etc/paste.ini).
        :param stores_dir: directory holding one directory per file store
            (default ``base_dir/stores``); several nodes given the same one
            share their stores, as over NFS.
        :param api_options: extra ``[DEFAULT]`` options of glance-api.conf
            (e.g. ``worker_self_reference_url``).
        :param authtoken: ``[keystone_authtoken]`` options (see
            :meth:`tests.harness.keystone.Keystone.authtoken_options`). Given,
            glance runs the shipped ``keystone`` flavor (``authtoken context
            baseref``) against that Keystone; without, the ``default``
            flavor with glance's ``context`` filter trusting identity
            headers.
        :param rbd_stores: ``{name: {option: value}}``: Ceph RBD stores
            (``name:rbd``), listed before the file stores in
            ``enabled_backends``; the options (``rbd_store_ceph_conf``,
            ``rbd_store_pool``, ``rbd_store_user``, ...) form the store's
            section (see
            :meth:`tests.harness.ceph.CephCluster.glance_store_options`).
            Their data is in the clusters: :meth:`files_for` does not see
            it.
        :param import_options: more sections of glance-image-import.conf,
            as {section: {option: value}} (e.g. ``image_import_opts``
            ``image_import_plugins`` and ``image_conversion``); lists are
            written as oslo.config lists.
        :param api_sections: more sections of glance-api.conf, as
            {section: {option: value}} (e.g. ``oslo_limit``).
        """
        env = cls(base_dir, stores_dir)
        stores = tuple(stores)
        rbd_stores = {name: dict(options)
                      for name, options in (rbd_stores or {}).items()}
        if default_store not in stores + tuple(rbd_stores):
            raise ValueError('default_store %r is not one of %r'
                             % (default_store, stores + tuple(rbd_stores)))
        clash = set(rbd_stores) & set(stores)
        if clash:
            raise ValueError('rbd_stores clash with stores: %s'
                             % sorted(clash))
        unknown = set(read_only_stores) - set(stores)
        if unknown:
            raise ValueError('read_only_stores not in stores: %s'
                             % sorted(unknown))
        clash = set(http_stores) & set(stores)
        if clash:
            raise ValueError('http_stores clash with stores: %s'
                             % sorted(clash))
        if paste_options and not with_filter:
            raise ValueError('paste_options need with_filter=True')
        env.settings = dict(
            stores=stores,
            default_store=default_store,
            with_filter=with_filter,
            baseref_options=dict(baseref_options or {}),
            paste_options=dict(paste_options or {}),
            max_parallel_stores=int(max_parallel_stores),
            import_methods=tuple(import_methods),
            staging=bool(staging),
            read_only_stores=tuple(read_only_stores),
            http_stores=tuple(http_stores),
            paste_template=pathlib.Path(paste_template or REPO_PASTE_INI),
            api_options=dict(api_options or {}),
            authtoken=dict(authtoken or {}),
            rbd_stores=rbd_stores,
            import_options={k: dict(v)
                            for k, v in (import_options or {}).items()},
            api_sections={k: dict(v)
                          for k, v in (api_sections or {}).items()},
        )
        env.base_dir.mkdir(parents=True, exist_ok=True)
        env._create_database(database)
        try:
            env.write_config()
            if database in ('sqlite', 'mariadb'):
                env._db_sync()  # a database given by URL is synced already
        except BaseException:
            env.destroy()
            raise
        return env

    def reconfigure(self, **changes):
        """Change settings given to :meth:`create` and rewrite the configs.

        Everything but ``database`` may change (e.g. make a store read-only
        once a base image is in it). A running server only sees the change
        after a restart.
        """
        if 'database' in changes:
            raise ValueError('the database cannot be changed')
        unknown = set(changes) - set(self.settings)
        if unknown:
            raise TypeError('unknown settings: %s' % sorted(unknown))
        for key in ('stores', 'import_methods', 'read_only_stores',
                    'http_stores'):
            if key in changes:
                changes[key] = tuple(changes[key])
        self.settings.update(changes)
        self.write_config()

    def write_config(self):
        """(Re)write glance-api.conf, glance-image-import.conf, paste ini."""
        self.etc_dir.mkdir(parents=True, exist_ok=True)
        for name in self.stores:
            self.store_dir(name).mkdir(parents=True, exist_ok=True)
        self.tasks_dir.mkdir(parents=True, exist_ok=True)
        if self.staging:
            self.staging_dir.mkdir(parents=True, exist_ok=True)
        else:
            blocker = self.staging_dir.parent
            if not blocker.is_file():
                blocker.write_text(
                    'A regular file, so that glance cannot create the '
                    'staging directory below it (staging=False).\n')
        if self.settings['read_only_stores']:
            self._read_only_metadata_path.write_text(
                '{"comment": "Deliberately not valid store metadata: '
                'makes glance_store disable writes to this store."}\n')
        self._write_ini(self.config_path, self._api_conf())
        import_conf = {section: {k: _option_text(v) for k, v in opts.items()}
                       for section, opts in
                       self.settings['import_options'].items()}
        import_conf.setdefault('image_import_opts', {})[
            'max_parallel_stores'] = str(self.settings['max_parallel_stores'])
        self._write_ini(self.import_config_path, import_conf)
        self.paste_path.write_text(self._paste_ini(), encoding='utf-8')

    # ------------------------------------------------------------------
    # settings as attributes

    @property
    def stores(self):
        """Names of the file stores, in ``enabled_backends`` order."""
        return self.settings['stores']

    @property
    def flavor(self):
        """``[paste_deploy] flavor``: '' (default) or 'keystone'."""
        return 'keystone' if self.settings['authtoken'] else ''

    @property
    def default_store(self):
        return self.settings['default_store']

    @property
    def staging(self):
        """Whether glance has a usable staging directory."""
        return self.settings['staging']

    @property
    def staging_dir(self):
        """The configured staging datadir (absent when staging=False)."""
        if self.staging:
            return self.base_dir / 'staging'
        return self.base_dir / 'no-staging' / 'staging'

    @property
    def _read_only_metadata_path(self):
        return self.etc_dir / 'read-only-store-metadata.json'

    def store_dir(self, name):
        """Data directory of the file store ``name``."""
        if name not in self.stores:
            raise KeyError('no file store %r' % name)
        return self.stores_dir / name

    def env_vars(self):
        """Environment a glance process needs to find this configuration."""
        return {'OS_GLANCE_CONFIG_DIR': str(self.etc_dir)}

    # ------------------------------------------------------------------
    # inspection

    def files_for(self, image_id):
        """Files on disk that belong to ``image_id``.

        Returns ``{area: [paths]}`` with only the areas that hold something;
        an area is a store name, ``'staging'`` or ``'tasks'``. Glance names
        its files after the image id (staging may add a suffix such as
        ``.raw``), so every file whose name starts with the id counts.
        """
        areas = [(name, self.store_dir(name)) for name in self.stores]
        areas += [('staging', self.staging_dir), ('tasks', self.tasks_dir)]
        found = {}
        for area, top in areas:
            if not top.is_dir():
                continue
            hits = []
            for dirpath, _dirs, files in os.walk(top):
                hits += [os.path.join(dirpath, f) for f in files
                         if f.startswith(image_id)]
            if hits:
                found[area] = sorted(hits)
        return found

    def stores_holding(self, image_id):
        """Set of store names that have a file of ``image_id``."""
        return set(self.files_for(image_id)) - {'staging', 'tasks'}

    def break_store(self, name):
        """Make writes to file store ``name`` fail at request time.

        The data directory is replaced by a regular file (its content is
        moved aside and restored by :meth:`repair_store`). chmod does not
        work: tests run as root. Glance still lists the store and reports
        nothing until a write fails.
        """
        path = self.store_dir(name)
        aside = path.with_name(name + '.broken')
        if aside.exists():
            raise GlanceEnvError('store %r is already broken' % name)
        path.rename(aside)
        path.write_text('Broken on purpose by the test harness.\n')

    def repair_store(self, name):
        """Undo :meth:`break_store`."""
        path = self.store_dir(name)
        aside = path.with_name(name + '.broken')
        path.unlink()
        aside.rename(path)

    def break_staging(self, how):
        """Make the staging directory unusable while glance runs.

        ``how``: ``'gone'`` (the directory is moved away, as when a
        staging disk is lost) or ``'file'`` (a regular file in its place,
        as when a mount point turned into something else). Either way
        opening a staged file fails before glance reads a byte of the
        body. Undone by :meth:`repair_staging`.
        """
        if how not in ('gone', 'file'):
            raise ValueError('how must be gone or file, not %r' % (how,))
        path = self.staging_dir
        aside = path.with_name(path.name + '.broken')
        if aside.exists():
            raise GlanceEnvError('staging is already broken')
        path.rename(aside)
        if how == 'file':
            path.write_text('Broken on purpose by the test harness.\n')

    def repair_staging(self):
        """Undo :meth:`break_staging`."""
        path = self.staging_dir
        aside = path.with_name(path.name + '.broken')
        if path.is_file():
            path.unlink()
        aside.rename(path)

    def limit_staging(self, size_bytes):
        """Put staging on a tmpfs of ``size_bytes`` (a small staging disk).

        A write past the size fails with ENOSPC in the middle of a body.
        Needs root (mount); undone by :meth:`unlimit_staging`.
        """
        subprocess.run(['mount', '-t', 'tmpfs', '-o',
                        'size=%d' % size_bytes, 'glance-baseref-staging',
                        str(self.staging_dir)], check=True, timeout=30)

    def unlimit_staging(self):
        subprocess.run(['umount', str(self.staging_dir)], check=True,
                       timeout=30)

    # ------------------------------------------------------------------
    # database

    def _create_database(self, database):
        self.database = database
        if database == 'sqlite':
            self.database_url = 'sqlite:///%s' % (
                self.base_dir / 'glance.sqlite')
        elif database == 'mariadb':
            self.database_name, self.database_url = mariadb.create_database(
                'glance_baseref')
        elif '://' in database:
            self.database_url = database  # someone else's: never dropped
        else:
            raise ValueError('database must be sqlite, mariadb or a URL, '
                             'not %r' % (database,))

    def _db_sync(self):
        cmd = [_venv_bin('glance-manage'), '--config-file',
               str(self.config_path), 'db_sync']
        result = subprocess.run(cmd, cwd=str(self.base_dir),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                timeout=300)
        if result.returncode:
            raise GlanceEnvError('glance-manage db_sync failed (%d):\n%s'
                                 % (result.returncode, result.stdout[-4000:]))

    def destroy(self):
        """Drop the MariaDB database, if any. Files stay (caller's dir)."""
        if self.database_name:
            mariadb.drop_database(self.database_name)
            self.database_name = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()

    # ------------------------------------------------------------------
    # file generation

    @staticmethod
    def _write_ini(path, sections):
        ini.write_ini(path, sections, 'tests/harness/glance_env.py')

    def _api_conf(self):
        """Sections of glance-api.conf, as {section: {option: value}}."""
        s = self.settings
        backends = ['%s:rbd' % name for name in s['rbd_stores']]
        backends += ['%s:file' % name for name in s['stores']]
        backends += ['%s:http' % name for name in s['http_stores']]
        conf = {
            'DEFAULT': {
                'enabled_backends': ', '.join(backends),
                'enabled_import_methods':
                    '[%s]' % ','.join(s['import_methods']),
                'log_file': self.log_path,
                'debug': 'False',
                'use_stderr': 'False',
                **s['api_options'],
            },
            'glance_store': {'default_backend': s['default_store']},
            'database': {'connection': self.database_url},
            'paste_deploy': {'flavor': self.flavor,
                             'config_file': self.paste_path},
            'os_glance_staging_store': {
                'filesystem_store_datadir': self.staging_dir,
            },
            'os_glance_tasks_store': {
                'filesystem_store_datadir': self.tasks_dir,
            },
        }
        for name in s['stores']:
            section = {'filesystem_store_datadir': self.store_dir(name),
                       'store_description': 'file store %s' % name}
            if name in s['read_only_stores']:
                section['filesystem_store_metadata_file'] = (
                    self._read_only_metadata_path)
            conf[name] = section
        for name in s['http_stores']:
            conf[name] = {'store_description': 'http store %s' % name}
        for name, options in s['rbd_stores'].items():
            conf[name] = {'store_description': 'rbd store %s' % name,
                          **options}
        if s['authtoken']:
            conf['keystone_authtoken'] = s['authtoken']
        for section, options in s['api_sections'].items():
            conf.setdefault(section, {}).update(
                {k: _option_text(v) for k, v in options.items()})
        if s['baseref_options']:
            conf['glance_baseref'] = {
                k: _option_text(v) for k, v in s['baseref_options'].items()}
        return conf

    def _paste_ini(self):
        """The repository's paste ini, adapted to this environment.

        * In the no-auth pipelines ``unauthenticated-context`` becomes
          ``context``: glance 33's default policies refuse nearly everything
          to the unauthenticated context, while ``context`` builds a real
          one from the X-Roles/X-Project-Id/... headers that the test client
          sends in place of keystonemiddleware.
        * ``disable_by_file_path`` of the healthcheck points into base_dir.
        * ``baseref`` is dropped from every pipeline when with_filter=False.
        * paste_options become local_conf keys of ``[filter:baseref]``.
        """
        s = self.settings
        lines = s['paste_template'].read_text(encoding='utf-8').splitlines()
        out = []
        section = None
        seen_default = False
        for line in lines:
            match = _SECTION_RE.match(line)
            if match:
                section = match.group('name').strip()
                out.append(line)
                if section == 'filter:baseref' and s['paste_options']:
                    out.append('# paste_options from the test harness')
                    out += ['%s = %s' % (k, _option_text(v))
                            for k, v in s['paste_options'].items()]
                continue
            kv = _KEY_RE.match(line)
            if kv and section == 'composite:api':
                key, words = kv.group('key'), kv.group('value').split()
                if key in NOAUTH_PIPELINES:
                    words = ['context' if w == 'unauthenticated-context'
                             else w for w in words]
                    if key == 'default':
                        seen_default = 'context' in words
                if key != 'paste.composite_factory' and not s['with_filter']:
                    words = [w for w in words if w != 'baseref']
                line = '%s = %s' % (key, ' '.join(words))
            elif (kv and section == 'app:healthcheck'
                  and kv.group('key') == 'disable_by_file_path'):
                line = 'disable_by_file_path = %s' % (
                    self.healthcheck_disable_path)
            elif (kv and section == 'filter:baseref'
                  and kv.group('key') in s['paste_options']):
                continue  # overridden above
            out.append(line)
        text = '\n'.join(out) + '\n'
        if not seen_default:
            raise GlanceEnvError('%s: no default pipeline with a context '
                                 'filter in [composite:api]'
                                 % s['paste_template'])
        pipeline = self.flavor or 'default'
        if s['with_filter'] and not re.search(
                r'^%s\s*=.*\bcontext baseref\b' % pipeline, text, re.M):
            raise GlanceEnvError('%s: baseref missing right after context '
                                 'in the %s pipeline'
                                 % (s['paste_template'], pipeline))
        return text


def _option_text(value):
    """oslo.config / paste spelling of a Python value."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return ','.join(str(v) for v in value)
    return str(value)
