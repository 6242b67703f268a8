"""The filter in a process that eventlet has monkey-patched.

glance's ``glance-api`` script (glance 28-32) patches everything before it
loads the pipeline, so the filter runs on green threads that share one OS
thread. Each case runs :mod:`tests.unit.green_looks` in a process of its
own, since patching cannot be undone.
"""

import re
import subprocess
import sys

import pytest

from tests.harness import glance_env

pytest.importorskip('eventlet')

_LOOKS_LINE = re.compile(
    r'(?P<count>\d+) looks at the image and (?:(?P<cpu>[\d.]+)s of CPU '
    r'for them|(?P<unmeasured>CPU not measured)[^\n]*?) in ')


def looks_line(*args):
    result = subprocess.run(
        [sys.executable, '-m', 'tests.unit.green_looks', *args],
        cwd=str(glance_env.REPO_ROOT), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
    match = _LOOKS_LINE.search(result.stdout)
    assert match, result.stdout
    assert int(match.group('count')) == 8, result.stdout
    return match


def test_cost_of_looks_is_not_the_whole_worker_cpu():
    """A busy green thread beside the looks does not raise their cost:
    the filter either measures the looks alone or says it cannot."""
    busy = looks_line()
    if busy.group('unmeasured'):
        return
    quiet = looks_line('quiet')
    assert float(busy.group('cpu')) < 3 * float(quiet.group('cpu')) + 0.005
