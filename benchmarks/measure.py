"""Measuring a benchmark's subprocess: wall clock, CPU time and the peak memory
of its whole process tree (the pipeline and the children it starts), read from
/proc, so nothing beyond the standard library is needed."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence, Tuple

SAMPLE_EVERY_S = 0.2


class Measured(NamedTuple):
    wall_s: float
    cpu_s: float  # user + system time of the process and the descendants it waited for
    peak_rss_bytes: int
    peak_processes: List[Tuple[str, int]]  # (command, RSS bytes) at the peak, largest first
    returncode: int
    stdout: str
    stderr: str
    # user + system time of every process seen in the tree, read from /proc at
    # each sample (a lower bound: a process's last 0.2 s may be missed). Unlike
    # `cpu_s` it also counts grandchildren nobody waited for (a forkserver's).
    tree_cpu_s: float = 0.0


def _children_by_parent() -> Dict[int, List[int]]:
    children: Dict[int, List[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # gone meanwhile
            continue
        # The command name, in parentheses, may hold spaces: fields follow the last ')'.
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(root: int) -> List[int]:
    """`root` and all its descendants."""
    children = _children_by_parent()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def rss_bytes(pid: int) -> int:
    """The resident memory of one process (0 if it is gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time one process has used so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _start_time(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command_name(pid: int) -> str:
    """A short form of a process's command line, for the memory breakdown."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            args = handle.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return f"pid {pid}"
    return " ".join([os.path.basename(args[0]), *args[1:3]])[:60]


def run_measured(command: Sequence[str], workdir: Path) -> Measured:
    """Runs `command` to its end: its wall clock and the peak RSS of its process tree."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        cpu_before = _children_cpu_s()
        started = time.perf_counter()
        process = subprocess.Popen(list(command), cwd=workdir, stdout=out, stderr=err)
        peak, at_peak = 0, []
        cpu_by_pid: Dict[Tuple[int, int], float] = {}
        while True:
            tree = process_tree(process.pid)
            sample = {pid: rss_bytes(pid) for pid in tree}
            for pid in tree:  # keyed with the start time, should a pid be reused
                used = cpu_seconds(pid)
                key = (pid, _start_time(pid))
                cpu_by_pid[key] = max(cpu_by_pid.get(key, 0.0), used)
            if sum(sample.values()) > peak:
                peak = sum(sample.values())
                at_peak = sorted(((command_name(pid), rss) for pid, rss in sample.items()),
                                 key=lambda item: -item[1])
            try:
                process.wait(timeout=SAMPLE_EVERY_S)
                break
            except subprocess.TimeoutExpired:
                continue
        wall = time.perf_counter() - started
        cpu = _children_cpu_s() - cpu_before
        out.seek(0)
        err.seek(0)
        return Measured(wall, cpu, peak, at_peak, process.returncode,
                        out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"),
                        max(cpu, sum(cpu_by_pid.values())))


def require_success(what: str, measured: Measured) -> None:
    if measured.returncode != 0:
        tail = "\n".join(measured.stderr.strip().splitlines()[-30:])
        sys.exit(f"{what} failed (exit code {measured.returncode}):\n{tail}")
