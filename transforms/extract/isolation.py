"""Running one function per document in a child process, bounded in time and memory.

trafilatura's own timeout works only in its command-line tool, and a
pathological page (deep nesting, a 100 MB body) can keep lxml busy for
minutes or grow a worker without bound. `IsolatedFunction` keeps one child
process per DoFn instance, sends it one document at a time over a pipe and
waits at most `timeout_s`; a child that overruns is killed and replaced, and
the document is reported as timed out. The child's address space is capped
with RLIMIT_AS, so a memory blow-up kills the child, not the worker.

The round trip costs well under a millisecond against tens of milliseconds of
extraction; `benchmarks/bench_ingest.py` measures the whole path.
"""
from __future__ import annotations

import importlib
import os
import resource
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any, Optional, Tuple


STARTUP_TIMEOUT_S = 120.0


class CallTimedOut(RuntimeError):
    """The function did not return within the time limit; the child was killed."""


class CallCrashed(RuntimeError):
    """The child died during the call (memory limit, segfault)."""


class CallFailed(RuntimeError):
    """The function raised: `error_type` is the exception's class name."""

    def __init__(self, error_type: str, message: str):
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


def _serve(conn: Connection, target: str, memory_limit_bytes: Optional[int]) -> None:
    """The child's loop: call the target for each request until the pipe closes."""
    if memory_limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    module_name, function_name = target.split(":")
    module = importlib.import_module(module_name)
    function = getattr(module, function_name)
    if hasattr(module, "warm_up"):  # heavy imports, before the clock starts
        module.warm_up()
    conn.send(("ready",))
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", function(*args)))
        except MemoryError:
            conn.send(("error", "MemoryError", "the document exceeded the memory limit"))
        except Exception as error:  # reported to the parent as data, never lost
            conn.send(("error", type(error).__name__, str(error)[:500]))


class IsolatedFunction:
    """Calls `module:function` in a child process, one call at a time.

    Args:
      target: the function as ``"package.module:function"``; it must be
        importable in a fresh interpreter, and its arguments and result
        picklable.
      timeout_s: the most one call may take.
      memory_limit_mb: the child's address-space cap, or 0 for none.
    """

    def __init__(self, target: str, timeout_s: float, memory_limit_mb: int = 0):
        self._target = target
        self._timeout_s = timeout_s
        self._memory_limit = memory_limit_mb * 1024 * 1024 if memory_limit_mb else None
        self._process: Optional[subprocess.Popen] = None
        self._conn: Optional[Connection] = None

    def _start(self) -> None:
        # A fresh interpreter (`python -m transforms.extract.isolation`), not a fork:
        # the parent is a threaded Beam worker, and forking a threaded process
        # can deadlock the child on a held lock. Not multiprocessing's spawn
        # either: it re-runs the parent's main script, which may be a user's
        # pipeline script.
        parent_end, child_end = socket.socketpair()
        # Blocking, whatever socket.setdefaulttimeout() says: Beam's GCS client
        # sets a default timeout, which makes new sockets non-blocking, and the
        # child's first read then fails with EAGAIN (every page a crash on gs://).
        parent_end.setblocking(True)
        child_end.setblocking(True)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "transforms.extract.isolation", self._target,
             str(child_end.fileno()), str(self._memory_limit or 0)],
            pass_fds=[child_end.fileno()], env=env, stdin=subprocess.DEVNULL)
        child_end.close()
        self._conn = Connection(parent_end.detach())
        # Start-up (a fresh interpreter importing the target) is not charged
        # to the first document.
        try:
            ready = self._conn.poll(STARTUP_TIMEOUT_S) and self._conn.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            exitcode = self._process.poll()
            self.close()
            raise CallCrashed(f"the isolated process for {self._target} did not start "
                              f"(exit code {exitcode})")

    def call(self, *args: Any) -> Any:
        """The function's result for `args`.

        Raises:
          CallTimedOut, CallCrashed, CallFailed: see their docstrings.
        """
        if self._process is None or self._process.poll() is not None:
            self._start()
        assert self._conn is not None
        try:
            self._conn.send(args)
            if not self._conn.poll(self._timeout_s):
                self.close()
                raise CallTimedOut(f"no result within {self._timeout_s:g} s")
            status, *payload = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError) as error:
            exitcode = self._process.poll() if self._process else None
            self.close()
            raise CallCrashed(f"the extraction process died (exit code {exitcode}): "
                              f"{type(error).__name__}") from None
        if status == "ok":
            return payload[0]
        error_type, message = payload
        raise CallFailed(error_type, message)

    def close(self) -> None:
        """Stops the child; the next call starts a new one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._process = None

    def __enter__(self) -> "IsolatedFunction":
        return self

    def __exit__(self, *exc_info: Tuple[Any, ...]) -> None:
        self.close()


if __name__ == "__main__":
    # python -m transforms.extract.isolation MODULE:FUNCTION FD MEMORY_LIMIT_BYTES
    _serve(Connection(int(sys.argv[2])), sys.argv[1], int(sys.argv[3]) or None)
