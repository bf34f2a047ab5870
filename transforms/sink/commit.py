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
import socket
import threading
import time
import uuid
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from apache_beam.io.filesystems import FileSystems

from transforms.sink.write import join_path, json_text, remove_tree, temp_dir

_log = logging.getLogger(__name__)

LEASE_TTL_S = 600.0
INTENT_VERSION = 1
# Set by tests (or NEWSBEAM_COMMIT_FAULT_AT=N, which kills the process like
# kill -9 just before step N) to stop a commit between two of its steps.
FAULT_HOOK: Optional[Callable[[int, str], None]] = None
_ORDER_NAME = re.compile(r"^(\d{10})\.(.+)$")


class LeaseHeld(RuntimeError):
    """Another run holds the output's lease; the message names it."""


class LeaseLost(RuntimeError):
    """The run's lease was taken over (it expired): the run must not commit."""


class CommitError(RuntimeError):
    """An intent cannot be carried out (a file it moves is gone from both ends)."""


def is_gcs(path: str) -> bool:
    return path.startswith("gs://")


def lease_path(output: str) -> str:
    return join_path(output, "_runs", "_lease")


def intent_path(output: str, run_id: str) -> str:
    return join_path(output, "_runs", "_intents", f"{run_id}.json")


def order_folder(output: str) -> str:
    return join_path(output, "_runs", "_order")


STREAM_MARK = "_stream"


# --- exclusive and conditional writes: what Beam's FileSystems cannot do ---

_CLIENTS: Dict[Optional[str], object] = {}


def _gcs_blob(path: str):
    # One client per endpoint: a client keeps the emulator it was made for.
    endpoint = os.environ.get("STORAGE_EMULATOR_HOST")
    if endpoint not in _CLIENTS:
        from google.cloud import storage
        _CLIENTS[endpoint] = storage.Client()
    bucket, _, name = path[len("gs://"):].partition("/")
    return _CLIENTS[endpoint].bucket(bucket).blob(name)


def _read_with_generation(path: str) -> Tuple[Optional[bytes], Optional[object]]:
    """The file's bytes and what identifies this version of it (None, None: no file)."""
    if is_gcs(path):
        from google.api_core.exceptions import NotFound, PreconditionFailed
        blob = _gcs_blob(path)
        for _ in range(5):
            try:
                blob.reload()
                return blob.download_as_bytes(if_generation_match=blob.generation), \
                    blob.generation
            except NotFound:
                return None, None
            except PreconditionFailed:
                continue  # rewritten between the two calls
        raise LeaseHeld(f"{path} keeps changing")
    try:
        with open(path, "rb") as handle:
            return handle.read(), os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return None, None


def create_exclusive(path: str, data: bytes) -> bool:
    """Creates `path` holding `data` whole, unless it exists; whether it was created."""
    if is_gcs(path):
        from google.api_core.exceptions import PreconditionFailed
        try:
            _gcs_blob(path).upload_from_string(data, if_generation_match=0)
            return True
        except PreconditionFailed:
            return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = f"{path}.{uuid.uuid4().hex}"
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temp, path)  # atomic, fails if the name exists: the file appears whole
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temp)


def _replace_if_unchanged(path: str, data: bytes, generation) -> bool:
    """Rewrites `path` if it is still the version `generation`; whether it was."""
    if is_gcs(path):
        from google.api_core.exceptions import NotFound, PreconditionFailed
        try:
            _gcs_blob(path).upload_from_string(data, if_generation_match=generation)
            return True
        except (PreconditionFailed, NotFound):
            return False
    current, inode = _read_with_generation(path)
    if current is None or inode != generation:
        return False
    temp = f"{path}.{uuid.uuid4().hex}"
    with open(temp, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)
    return True


def _delete_if_unchanged(path: str, generation) -> bool:
    """Deletes `path` if it is still the version `generation` (taking over a dead lease)."""
    if is_gcs(path):
        from google.api_core.exceptions import NotFound, PreconditionFailed
        try:
            _gcs_blob(path).delete(if_generation_match=generation)
            return True
        except (PreconditionFailed, NotFound):
            return False
    aside = f"{path}.expired-{uuid.uuid4().hex}"
    try:
        os.rename(path, aside)  # one taker wins the rename
    except FileNotFoundError:
        return False
    if os.stat(aside).st_ino == generation:
        os.unlink(aside)
        return True
    try:  # moved a fresh lease by mistake: put it back unless a newer one is there
        os.link(aside, path)
    except FileExistsError:
        pass
    os.unlink(aside)
    return False


# --- the lease ---

def _alive_here(holder: dict) -> bool:
    """Whether the holder's process (on this machine) still runs."""
    try:
        os.kill(int(holder["pid"]), 0)
        return True
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, TypeError, ValueError):
        return True


def holder_is_dead(holder: Optional[dict], now: float) -> bool:
    """A lease may be taken over when it expired, or its process on this machine is gone."""
    if holder is None:
        return True  # unreadable: written by no newsbeam, or cut short
    if float(holder.get("expires_at", 0)) <= now:
        return True
    return holder.get("host") == socket.gethostname() and not _alive_here(holder)


def describe_holder(holder: Optional[dict]) -> str:
    if holder is None:
        return "an unreadable lease"
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(holder["expires_at"])))
    return (f"run {holder['run_id']} (pid {holder['pid']} on {holder['host']}, "
            f"lease expires {expires} unless renewed)")


def _parse_lease(data: Optional[bytes]) -> Optional[dict]:
    try:
        holder = json.loads(data.decode("utf-8"))
        return holder if {"run_id", "token", "expires_at"} <= set(holder) else None
    except (AttributeError, ValueError, TypeError):
        return None


def read_lease(output: str) -> Optional[dict]:
    """The lease's holder, or None when no run holds the output."""
    data, _ = _read_with_generation(lease_path(output))
    return None if data is None else (_parse_lease(data) or {"run_id": "?", "token": "?",
                                                             "expires_at": 0, "pid": 0,
                                                             "host": "?"})


class Lease:
    """The exclusive right of one run to commit into an output.

    `acquire` creates ``_runs/_lease``; a background thread renews it every
    third of `ttl_s` while the run goes on; `release` removes it. A lease that
    is not renewed (its run died) is taken over after `ttl_s`, or at once by a
    run on the same machine when the holder's process is gone.
    """

    def __init__(self, output: str, run_id: str, ttl_s: float = LEASE_TTL_S,
                 token: Optional[str] = None):
        self.output = output
        self.run_id = run_id
        self.ttl_s = ttl_s
        self.token = token or uuid.uuid4().hex
        self._generation = None
        self._stop = threading.Event()
        self._renewer: Optional[threading.Thread] = None

    def _record(self) -> bytes:
        now = time.time()
        return json.dumps({"run_id": self.run_id, "token": self.token, "pid": os.getpid(),
                           "host": socket.gethostname(), "taken_at": now,
                           "expires_at": now + self.ttl_s}).encode("utf-8")

    def try_acquire(self) -> Optional[dict]:
        """Takes the lease; returns None when taken, else the holder that keeps it."""
        path = lease_path(self.output)
        for _ in range(5):
            if create_exclusive(path, self._record()):
                _, self._generation = _read_with_generation(path)
                return None
            data, generation = _read_with_generation(path)
            if data is None:
                continue  # released meanwhile
            holder = _parse_lease(data)
            if holder is not None and holder.get("token") == self.token:
                self._generation = generation
                return None  # ours already (a slice of a sliced run)
            if not holder_is_dead(holder, time.time()):
                return holder
            _log.warning("taking over the lease of %s: it expired or its process is gone",
                         describe_holder(holder))
            _delete_if_unchanged(path, generation)
        return read_lease(self.output)

    def acquire(self, wait_s: float = 0.0) -> "Lease":
        """Takes the lease, waiting up to `wait_s` for its holder to finish.

        Raises:
          LeaseHeld: another run holds it (after `wait_s`).
        """
        deadline = time.monotonic() + wait_s
        while True:
            holder = self.try_acquire()
            if holder is None:
                break
            if time.monotonic() >= deadline:
                raise LeaseHeld(
                    f"{self.output} is being written by {describe_holder(holder)}: runs "
                    "into one output go one at a time; wait with --wait_for_lease SECONDS, "
                    f"or remove {lease_path(self.output)} if that run is known to be dead")
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        self._renewer = threading.Thread(target=self._renew_loop, daemon=True,
                                         name="newsbeam-lease")
        self._renewer.start()
        return self

    def renew(self) -> bool:
        ok = _replace_if_unchanged(lease_path(self.output), self._record(), self._generation)
        if ok:
            _, self._generation = _read_with_generation(lease_path(self.output))
        return ok

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                if not self.renew():
                    _log.error("run %s lost its lease on %s", self.run_id, self.output)
                    return
            except Exception as error:  # a renewal that fails is tried again
                _log.warning("could not renew the lease: %s", error)

    def stop_renewing(self) -> None:
        self._stop.set()

    def release(self) -> None:
        self.stop_renewing()
        data, generation = _read_with_generation(lease_path(self.output))
        holder = _parse_lease(data)
        if holder is not None and holder.get("token") == self.token:
            _delete_if_unchanged(lease_path(self.output), generation)


def check_lease(output: str, token: Optional[str]) -> None:
    """Raises LeaseLost unless the lease still holds `token` (None: no lease was taken)."""
    if token is None:
        return
    holder = read_lease(output)
    if holder is None or holder.get("token") != token:
        raise LeaseLost(f"the lease on {output} is no longer this run's (now: "
                        f"{describe_holder(holder) if holder else 'none'}): its commit "
                        "would interleave with another run's; rerun it")


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


def _dumps(payload) -> bytes:
    return json_text(payload).encode("utf-8")


def _ensure_parent(path: str) -> None:
    if not is_gcs(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)


def _write_whole(path: str, data: bytes) -> None:
    _ensure_parent(path)
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
    _ensure_parent(target)
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
    _write_whole(full(plan["manifest"]["path"]), _dumps(plan["manifest"]["content"]))
    _delete(intent_path(output, run_id), step)
    step(f"remove {temp_dir(output, run_id)}")
    remove_tree(temp_dir(output, run_id))


def commit(output: str, plan: dict) -> None:
    """Writes the intent, then carries it out (step 0 is the intent's write)."""
    path = intent_path(output, plan["run_id"])
    step = _Steps()
    step(f"write intent {path}")
    _write_whole(path, _dumps(plan))
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
