"""The commit protocol of a batch run: lease, intent, idempotent moves, manifest last.

In five lines:

1. A run takes the lease ``_runs/_lease`` on its output, created exclusively
   (a hard link locally, ``if_generation_match=0`` on gs://); it names the run
   and expires unless renewed, so a dead run's lease can be taken over.
2. Holding it, the run first rolls forward any intent a dead run left and
   removes dead ``_tmp/`` folders; then it runs, and its commit step reads
   every piece of state it needs (stale files, cursor, feed state, commit
   order) before it writes anything.
3. It writes the intent ``_runs/_intents/<run>.json``: the files to delete,
   the renames, the state files to write and the manifest, whole.
4. It carries the intent out with idempotent steps (a delete of a missing
   file, a rename whose source is gone and whose target is there, a rewrite
   of a state file are all no-ops), writes the manifest last, then removes
   the intent and ``_tmp/<run>/``.
5. Whoever takes the lease next finds an intent only if a run died after
   step 3, and finishes it from the intent alone.

Reruns are keyed on the order of commits: each run's first commit leaves
``_runs/_order/<seq>.<run>`` (an empty file, named in the intent), and a
rerun of a run ignores index entries of the runs committed after it. A
retry with a new id after a crash sees the crashed run's rows when its
intent was written (they are rolled forward first, and the retry's inputs
become duplicates of them), and nothing of it otherwise.

gs:// has no rename: a rename is a copy then a delete of the source. A
crash between the two leaves both; rolling forward copies again (same
bytes) and deletes. See docs/reliability.md for the crash windows and costs.
"""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from apache_beam.io.filesystems import FileSystems

from transforms.core.paths import (ensure_parent, join_path, remove_tree, temp_dir,
                                   write_json)
from transforms.sink.conditional_writes import LeaseHeld, is_gcs
from transforms.sink.lease import (LEASE_TTL_S, Lease, LeaseLost, check_lease, lease_path,
                                   read_lease)


_log = logging.getLogger(__name__)
INTENT_VERSION = 1
# Set by tests (or NEWSBEAM_COMMIT_FAULT_AT=N, which kills the process like
# kill -9 just before step N) to stop a commit between two of its steps.
FAULT_HOOK: Optional[Callable[[int, str], None]] = None
_ORDER_NAME = re.compile(r"^(\d{10})\.(.+)$")


class CommitError(RuntimeError):
    """An intent cannot be carried out (a file it moves is gone from both ends)."""


def intent_path(output: str, run_id: str) -> str:
    return join_path(output, "_runs", "_intents", f"{run_id}.json")


def order_folder(output: str) -> str:
    return join_path(output, "_runs", "_order")


STREAM_MARK = "_stream"


# --- the commit order ---

def commit_order(output: str) -> List[str]:
    """Run ids in the order of their first commit."""
    found = FileSystems.match([join_path(order_folder(output), "*")])[0].metadata_list
    named = []
    for metadata in found:
        match = _ORDER_NAME.match(metadata.path.rstrip("/").rsplit("/", 1)[-1])
        if match:
            named.append((int(match.group(1)), match.group(2)))
    return [run for _, run in sorted(named)]


def runs_committed_after(output: str, run_id: str) -> frozenset:
    """The runs whose first commit came after `run_id`'s (none when it never committed).

    A rerun ignores their index entries: they may point at its own articles.
    """
    order = commit_order(output)
    if run_id not in order:
        return frozenset()
    return frozenset(order[order.index(run_id) + 1:])


def order_entry(output: str, run_id: str, order: List[str]) -> Optional[str]:
    """The order file a run's first commit leaves (None: it has one already)."""
    if run_id in order:
        return None
    return join_path(order_folder(output), f"{len(order):010d}.{run_id}")


# --- plans and intents ---

def _relative(output: str, path: str) -> str:
    prefix = output.rstrip("/") + "/"
    if not path.startswith(prefix):
        raise ValueError(f"{path} is not under the output {output}")
    return path[len(prefix):]


def make_plan(run_id: str, output: str, deletes: Iterable[str],
              renames: Iterable[Tuple[str, str]], writes: Dict[str, Optional[str]],
              manifest: Tuple[str, dict]) -> dict:
    """The intent: everything the commit will do, decided before it writes anything.

    Paths are kept relative to the output, so an output folder that was
    moved or copied after a crash is finished where it now is.
    """
    renames = [(_relative(output, a), _relative(output, b)) for a, b in renames]
    targets = {target for _, target in renames}
    return {"version": INTENT_VERSION, "run_id": run_id,
            # A file that a rename replaces is not deleted: rolling forward
            # after the rename would delete the new file.
            "deletes": sorted({_relative(output, p) for p in deletes} - targets),
            "renames": [list(pair) for pair in renames],
            "writes": {_relative(output, p): text for p, text in sorted(writes.items())},
            "manifest": {"path": _relative(output, manifest[0]), "content": manifest[1]}}


def _write_whole(path: str, data: bytes) -> None:
    ensure_parent(path)
    with FileSystems.create(path) as handle:
        handle.write(data)


class _Steps:
    """Numbers the commit's filesystem operations so a fault can stop it between two."""

    def __init__(self):
        self.count = 0
        env = os.environ.get("NEWSBEAM_COMMIT_FAULT_AT")
        self._kill_at = int(env) if env else None

    def __call__(self, what: str) -> None:
        if self._kill_at is not None and self.count == self._kill_at:
            import signal
            os.kill(os.getpid(), signal.SIGKILL)
        if FAULT_HOOK is not None:
            FAULT_HOOK(self.count, what)
        self.count += 1


def _move(source: str, target: str, step: _Steps, rolling_forward: bool) -> None:
    """One rename; on gs:// a copy then a delete (two steps)."""
    if rolling_forward and not FileSystems.exists(source):
        if FileSystems.exists(target):
            return  # done before the crash
        raise CommitError(f"cannot finish the commit: {source} is gone and {target} "
                          "was never written")
    ensure_parent(target)
    if is_gcs(source):
        step(f"copy {source} {target}")
        FileSystems.copy([source], [target])
        step(f"delete {source}")
        FileSystems.delete([source])
    else:
        step(f"rename {source} {target}")
        os.replace(source, target)


def _delete(path: str, step: _Steps) -> None:
    step(f"delete {path}")
    try:
        FileSystems.delete([path])
    except Exception:
        if FileSystems.exists(path):
            raise


def _write_state(path: str, text: str, run_id: str, step: _Steps) -> None:
    """A state file, whole: a temporary file beside it, moved over it."""
    temp = f"{path}.tmp-{run_id}"
    step(f"write {temp}")
    _write_whole(temp, text.encode("utf-8"))
    _move(temp, path, step, rolling_forward=False)


def execute(output: str, plan: dict, rolling_forward: bool = False,
            step: Optional[_Steps] = None) -> None:
    """Carries out an intent: deletes, renames, state files, manifest; then tidies up.

    Every step may be done again: a rerun of this function after a crash at
    any point ends in the same files.
    """
    step = step or _Steps()
    run_id = plan["run_id"]

    def full(relative: str) -> str:
        return join_path(output, *relative.split("/"))

    for path in plan["deletes"]:
        _delete(full(path), step)
    for source, target in plan["renames"]:
        _move(full(source), full(target), step, rolling_forward)
    for path, text in plan["writes"].items():
        if text is None:
            step(f"create {full(path)}")
            _write_whole(full(path), b"")
        else:
            _write_state(full(path), text, run_id, step)
    step(f"write manifest {full(plan['manifest']['path'])}")
    write_json(full(plan["manifest"]["path"]), plan["manifest"]["content"])
    _delete(intent_path(output, run_id), step)
    step(f"remove {temp_dir(output, run_id)}")
    remove_tree(temp_dir(output, run_id))


def commit(output: str, plan: dict) -> None:
    """Writes the intent, then carries it out (step 0 is the intent's write)."""
    path = intent_path(output, plan["run_id"])
    step = _Steps()
    step(f"write intent {path}")
    write_json(path, plan)
    execute(output, plan, step=step)


def pending_intents(output: str) -> List[str]:
    folder = join_path(output, "_runs", "_intents")
    found = FileSystems.match([join_path(folder, "*.json")])[0].metadata_list
    return sorted(m.path for m in found)


def _temp_folders(output: str) -> Dict[str, List[str]]:
    """Run id -> the files under ``_tmp/<run id>/``."""
    root = join_path(output, "_tmp")
    folders: Dict[str, List[str]] = {}
    if is_gcs(output):
        for metadata in FileSystems.match([join_path(root, "**")])[0].metadata_list:
            rest = metadata.path[len(root.rstrip("/")) + 1:]
            folders.setdefault(rest.split("/", 1)[0], []).append(metadata.path)
    elif os.path.isdir(root):
        for name in os.listdir(root):
            folders[name] = [os.path.join(dirpath, f) for dirpath, _, files
                             in os.walk(os.path.join(root, name)) for f in files]
    return folders


def recover(output: str) -> List[str]:
    """Finishes the intents of dead runs and removes dead ``_tmp/`` folders.

    Called by the lease's holder before it reads any state, so what a dead
    run committed is part of what this run dedups against. Returns what was
    done, one line per action, for the log. Folders of streaming runs (which
    take no lease, and mark their folder) are left alone.
    """
    done = []
    for path in pending_intents(output):
        with FileSystems.open(path) as handle:
            plan = json.loads(handle.read().decode("utf-8"))
        execute(output, plan, rolling_forward=True)
        done.append(f"finished the commit of run {plan['run_id']}, which had stopped half-way")
    for run_id, files in sorted(_temp_folders(output).items()):
        if any(f.rstrip("/").endswith("/" + STREAM_MARK) for f in files):
            continue
        remove_tree(temp_dir(output, run_id))
        done.append(f"removed {temp_dir(output, run_id)}: temporary files of a run "
                    "that never committed")
    return done


def mark_stream_temp(output: str, run_id: str) -> None:
    """Marks a streaming run's ``_tmp/<run>/`` as live: batch runs do not remove it."""
    _write_whole(join_path(temp_dir(output, run_id), STREAM_MARK), b"")


__all__ = ["Lease", "LeaseHeld", "LeaseLost", "CommitError", "check_lease", "commit",
           "execute", "make_plan", "recover", "commit_order", "runs_committed_after",
           "order_entry", "read_lease", "lease_path", "intent_path", "pending_intents",
           "mark_stream_temp", "LEASE_TTL_S"]
