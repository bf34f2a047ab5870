"""When streaming polls a feed again: the feed's own word, then how often it changes.

A feed says how often it changes with RSS ``<ttl>`` or ``sy:updatePeriod`` /
``sy:updateFrequency`` (`transforms.sources.feed_entries.declared_interval`). The
streaming job polls it at that interval, within ``--min_poll_s`` and
``--max_poll_s``; a feed that says nothing starts at the minimum. Every poll
that brings nothing new (304, an identical body, no new entry) or fails
stretches the interval by `BACKOFF`, up to the maximum; a poll with new
entries brings it back to the declared interval. So a feed that rarely
changes costs few requests, and a busy one is read as often as allowed.

Plain functions, tested without Beam; `transforms.sources.stream_sources` keeps a
`FeedSchedule` per feed in Beam state.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

BACKOFF = 1.5
FAILURE_BACKOFF = 2.0


class FeedSchedule(NamedTuple):
    """A feed's current poll interval and when it is next due (UTC microseconds)."""
    interval_s: float
    next_due: int
    declared_s: Optional[float] = None


def clamp(seconds: float, min_s: float, max_s: float) -> float:
    return max(min_s, min(max_s, seconds))


def next_interval(previous: Optional[FeedSchedule], declared_s: Optional[float], status: str,
                  new_entries: int, min_s: float, max_s: float) -> float:
    """The interval until the next poll, after a poll that ended in `status`.

    `declared_s` is what this poll's body declared (None when it was not
    read: 304, unchanged, failed), in which case the last declaration holds.
    """
    declared = declared_s if declared_s is not None else (
        previous.declared_s if previous is not None else None)
    base = clamp(declared if declared is not None else min_s, min_s, max_s)
    if status == "fetched" and new_entries > 0:
        return base
    last = previous.interval_s if previous is not None else base
    factor = FAILURE_BACKOFF if status == "failed" else BACKOFF
    return clamp(max(base, last * factor), min_s, max_s)


def after_poll(previous: Optional[FeedSchedule], declared_s: Optional[float], status: str,
               new_entries: int, polled_at: int, min_s: float, max_s: float) -> FeedSchedule:
    """The schedule after a poll made at `polled_at` (microseconds)."""
    interval = next_interval(previous, declared_s, status, new_entries, min_s, max_s)
    declared = declared_s if declared_s is not None else (
        previous.declared_s if previous is not None else None)
    return FeedSchedule(interval, polled_at + int(interval * 1e6), declared)


def is_due(schedule: Optional[FeedSchedule], now: int, slack_us: int = 0) -> bool:
    """Whether a feed is to be polled at `now` (a feed never polled is due).

    `slack_us` (half a tick, in the job) keeps a feed due at a tick that comes
    a hair before its time from waiting a whole tick more."""
    return schedule is None or now + slack_us >= schedule.next_due


__all__ = ["FeedSchedule", "next_interval", "after_poll", "is_due", "BACKOFF"]
