"""The dedup index kept across runs under ``_index/dt=<ingestion date>/``.

Each run appends, when it commits, one `IndexEntry` per article and per
duplicate it wrote (`transforms.dedup.batch.Deduplicate` makes them; they are
written and committed like any table). The next run reads back the entries
of the last `--dedup_window_days` days, except those of its own run id (a
rerun of a run id replaces its entries) and, for a rerun, those of runs
committed after its first commit, and dedups its new articles against
them: memory and time scale with the window, not with all history.
"""
from __future__ import annotations

import copy
import datetime as _dt
import re
from typing import FrozenSet, Iterable, List, Optional

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.records import IndexEntry
from schemas.tables import TABLES
from transforms.extract.dates import utc_date
from transforms.core.paths import join_path

_PARTITION = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/part-(.+)-\d{5}\.parquet$")


def index_glob(output: str) -> str:
    return join_path(output, TABLES["index"].folder, "dt=*", "part-*.parquet")


def in_window(path: str, run_id: str, first_day: str) -> bool:
    """Whether an index file belongs to another run inside the window."""
    match = _PARTITION.search(path.replace("\\", "/"))
    return bool(match) and match.group(1) >= first_day and match.group(2) != run_id


def first_day(ingested_at: int, window_days: int) -> str:
    """The earliest ingestion date still inside the dedup window."""
    day = _dt.date.fromisoformat(utc_date(ingested_at))
    return (day - _dt.timedelta(days=window_days)).isoformat()


def read_entries(path: str) -> Iterable[IndexEntry]:
    """The rows of one index file as records."""
    with FileSystems.open(path) as handle:
        table = pq.read_table(handle)
    columns = {}
    for name in IndexEntry._fields:
        if name not in table.column_names:  # a column added after the file was written
            columns[name] = [None] * table.num_rows
            continue
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())  # microseconds, as records keep them
        columns[name] = column.to_pylist()
    for i in range(table.num_rows):
        yield IndexEntry(*(columns[name][i] for name in IndexEntry._fields))


class _ListIndexFilesFn(beam.DoFn):
    def __init__(self, run_id: str, first_day: str, namespace: str):
        self._run_id = run_id
        self._first_day = first_day
        self._files = Metrics.counter(namespace, "files")

    def process(self, pattern: str) -> Iterable[str]:
        for result in FileSystems.match([pattern]):
            for metadata in result.metadata_list:
                if in_window(metadata.path, self._run_id, self._first_day):
                    self._files.inc()
                    yield metadata.path


class DamagedIndexFile(RuntimeError):
    """A file under ``_index/`` cannot be read; the message names it."""


class _ReadEntriesFn(beam.DoFn):
    def __init__(self, before: int, namespace: str, ignore_runs: FrozenSet[str] = frozenset()):
        self._before = before
        self._ignore_runs = ignore_runs
        self._entries = Metrics.counter(namespace, "entries")
        self._later = Metrics.counter(namespace, "skipped:later_run")

    def process(self, path: str) -> Iterable[IndexEntry]:
        try:
            entries = list(read_entries(path))
        except Exception as error:  # pyarrow says what is wrong, not in which file
            raise DamagedIndexFile(
                f"cannot read the dedup index file {path}: {error}; move it aside (its "
                "run's articles are then not deduplicated against) and run again") from None
        for entry in entries:
            if entry.ingested_at >= self._before or entry.run_id in self._ignore_runs:
                self._later.inc()
                continue
            self._entries.inc()
            yield entry


class ReadIndex(beam.PTransform):
    """Index entries of earlier runs inside the dedup window.

    Args:
      output: the output folder holding ``_index/``.
      run_id: this run, whose own earlier entries are left out.
      ingested_at: this run's start; the window counts back from its date.
      window_days: how many days of index to read (0 reads none).
      before: only entries of runs that started before this time are read.
      ignore_runs: runs whose entries are not read. For a rerun of a run id
        they are the runs committed after its first commit
        (`transforms.sink.commit.runs_committed_after`): their entries may point
        at this run's articles and would turn them into duplicates of
        themselves.
    """

    def __init__(self, output: str, run_id: str, ingested_at: int, window_days: int,
                 before: Optional[int] = None, ignore_runs: Iterable[str] = ()):
        super().__init__()
        self._patterns: List[str] = [index_glob(output)] if window_days > 0 else []
        self._run_id = run_id
        self._first_day = first_day(ingested_at, window_days)
        self._before = before if before is not None else ingested_at
        self._ignore_runs = frozenset(ignore_runs)
        self._namespace = "dedup_index"

    def rereading(self) -> ReadIndex:
        """The same read, counted apart (``dedup_index_reread``) so that the
        counters of the first read still count each entry once."""
        again = copy.copy(self)
        again._namespace = "dedup_index_reread"
        return again

    def expand(self, pbegin):
        return (pbegin
                | "IndexGlob" >> beam.Create(self._patterns)
                | "ListIndexFiles" >> beam.ParDo(_ListIndexFilesFn(
                    self._run_id, self._first_day, self._namespace))
                | "SpreadIndexFiles" >> beam.Reshuffle()
                | "ReadIndexEntries" >> beam.ParDo(_ReadEntriesFn(self._before, self._namespace,
                                                                 self._ignore_runs)))
