"""Parsing the many ways sources write a date into UTC microseconds."""
from __future__ import annotations

import email.utils
from datetime import date, datetime, timezone
from typing import Optional

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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
