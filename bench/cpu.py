"""CPU time of processes, read from /proc (Linux): what the benches weigh a figure against, on a
machine where the app, the database and the load generator share the cores."""

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def available():
    return Path("/proc/self/stat").exists()


def cpu_seconds(pids):
    """CPU seconds (user + system) used so far by the processes `pids` (0 for any gone)."""
    return sum(_cpu(pid) for pid in pids)


def _cpu(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _parents():
    """{pid: parent pid} of every process."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        found[int(stat.parent.name)] = int(text[text.rindex(")") + 2 :].split()[1])
    return found


def children(pid):
    """The processes whose parent is `pid`."""
    return [child for child, parent in _parents().items() if parent == pid]


def descendants(pid):
    """`pid` and every process below it (a qcluster's sentinel, workers, monitor, pusher)."""
    parents = _parents()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += [child for child, parent in parents.items() if parent == current]
    return found


def database_backends():
    """The PostgreSQL backends serving this process's database, other than its own connection
    ([] on SQLite, which runs inside the app's processes)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]
