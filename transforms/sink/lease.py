"""The lease on an output folder: one run at a time writes there.

A run takes the lease (`Lease`: an exclusive create of ``_runs/_lease``),
renews it every third of its time to live, and gives it back; a lease not
renewed in time (its run died) is taken over by the next run. `check_lease`
refuses a commit whose run lost its lease.
"""
from __future__ import annotations

import logging
import json
import os
import socket
import threading
import time
import uuid
from typing import Optional

from transforms.core.paths import join_path
from transforms.sink.conditional_writes import (LeaseHeld, delete_if_unchanged,
                                                read_with_generation, replace_if_unchanged,
                                                create_exclusive)

_log = logging.getLogger(__name__)


LEASE_TTL_S = 600.0


class LeaseLost(RuntimeError):
    """The run's lease was taken over (it expired): the run must not commit."""


def lease_path(output: str) -> str:
    return join_path(output, "_runs", "_lease")


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
    data, _ = read_with_generation(lease_path(output))
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
                _, self._generation = read_with_generation(path)
                return None
            data, generation = read_with_generation(path)
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
            delete_if_unchanged(path, generation)
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
        ok = replace_if_unchanged(lease_path(self.output), self._record(), self._generation)
        if ok:
            _, self._generation = read_with_generation(lease_path(self.output))
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
        data, generation = read_with_generation(lease_path(self.output))
        holder = _parse_lease(data)
        if holder is not None and holder.get("token") == self.token:
            delete_if_unchanged(lease_path(self.output), generation)


def check_lease(output: str, token: Optional[str]) -> None:
    """Raises LeaseLost unless the lease still holds `token` (None: no lease was taken)."""
    if token is None:
        return
    holder = read_lease(output)
    if holder is None or holder.get("token") != token:
        raise LeaseLost(f"the lease on {output} is no longer this run's (now: "
                        f"{describe_holder(holder) if holder else 'none'}): its commit "
                        "would interleave with another run's; rerun it")


__all__ = ["Lease", "LeaseLost", "LEASE_TTL_S", "check_lease", "read_lease", "lease_path",
           "holder_is_dead", "describe_holder"]
