"""The streaming dump source: folders watched, each new file read once.

On every tick `match_new_files` lists the --watch globs (a glob that cannot be
listed waits for the next tick); a stateful DoFn keyed by path passes each file
on once, and the batch reader's `SplitFileFn` splits it into records.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, List, Tuple

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from transforms.core.counters import StageCounters
from transforms.sink.state_cache import StatefulDoFn
from schemas.contexts import ReadContext, SourceOutputs
from transforms.sources.read_dumps import DUPLICATES as DUMP_DUPLICATES
from transforms.sources.read_dumps import SplitFileFn
from transforms.sources.feed_jobs import REJECTS, SKIPPED

_log = logging.getLogger(__name__)


# ------------------------------------------------------------------ dumps


def match_new_files(_tick, patterns: List[str]) -> Iterable[Tuple[str, None]]:
    """Every file the patterns match now, keyed by path.

    A glob that cannot be listed now (a bucket briefly unreachable) is
    logged and tried again on the next tick: it is no input, so no reject."""
    for pattern in patterns:
        try:
            results = FileSystems.match([pattern])
        except Exception as error:  # retried next tick; the job must not fail over it
            _log.warning("cannot list --watch %s now: %s", pattern, error)
            continue
        for result in results:
            for metadata in result.metadata_list:
                yield metadata.path, None


class _FirstSightingFn(StatefulDoFn):
    """(path, _) → path, the first time the path is seen, never again."""

    SEEN = ReadModifyWriteStateSpec("seen", PickleCoder())

    def __init__(self):
        self._counters = StageCounters("watch")

    def process(self, element, seen=beam.DoFn.StateParam(SEEN)) -> Iterable[str]:
        path, _ = element
        if seen.read():
            return
        seen.write(True)
        self._counters.inc("new_files")
        yield path


class WatchFiles(beam.PTransform):
    """New files under the `patterns` globs to documents, each file once.

    Args:
      patterns: file globs (local or ``gs://``), matched on each tick.
      ctx: run id, start time and the size limit of one document.

    Applied to the tick PCollection (`impulse`). Returns a `SourceOutputs`
    (``state`` None), each row at the event time of the tick that read it.
    """

    def __init__(self, patterns: List[str], ctx: ReadContext):
        super().__init__()
        self._patterns = list(patterns)
        self._ctx = ctx

    def expand(self, ticks):
        split = (ticks
                 | "MatchFiles" >> beam.FlatMap(match_new_files, self._patterns
                                                ).with_output_types(Tuple[str, Any])
                 | "FirstSighting" >> beam.ParDo(_FirstSightingFn())
                 | "SplitRecords" >> beam.ParDo(SplitFileFn(self._ctx)).with_outputs(
                     REJECTS, DUMP_DUPLICATES, SKIPPED, main="documents"))
        return SourceOutputs(split.documents, split[REJECTS], split[DUMP_DUPLICATES],
                             split[SKIPPED])


__all__ = ["WatchFiles", "match_new_files"]
