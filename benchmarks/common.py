"""Timing, statistics, test data and process memory for the benchmarks."""

import os
import platform
import statistics
import subprocess
import sys
import time

MIB = 1024 * 1024


def median(samples):
    return statistics.median(samples)


def spread(samples):
    """``min-max`` of the samples, for the printed tables."""
    return min(samples), max(samples)


def alternating(variants, rounds):
    """``rounds`` orderings of ``variants``: ABC, CBA, ABC, ...

    Alternating the order spreads drift (page cache, database growth,
    other load) evenly over the variants.
    """
    variants = list(variants)
    for number in range(rounds):
        yield number, (variants if number % 2 == 0 else variants[::-1])


class Stopwatch:
    def __enter__(self):
        self.started = time.perf_counter()
        self.seconds = None
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started


def write_data_file(path, size_mib):
    """``size_mib`` MiB of incompressible bytes, written quickly.

    A random 4 MiB block, each MiB stamped with its number, so no two MiB
    are equal; the content does not matter to a file store.
    """
    block = os.urandom(4 * MIB)
    with open(path, 'wb') as f:
        for i in range(size_mib):
            offset = (i % 4) * MIB
            f.write(i.to_bytes(8, 'big') + block[offset + 8:offset + MIB])
    return path


def reset_peak_rss(pid):
    """Make VmHWM of ``pid`` start again from its current RSS.

    Writing 5 to /proc/PID/clear_refs resets the peak RSS (Linux 4.0+).
    Returns False when not allowed.
    """
    try:
        with open('/proc/%d/clear_refs' % pid, 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def machine():
    """What the numbers were measured on, one line per fact."""
    model = '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = '?'
    try:
        with open('/proc/meminfo') as f:
            kib = int(f.readline().split()[1])
            mem_gib = '%.0f' % (kib / MIB)
    except (OSError, ValueError, IndexError):
        pass
    from importlib import metadata
    versions = []
    for dist in ('glance', 'glance_store', 'python-glanceclient', 'uWSGI'):
        try:
            versions.append('%s %s' % (dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            versions.append('%s ?' % dist)
    return {
        'cpus': '%d x %s (nproc %s)' % (
            os.cpu_count() or 0, model, _nproc()),
        'memory': '%s GiB' % mem_gib,
        'os': '%s %s' % (platform.system(), platform.release()),
        'python': sys.version.split()[0],
        'software': ', '.join(versions),
        'load': 'load average %.2f %.2f %.2f at the start'
                % os.getloadavg(),
    }


def _nproc():
    try:
        return subprocess.run(['nproc'], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return '?'
