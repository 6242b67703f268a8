"""Tests of glance_baseref."""
