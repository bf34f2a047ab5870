"""The dedup index kept across runs under ``_index/dt=<ingestion date>/``.

Each run appends, when it commits, one `IndexEntry` per article and per
duplicate it wrote (`transforms.dedup.batch.Deduplicate` makes them; they are
written and committed like any table). The next run reads back the entries
of the last `--dedup_window_days` days, except those of its own run id (a
rerun of a run id replaces its entries) and, for a rerun, those of runs
committed after its first commit, and dedups its new articles against
them: memory and time scale with the window, not with all history.

`Deduplicate` reads the index through `ReadIndex.files` and the two matchers
(`ReadIndex.meeting_new`, `ReadIndex.of_their_urls`, made in
`transforms.dedup.index_match`): each index file is matched against the run's
keys in Arrow, a batch of rows at a time (``pyarrow.compute.is_in`` on the URL
keys and content hashes, LSH band tokens of the whole signature column at
once), and only the rows that meet a new article become records. The files
are the ones the commit protocol (`transforms.sink.commit`) renamed into
place, in the layout they always had: rows in the order they were written, so row groups cannot be pruned by
key statistics; the match is a disjunction over three kinds of key, which no
single sort order would prune anyway.
"""
from __future__ import annotations

import copy
import datetime as _dt
import re
from typing import FrozenSet, Iterable, List, Optional

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.records import IndexEntry
from schemas.tables import TABLES
from transforms.core.paths import join_path
from transforms.dedup import minhash
from transforms.dedup.index_match import (DamagedIndexFile, damaged, entries_of,
                                          meeting_new_fn, of_their_urls_fn)
from transforms.extract.dates import utc_date

__all__ = ["DamagedIndexFile", "ReadIndex", "entries_of", "first_day", "in_window",
           "index_glob", "read_entries"]

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
    return entries_of(table)


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
            raise damaged(path, error) from None
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

    def files(self) -> beam.PTransform:
        """The index files this read covers, spread over the workers: what
        `meeting_new` and `of_their_urls` match."""
        return _IndexFiles(self._patterns, self._run_id, self._first_day, self._namespace)

    def meeting_new(self, params: minhash.LshParameters) -> beam.DoFn:
        """A file → its entries meeting the run's keys (the side input of
        `transforms.dedup.known.relevant_known`), matched in Arrow."""
        return meeting_new_fn(self._before, self._namespace, self._ignore_runs, params)

    def of_their_urls(self, params: minhash.LshParameters) -> beam.DoFn:
        """A file → its entries of the URL keys the first match named."""
        return of_their_urls_fn(self._before, self._namespace, self._ignore_runs, params)

    def expand(self, pbegin):
        return (_list_files(pbegin, self._patterns, self._run_id, self._first_day,
                            self._namespace)
                | "ReadIndexEntries" >> beam.ParDo(_ReadEntriesFn(self._before, self._namespace,
                                                                 self._ignore_runs)))


class _IndexFiles(beam.PTransform):
    """Paths of the index files inside the window, one element a file."""

    def __init__(self, patterns: List[str], run_id: str, first_day: str, namespace: str):
        super().__init__()
        self._patterns = patterns
        self._run_id = run_id
        self._first_day = first_day
        self._namespace = namespace

    def expand(self, pbegin):
        return _list_files(pbegin, self._patterns, self._run_id, self._first_day,
                           self._namespace)


def _list_files(pbegin, patterns: List[str], run_id: str, first_day: str, namespace: str):
    return (pbegin
            | "IndexGlob" >> beam.Create(patterns)
            | "ListIndexFiles" >> beam.ParDo(_ListIndexFilesFn(run_id, first_day, namespace))
            | "SpreadIndexFiles" >> beam.Reshuffle())
