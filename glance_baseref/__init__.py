"""Store images uploaded from volumes where their base image lives."""

# Release notes: releasenotes/notes (reno), CHANGELOG.rst.
__version__ = '0.2.0'
