"""Unit tests: the filter around a recording fake glance."""
