"""What the audit's unit tests share: a connection around a fake client."""


class FakeConnection:
    """A :class:`glance_baseref.audit.connect.Connection` stand-in whose
    client is the fake itself (``images`` is the fake ``client.images``)."""

    def __init__(self, images):
        self.images = images
        self.endpoints = []

    def client(self, retries=3, endpoint=None):
        self.endpoints.append(endpoint)
        return self

    def who(self):
        return 'project p1, roles member, reader'
