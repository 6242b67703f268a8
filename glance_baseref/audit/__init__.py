"""``glance-baseref-audit``: images that are not where their base image is.

An image whose ``base_image_ref`` property names a base image should live
in every store of that base that is usable on this glance, by the same
rules the filter follows (:meth:`glance_baseref.stores.StoreCatalog.usable`).
Images uploaded before the filter was installed, or whose base was later
copied to another store, do not. ``check`` lists them; ``repair`` copies
them into the missing stores with glance's ``copy-image`` import.

Modules: :mod:`.cli` (arguments, exit status), :mod:`.connect` (keystoneauth
session, glance endpoint, roles), :mod:`.findings` (the rule, pure),
:mod:`.scan` (reading images), :mod:`.repair` (copy-image and waiting),
:mod:`.output` (table, JSON, progress), :mod:`.retry` (glance's 5xx).
See doc/audit.md.
"""
