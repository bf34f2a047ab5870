"""Parsing the many ways sources write a date into UTC microseconds."""
from __future__ import annotations

import email.utils
from datetime import date, datetime, timezone
from typing import Optional

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROS_PER_DAY = 86_400_000_000
# Publication times outside [1995, ingestion + 2 days] are typos or parser
# errors, not news: they neither choose a partition nor win a dedup tie.
_EARLIEST_PLAUSIBLE = 788_918_400_000_000  # 1995-01-01T00:00:00Z


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment.astimezone(timezone.utc) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc)


def parse_timestamp(value: Optional[str]) -> Optional[int]:
    """ISO 8601 (with or without time or zone) or RFC 2822, else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return to_micros(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return to_micros(datetime.combine(date.fromisoformat(value[:10]), datetime.min.time()))
    except ValueError:
        pass
    try:
        return to_micros(email.utils.parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None


def utc_date(micros: int) -> str:
    """The UTC calendar date of a timestamp, as YYYY-MM-DD."""
    return from_micros(micros).strftime("%Y-%m-%d")


def plausible_published(published: Optional[int], ingested_at: int) -> Optional[int]:
    """The publication time if it can be trusted, else None."""
    if published is None:
        return None
    if _EARLIEST_PLAUSIBLE <= published <= ingested_at + 2 * MICROS_PER_DAY:
        return published
    return None
