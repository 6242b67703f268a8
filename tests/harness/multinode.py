"""Several glance-api nodes on one database, behind HAProxy, for tests.

The shape operators run glance in when they scale it out:

* every node is a :class:`~tests.harness.glance_env.GlanceEnv` served by
  its own :class:`~tests.harness.uwsgi_server.GlanceServer` (uWSGI,
  ``processes`` workers each);
* one MariaDB database for all of them;
* the file stores on one directory that every node shares (as NFS or Ceph
  would be), each node enabling the stores it is given;
* staging local to each node, and ``worker_self_reference_url`` set on
  each, as glance's distributed import requires: glance records the node
  that staged an image (``os_glance_stage_host``) and proxies a
  ``glance-direct`` import that arrives elsewhere to it;
* HAProxy in front (:mod:`tests.harness.haproxy`), checking
  ``GET /healthcheck``.
"""

import concurrent.futures

from tests.harness import glance_env
from tests.harness import haproxy
from tests.harness import uwsgi_server


class Node:
    """One glance-api node: its configuration and its server."""

    def __init__(self, name, env, server):
        self.name = name
        self.env = env
        self.server = server

    @property
    def url(self):
        return self.server.url

    def log(self):
        """glance's own log of this node so far."""
        try:
            return self.env.log_path.read_text(encoding='utf-8',
                                               errors='replace')
        except FileNotFoundError:
            return ''


class GlanceCluster:
    """Glance-api nodes on one database and shared stores, and HAProxy.

    :param nodes: ``{name: stores}``, in start order; each node enables
        these file stores (all of them live in the shared directory).
    :param proxied: names of the nodes behind HAProxy (default: all);
        the others are reached at their own URL only.
    :param node_options: ``{name: {GlanceEnv.create argument: value}}``
        for one node, over ``env_options``.
    :param env_options: further :meth:`GlanceEnv.create` arguments, the
        same for every node (``authtoken``, ``baseref_options``, ...).
    :param proxy_options: :class:`~tests.harness.haproxy.HAProxy`
        arguments (``timeout_server``, ...).
    """

    def __init__(self, base_dir, nodes, default_store='fast', processes=2,
                 threads=8, proxied=None, node_options=None,
                 proxy_options=None, **env_options):
        self.base_dir = base_dir
        self.node_stores = {name: tuple(stores)
                            for name, stores in nodes.items()}
        self.proxied = tuple(proxied or nodes)
        self.node_options = dict(node_options or {})
        self.default_store = default_store
        self.processes = processes
        self.threads = threads
        self.proxy_options = dict(proxy_options or {})
        self.env_options = env_options
        self.stores_dir = base_dir / 'shared-stores'
        self.nodes = {}
        self.proxy = None
        self._database_owner = None

    @property
    def url(self):
        """Where clients go: HAProxy's frontend."""
        return self.proxy.url

    def node(self, name):
        return self.nodes[name]

    def start(self):
        try:
            # The first node creates the database; the others then start
            # side by side (most of a start is glance loading its app).
            names = list(self.node_stores)
            self._add_node(names[0])
            with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
                for future in [pool.submit(self._add_node, name)
                               for name in names[1:]]:
                    future.result()
            self.proxy = haproxy.HAProxy(
                self.base_dir,
                [(name, self.nodes[name].url) for name in self.proxied],
                **self.proxy_options)
            self.proxy.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _add_node(self, name):
        self.nodes[name] = self._start_node(name, self.node_stores[name])

    def _start_node(self, name, stores):
        port = uwsgi_server.free_port()
        owner = self._database_owner
        options = dict(self.env_options, **self.node_options.get(name, {}))
        env = glance_env.GlanceEnv.create(
            self.base_dir / name, stores=stores,
            default_store=self.default_store,
            database=owner.database_url if owner else 'mariadb',
            stores_dir=self.stores_dir,
            api_options={'worker_self_reference_url':
                         'http://127.0.0.1:%d' % port},
            **options)
        if owner is None:
            self._database_owner = env
        server = uwsgi_server.GlanceServer(env, port=port,
                                           processes=self.processes,
                                           threads=self.threads)
        try:
            server.start(timeout=60)
        except BaseException:
            if env is not self._database_owner:
                env.destroy()
            raise
        return Node(name, env, server)

    def stop(self):
        """Stop HAProxy and every node, then drop the shared database."""
        try:
            if self.proxy is not None:
                self.proxy.stop()
            with concurrent.futures.ThreadPoolExecutor(
                    max(1, len(self.nodes))) as pool:
                for future in [pool.submit(node.server.stop)
                               for node in self.nodes.values()]:
                    future.result()
        finally:
            if self._database_owner is not None:
                self._database_owner.destroy()
                self._database_owner = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------
    # inspection

    def files_for(self, image_id):
        """Files of ``image_id`` in the shared stores and every staging.

        ``{area: [paths]}``; an area is a store name or
        ``'staging:<node>'``.
        """
        found = {}
        for node in self.nodes.values():
            for area, paths in node.env.files_for(image_id).items():
                if area == 'staging':
                    area = 'staging:%s' % node.name
                found.setdefault(area, sorted(set(paths)))
        return found

    def stores_holding(self, image_id):
        """Store names that hold a file of ``image_id`` (shared dirs)."""
        return {area for area in self.files_for(image_id)
                if area != 'tasks' and not area.startswith('staging:')}
