"""doc/deploy.md's recipes, checked by the deployment tools' own code.

The files under deploy/ are merged into this glance release's shipped
glance-api-paste.ini and glance-api.conf (``sys.prefix/etc/glance``) the
way each tool merges them, by that tool's code from PyPI (the
``kolla-tools`` and ``osa-tools`` virtualenvs of tests/harness/venvs.py):

* kolla-ansible: its ``merge_configs`` action plugin, in an
  ``ansible-playbook`` run, merges the glance-api.conf override; the
  paste ini is the image's own file changed by
  ``glance-baseref-paste-ini`` (the wheel's console script), as the
  image footer does; ``kolla-build --template-only`` renders the footer.
* openstack-ansible: the ``config_template`` action plugin
  (ansible-config-template) merges ``glance_glance_api_paste_ini_overrides``
  and ``glance_glance_api_conf_overrides`` from the user variables file.

Each merged paste ini is then loaded with paste.deploy through glance's
own loader, every pipeline of it, and ``baseref`` must sit right after
the context filter, with nothing else of glance's file changed.
"""

import configparser
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from glance_baseref import middleware
from tests.functional import paste_check
from tests.harness import glance_env
from tests.harness import venvs

DEPLOY = glance_env.REPO_ROOT / 'deploy'
SHIPPED = pathlib.Path(sys.prefix) / 'etc' / 'glance'
PASTE_TOOL = pathlib.Path(sys.executable).parent / 'glance-baseref-paste-ini'

KOLLA_TASKS = """
- name: kolla-ansible merges glance-api.conf
  merge_configs:
    sources:
      - "{shipped}/glance-api.conf"
      - "{deploy}/kolla/config/glance/glance-api.conf"
    dest: "{out}/kolla-glance-api.conf"
"""
OSA_TASKS = """
- name: openstack-ansible merges glance-api-paste.ini
  config_template:
    src: "{shipped}/glance-api-paste.ini"
    dest: "{out}/osa-glance-api-paste.ini"
    config_overrides: "{{{{ glance_glance_api_paste_ini_overrides }}}}"
    config_type: ini
- name: openstack-ansible merges glance-api.conf
  config_template:
    src: "{shipped}/glance-api.conf"
    dest: "{out}/osa-glance-api.conf"
    config_overrides: "{{{{ glance_glance_api_conf_overrides }}}}"
    config_type: ini
"""
OSA_VARIABLES = (DEPLOY / 'openstack-ansible' /
                 'user_variables_glance_baseref.yml')


def run_playbook(venv, tasks, out, action_plugins, library=None,
                 variables=None):
    """``tasks`` on localhost with ``ansible-playbook`` of ``venv``."""
    tools = venvs.service_venv(venv)
    playbook = out / ('%s.yml' % venv)
    playbook.write_text(
        '- hosts: localhost\n  connection: local\n  gather_facts: false\n'
        '  tasks:\n' + ''.join(
            '    %s\n' % line for line in tasks.format(
                shipped=SHIPPED, deploy=DEPLOY, out=out).splitlines()
            if line))
    env = dict(os.environ,
               ANSIBLE_ACTION_PLUGINS=str(tools / action_plugins),
               ANSIBLE_LOCAL_TEMP=str(out / 'tmp'),
               ANSIBLE_HOME=str(out / ('home-%s' % venv)),
               ANSIBLE_NOCOLOR='1')
    if library:
        env['ANSIBLE_LIBRARY'] = str(tools / library)
    argv = [str(tools / 'bin' / 'ansible-playbook'), '-i', 'localhost,',
            '-e', 'ansible_python_interpreter=%s' % (tools / 'bin' /
                                                     'python')]
    if variables:
        argv += ['-e', '@%s' % variables]
    done = subprocess.run(argv + [str(playbook)], env=env, text=True,
                          capture_output=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope='module')
def merged(tmp_path_factory):
    """The files each tool wrote, by name."""
    out = tmp_path_factory.mktemp('deploy-recipes')
    run_playbook('kolla-tools', KOLLA_TASKS, out,
                 'share/kolla-ansible/ansible/action_plugins')
    run_playbook('osa-tools', OSA_TASKS, out, 'share/ansible/plugins/action',
                 library='share/ansible/plugins/modules',
                 variables=OSA_VARIABLES)
    kolla_paste = out / 'kolla-glance-api-paste.ini'
    shutil.copy(SHIPPED / 'glance-api-paste.ini', kolla_paste)
    subprocess.run([str(PASTE_TOOL), str(kolla_paste)], check=True)
    return {path.name: path for path in out.iterdir()}


def read_ini(path):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(path)
    return parser


@pytest.mark.release
@pytest.mark.parametrize('tool', ['kolla', 'osa'])
def test_paste_ini_is_glances_own_with_baseref_after_context(merged, tool):
    paste_check.assert_shipped_plus_baseref(
        read_ini(merged['%s-glance-api-paste.ini' % tool]),
        read_ini(SHIPPED / 'glance-api-paste.ini'))


@pytest.mark.release
@pytest.mark.parametrize('tool', ['kolla', 'osa'])
@pytest.mark.parametrize('flavor', paste_check.FLAVORS)
def test_every_pipeline_loads_with_baseref_after_context(
        env, glance_app, merged, tool, flavor):
    chain = paste_check.load_flavor(
        env, merged['%s-glance-api-paste.ini' % tool], flavor)
    paste_check.assert_baseref_after_context(chain, middleware)


@pytest.mark.release
@pytest.mark.parametrize('tool', ['kolla', 'osa'])
def test_glance_api_conf_keeps_glances_and_adds_the_filters(merged, tool):
    conf = read_ini(merged['%s-glance-api.conf' % tool])
    assert conf['glance_baseref']['respond_after'] == 'all_stores'
    assert conf['glance_baseref']['all_stores_must_succeed'] in (
        'false', 'False')
    assert conf['DEFAULT']['enabled_import_methods'] == (
        '[glance-direct,web-download,copy-image]')
    shipped = read_ini(SHIPPED / 'glance-api.conf')
    assert set(shipped.sections()) <= set(conf.sections())


def test_paste_tool_changes_a_changed_file_no_more(tmp_path):
    paste = tmp_path / 'glance-api-paste.ini'
    shutil.copy(SHIPPED / 'glance-api-paste.ini', paste)
    check = [str(PASTE_TOOL), '--check', str(paste)]
    assert subprocess.run(check, check=False).returncode == 1
    subprocess.run([str(PASTE_TOOL), str(paste)], check=True)
    once = paste.read_text()
    subprocess.run([str(PASTE_TOOL), str(paste)], check=True)
    assert paste.read_text() == once
    assert subprocess.run(check, check=False).returncode == 0


def test_kolla_build_renders_the_image_footer(tmp_path):
    tools = venvs.service_venv('kolla-tools')
    done = subprocess.run(
        [str(tools / 'bin' / 'kolla-build'), '--template-only',
         '--work-dir', str(tmp_path / 'work'), '--base', 'debian',
         '--template-override',
         str(DEPLOY / 'kolla' / 'template-overrides.j2'), '^glance-api$'],
        text=True, capture_output=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    dockerfile = (tmp_path / 'work' / 'docker' / 'glance' / 'glance-api' /
                  'Dockerfile').read_text()
    footer = dockerfile[dockerfile.index('ADD additions-archive /'):
                        dockerfile.index('USER glance')]
    assert ('python3 -m pip --no-cache-dir install --upgrade -c '
            '/requirements/upper-constraints.txt '
            '/additions/glance-baseref/glance_baseref-0.2.0-py3-none-any.whl'
            ) in footer
    assert 'glance-baseref-paste-ini /etc/glance/glance-api-paste.ini' in \
        footer


def test_the_recipes_name_this_version():
    from glance_baseref import __version__
    wheel = 'glance_baseref-%s-py3-none-any.whl' % __version__
    assert wheel in (DEPLOY / 'kolla' / 'template-overrides.j2').read_text()
    variables = yaml.safe_load(OSA_VARIABLES.read_text())
    assert variables['glance_user_pip_packages'] == [
        'glance_baseref==%s' % __version__]
