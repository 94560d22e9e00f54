"""The suite's qcluster processes swapped for others with a changed environment, for the files that
need the sender to reach servers of their own on 127.0.0.1 (a slow file server, a fake WAHA) while
every other file runs with private addresses refused (P4). The suite's own come back afterwards."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _start(env, log):
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own: frozen or killed as a whole
        )


def stop(processes, grace=5):
    """SIGTERM to each process group, then SIGKILL to whatever is left of them (a qcluster waits
    for its running dispatcher; nothing here needs it to finish)."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGCONT)  # a frozen one must hear the TERM
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


def _wait_running(logs, counts, timeout=90):
    """Until each log says "running." once more than it did (counts) when its cluster started."""
    deadline = time.monotonic() + timeout
    for log, count in zip(logs, counts, strict=True):
        while Path(log).read_bytes().count(b"running.") <= count:
            assert time.monotonic() < deadline, f"{Path(log).name} never said it was running"
            time.sleep(0.2)


def _started(env, logs):
    counts = [
        Path(log).read_bytes().count(b"running.") if Path(log).exists() else 0 for log in logs
    ]
    processes = [_start(env, log) for log in logs]
    _wait_running(logs, counts)
    return processes


@contextlib.contextmanager
def swapped_clusters(server, name, **changes):
    """Run the suite's qcluster processes with `changes` to their environment meanwhile, logging
    to qcluster-<name>-<n>.log beside the others; yields the new processes."""
    originals = [p for p in server.processes if "qcluster" in p.args]
    stop(originals)
    logs = [server.cluster_logs[0].with_name(f"qcluster-{name}-{n}.log") for n in range(2)]
    server.cluster_logs += [log for log in logs if log not in server.cluster_logs]
    swapped = _started({**server.env, **{k: str(v) for k, v in changes.items()}}, logs)
    server.processes = [p for p in server.processes if p not in originals] + swapped
    try:
        yield swapped
    finally:
        stop(swapped)
        own = [server.cluster_logs[n] for n in range(len(originals))]
        back = _started(server.env, own)
        server.processes = [p for p in server.processes if p not in swapped] + back
