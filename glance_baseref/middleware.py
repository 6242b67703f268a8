"""Placeholder: replaced by the real filter."""


def filter_factory(global_conf, **local_conf):
    def _filter(app):
        return app
    return _filter
