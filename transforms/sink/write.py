"""Write partitions: Hive-partitioned zstd Parquet, committed once per run.

Each bundle writes the rows it holds to temporary files under
``_tmp/<run_id>/``, one file per partition, flushing a row group every
`rows_per_group` rows, or the largest partitions' rows when the bundle's
pending rows pass `PENDING_BYTES`, so no body is shuffled and memory stays
bounded however large a bundle the runner hands over.
Beam hands the names of the files of committed bundles to `CommitRun`, which
runs once when every table is written and, through the commit protocol of
`transforms.sink.commit`, removes the files an earlier attempt of the same run id
left, moves the new ones to their final, deterministic names
``part-<run_id>-<NNNNN>.parquet`` and writes the run manifest last. A
retried bundle's files are never committed, and a rerun of a run id
replaces its files instead of adding to them.

Partition values come from untrusted data and are reduced to what they may
be: ``dt`` a real date, ``lang`` a 2-3 letter code, ``und`` otherwise.
"""
from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from schemas.records import WrittenFile
from schemas.tables import SCHEMA_VERSION, TABLES, to_arrow
from transforms.extract.dates import plausible_published, utc_date
from transforms.core.paths import ensure_parent, join_path, temp_dir


ROWS_PER_GROUP = 10_000
# What one bundle's writer may hold in pending rows before it flushes the
# largest partitions: a runner may hand a large input to one bundle, and rows
# held until ROWS_PER_GROUP of every partition could then be all of them.
PENDING_BYTES = 64 << 20
# Bytes a row costs besides its strings (Python objects, list cells).
ROW_OVERHEAD_BYTES = 600
_LANG = re.compile(r"^[a-z]{2,3}$")



def safe_language(code: Optional[str]) -> str:
    code = (code or "").strip().lower()
    return code if _LANG.match(code) else "und"


def safe_date(value: Optional[str], fallback: str) -> str:
    try:
        return date.fromisoformat(value or "").isoformat()
    except ValueError:
        return fallback


def article_partition(row) -> str:
    """``dt=<publication date, or ingestion date if unknown>/lang=<code>``."""
    ingested = utc_date(row.ingested_at)
    published = plausible_published(row.published, row.ingested_at)
    dt = utc_date(published) if published is not None else ingested
    return f"dt={safe_date(dt, ingested)}/lang={safe_language(row.language)}"


def ingest_partition(row) -> str:
    """``dt=<ingestion date>``: duplicates and rejects are filed by when they were seen."""
    day = utc_date(row.ingested_at)
    return f"dt={safe_date(day, day)}"


PARTITIONERS: Dict[str, Callable] = {
    "articles": article_partition, "duplicates": ingest_partition, "rejects": ingest_partition,
    "index": ingest_partition}


def row_bytes(row) -> int:
    """About what a pending row holds in memory: its strings and lists of strings."""
    size = ROW_OVERHEAD_BYTES
    for value in row:
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, list):
            size += sum(len(item) for item in value if isinstance(item, str))
    return size


class _PartitionWriter:
    """One open Parquet file and its pending rows."""

    def __init__(self, path: str, schema):
        self.path = path
        self.rows = 0
        self.pending_bytes = 0
        self._schema = schema
        self._pending: List = []
        self._writer: Optional[pq.ParquetWriter] = None
        self._handle = None

    def add(self, row, rows_per_group: int) -> None:
        self._pending.append(row)
        self.pending_bytes += row_bytes(row)
        if len(self._pending) >= rows_per_group:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        if self._writer is None:
            self._handle = FileSystems.create(self.path)
            self._writer = pq.ParquetWriter(self._handle, self._schema, compression="zstd")
        self._writer.write_table(to_arrow(self._pending, self._schema))
        self.rows += len(self._pending)
        self._pending = []
        self.pending_bytes = 0

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()
            self._handle.close()


class _WriteTableFn(beam.DoFn):
    """Writes a bundle's rows of one table into temporary per-partition files."""

    def __init__(self, table: str, output: str, run_id: str, rows_per_group: int,
                 pending_bytes: int = PENDING_BYTES):
        self._table = table
        self._output = output
        self._run_id = run_id
        self._rows_per_group = rows_per_group
        self._max_pending = pending_bytes
        self._writers: Dict[str, _PartitionWriter] = {}
        self._pending = 0
        self._rows = Metrics.counter("write", f"rows:{table}")

    def start_bundle(self) -> None:
        self._writers = {}
        self._pending = 0

    def process(self, row) -> Iterable[WrittenFile]:
        partition = PARTITIONERS[self._table](row)
        writer = self._writers.get(partition)
        if writer is None:
            path = join_path(temp_dir(self._output, self._run_id), self._table,
                             f"{uuid.uuid4().hex}.parquet")
            writer = self._writers[partition] = _PartitionWriter(
                path, TABLES[self._table].schema)
        before = writer.pending_bytes
        writer.add(row, self._rows_per_group)
        self._pending += writer.pending_bytes - before
        if self._pending > self._max_pending:
            # Flush the biggest partitions until half the budget is free:
            # memory stays bounded however large the bundle.
            for largest in sorted(self._writers.values(), key=lambda w: -w.pending_bytes):
                self._pending -= largest.pending_bytes
                largest.flush()
                if self._pending <= self._max_pending // 2:
                    break
        self._rows.inc()
        return []

    def finish_bundle(self):
        for partition, writer in self._writers.items():
            writer.close()
            yield GlobalWindows.windowed_value(
                WrittenFile(self._table, partition, writer.path, writer.rows))
        self._writers = {}


class WriteTable(beam.PTransform):
    """Writes rows of one output table; returns the `WrittenFile`s to commit.

    Args:
      table: ``articles``, ``duplicates`` or ``rejects``.
      output: the output folder (local or ``gs://``).
      run_id: the run these rows belong to.
    """

    def __init__(self, table: str, output: str, run_id: str,
                 rows_per_group: int = ROWS_PER_GROUP, pending_bytes: int = PENDING_BYTES):
        super().__init__()
        self._fn = _WriteTableFn(table, output, run_id, rows_per_group, pending_bytes)

    def expand(self, rows):
        return rows | "WriteParquet" >> beam.ParDo(self._fn)


def final_name(run_id: str, shard: int) -> str:
    return f"part-{run_id}-{shard:05d}.parquet"


def plan_commit(output: str, run_id: str,
                written: Iterable[WrittenFile]) -> List[Tuple[str, str]]:
    """(temporary, final) path pairs, numbered in a stable order per partition."""
    by_partition: Dict[Tuple[str, str], List[WrittenFile]] = {}
    for item in written:
        if item.rows:
            by_partition.setdefault((item.table, item.partition), []).append(item)
    moves = []
    for (table, partition), items in sorted(by_partition.items()):
        for shard, item in enumerate(sorted(items, key=lambda w: w.temp_path)):
            moves.append((item.temp_path, join_path(output, TABLES[table].folder, partition,
                                                    final_name(run_id, shard))))
    return moves


def existing_run_files(output: str, run_id: str) -> List[str]:
    """The committed files of exactly this run id.

    The glob also matches other runs whose id starts with this one (``daily``
    and ``daily-2``, a sliced run's ``daily-s00000``); the name is then
    checked whole: ``part-<run_id>-<5 digits>.parquet``.
    """
    patterns = [join_path(output, spec.folder, *(["*"] * len(spec.partition_keys)),
                          f"part-{run_id}-*.parquet")
                for spec in TABLES.values()]
    exact = re.compile(rf"part-{re.escape(run_id)}-\d{{5}}\.parquet")
    found = []
    for result in FileSystems.match(patterns):
        found.extend(m.path for m in result.metadata_list
                     if exact.fullmatch(m.path.replace("\\", "/").rsplit("/", 1)[-1]))
    return found


# The tables a reader opens; each exists after every run, with its schema.
READER_TABLES = ("articles", "duplicates", "rejects")


def empty_partition(table: str, day: str) -> str:
    """Where a table with no rows gets its empty file: the run's day (``lang=und``
    for articles), a partition like any other, so hive-partitioned readers
    (DuckDB, Spark, BigQuery) find the same keys in every file."""
    return f"dt={day}/lang=und" if table == "articles" else f"dt={day}"


def empty_table_moves(output: str, run_id: str, started_at: int,
                      moves: Iterable[Tuple[str, str]], stale: Iterable[str],
                      tables: Iterable[str] = READER_TABLES) -> List[Tuple[str, str]]:
    """(temporary, final) pairs that give each table with no file one file with no rows.

    A run with no duplicates or no rejects would otherwise leave no folder,
    and ``read_parquet('out/duplicates/**/*.parquet')`` (DuckDB) or
    ``pd.read_parquet('out/duplicates')`` fail on it. The file is an ordinary
    part file of the run (``part-<run_id>-00000.parquet``), written under
    ``_tmp/<run_id>/`` now and committed by the same intent as the run's other
    files: a rerun replaces it, readers that skip ``_``/``.`` files (Spark,
    BigQuery, pyarrow) read it, and it carries the schema.
    """
    day = safe_date(utc_date(started_at), "1970-01-01")
    targets = [target for _, target in moves]
    leaving = set(stale)
    pairs = []
    for table in tables:
        spec = TABLES[table]
        folder = join_path(output, spec.folder) + "/"
        if any(target.startswith(folder) for target in targets):
            continue
        pattern = join_path(output, spec.folder, *(["*"] * len(spec.partition_keys)),
                            "*.parquet")
        if any(m.path not in leaving for result in FileSystems.match([pattern])
               for m in result.metadata_list):
            continue
        temp = join_path(temp_dir(output, run_id), table, "empty.parquet")
        ensure_parent(temp)
        with FileSystems.create(temp) as handle:
            pq.write_table(spec.schema.empty_table(), handle, compression="zstd")
        pairs.append((temp, join_path(output, spec.folder, empty_partition(table, day),
                                      final_name(run_id, 0))))
    return pairs


def write_empty_tables(output: str, run_id: str, started_at: int,
                       tables: Iterable[str] = READER_TABLES) -> List[str]:
    """Writes `empty_table_moves`' files in place at once (a stream, which has no
    commit step, calls it when it starts and when it stops)."""
    pairs = empty_table_moves(output, run_id, started_at, (), (), tables)
    if pairs:
        for _, final in pairs:
            ensure_parent(final)
        FileSystems.rename([a for a, _ in pairs], [b for _, b in pairs])
    return [b for _, b in pairs]


__all__ = ["WriteTable", "write_empty_tables", "empty_table_moves", "safe_language", "safe_date", "article_partition",
           "ingest_partition", "SCHEMA_VERSION"]
