"""Where rows end: the Parquet tables, the run's accounting and its commit.

`WriteTable` writes Hive-partitioned Parquet; `CountRunOutcomes` and `CommitRun`
(`accounting`) check that every input ended in one table and commit the run by
the protocol of `commit` (lease, intent, ordered moves, manifest last). The
state kept between runs: feed state, the input cursor, the state cache of the
streaming DoFns; `stream_write` cuts a stream's tables into windows with a
stats file each.
"""
from transforms import lazy_exports

_HOMES = {
    "WriteTable": "write",
    "CountOutcomes": "accounting",
    "CountRunOutcomes": "accounting",
    "CommitRun": "accounting",
    "SkipIngestedFiles": "input_cursor",
    "WriteWindowed": "stream_write",
    "WriteStats": "stream_write",
}

__all__ = ["WriteTable", "CountOutcomes", "CountRunOutcomes", "CommitRun", "SkipIngestedFiles", "WriteWindowed", "WriteStats"]


__getattr__ = lazy_exports(__name__, _HOMES)
