"""Local multi-process runs stop at once when an SDK worker process dies.

With ``--direct_num_workers N --direct_running_mode multi_processing`` the
FnApiRunner starts N SDK worker processes. When one dies (killed, out of
memory), Beam 2.77 raises in the thread that watches it and, depending on
what the runner was waiting for, either fails the job or waits forever for
an answer that cannot come (measured here: a worker killed between bundles
left the run hanging). `stop_when_a_worker_dies` turns that thread's error
into an exit of the whole process with `EXIT_WORKER_DIED` and a message,
after ending the process's other children (the other workers would wait
for their runner for ever).
Nothing of the run has been committed at that point (files are committed
by the last step, `CommitRun`), so the same ``--run_id`` can simply be run
again. Used by the command line only: a library caller keeps its process.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Dict, List

EXIT_WORKER_DIED = 3
_WORKER_DIED = "Worker subprocess exited with return code"
_installed = False


def _is_dead_worker(args) -> bool:
    return args.exc_type is RuntimeError and _WORKER_DIED in str(args.exc_value)


def descendants(pid: int) -> List[int]:
    """The children of process `pid`, theirs, and so on (Linux /proc; [] elsewhere)."""
    children: Dict[int, List[int]] = {}
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_children() -> None:
    """The other SDK workers would wait for their runner for ever: end them too."""
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def stop_when_a_worker_dies() -> None:
    """Makes a dead SDK worker end this process (once installed, for good)."""
    global _installed
    if _installed:
        return
    previous = threading.excepthook

    def hook(args) -> None:
        previous(args)
        if _is_dead_worker(args):
            sys.stderr.write(
                f"newsbeam: an SDK worker process died ({args.exc_value}); the run is "
                "stopped and nothing of it was committed: run the same --run_id again\n")
            sys.stderr.flush()
            stop_children()
            os._exit(EXIT_WORKER_DIED)  # the main thread may be waiting forever

    threading.excepthook = hook
    _installed = True


__all__ = ["stop_when_a_worker_dies", "descendants", "EXIT_WORKER_DIED"]
