"""Routing a source's records: each one to its tagged output, each one counted.

Every reader (dump files, feed lists, feed polls, fetched pages, in batch and
in a stream) yields a mix of records: `RawDocument`s go on, `Reject`s,
`Duplicate`s and `Skipped` records go to their tagged outputs. `outcome` says
which output and which counter a record takes; `route` applies it. One
convention for the tags: the main output holds the documents, and the others
are named `REJECTS`, `DUPLICATES` and `SKIPPED`.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import apache_beam as beam

from schemas.contexts import Skipped
from schemas.records import Duplicate, Reject
from transforms.core.counters import StageCounters

REJECTS, DUPLICATES, SKIPPED = "rejects", "duplicates", "skipped"


class Outcome(NamedTuple):
    tag: Optional[str]  # None: the main output
    counter: str


def outcome(record: Any, main_counter: str = "out") -> Outcome:
    """Where `record` goes and what it counts as: ``dropped:<reason>`` for a reject,
    ``dropped:<dup_type>`` for a duplicate, ``skipped:<kind>``, else `main_counter`."""
    if isinstance(record, Reject):
        return Outcome(REJECTS, f"dropped:{record.reason}")
    if isinstance(record, Duplicate):
        return Outcome(DUPLICATES, f"dropped:{record.dup_type}")
    if isinstance(record, Skipped):
        return Outcome(SKIPPED, f"skipped:{record.kind}")
    return Outcome(None, main_counter)


def route(record: Any, counters: StageCounters, main_counter: str = "out",
          value: Any = None) -> Any:
    """Counts `record` and gives what a DoFn yields for it: the record (or `value`,
    e.g. the record in a window) itself or tagged for its output."""
    where = outcome(record, main_counter)
    counters.inc(where.counter)
    value = record if value is None else value
    return value if where.tag is None else beam.pvalue.TaggedOutput(where.tag, value)


__all__ = ["REJECTS", "DUPLICATES", "SKIPPED", "Outcome", "outcome", "route"]
