"""Rows that wait in files, not in the runner's memory, until a barrier is passed.

A batch run's articles wait for dedup's decisions, its dedup keys wait for
them too (to become index rows), and its kept articles wait for the
keyphrase table. The local runner keeps a stage's whole output until the next
stage reads it, so each of these waits held every row of the run and the
peak grew with the run (``benchmarks/MEMORY_HOLDERS.md``). `StageRows` makes
the wait go through files: each row is written once, in the stage that made
it, as its Beam encoding in a Parquet file of `STAGE_ROWS` rows under the
run's temporary folder; only the file names cross the barrier. The stage that
reads them back runs once its side inputs (the decisions, the table) are
ready, reads one file at a time, and the names are shuffled first, so the
files are spread over the workers and both cores route, score and write.

The files live under ``_tmp/<run>/staged/`` and go with the run's temporary
folder: removed by the commit, or by the recovery of an unfinished run. A
retried bundle writes new files (their names are random) and only the names
its successful attempt emitted are read.
"""
from __future__ import annotations

import io
import uuid
from typing import Iterable, Iterator, List

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from transforms.core.counters import StageCounters
from transforms.core.paths import ensure_parent, join_path

# Rows a staged file holds: a few MB of articles, so that one file read back
# is small beside the run and the files are few.
STAGE_ROWS = 2000
_SCHEMA = pa.schema([("row", pa.binary())])


def write_staged(folder: str, rows: List[bytes]) -> str:
    """One staged file of encoded rows; returns its path."""
    path = join_path(folder, f"{uuid.uuid4().hex}.parquet")
    ensure_parent(path)
    buffer = io.BytesIO()
    pq.write_table(pa.table({"row": rows}, schema=_SCHEMA), buffer, compression="zstd")
    with FileSystems.create(path) as handle:
        handle.write(buffer.getvalue())
    return path


def read_staged(path: str, row_type: type) -> Iterator:
    """The rows of one staged file, decoded one at a time."""
    with FileSystems.open(path) as handle:
        table = pq.read_table(io.BytesIO(handle.read()))
    decode = beam.coders.registry.get_coder(row_type).decode
    for chunk in table.column("row").chunks:
        for value in chunk:
            yield decode(value.as_py())


class _WriteStagedFn(beam.DoFn):
    """Rows -> the names of the files they were written to (`STAGE_ROWS` a file)."""

    def __init__(self, folder: str, row_type: type, what: str):
        self._folder = folder
        self._row_type = row_type
        self._what = what
        self._counters = StageCounters("staging")

    def setup(self) -> None:
        self._encode = beam.coders.registry.get_coder(self._row_type).encode

    def start_bundle(self) -> None:
        self._rows: List[bytes] = []

    def process(self, row) -> Iterable[str]:
        self._rows.append(self._encode(row))
        if len(self._rows) >= STAGE_ROWS:
            yield self._flush()

    def finish_bundle(self) -> Iterable[WindowedValue]:
        if self._rows:
            yield WindowedValue(self._flush(), GlobalWindow().max_timestamp(), [GlobalWindow()])

    def _flush(self) -> str:
        path = write_staged(self._folder, self._rows)
        self._counters.inc(f"{self._what}_files")
        self._counters.inc(f"{self._what}_rows", len(self._rows))
        self._rows = []
        return path


def write_names(transform: beam.PTransform, rows, folder: str, row_type: type):
    """Applies ``WriteStaged`` inside `transform`: the rows written, their file
    names out (counted under the transform's own label)."""
    what = transform.label.rsplit("/", 1)[-1].lower() if transform.label else "rows"
    return rows | "WriteStaged" >> beam.ParDo(
        _WriteStagedFn(folder, row_type, what)).with_output_types(str)


class StageRows(beam.PTransform):
    """The same rows, carried across the next barrier as files under `folder`.

    Args:
      folder: where the files go (a folder of the run's temporary folder).
      row_type: the rows' type, whose registered coder writes them.

    Batch only (global window): a stream's rows do not wait for a barrier.
    """

    def __init__(self, folder: str, row_type: type):
        super().__init__()
        self._folder = folder
        self._row_type = row_type

    def expand(self, rows):
        row_type = self._row_type
        return (write_names(self, rows, self._folder, row_type)
                | "SpreadFiles" >> beam.Reshuffle()
                | "ReadStaged" >> beam.FlatMap(read_staged, row_type).with_output_types(row_type))


class StageForSideInput(beam.PTransform):
    """Rows -> the names of the files under `folder` that hold them.

    For a side input that is read whole (`read_all_staged`): only the names
    cross the runner. On the FnApiRunner with worker processes a side input's
    bytes pass through the runner process several times (the stage's output,
    its decoded and re-encoded state, one reply to each worker) and are held
    decoded in each worker's cache beside the dict built from them.
    """

    def __init__(self, folder: str, row_type: type):
        super().__init__()
        self._folder = folder
        self._row_type = row_type

    def expand(self, rows):
        return write_names(self, rows, self._folder, self._row_type)


def read_all_staged(paths: Iterable[str], row_type: type) -> Iterator:
    """The rows of every file of `paths`, in the order of their sorted names."""
    for path in sorted(paths):
        yield from read_staged(path, row_type)


__all__ = ["STAGE_ROWS", "StageForSideInput", "StageRows", "read_all_staged", "read_staged",
           "write_staged"]
