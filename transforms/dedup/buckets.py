"""LSH buckets grouped in files, a shard at a time, instead of in the runner.

Every signed article is in `minhash.lsh_parameters` bands (20 at the default
threshold), so the near stage's bucket entries, ``(band key, member_ref)``,
are twenty times the run. The FnApiRunner holds a group's values decoded:
``GroupByBand`` held every entry of the run (65 MB at 10,000 W2 articles,
``benchmarks/MEMORY_HOLDERS.md``; about 330 bytes an entry), though nearly
every bucket has one member and yields no pair. `GroupBandsInFiles` writes
each bundle's entries to one Parquet file, a row group per shard of the band
keys; only ``(shard, (path, row group))`` is grouped, and each shard's row
groups are read together, counted in Arrow, and only buckets of two members
or more come out, as ``(band key, [member_ref, ...])``: the shape
``GroupByBand`` gives. The most a worker holds is one shard's entries.

Batch only (the global window), in a run with a staging folder: the files
live under ``_tmp/<run>/`` and go with it (`transforms.core.staging`). A
retried bundle writes a new file; only the names its successful attempt
emitted are read.
"""
from __future__ import annotations

import io
import uuid
from typing import Dict, Iterable, List, Tuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from transforms.core.counters import StageCounters
from transforms.core.paths import ensure_parent, join_path

# Shards of the band keys: one shard's entries are grouped at a time.
SHARDS = 32
_SCHEMA = pa.schema([("band", pa.string()), ("ref", pa.string())])
# A row group: (file path, row group index in it).
_PART = Tuple[str, int]


def shard_of_band(band: str) -> int:
    """A band key's shard, the same in every worker: its last hex digits (the
    key ends in a 64-bit hash of the band's rows, `minhash.band_keys`)."""
    try:
        return int(band[-4:], 16) % SHARDS
    except ValueError:
        return sum(band.encode()) % SHARDS


def write_entries(folder: str, entries: List[Tuple[str, str]]) -> Iterable[Tuple[int, _PART]]:
    """One file of `entries`, a row group per shard; yields ``(shard, (path, index))``."""
    by_shard: Dict[int, Tuple[List[str], List[str]]] = {}
    for band, ref in entries:
        bands, refs = by_shard.setdefault(shard_of_band(band), ([], []))
        bands.append(band)
        refs.append(ref)
    path = join_path(folder, f"{uuid.uuid4().hex}.parquet")
    ensure_parent(path)
    buffer = io.BytesIO()
    written = []
    with pq.ParquetWriter(buffer, _SCHEMA, compression="zstd") as writer:
        for index, (shard, (bands, refs)) in enumerate(sorted(by_shard.items())):
            # One write_table call of fewer rows than the row group size is one row group.
            writer.write_table(pa.table({"band": bands, "ref": refs}, schema=_SCHEMA),
                               row_group_size=len(bands))
            written.append((shard, (path, index)))
    with FileSystems.create(path) as handle:
        handle.write(buffer.getvalue())
    return written


class _WriteEntriesFn(beam.DoFn):
    """Bucket entries -> ``(shard, (path, row group))`` of the file they went to."""
    FLUSH_ENTRIES = 500_000

    def __init__(self, folder: str):
        self._folder = folder
        self._counters = StageCounters("dedup")

    def start_bundle(self) -> None:
        self._entries: List[Tuple[str, str]] = []

    def process(self, entry: Tuple[str, str]):
        self._entries.append(entry)
        if len(self._entries) >= self.FLUSH_ENTRIES:
            yield from self._flush()

    def finish_bundle(self):
        if self._entries:
            for part in self._flush():
                yield WindowedValue(part, GlobalWindow().max_timestamp(), [GlobalWindow()])

    def _flush(self):
        self._counters.inc("band_files")
        self._counters.inc("band_entries", len(self._entries))
        written = write_entries(self._folder, self._entries)
        self._entries = []
        return written


def buckets_of_shard(shard: Tuple[int, Iterable[_PART]]) -> Iterable[Tuple[str, List[str]]]:
    """The buckets of two members or more among one shard's row groups, each
    as ``(band key, sorted member refs)``."""
    _, parts = shard
    by_path: Dict[str, List[int]] = {}
    for path, index in parts:
        by_path.setdefault(path, []).append(index)
    tables = []
    for path, indexes in sorted(by_path.items()):
        with FileSystems.open(path) as handle:
            tables.append(pq.ParquetFile(io.BytesIO(handle.read())).read_row_groups(indexes))
    if not tables:
        return
    entries = pa.concat_tables(tables)
    counts = entries.group_by("band").aggregate([("ref", "count")])
    shared = counts.filter(pc.greater_equal(counts.column("ref_count"), 2)).column("band")
    if not len(shared):
        return
    members = entries.filter(pc.is_in(entries.column("band"), value_set=shared))
    buckets: Dict[str, List[str]] = {}
    for band, ref in zip(members.column("band").to_pylist(), members.column("ref").to_pylist()):
        buckets.setdefault(band, []).append(ref)
    for band in sorted(buckets):
        yield band, sorted(buckets[band])


class GroupBandsInFiles(beam.PTransform):
    """``(band key, member_ref)`` entries -> ``(band key, [member_ref, ...])``
    for every bucket of two members or more, grouped through files under
    `folder` (see the module doc). A bucket of one member yields no pair, so
    it is left out."""

    def __init__(self, folder: str):
        super().__init__()
        self._folder = folder

    def expand(self, entries):
        return (entries
                | "WriteBands" >> beam.ParDo(_WriteEntriesFn(self._folder)).with_output_types(
                    Tuple[int, _PART])
                | "ByShard" >> beam.GroupByKey()
                | "SharedBuckets" >> beam.FlatMap(buckets_of_shard).with_output_types(
                    Tuple[str, List[str]]))


__all__ = ["GroupBandsInFiles", "SHARDS", "buckets_of_shard", "shard_of_band", "write_entries"]
