"""An index file matched against a run's keys in Arrow, a batch of rows at a time.

`transforms.dedup.index.ReadIndex` hands `transforms.dedup.batch.Deduplicate`
the two matchers made here (`meeting_new_fn`, `of_their_urls_fn`): each
decides, column by column (`match_known`: ``pyarrow.compute.is_in`` on the URL
keys and content hashes, LSH band tokens of the whole signature column at
once), which rows of an index file meet the run's keys, and makes records only
of those. The rows are the ones the per-entry filters of
`transforms.dedup.known.relevant_known` would take (tests/dedup/test_index_match.py).

The ``shingles`` column (a kept article's shingle hashes, some 2 KB a row,
three quarters of a file) is left out of the match: it is read afterwards,
for the rows that met the run only, a row group at a time.
"""
from __future__ import annotations

from typing import FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.dedup import DedupKey
from schemas.records import IndexEntry
from transforms.dedup import minhash
from transforms.dedup.rules import BAND, CONTENT_HASH, SAME_URL, URL_KEY, known_key

__all__ = ["DamagedIndexFile", "KnownMatch", "MATCH_BATCH_ROWS", "NewKeys", "damaged",
           "entries_of", "match_known", "meeting_new_fn", "new_keys_of", "of_their_urls_fn",
           "readable_rows"]


class DamagedIndexFile(RuntimeError):
    """A file under ``_index/`` cannot be read; the message names it."""


def damaged(path: str, error: Exception) -> DamagedIndexFile:
    """The error to raise for an index file pyarrow cannot read (pyarrow says
    what is wrong, not in which file)."""
    return DamagedIndexFile(
        f"cannot read the dedup index file {path}: {error}; move it aside (its "
        "run's articles are then not deduplicated against) and run again")


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


# Rows of an index file matched at a time: the URL and hash value sets are
# rebuilt for each batch, so batches are large; 64K rows hold about 45 MB.
MATCH_BATCH_ROWS = 65_536


class NewKeys(NamedTuple):
    """A run's meeting keys (`transforms.dedup.rules.meeting_keys`) as Arrow value sets.

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
    """Rows of runs that started before `before` and are not ignored (as
    `transforms.dedup.index.ReadIndex` reads them)."""
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

    The same rows as `transforms.dedup.rules.meeting_keys` of each entry's
    `known_key` against the run's keys, without making a record of any row.
    """
    readable = readable_rows(table, before, ignore_runs)
    url_key = _column(table, "url_key", pa.string())
    same_url = _is_in(url_key, new.urls)
    same_content = _is_in(table.column("content_hash"), new.hashes)
    meeting = readable & (same_url | same_content | _band_meets(table, new, params))
    with_url = pc.is_valid(url_key).to_numpy(zero_copy_only=False)
    return KnownMatch(readable, meeting, meeting & same_content & with_url)


def _index_file(path: str, **options) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(FileSystems.open(path), **options)
    except Exception as error:  # pyarrow says what is wrong, not in which file
        raise damaged(path, error) from None


# Read only for the rows that met the run (`_with_shingles`).
SHINGLES = "shingles"
_MATCH_COLUMNS = [c for c in IndexEntry._fields if c != SHINGLES]


def _batches(path: str, columns: Optional[List[str]] = None) -> Iterable[pa.Table]:
    """An index file's rows, `MATCH_BATCH_ROWS` at a time (only `columns`,
    by default all but the shingles)."""
    parquet = _index_file(path)
    present = set(parquet.schema_arrow.names)
    wanted = [c for c in (columns or _MATCH_COLUMNS) if c in present]
    try:
        for batch in parquet.iter_batches(batch_size=MATCH_BATCH_ROWS, columns=wanted):
            yield pa.Table.from_batches([batch])
    except DamagedIndexFile:
        raise
    except Exception as error:
        raise damaged(path, error) from None
    finally:
        parquet.close(force=True)


# The shingles of a row group are some 20 MB: read in large blocks, coalesced
# (twice as fast as the default through a Beam file, measured).
_LARGE_READS = {"pre_buffer": True, "buffer_size": 1 << 20}


def _rows_of(path: str, rows: np.ndarray, wanted: Optional[List[str]] = None
             ) -> Iterable[pa.Table]:
    """The rows numbered `rows` (sorted) of an index file, reading only the
    row groups that hold them (only `wanted` columns, by default all but the
    shingles)."""
    parquet = _index_file(path, **(_LARGE_READS if wanted == [SHINGLES] else {}))
    try:
        present = set(parquet.schema_arrow.names)
        columns = [c for c in (wanted or _MATCH_COLUMNS) if c in present]
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
    the per-entry matcher of `transforms.dedup.batch` yields for each of its entries."""

    def process(self, path: str, new_keys: List[List[str]]) -> Iterable[DedupKey]:
        new = self._new_keys(new_keys)
        offset, rows, keys = 0, [], []
        for table in _batches(path):
            match = match_known(table, new, self._before, self._ignore_runs, self._params)
            self._count(match.readable)
            if match.meeting.any():
                self._matched.inc(int(match.meeting.sum()))
                rows.append(offset + np.flatnonzero(match.meeting))
                keys += [known_key(entry)
                         for entry in entries_of(table.filter(pa.array(match.meeting)))]
                urls = table.column("url_key").filter(pa.array(match.same_content)).to_pylist()
                for url in sorted(set(urls)):
                    yield beam.pvalue.TaggedOutput(SAME_URL, url)
            offset += table.num_rows
        if keys:
            yield from _with_shingles(path, np.concatenate(rows), keys)


def _with_shingles(path: str, rows: np.ndarray, keys: List[DedupKey]) -> List[DedupKey]:
    """The known keys of rows `rows` (sorted) of an index file, given their
    shingles (files written before ``shingles`` existed have none)."""
    parquet = _index_file(path)
    try:
        if SHINGLES not in parquet.schema_arrow.names:
            return keys
    finally:
        parquet.close(force=True)
    shingles = [s for table in _rows_of(path, rows, [SHINGLES])
                for s in table.column(SHINGLES).to_pylist()]
    return [key._replace(shingles=s) if s and key.signature is not None else key
            for key, s in zip(keys, shingles)]


# What the second read needs to find its candidates: the rest is read only
# for the few rows whose URL key the first read named.
_CANDIDATE_COLUMNS = ["url_key", "run_id", "ingested_at"]


class _OfTheirUrlsFn(_MatchFileFn):
    """An index file → its entries that meet no new article but whose URL key
    one that does shares (`urls`), as the per-entry second matcher of
    `transforms.dedup.batch` does."""

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


def meeting_new_fn(before: int, namespace: str, ignore_runs: FrozenSet[str],
                   params: minhash.LshParameters) -> beam.DoFn:
    """The first matcher: an index file → its entries meeting the run's keys,
    and the URL keys of those sharing a content hash (tagged ``same_url``)."""
    return _MeetingNewFn(before, namespace, ignore_runs, params)


def of_their_urls_fn(before: int, namespace: str, ignore_runs: FrozenSet[str],
                     params: minhash.LshParameters) -> beam.DoFn:
    """The second matcher: an index file → its entries of the URL keys the first named."""
    return _OfTheirUrlsFn(before, namespace, ignore_runs, params)
