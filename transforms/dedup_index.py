"""The dedup index kept across runs under ``_index/dt=<ingestion date>/``.

Each run appends, when it commits, one `IndexEntry` per article and per
duplicate it wrote (`transforms.dedup.Deduplicate` makes them; they are
written and committed like any table). The next run reads back the entries
of the last `--dedup_window_days` days, except those of its own run id (a
rerun of a run id replaces its entries) and, for a rerun, those of runs
committed after its first commit, and dedups its new articles against
them: memory and time scale with the window, not with all history.

`Deduplicate` reads the index through `ReadIndex.files` and the two matchers
(`ReadIndex.meeting_new`, `ReadIndex.of_their_urls`): each index file is
matched against the run's keys in Arrow, a batch of rows at a time
(`match_known`: ``pyarrow.compute.is_in`` on the URL keys and content hashes,
LSH band tokens of the whole signature column at once), and only the rows
that meet a new article become records. The files are the ones the commit
protocol (`transforms.commit`) renamed into place, in the layout they always
had: rows in the order they were written, so row groups cannot be pruned by
key statistics; the match is a disjunction over three kinds of key, which no
single sort order would prune anyway.
"""
from __future__ import annotations

import copy
import datetime as _dt
import re
from typing import FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.records import IndexEntry
from schemas.tables import TABLES
from transforms import minhash
from transforms.dedup import BAND, CONTENT_HASH, SAME_URL, URL_KEY, DedupKey, known_key
from transforms.dates import utc_date
from transforms.write import join_path

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


def entries_of(table: pa.Table) -> List[IndexEntry]:
    """Rows of an index table as records (columns a file lacks are None)."""
    columns = {}
    for name in IndexEntry._fields:
        if name not in table.column_names:  # a column added after the file was written
            columns[name] = [None] * table.num_rows
            continue
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())  # microseconds, as records keep them
        columns[name] = column.to_pylist()
    return [IndexEntry(*(columns[name][i] for name in IndexEntry._fields))
            for i in range(table.num_rows)]


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


# Rows of an index file matched at a time: the URL and hash value sets are
# rebuilt for each batch, so batches are large; 64K rows hold about 45 MB.
MATCH_BATCH_ROWS = 65_536


class NewKeys(NamedTuple):
    """A run's meeting keys (`transforms.dedup.meeting_keys`) as Arrow value sets.

    Band tokens are looked up in two steps: `band_seen`, a table indexed by
    the low bits of a token (`band_mask`), rules out almost every row of the
    index with one gather, and the few left are searched in `bands`."""
    urls: pa.Array
    hashes: pa.Array
    bands: np.ndarray  # sorted uint64 band tokens
    band_seen: np.ndarray  # bool, 2^k entries
    band_mask: np.uint64


def _band_lookup(bands: np.ndarray) -> Tuple[np.ndarray, np.uint64]:
    # About 64 slots a token: one foreign token in 64 needs the search (20 a
    # signature: a tenth of those of the index), in at most 64 MB.
    bits = int(np.clip(np.ceil(np.log2(max(1, len(bands)) * 64)), 16, 26))
    mask = np.uint64((1 << bits) - 1)
    seen = np.zeros(1 << bits, dtype=bool)
    seen[bands & mask] = True
    return seen, mask


def new_keys_of(lists: Iterable[List[str]]) -> NewKeys:
    """The value sets of the side input of per-bundle key lists."""
    urls, hashes, bands = set(), set(), set()
    for keys in lists:
        for key in keys:
            kind, value = key[:1], key[1:]
            if kind == URL_KEY:
                urls.add(value)
            elif kind == CONTENT_HASH:
                hashes.add(value)
            elif kind == BAND:
                bands.add(int(value, 16))
    tokens = np.array(sorted(bands), dtype=np.uint64)
    return NewKeys(pa.array(sorted(urls), pa.string()), pa.array(sorted(hashes), pa.string()),
                   tokens, *_band_lookup(tokens))


def _column(table: pa.Table, name: str, kind) -> pa.ChunkedArray:
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, kind)])


def _is_in(column, values: pa.Array) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(len(column), dtype=bool)
    found = pc.is_in(column, value_set=values.cast(column.type))
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def _band_meets(table: pa.Table, new: NewKeys,
                params: minhash.LshParameters) -> np.ndarray:
    """Rows whose signature (of a compatible algorithm) has a band token of the run."""
    meets = np.zeros(table.num_rows, dtype=bool)
    bands = new.bands
    if len(bands) == 0 or "signature" not in table.column_names:
        return meets
    signature = table.column("signature")
    usable = pc.and_(
        pc.is_in(_column(table, "algorithm", pa.string()),
                 value_set=pa.array(sorted(minhash.COMPATIBLE_VERSIONS), pa.string())),
        # Every signature newsbeam writes has SIGNATURE_BYTES; a row of
        # another length meets new articles by URL key and content hash only.
        pc.equal(pc.binary_length(signature), minhash.SIGNATURE_BYTES))
    rows = np.flatnonzero(pc.fill_null(usable, False).to_numpy(zero_copy_only=False))
    if len(rows) == 0:
        return meets
    fixed = pc.take(signature, pa.array(rows)).combine_chunks().cast(
        pa.binary(minhash.SIGNATURE_BYTES))
    matrix = np.frombuffer(fixed.buffers()[1], dtype="<u4", count=len(rows) * minhash.NUM_PERM,
                           offset=fixed.offset * minhash.SIGNATURE_BYTES
                           ).reshape(len(rows), minhash.NUM_PERM)
    tokens = minhash.band_tokens(matrix, params)
    which, band = np.nonzero(new.band_seen[tokens & new.band_mask])
    if len(which) == 0:
        return meets
    maybe = tokens[which, band]
    at = np.minimum(np.searchsorted(bands, maybe), len(bands) - 1)
    meets[rows[which[bands[at] == maybe]]] = True
    return meets


def readable_rows(table: pa.Table, before: int, ignore_runs: FrozenSet[str]) -> np.ndarray:
    """Rows of runs that started before `before` and are not ignored (`ReadIndex`)."""
    ingested = table.column("ingested_at")
    if pa.types.is_timestamp(ingested.type):
        ingested = ingested.cast(pa.int64())
    readable = pc.fill_null(pc.less(ingested, before), False).to_numpy(zero_copy_only=False)
    if ignore_runs:
        readable &= ~_is_in(table.column("run_id"), pa.array(sorted(ignore_runs), pa.string()))
    return readable


class KnownMatch(NamedTuple):
    """Rows of an index table that take part in a run's dedup (`match_known`)."""
    readable: np.ndarray  # rows of earlier runs, not ignored
    meeting: np.ndarray  # readable rows sharing a URL key, content hash or band with the run
    same_content: np.ndarray  # meeting rows with a URL key and a content hash of the run


def match_known(table: pa.Table, new: NewKeys, before: int, ignore_runs: FrozenSet[str],
                params: minhash.LshParameters) -> KnownMatch:
    """Which rows of an index table meet the run's keys, decided column by column.

    The same rows as `transforms.dedup.meeting_keys` of each entry's
    `known_key` against the run's keys, without making a record of any row.
    """
    readable = readable_rows(table, before, ignore_runs)
    url_key = _column(table, "url_key", pa.string())
    same_url = _is_in(url_key, new.urls)
    same_content = _is_in(table.column("content_hash"), new.hashes)
    meeting = readable & (same_url | same_content | _band_meets(table, new, params))
    with_url = pc.is_valid(url_key).to_numpy(zero_copy_only=False)
    return KnownMatch(readable, meeting, meeting & same_content & with_url)


def _index_file(path: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(FileSystems.open(path))
    except Exception as error:  # pyarrow says what is wrong, not in which file
        raise DamagedIndexFile(
            f"cannot read the dedup index file {path}: {error}; move it aside (its "
            "run's articles are then not deduplicated against) and run again") from None


def _batches(path: str, columns: Optional[List[str]] = None) -> Iterable[pa.Table]:
    """An index file's rows, `MATCH_BATCH_ROWS` at a time (only `columns`, if given)."""
    parquet = _index_file(path)
    present = set(parquet.schema_arrow.names)
    wanted = [c for c in (columns or IndexEntry._fields) if c in present]
    try:
        for batch in parquet.iter_batches(batch_size=MATCH_BATCH_ROWS, columns=wanted):
            yield pa.Table.from_batches([batch])
    except DamagedIndexFile:
        raise
    except Exception as error:
        raise DamagedIndexFile(
            f"cannot read the dedup index file {path}: {error}; move it aside (its "
            "run's articles are then not deduplicated against) and run again") from None
    finally:
        parquet.close(force=True)


def _rows_of(path: str, rows: np.ndarray) -> Iterable[pa.Table]:
    """The rows numbered `rows` (sorted) of an index file, reading only the
    row groups that hold them."""
    parquet = _index_file(path)
    try:
        present = set(parquet.schema_arrow.names)
        columns = [c for c in IndexEntry._fields if c in present]
        ends = np.cumsum([parquet.metadata.row_group(g).num_rows
                          for g in range(parquet.num_row_groups)])
        groups = np.searchsorted(ends, rows, side="right")
        for group in np.unique(groups):
            start = ends[group - 1] if group else 0
            table = parquet.read_row_group(int(group), columns=columns)
            yield table.take(pa.array(rows[groups == group] - start))
    finally:
        parquet.close(force=True)


class _MatchFileFn(beam.DoFn):
    """Base of the two matchers: the side input of new keys, made value sets once."""

    def __init__(self, before: int, namespace: str, ignore_runs: FrozenSet[str],
                 params: minhash.LshParameters):
        self._before = before
        self._ignore_runs = ignore_runs
        self._params = params
        self._namespace = namespace
        self._entries = Metrics.counter(namespace, "entries")
        self._later = Metrics.counter(namespace, "skipped:later_run")
        self._matched = Metrics.counter(namespace, "matched")
        self._key_sets = Metrics.counter(namespace, "key_sets_built")

    def setup(self) -> None:
        self._source: Optional[List[List[str]]] = None
        self._new: Optional[NewKeys] = None

    def _new_keys(self, new_keys: List[List[str]]) -> NewKeys:
        if self._source is not new_keys:
            self._key_sets.inc()
            self._source, self._new = new_keys, new_keys_of(new_keys)
        return self._new

    def _count(self, readable: np.ndarray) -> None:
        read = int(readable.sum())
        self._entries.inc(read)
        self._later.inc(len(readable) - read)


class _MeetingNewFn(_MatchFileFn):
    """An index file → its entries meeting a new article, as known keys, and
    the URL keys of those sharing a content hash (tagged ``same_url``): what
    `transforms.dedup._MeetingKnownFn` yields for each of its entries."""

    def process(self, path: str, new_keys: List[List[str]]) -> Iterable[DedupKey]:
        new = self._new_keys(new_keys)
        for table in _batches(path):
            match = match_known(table, new, self._before, self._ignore_runs, self._params)
            self._count(match.readable)
            if not match.meeting.any():
                continue
            self._matched.inc(int(match.meeting.sum()))
            for entry in entries_of(table.filter(pa.array(match.meeting))):
                yield known_key(entry)
            urls = table.column("url_key").filter(pa.array(match.same_content)).to_pylist()
            for url in sorted(set(urls)):
                yield beam.pvalue.TaggedOutput(SAME_URL, url)


# What the second read needs to find its candidates: the rest is read only
# for the few rows whose URL key the first read named.
_CANDIDATE_COLUMNS = ["url_key", "run_id", "ingested_at"]


class _OfTheirUrlsFn(_MatchFileFn):
    """An index file → its entries that meet no new article but whose URL key
    one that does shares (`urls`): `transforms.dedup._SameUrlKnownFn`."""

    def setup(self) -> None:
        super().setup()
        self._url_source: Optional[List[str]] = None
        self._urls = pa.array([], pa.string())

    def process(self, path: str, new_keys: List[List[str]],
                urls: List[str]) -> Iterable[DedupKey]:
        if self._url_source is not urls:
            self._url_source, self._urls = urls, pa.array(sorted(set(urls)), pa.string())
        offset, candidates = 0, []
        for table in _batches(path, _CANDIDATE_COLUMNS):
            readable = readable_rows(table, self._before, self._ignore_runs)
            self._count(readable)
            wanted = readable & _is_in(_column(table, "url_key", pa.string()), self._urls)
            candidates.append(offset + np.flatnonzero(wanted))
            offset += table.num_rows
        rows = np.concatenate(candidates) if candidates else np.zeros(0, dtype=np.int64)
        if len(rows) == 0:
            return
        new = self._new_keys(new_keys)
        for picked in _rows_of(path, rows):
            match = match_known(picked, new, self._before, self._ignore_runs, self._params)
            outside = ~match.meeting
            self._matched.inc(int(outside.sum()))
            for entry in entries_of(picked.filter(pa.array(outside))):
                yield known_key(entry)


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
        (`transforms.commit.runs_committed_after`): their entries may point
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
        `transforms.dedup.relevant_known`), matched in Arrow."""
        return _MeetingNewFn(self._before, self._namespace, self._ignore_runs, params)

    def of_their_urls(self, params: minhash.LshParameters) -> beam.DoFn:
        """A file → its entries of the URL keys the first match named."""
        return _OfTheirUrlsFn(self._before, self._namespace, self._ignore_runs, params)

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
