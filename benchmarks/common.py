"""Timing, statistics, test data and process memory for the benchmarks."""

import os
import platform
import statistics
import subprocess
import sys
import threading
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


_TICK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid, tid=None):
    """User + system CPU seconds of a process (all its threads, also those
    that have ended) or of one of its threads; None when gone."""
    path = ('/proc/%d/stat' % pid if tid is None
            else '/proc/%d/task/%d/stat' % (pid, tid))
    try:
        with open(path) as f:
            # The command name may hold spaces: count from the ')'.
            fields = f.read().rpartition(')')[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


class ThreadCpu:
    """Samples the CPU time of every thread of one process, in the
    background, while a ``with`` block runs.

    ``samples`` is a list of ``(wall_time, {tid: cpu_seconds})``; the last
    one is taken when the block ends. /proc counts in clock ticks (10 ms).
    """

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        threads = {}
        try:
            tids = [int(t) for t in os.listdir('/proc/%d/task' % self.pid)]
        except OSError:
            tids = []
        for tid in tids:
            seconds = cpu_seconds(self.pid, tid)
            if seconds is not None:
                threads[tid] = seconds
        self.samples.append((time.time(), threads))

    def _run(self):
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    def busiest_thread(self, before):
        """The thread that used the most CPU up to wall time ``before``."""
        first = self.samples[0][1]
        last = [threads for stamp, threads in self.samples
                if stamp <= before][-1]
        return max(last, key=lambda tid: last[tid] - first.get(tid, 0.0))

    def thread_share(self, tid, after, before):
        """``(cpu_seconds, wall_seconds)`` of thread ``tid`` between the
        first sample at or after ``after`` and the last one at or before
        ``before``."""
        inside = [(stamp, threads) for stamp, threads in self.samples
                  if after <= stamp <= before and tid in threads]
        if len(inside) < 2:
            return 0.0, 0.0
        (t0, first), (t1, last) = inside[0], inside[-1]
        return last[tid] - first[tid], t1 - t0


class LoadSampler:
    """The machine's 1-minute load average every ``interval`` seconds,
    so that the results say how busy the machine was while measuring."""

    def __init__(self, interval=15):
        self.interval = interval
        self.loads = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            self.loads.append(os.getloadavg()[0])
            if self._stop.wait(self.interval):
                return

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.loads.append(os.getloadavg()[0])

    def describe(self):
        return ('1-minute load average during the run %.2f - %.2f, median '
                '%.2f (%d samples, every %d s), %.2f at the end'
                % (min(self.loads), max(self.loads),
                   statistics.median(self.loads), len(self.loads),
                   self.interval, self.loads[-1]))
