"""One MariaDB database per deployment, on the machine's MariaDB.

The development and CI machines run MariaDB on 127.0.0.1:3306 with root
and no password; every test deployment (glance, keystone) gets a database
of its own, created here and dropped again when the deployment ends.
"""

import uuid

HOST = '127.0.0.1'
PORT = 3306
USER = 'root'


def execute(statement):
    """Run one statement as root (PyMySQL is only needed here)."""
    import pymysql
    conn = pymysql.connect(host=HOST, port=PORT, user=USER,
                           connect_timeout=5)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
        conn.commit()
    finally:
        conn.close()


def create_database(prefix):
    """A new, uniquely named database; returns ``(name, SQLAlchemy url)``."""
    name = '%s_%s' % (prefix, uuid.uuid4().hex[:12])
    execute('CREATE DATABASE `%s` CHARACTER SET utf8' % name)
    return name, 'mysql+pymysql://%s@%s/%s' % (USER, HOST, name)


def drop_database(name):
    execute('DROP DATABASE IF EXISTS `%s`' % name)
