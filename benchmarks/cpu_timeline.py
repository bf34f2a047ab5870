"""Where a run's CPU and memory go by process, over time: is the work spread across the workers?

Runs a command (a newsbeam ingest, say) and reads the CPU time of every
process of its tree from /proc twice a second (Linux only). It prints each
process's CPU, grouped by role: the runner (the ``pipelines.ingest`` process,
which drives the FnApiRunner), Beam's worker processes (``sdk_worker_main``,
with ``--direct_running_mode multi_processing``) and newsbeam's HTML
extraction processes (``transforms.extract.isolation``, one per worker); then a
timeline of the cores each role used per step. Balanced workers busy to the
end mean the input was split well; a role busy alone marks a serial phase.
Last, the resident memory of the tree at its peak, process by process, and
the tree's memory per timeline row (read at the same samples)::

    .venv/bin/python benchmarks/cpu_timeline.py --step 5 -- \\
        .venv/bin/python -m pipelines.ingest --input 'W1/*.warc.gz' --output /tmp/out \\
        --runner DirectRunner --dedup_window_days 0 \\
        --direct_num_workers 2 --direct_running_mode multi_processing
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from measure import cpu_seconds, process_tree, rss_bytes

ROLES = (("transforms.extract.isolation", "extraction"), ("sdk_worker_main", "worker"),
         ("pipelines.ingest", "runner"), ("pipelines.stream", "runner"))


def tree_cpu(root: int) -> Dict[int, float]:
    """CPU seconds (user + system) of every live descendant of `root`."""
    return {pid: cpu_seconds(pid) for pid in process_tree(root) if pid != root}


def role(command_line: str) -> str:
    for fragment, name in ROLES:
        if fragment in command_line:
            return name
    return "other"


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", encoding="utf-8", errors="replace") as handle:
            return handle.read().replace("\0", " ").strip()
    except OSError:
        return "?"


def record(command: Sequence[str], interval: float = 0.5):
    """Runs `command`; returns its exit code, wall seconds, process names and
    the samples [(seconds since start, {pid: CPU seconds})]."""
    started = time.monotonic()
    proc = subprocess.Popen(list(command))
    names: Dict[int, str] = {}
    samples: List[Tuple[float, Dict[int, float]]] = []
    memory: List[Dict[int, int]] = []
    while proc.poll() is None:
        snapshot = tree_cpu(os.getpid())
        for pid in snapshot:
            if pid not in names:
                names[pid] = command_line(pid)
        samples.append((time.monotonic() - started, snapshot))
        memory.append({pid: rss_bytes(pid) for pid in snapshot})
        time.sleep(interval)
    return proc.returncode, time.monotonic() - started, names, samples, memory


def memory_report(names: Dict[int, str], samples, memory, step: float) -> List[str]:
    """The tree's resident memory at its peak, by process, and per `step` seconds."""
    if not memory:
        return []
    totals = [sum(reading.values()) for reading in memory]
    peak = max(range(len(totals)), key=totals.__getitem__)
    lines = [f"resident memory: peak {totals[peak] / 2 ** 20:.0f} MB at "
             f"{samples[peak][0]:.0f} s:"]
    for pid, size in sorted(memory[peak].items(), key=lambda kv: -kv[1]):
        if size >= 2 ** 20:
            lines.append(f"  {role(names.get(pid, '')):<10} pid {pid:<7} {size / 2 ** 20:7.0f} MB")
    lines.append(f"  the tree's highest per {step:g} s:")
    row_start, row_peak = 0.0, 0
    for (at, _), total in zip(samples, totals):
        row_peak = max(row_peak, total)
        if at >= row_start + step:
            lines.append(f"  {row_start:6.0f}  {row_peak / 2 ** 20:7.0f} MB")
            row_start, row_peak = at, 0
    return lines


def report(wall: float, names: Dict[int, str], samples, step: float) -> str:
    last: Dict[int, float] = {}
    for _, snapshot in samples:
        last.update(snapshot)
    roles = {pid: role(names.get(pid, "")) for pid in last}
    lines = [f"wall {wall:.1f} s, CPU {sum(last.values()):.1f} s (the last reading of each "
             f"process, every 0.5 s)", "CPU by process:"]
    for pid, cpu in sorted(last.items(), key=lambda kv: (roles[kv[0]], -kv[1])):
        if cpu >= 0.05:
            lines.append(f"  {roles[pid]:<10} pid {pid:<7} {cpu:7.1f} s")
    columns = sorted((pid for pid in last if last[pid] >= 0.05),
                     key=lambda pid: (roles[pid], pid))
    lines.append(f"cores used per {step:g} s (CPU seconds / {step:g}):")
    lines.append("  from s  " + "  ".join(f"{roles[p][:6]}:{p}" for p in columns))
    previous: Dict[int, float] = {}
    window_start = 0.0
    window: Dict[int, float] = {}
    for at, snapshot in samples:
        for pid in columns:
            if pid in snapshot:
                window[pid] = window.get(pid, 0.0) + snapshot[pid] - previous.get(pid, 0.0)
                previous[pid] = snapshot[pid]
        if at >= window_start + step:
            span = at - window_start
            lines.append(f"  {window_start:6.0f}  " + "  ".join(
                f"{window.get(pid, 0.0) / span:>{len(roles[pid][:6]) + len(str(pid)) + 1}.2f}"
                for pid in columns))
            window_start, window = at, {}
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--step", type=float, default=10.0, help="Seconds per timeline row.")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="The command to run, after --.")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if not os.path.isdir("/proc/self"):
        print("cpu_timeline: needs Linux's /proc")
        return 0
    code, wall, names, samples, memory = record(command)
    print(report(wall, names, samples, args.step))
    print("\n".join(memory_report(names, samples, memory, args.step)))
    return code


if __name__ == "__main__":
    sys.exit(main())
