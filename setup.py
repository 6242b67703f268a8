import re

import setuptools

with open('README.md', encoding='utf-8') as f:
    long_description = f.read()
# One place for the version: the package's __version__ (the audit prints
# it with --version); reno's notes for it are in CHANGELOG.rst.
with open('glance_baseref/__init__.py', encoding='utf-8') as f:
    version = re.search(r"^__version__ = '([^']+)'$", f.read(),
                        re.MULTILINE).group(1)

setuptools.setup(
    name='glance_baseref',
    version=version,
    description=('Glance API filter that stores uploaded volumes in every '
                 'store of their base image'),
    long_description=long_description,
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=['glance_baseref', 'glance_baseref.audit'],
    install_requires=[
        'WebOb>=1.8',
        'oslo.config>=9.0',
        'oslo.utils>=6.0',
        'PasteDeploy>=2.0',
        # Asking another glance-api node for its stores (stage_host.py);
        # glance-api has it already.
        'requests>=2.14',
    ],
    # The audit tool runs on an operator's machine, not inside glance-api:
    # glance-api has no use for a glance client, so the filter's install
    # stays as small as it was and the tool's dependencies are an extra.
    extras_require={
        'audit': [
            'python-glanceclient>=4.0',
            'keystoneauth1>=5.0',
            # clouds.yaml and the OS_* precedence, as the openstack CLI
            # resolves them; cliff formats the output.
            'openstacksdk>=3.0',
            'cliff>=4.6',
        ],
        # `openstack image baseref check|repair`
        'osc': [
            'python-glanceclient>=4.0',
            'keystoneauth1>=5.0',
            'openstacksdk>=3.0',
            'cliff>=4.6',
            'osc-lib>=3.0',
            'python-openstackclient>=6.6',
        ],
    },
    entry_points={
        'console_scripts': [
            'glance-baseref-audit = glance_baseref.audit.cli:main',
            'glance-baseref-paste-ini = glance_baseref.paste_ini:main',
        ],
        'openstack.cli.extension': [
            'image_baseref = glance_baseref.audit.osc',
        ],
        'openstack.image_baseref.v1': [
            'image_baseref_check = glance_baseref.audit.osc:Check',
            'image_baseref_repair = glance_baseref.audit.osc:Repair',
        ],
        'paste.filter_factory': [
            'baseref = glance_baseref.middleware:filter_factory',
        ],
        'oslo.config.opts': [
            'glance_baseref = glance_baseref.opts:list_opts',
        ],
    },
    classifiers=[
        'Environment :: OpenStack',
        'Programming Language :: Python :: 3',
    ],
)
