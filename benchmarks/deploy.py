"""Several glance-api servers on one database and one set of file stores.

A benchmark compares pipelines "on the same glance": every variant is a
uWSGI server of its own (own etc dir, paste ini, glance-image-import.conf,
log and staging directory) built on :class:`tests.harness.GlanceEnv`, but
all of them share the primary environment's database, file stores and
tasks directory. They run at the same time, idle when not measured, so a
benchmark can alternate variants request by request without restarts.
"""

from concurrent import futures
import pathlib
import shutil

from tests import harness

STORES = ('fast', 'cheap', 'cold')
DEFAULT_STORE = 'fast'


class _SharedEnv(harness.GlanceEnv):
    """A GlanceEnv whose stores, tasks and database are another's."""

    def __init__(self, primary, name, **changes):
        super().__init__(primary.base_dir / name)
        self.primary = primary
        self.tasks_dir = primary.tasks_dir
        self.database = primary.database
        self.database_url = primary.database_url
        self.settings = dict(primary.settings, **changes)
        self.write_config()

    def store_dir(self, name):
        return self.primary.store_dir(name)

    def destroy(self):
        """The primary owns the database."""


class Deployment:
    """Named servers; ``variants`` maps a name to GlanceEnv settings,
    and optionally ``server``: the uWSGI ``processes`` and ``threads``.

    The first variant owns the database and the stores.
    """

    def __init__(self, base_dir, variants, database='sqlite'):
        self.base_dir = pathlib.Path(base_dir)
        self.variants = dict(variants)
        self.database = database
        self.envs = {}
        self.servers = {}

    def start(self):
        names = list(self.variants)
        env_settings = {name: dict(settings) for name, settings
                        in self.variants.items()}
        server_options = {name: settings.pop('server', {})
                          for name, settings in env_settings.items()}
        primary = harness.GlanceEnv.create(
            self.base_dir / names[0], stores=STORES,
            default_store=DEFAULT_STORE, database=self.database,
            **env_settings[names[0]])
        self.envs[names[0]] = primary
        for name in names[1:]:
            self.envs[name] = _SharedEnv(primary, '../' + name,
                                         **env_settings[name])
        for name in names:
            self.servers[name] = harness.GlanceServer(
                self.envs[name], **server_options[name])
        # Each server spends a few seconds of CPU importing glance; on two
        # cores starting them side by side takes about half the time.
        with futures.ThreadPoolExecutor(len(names)) as pool:
            starting = [pool.submit(server.start, timeout=120)
                        for server in self.servers.values()]
        for future in starting:
            future.result()
        return self

    def stop(self):
        try:
            for server in self.servers.values():
                server.stop()
        finally:
            for env in self.envs.values():
                env.destroy()
            shutil.rmtree(self.base_dir, ignore_errors=True)

    @property
    def primary(self):
        return next(iter(self.envs.values()))

    def url(self, name):
        return self.servers[name].url

    def worker_pid(self, name):
        """The one uWSGI worker of a server (processes=1)."""
        (pid,) = self.servers[name].worker_pids()
        return pid

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
