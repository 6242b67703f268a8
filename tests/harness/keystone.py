"""A real Keystone (30.0.0 from PyPI) for tests and the demo.

:class:`Keystone` runs keystone from a virtualenv of its own
(``venvs.service_venv('keystone')``, built on first use) under uWSGI on
127.0.0.1, with fernet tokens, its database on MariaDB (one database per
run; sqlite for the demo), and what a deployment has:

==============  ===========  ====================================
user            project      roles (assigned; implied ones added)
==============  ===========  ====================================
``admin``       ``admin``    admin (``keystone-manage bootstrap``)
``glance``      ``service``  admin: glance's keystonemiddleware
``cinder``      ``service``  service: Cinder's service token
``p1-member``   ``p1``       member, reader
``p2-member``   ``p2``       member, reader
``p1-reader``   ``p1``       reader
``p1-admin``    ``p1``       admin, member, reader
==============  ===========  ====================================

and an ``image`` service whose endpoint
(:meth:`Keystone.register_image_endpoint`) points at a glance, so that
clients find glance through the catalog.

How tests use it (the names other test layers should use):

* fixture ``keystone`` (tests/conftest.py, session scope): one Keystone per
  pytest session; starting takes 14-25 s here.
* fixture ``keystone_glance`` (tests/e2e/conftest.py, session scope): a
  glance-api in the ``keystone`` paste flavor (authtoken context baseref)
  on MariaDB, registered in the catalog; ``make_keystone_glance(**options)``
  starts others (e.g. ``with_filter=False``), not registered.
  Both are ``Deployment`` objects: ``deployment.client('p1')`` is the
  member of p1, ``deployment.client('p1', roles=('reader',))`` the reader.
* ``keystone.client(project, roles, url=None, service_token=False)``: a
  :class:`~tests.harness.cinder_client.CinderLikeClient` on a keystoneauth
  password session of the matching user (created on demand), which finds
  glance through the catalog unless ``url`` is given; with
  ``service_token`` its requests also carry the ``cinder`` user's
  ``X-Service-Token``, as Cinder sends with ``[service_user]
  send_service_user_token``.
* ``keystone.token_client(token, url, service_token=False)``: a client
  that sends exactly this token (``None``: none), as Cinder's
  ``_ContextAuthPlugin`` does with the user's token; for invalid and
  expired tokens.
* ``keystone.token(user)``, ``keystone.session(user)``,
  ``keystone.expired_token(user)``, ``keystone.service_token()``,
  ``keystone.authtoken_options()`` (``[keystone_authtoken]`` of glance).

Keystone facts this module relies on (measured here):

* ``keystone-manage bootstrap`` creates the ``default`` domain, the admin
  project and user, the roles admin, manager, member, reader and service,
  the implications admin -> manager -> member -> reader, and the identity
  endpoints; a token lists the implied roles too.
* Users, projects, role assignments and the image endpoint are created
  through keystone's API with the bootstrap admin's system-scoped token.
* ``keystone-manage fernet_setup``/``credential_setup`` require
  ``--keystone-user``/``--keystone-group`` (the owner of the key
  directories): the user running the tests.
* An expired token cannot be asked for; :meth:`Keystone.expired_token`
  makes one with keystone's own fernet token formatter and keys, with an
  expiry in the past. Keystone then answers 404 to its validation, exactly
  as for any token past its expiry.
* Without a cache each token validation took 300-700 ms; ``[cache]
  backend = oslo_cache.dict`` (one uWSGI process) brings it to ~10 ms.
"""

import grp
import os
import pathlib
import pwd
import secrets
import subprocess

from keystoneauth1 import session as ks_session
from keystoneauth1 import service_token as ks_service_token
from keystoneauth1 import token_endpoint
from keystoneauth1.identity import v3

from tests.harness import cinder_client
from tests.harness import ini
from tests.harness import mariadb
from tests.harness import venvs
from tests.harness.uwsgi_server import free_port
from tests.harness.uwsgi_server import UwsgiServer
from tests.harness.uwsgi_server import UwsgiServerError

REGION = 'RegionOne'
DOMAIN = 'Default'

#: name -> (project, assigned roles); created by :meth:`Keystone.start`.
USERS = {
    'glance': ('service', ('admin',)),
    'cinder': ('service', ('service',)),
    'p1-member': ('p1', ('member', 'reader')),
    'p2-member': ('p2', ('member', 'reader')),
    'p1-reader': ('p1', ('reader',)),
    'p1-admin': ('p1', ('admin', 'member', 'reader')),
}
PROJECTS = ('service', 'p1', 'p2')

#: Runs in keystone's virtualenv: a fernet token of USER_ID scoped to
#: PROJECT_ID that expired an hour ago, made with the deployment's keys.
_EXPIRED_TOKEN_SCRIPT = '''
import base64, datetime, sys, uuid
import keystone.conf
from keystone.common import utils
from keystone.token import token_formatters
keystone.conf.configure()
keystone.conf.CONF([], project='keystone', default_config_files=[sys.argv[1]])
expired = datetime.datetime.utcnow() - datetime.timedelta(hours=1)
audit_id = base64.urlsafe_b64encode(uuid.uuid4().bytes)[:-2].decode()
token = token_formatters.TokenFormatter().create_token(
    sys.argv[2], utils.isotime(expired, subsecond=True), [audit_id],
    token_formatters.ProjectScopedPayload, methods=['password'],
    project_id=sys.argv[3])
print(token[0] if isinstance(token, tuple) else token)
'''


class KeystoneError(UwsgiServerError):
    """Keystone did not come up or could not be set up."""


class KeystoneServer(UwsgiServer):
    """keystone's WSGI app from its own virtualenv."""

    label = 'keystone'
    probe_path = '/v3'
    error_class = KeystoneError

    def __init__(self, keystone, port):
        super().__init__(keystone.base_dir, keystone.etc_dir / 'uwsgi.ini',
                         venv=keystone.venv, port=port)
        self.keystone = keystone
        self._auto_port = False  # the catalog already names this port

    def app_settings(self):
        return [('module', 'keystone.wsgi.api:application')]

    def env_vars(self):
        return {'OS_KEYSTONE_CONFIG_DIR': str(self.keystone.etc_dir)}


class NoToken(token_endpoint.Token):
    """Auth plugin that sends no token at all (a missing token)."""

    def __init__(self, endpoint):
        super().__init__(endpoint, None)

    def get_headers(self, session, **kwargs):
        return {}


class Keystone:
    """One running Keystone with users, projects and a catalog.

    Build it with :meth:`start`; :meth:`stop` stops it and drops its
    database.
    """

    def __init__(self, base_dir, database='mariadb'):
        self.base_dir = pathlib.Path(base_dir).resolve()
        self.etc_dir = self.base_dir / 'etc'
        self.config_path = self.etc_dir / 'keystone.conf'
        self.log_path = self.base_dir / 'keystone.log'
        self.database = database
        self.database_name = None
        self.database_url = None
        self.password = secrets.token_urlsafe(12)
        self.venv = None
        self.server = None
        self.users = {}      # name -> {'id', 'project', 'roles'}
        self.projects = {}   # name -> id
        self.roles = {}      # name -> id
        self.image_service_id = None
        self.image_url = None
        self._admin_session = None

    # ------------------------------------------------------------------
    # life cycle

    @classmethod
    def start(cls, base_dir, database='mariadb', port=None, timeout=120):
        """Install (first use), configure, bootstrap, serve and populate."""
        keystone = cls(base_dir, database)
        keystone.venv = venvs.service_venv('keystone')
        try:
            keystone._configure(port or free_port())
            keystone.server.start(timeout)
            keystone._populate()
        except BaseException:
            keystone.stop()
            raise
        return keystone

    def stop(self):
        try:
            if self.server is not None:
                self.server.stop()
        finally:
            if self.database_name:
                mariadb.drop_database(self.database_name)
                self.database_name = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        """Keystone's root URL, e.g. http://127.0.0.1:PORT."""
        return self.server.url

    @property
    def auth_url(self):
        """The identity v3 endpoint clients authenticate against."""
        return self.url + '/v3'

    # ------------------------------------------------------------------
    # configuration

    def _configure(self, port):
        self.etc_dir.mkdir(parents=True, exist_ok=True)
        if self.database == 'mariadb':
            self.database_name, self.database_url = mariadb.create_database(
                'glance_baseref_keystone')
        elif self.database == 'sqlite':
            self.database_url = 'sqlite:///%s' % (
                self.base_dir / 'keystone.sqlite')
        else:
            raise ValueError('database must be sqlite or mariadb, not %r'
                             % (self.database,))
        self.server = KeystoneServer(self, port)
        keys = self.base_dir / 'fernet-keys'
        ini.write_ini(self.config_path, {
            'DEFAULT': {'log_file': self.log_path, 'debug': 'False',
                        'use_stderr': 'False'},
            'database': {'connection': self.database_url},
            'token': {'provider': 'fernet', 'expiration': 3600},
            'fernet_tokens': {'key_repository': keys},
            'fernet_receipts': {'key_repository': keys},
            'credential': {
                'key_repository': self.base_dir / 'credential-keys'},
            # One process: the in-process cache is coherent.
            'cache': {'enabled': 'true', 'backend': 'oslo_cache.dict'},
            'identity': {'password_hash_rounds': 4},
        }, 'tests/harness/keystone.py')
        owner = ['--keystone-user', pwd.getpwuid(os.getuid()).pw_name,
                 '--keystone-group', grp.getgrgid(os.getgid()).gr_name]
        self._manage('db_sync')
        self._manage('fernet_setup', *owner)
        self._manage('credential_setup', *owner)
        url = self.server.url + '/v3'
        # One argument with '=': a generated password may start with '-',
        # which argparse would take for an option.
        self._manage('bootstrap', '--bootstrap-password=' + self.password,
                     '--bootstrap-region-id', REGION,
                     '--bootstrap-admin-url', url,
                     '--bootstrap-internal-url', url,
                     '--bootstrap-public-url', url)

    def _manage(self, *args):
        cmd = [str(self.venv / 'bin' / 'keystone-manage'), '--config-file',
               str(self.config_path)] + list(args)
        self._run(cmd, 'keystone-manage %s' % args[0])

    def _run(self, cmd, what):
        result = subprocess.run(cmd, cwd=str(self.base_dir),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                timeout=300)
        if result.returncode:
            raise KeystoneError('%s failed (%d):\n%s%s'
                                % (what, result.returncode,
                                   result.stdout[-2000:],
                                   result.stderr[-4000:]))
        return result.stdout

    def authtoken_options(self):
        """``[keystone_authtoken]`` of a glance-api using this Keystone.

        No memcached: keystonemiddleware then caches validated tokens in
        its process for up to 300 s (a revoked token keeps working there
        until then).
        """
        return {
            'www_authenticate_uri': self.auth_url,
            'auth_url': self.auth_url,
            'auth_type': 'password',
            'username': 'glance',
            'password': self.password,
            'project_name': 'service',
            'user_domain_name': DOMAIN,
            'project_domain_name': DOMAIN,
            'region_name': REGION,
        }

    # ------------------------------------------------------------------
    # the deployment's content, through keystone's API

    def _admin(self):
        """A session with a system-scoped admin token."""
        if self._admin_session is None:
            auth = v3.Password(auth_url=self.auth_url, username='admin',
                               password=self.password,
                               user_domain_name=DOMAIN, system_scope='all')
            self._admin_session = ks_session.Session(auth=auth, timeout=60)
        return self._admin_session

    def _api(self, method, path, body=None):
        resp = self._admin().request(self.auth_url + path, method,
                                     json=body, raise_exc=False)
        if resp.status_code >= 300:
            raise KeystoneError('%s %s: %s %s' % (method, path,
                                                  resp.status_code,
                                                  resp.text[:500]))
        return resp.json() if resp.content else None

    def _populate(self):
        self.roles = {r['name']: r['id']
                      for r in self._api('GET', '/roles')['roles']}
        self.projects['admin'] = self._api(
            'GET', '/projects?name=admin')['projects'][0]['id']
        for name in PROJECTS:
            self.projects[name] = self._api('POST', '/projects', {
                'project': {'name': name, 'domain_id': 'default'},
            })['project']['id']
        for name, (project, roles) in USERS.items():
            self.create_user(name, project, roles)
        self.image_service_id = self._api('POST', '/services', {
            'service': {'type': 'image', 'name': 'glance'},
        })['service']['id']

    def create_user(self, name, project, roles):
        """A user with exactly ``roles`` assigned in ``project``."""
        user_id = self._api('POST', '/users', {
            'user': {'name': name, 'password': self.password,
                     'domain_id': 'default'},
        })['user']['id']
        for role in roles:
            self._api('PUT', '/projects/%s/users/%s/roles/%s'
                      % (self.projects[project], user_id, self.roles[role]))
        self.users[name] = {'id': user_id, 'project': project,
                            'roles': tuple(roles)}
        return name

    def user(self, project='p1', roles=('member', 'reader')):
        """Name of a user with exactly these roles in ``project``.

        The users of :data:`USERS` first; any other combination is
        created on first use.
        """
        for name, user in self.users.items():
            if user['project'] == project and (
                    set(user['roles']) == set(roles)):
                return name
        return self.create_user('%s-%s' % (project, '-'.join(roles)),
                                project, roles)

    def register_image_endpoint(self, url):
        """Point the catalog's ``image`` service at ``url`` (only there)."""
        endpoints = self._api('GET', '/endpoints?service_id=%s'
                              % self.image_service_id)['endpoints']
        for endpoint in endpoints:
            self._api('DELETE', '/endpoints/%s' % endpoint['id'])
        for interface in ('public', 'internal', 'admin'):
            self._api('POST', '/endpoints', {'endpoint': {
                'service_id': self.image_service_id, 'interface': interface,
                'url': url, 'region_id': REGION}})
        self.image_url = url

    # ------------------------------------------------------------------
    # unified limits (glance's use_keystone_limits)

    def register_image_limits(self, limits):
        """Set the image service's registered limits, {name: value}.

        Registered limits are every project's defaults. glance with
        ``use_keystone_limits`` enforces image_size_total,
        image_stage_total, image_count_total and image_count_uploading,
        and a limit that is not registered counts as 0: register all four.
        """
        for name, value in limits.items():
            found = self._api('GET', '/registered_limits?service_id=%s'
                              '&resource_name=%s'
                              % (self.image_service_id, name))
            existing = found['registered_limits']
            if existing:
                self._api('PATCH', '/registered_limits/%s'
                          % existing[0]['id'],
                          {'registered_limit': {'default_limit': value}})
            else:
                self._api('POST', '/registered_limits', {
                    'registered_limits': [{
                        'service_id': self.image_service_id,
                        'region_id': REGION, 'resource_name': name,
                        'default_limit': value}]})

    def oslo_limit_options(self):
        """``[oslo_limit]`` of a glance that enforces unified limits.

        oslo.limit reads the endpoint named here (for its service and
        region) and the limits, as the ``glance`` user with a
        system-scoped reader role (as devstack sets it up). Needs the
        image endpoint: :meth:`register_image_endpoint` first; every
        glance may use it, whatever its URL.
        """
        endpoints = self._api('GET', '/endpoints?service_id=%s'
                              '&interface=public'
                              % self.image_service_id)['endpoints']
        if not endpoints:
            raise KeystoneError('no image endpoint registered yet')
        self._api('PUT', '/system/users/%s/roles/%s'
                  % (self.users['glance']['id'], self.roles['reader']))
        return {
            'auth_url': self.auth_url,
            'auth_type': 'password',
            'username': 'glance',
            'password': self.password,
            'user_domain_name': DOMAIN,
            'system_scope': 'all',
            'endpoint_id': endpoints[0]['id'],
        }

    # ------------------------------------------------------------------
    # credentials

    def auth(self, user):
        """keystoneauth password plugin, scoped to the user's project."""
        if user == 'admin':
            project = 'admin'
        else:
            project = self.users[user]['project']
        return v3.Password(auth_url=self.auth_url, username=user,
                           password=self.password, user_domain_name=DOMAIN,
                           project_name=project, project_domain_name=DOMAIN)

    def openrc(self, user):
        """``os.environ`` with the ``OS_*`` variables of ``user`` only.

        What an openrc file sets, for command-line clients run in a
        subprocess; other ``OS_*`` variables of the caller are dropped.
        """
        project = 'admin' if user == 'admin' else self.users[user]['project']
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env.update(OS_AUTH_URL=self.auth_url, OS_USERNAME=user,
                   OS_PASSWORD=self.password, OS_PROJECT_NAME=project,
                   OS_USER_DOMAIN_NAME=DOMAIN,
                   OS_PROJECT_DOMAIN_NAME=DOMAIN)
        return env

    def session(self, user, timeout=300):
        """A keystoneauth Session authenticating as ``user`` (password)."""
        return ks_session.Session(auth=self.auth(user), timeout=timeout)

    def token(self, user):
        """A fresh project-scoped token of ``user``."""
        return self.session(user).get_token()

    def service_token(self):
        """A token of the ``cinder`` service user (role ``service``)."""
        return self.token('cinder')

    def expired_token(self, user):
        """A validly signed token of ``user`` that expired an hour ago."""
        user_id = self.users[user]['id']
        project_id = self.projects[self.users[user]['project']]
        out = self._run([str(self.venv / 'bin' / 'python'), '-c',
                         _EXPIRED_TOKEN_SCRIPT, str(self.config_path),
                         user_id, project_id], 'making an expired token')
        return out.strip().splitlines()[-1]

    # ------------------------------------------------------------------
    # glance clients

    def client(self, project='p1', roles=('member', 'reader'), url=None,
               service_token=False):
        """A Cinder-like glance client of a user with these roles.

        A keystoneauth password session; finds glance in the catalog
        unless ``url`` is given. ``service_token``: see :meth:`_wrap`.
        """
        auth = self.auth(self.user(project, roles))
        return cinder_client.CinderLikeClient(
            url, roles=roles, auth=self._wrap(auth, service_token))

    def token_client(self, token, url, service_token=False):
        """A client that sends exactly ``token`` (None: no token at all).

        This is how Cinder talks to glance: its ``_ContextAuthPlugin``
        hands on the user's token from the request context.
        """
        auth = NoToken(url) if token is None else token_endpoint.Token(
            url, token)
        return cinder_client.CinderLikeClient(
            url, auth=self._wrap(auth, service_token))

    def _wrap(self, auth, service_token):
        """With ``service_token``, requests also carry ``X-Service-Token``
        of the ``cinder`` service user, as Cinder's do with
        ``[service_user] send_service_user_token = true``."""
        if not service_token:
            return auth
        return ks_service_token.ServiceTokenAuthWrapper(
            user_auth=auth, service_auth=self.auth('cinder'))
