"""Test harness: real glance-api 33 and Keystone, and a Cinder-like client.

* :class:`GlanceEnv` (glance_env): configs, file stores, database.
* :class:`GlanceServer` (uwsgi_server): glance-api under uWSGI;
  :class:`EventletGlanceServer` (eventlet_server): glance's own eventlet
  server; :func:`glance_server` (server_kind): the one the session chose.
* :class:`Keystone` (keystone): a real Keystone with a deployment's users.
* :class:`CinderLikeClient`, :func:`make_base_image` (cinder_client).
* drivers: Cinder's and Nova's own upload code, run in the ``clients``
  virtualenv of venvs (service virtualenvs, built on first use).
* :class:`FaultProxy` (fault_proxy): answers chosen requests with errors.
"""

from tests.harness.cinder_client import BASE_IMAGE_HEADER
from tests.harness.cinder_client import CinderLikeClient
from tests.harness.cinder_client import IdentityToken
from tests.harness.cinder_client import image_stores
from tests.harness.cinder_client import import_finished
from tests.harness.cinder_client import make_base_image
from tests.harness.cinder_client import STORE_HEADER
from tests.harness.eventlet_server import EventletGlanceServer
from tests.harness.fault_proxy import FaultProxy
from tests.harness.glance_env import GlanceEnv
from tests.harness.glance_env import GlanceEnvError
from tests.harness.keystone import Keystone
from tests.harness.server_kind import glance_server
from tests.harness.uwsgi_server import free_port
from tests.harness.uwsgi_server import GlanceServer
from tests.harness.uwsgi_server import GlanceServerError
from tests.harness.uwsgi_server import UwsgiServer
from tests.harness.uwsgi_server import UwsgiServerError

__all__ = [
    'BASE_IMAGE_HEADER', 'CinderLikeClient', 'EventletGlanceServer',
    'FaultProxy', 'GlanceEnv', 'GlanceEnvError', 'GlanceServer',
    'GlanceServerError', 'IdentityToken', 'Keystone', 'STORE_HEADER',
    'UwsgiServer', 'UwsgiServerError', 'free_port', 'glance_server',
    'image_stores', 'import_finished', 'make_base_image',
]
