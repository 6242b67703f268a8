"""The service virtualenvs' constraints (no virtualenv is built here)."""

from tests.harness import venvs


def test_overrides_replace_the_release_pins(tmp_path):
    release = tmp_path / 'upper-constraints.txt'
    release.write_text('keystoneauth1===5.15.0\n'
                       'oslo.versionedobjects===3.11.0\n'
                       'oslo.config===10.1.0\n')
    derived = venvs._overridden(
        release, {'keystoneauth1': '5.16.0',
                  'oslo_versionedobjects': '3.12.0'}, tmp_path / 'out.txt')
    assert sorted(derived.read_text().splitlines()) == [
        'keystoneauth1===5.16.0', 'oslo.config===10.1.0',
        'oslo_versionedobjects===3.12.0']


def test_services_without_overrides_keep_their_stamp():
    spec, _ = venvs._spec('keystone')
    assert 'constraint_overrides' not in spec
