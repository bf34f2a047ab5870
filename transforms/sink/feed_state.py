"""Feed state between runs: ``_state/feeds.json`` under the output.

Per feed it keeps the validators of the last body read (ETag,
Last-Modified, a hash of the body), when and how it was last polled, the
keys of the entries that are settled (ingested, or failed for good) and
the failed attempts of the others. A run reads it before polling (conditional
requests, skipping entries already ingested) and `commit_feed_state` writes
the new one in the run's commit step, only once the run has succeeded:
written to a temporary file beside it, then renamed over it, through Beam's
`FileSystems` so that ``gs://`` outputs work the same. A run that fails
leaves the old state, so it can simply be run again.

A rerun of a run id replaces that run's files, so it must fetch again what
its earlier attempt ingested: the first commit of a run id keeps the state
as it was before it in ``_state/feeds-before/<run_id>.json``, and a rerun
polls from that (the last `KEEP_SNAPSHOTS` runs can be rerun so; rerunning
an older run after later ones fetches again what those later runs settled).

Entries that failed for a reason that may pass (a timeout, a 5xx, a 429)
are tried again in later runs, up to `MAX_ENTRY_ATTEMPTS` times; while a
feed has such entries its validators are not kept, so the next run reads
its body again instead of getting a 304.
"""
from __future__ import annotations

import json
import logging
import uuid
from typing import Dict, Iterable, List, Optional

from apache_beam.io.filesystems import FileSystems

from schemas.records import FeedState, FeedStateUpdate
from transforms.extract.dates import from_micros, parse_timestamp
from transforms.core.paths import join_path, json_text, write_json

_log = logging.getLogger(__name__)

STATE_VERSION = 1
MAX_ENTRY_ATTEMPTS = 3
# Keys of settled entries that are no longer in their feed's body are kept
# up to this many per feed (the most recent ones), in case they come back.
MAX_ABSENT_KEYS = 2000
# Snapshots of the state before a run, for reruns of the latest runs.
KEEP_SNAPSHOTS = 10


class StateError(RuntimeError):
    """The state file exists but cannot be read: move it aside to start afresh."""


def state_path(output: str) -> str:
    return join_path(output, "_state", "feeds.json")


def _state_to_json(state: FeedState) -> dict:
    return {"etag": state.etag, "last_modified": state.last_modified,
            "body_hash": state.body_hash,
            "last_poll": from_micros(state.last_poll).isoformat() if state.last_poll else None,
            "last_status": state.last_status, "seen": list(state.seen),
            "failures": dict(sorted(state.failures.items())),
            "last_success": (from_micros(state.last_success).isoformat()
                             if state.last_success else None),
            "consecutive_failures": state.consecutive_failures,
            "poll_counts": dict(sorted(state.poll_counts.items())),
            "validator_polls": state.validator_polls,
            "validators_unreliable": state.validators_unreliable}


def _state_from_json(url: str, data: dict) -> FeedState:
    failures = data.get("failures") or {}
    poll_counts = data.get("poll_counts") or {}  # absent from states written before the run report
    return FeedState(url=url, etag=data.get("etag"), last_modified=data.get("last_modified"),
                     body_hash=data.get("body_hash"),
                     last_poll=parse_timestamp(data.get("last_poll")),
                     last_status=data.get("last_status"),
                     seen=[str(k) for k in data.get("seen") or []],
                     failures={str(k): int(v) for k, v in failures.items()},
                     last_success=parse_timestamp(data.get("last_success")),
                     consecutive_failures=int(data.get("consecutive_failures") or 0),
                     poll_counts={str(k): int(v) for k, v in poll_counts.items()},
                     # Both absent from states written before the validator check.
                     validator_polls=int(data.get("validator_polls") or 0),
                     validators_unreliable=data.get("validators_unreliable") or None)


ANSWERED = frozenset({"fetched", "not_modified", "unchanged"})


def record_poll(state: FeedState, poll: FeedStateUpdate) -> FeedState:
    """`state` with one poll counted: last success, failures in a row, polls by status.

    A poll is conditional when the state it started from held an ETag or a
    Last-Modified, unless it was a validator check (sent without them: the
    check leaves `validator_polls` at 0); the report's conditional-request
    hit rate is the share of those answered 304.
    """
    counts = dict(state.poll_counts)
    counts[poll.status] = counts.get(poll.status, 0) + 1
    if (state.etag or state.last_modified) and poll.validator_polls != 0:
        counts["conditional"] = counts.get("conditional", 0) + 1
    if poll.status in ANSWERED:
        return state._replace(last_success=poll.polled_at, consecutive_failures=0,
                              poll_counts=counts)
    return state._replace(consecutive_failures=state.consecutive_failures + 1,
                          poll_counts=counts)


def snapshot_path(output: str, run_id: str) -> str:
    """The state as it was before run `run_id` first committed (see `commit_feed_state`)."""
    return join_path(output, "_state", "feeds-before", f"{run_id}.json")


def load_states(output: str, run_id: Optional[str] = None) -> Dict[str, FeedState]:
    """The feed state of earlier runs, by feed URL ({} before the first run).

    For a rerun of `run_id`, the state as it was before that run first
    committed: the rerun replaces the run's files, so it must fetch again the
    entries the earlier attempt ingested, not skip them as settled.

    Raises:
      StateError: the file is there but is not a state file newsbeam can read.
    """
    path = state_path(output)
    if run_id is not None and FileSystems.exists(snapshot_path(output, run_id)):
        path = snapshot_path(output, run_id)
    if not FileSystems.exists(path):
        return {}
    try:
        with FileSystems.open(path) as handle:
            document = json.loads(handle.read().decode("utf-8"))
        if document.get("version") != STATE_VERSION:
            raise ValueError(f"state version {document.get('version')!r}, "
                             f"expected {STATE_VERSION}")
        return {url: _state_from_json(url, data) for url, data in document["feeds"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise StateError(f"cannot read the feed state {path}: {error}; move it aside to "
                         "poll every feed afresh") from None


def merge_states(old: Dict[str, FeedState], updates: Iterable[FeedStateUpdate],
                 max_attempts: int = MAX_ENTRY_ATTEMPTS) -> Dict[str, FeedState]:
    """The state after a run: `old` with this run's polls and entry outcomes.

    A URL polled several times (a stream's window holds several ticks) has
    its polls applied in the order they were made, whatever the order of
    `updates`: a 304 after the 200 keeps that 200's ETag."""
    polls: Dict[str, List[FeedStateUpdate]] = {}
    outcomes: Dict[str, List[FeedStateUpdate]] = {}
    for update in updates:
        if update.kind == "poll":
            polls.setdefault(update.feed_url, []).append(update)
        else:
            outcomes.setdefault(update.feed_url, []).append(update)
    merged = dict(old)
    for url in set(polls) | set(outcomes):
        state = old.get(url) or FeedState(url=url)
        seen = list(state.seen)
        seen_set = set(seen)
        failures = dict(state.failures)
        pending = False
        for outcome in sorted(outcomes.get(url, []), key=lambda u: u.entry_key or ""):
            key = outcome.entry_key or ""
            if outcome.status == "retry":
                failures[key] = failures.get(key, 0) + 1
                if failures[key] < max_attempts:
                    pending = True
                    continue
            failures.pop(key, None)
            if key not in seen_set:
                seen.append(key)
                seen_set.add(key)
        for poll in sorted(polls.get(url, []), key=lambda u: u.polled_at or 0):
            state = record_poll(state, poll)
            state = state._replace(last_poll=poll.polled_at, last_status=poll.status)
            if poll.validator_polls is not None:  # sitemap polls do not track it
                state = state._replace(validator_polls=poll.validator_polls,
                                       validators_unreliable=poll.validators_unreliable)
            if poll.status == "fetched":
                state = state._replace(etag=poll.etag, last_modified=poll.last_modified,
                                       body_hash=poll.body_hash)
                present = set(poll.present)
                absent = [k for k in seen if k not in present]
                keep_absent = set(absent[-MAX_ABSENT_KEYS:])
                seen = [k for k in seen if k in present or k in keep_absent]
                failures = {k: n for k, n in failures.items() if k in present}
        if pending:  # read the body again next run, to retry what failed
            state = state._replace(etag=None, last_modified=None, body_hash=None)
        merged[url] = state._replace(seen=seen, failures=failures)
    return merged


def states_payload(states: Dict[str, FeedState], run_id: str) -> dict:
    return {"version": STATE_VERSION, "run_id": run_id,
            "feeds": {url: _state_to_json(states[url]) for url in sorted(states)}}


def states_text(states: Dict[str, FeedState], run_id: str) -> str:
    return json_text(states_payload(states, run_id))


def write_states(output: str, states: Dict[str, FeedState], run_id: str) -> str:
    """Writes the whole state atomically: a temporary file, renamed over the old one."""
    path = state_path(output)
    temp = f"{path}.tmp-{run_id}-{uuid.uuid4().hex[:8]}"
    write_json(temp, states_payload(states, run_id))
    try:
        FileSystems.rename([temp], [path])
    except Exception:
        if FileSystems.exists(path):  # some file systems refuse to rename over a file
            FileSystems.delete([path])
            FileSystems.rename([temp], [path])
        else:
            raise
    return path


def plan_snapshot(output: str, run_id: str, states: Dict[str, FeedState],
                  keep: int = KEEP_SNAPSHOTS):
    """The snapshot to write before `run_id`'s first commit, and the old ones to delete.

    Returns ``(writes, deletes)``: a rerun keeps its first attempt's snapshot
    (nothing to write); the `keep` most recent snapshots are kept.
    """
    path = snapshot_path(output, run_id)
    if FileSystems.exists(path):
        return {}, []
    text = json_text({"version": STATE_VERSION, "before_run_id": run_id,
                      "feeds": {url: _state_to_json(states[url]) for url in sorted(states)}})
    found = FileSystems.match([snapshot_path(output, "*")])[0].metadata_list
    ordered = sorted(found, key=lambda m: (m.last_updated_in_seconds, m.path))
    stale = ordered[:max(0, len(ordered) - (keep - 1))]
    return {path: text}, [m.path for m in stale if m.path != path]


def save_snapshot(output: str, run_id: str, states: Dict[str, FeedState],
                  keep: int = KEEP_SNAPSHOTS) -> None:
    """Keeps the state before `run_id`'s first commit, for its reruns; the
    `keep` most recent snapshots are kept (rerun recent runs, not old ones)."""
    writes, stale = plan_snapshot(output, run_id, states, keep)
    for path, text in writes.items():
        write_json(path, json.loads(text))
    if stale:
        FileSystems.delete(stale)


def plan_feed_state(output: str, run_id: str, updates: Iterable[FeedStateUpdate],
                    snapshot: bool = False):
    """What the commit of a successful run does to the feed state, read before any write.

    Returns ``(writes, deletes, summary)``: the files to write whole (path to
    text), the old snapshots to delete, and what the run manifest says of
    it (None, with nothing to write, when the run polled no feed).

    Raises:
      StateError: the state file is damaged; nothing has been written.
    """
    updates = list(updates)
    if not updates:
        return {}, [], None
    old = load_states(output)
    writes, deletes = plan_snapshot(output, run_id, old) if snapshot else ({}, [])
    merged = merge_states(old, updates)
    path = state_path(output)
    writes[path] = states_text(merged, run_id)
    polls = [u for u in updates if u.kind == "poll"]
    by_status: Dict[str, int] = {}
    for poll in polls:
        by_status[poll.status] = by_status.get(poll.status, 0) + 1
    conditional = [p for p in polls
                   if p.feed_url in old and (old[p.feed_url].etag or old[p.feed_url].last_modified)]
    summary = {"path": path, "feeds_polled": len(polls),
               "polls_by_status": dict(sorted(by_status.items())),
               "feeds_known": len(merged),
               # Added for the run report; absent from manifests of earlier versions.
               "conditional_polls": len(conditional),
               "not_modified": sum(1 for p in conditional if p.status == "not_modified"),
               "poll_status_by_feed": {p.feed_url: p.status
                                       for p in sorted(polls, key=lambda p: p.feed_url)}}
    return writes, deletes, summary


def commit_feed_state(output: str, run_id: str, updates: Iterable[FeedStateUpdate],
                      snapshot: bool = False) -> Optional[dict]:
    """Merges this run's updates into the stored state and writes it (streaming runs).

    Batch runs commit the same through their intent (`plan_feed_state`,
    `transforms.sink.commit`). With `snapshot`, the state before a run id's first
    commit is kept for its reruns. Returns what the run manifest says of it,
    or None when the run polled no feed.
    """
    updates = list(updates)
    if not updates:
        return None
    old = load_states(output)
    if snapshot:  # a batch run, which may be rerun (see load_states)
        save_snapshot(output, run_id, old)
    _, _, summary = plan_feed_state(output, run_id, updates)
    write_states(output, merge_states(old, updates), run_id)
    return summary


__all__ = ["load_states", "snapshot_path", "save_snapshot", "plan_feed_state", "plan_snapshot",
           "merge_states", "record_poll",
           "write_states", "commit_feed_state",
           "state_path", "StateError", "MAX_ENTRY_ATTEMPTS"]
