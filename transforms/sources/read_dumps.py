"""Read dumps: match file globs (local or gs://) and split each file into inputs.

The splitting itself is `transforms.sources.dump_formats.read_records`; this module
wires it into Beam. Paths are matched, de-duplicated (two globs may name one
file) and spread across workers before any file is opened, so the work is
split per file and only paths are shuffled.
"""
from __future__ import annotations

from typing import Iterable, List, Tuple

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from schemas.records import Duplicate, InputFile, RawDocument, Reject
from schemas.contexts import ReadContext, Skipped, SourceOutputs
from transforms.sources.dump_formats import read_records
from transforms.sources.dump_io import STAGE
from transforms.core.routing import DUPLICATES, REJECTS, SKIPPED, route
from transforms.core.counters import StageCounters
from transforms.sink.input_cursor import input_file

UNREADABLE_FILE = "unreadable_file"


def open_raw(path: str):
    """Opens a file as stored: compression is sniffed from its bytes, not its name."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


class SplitFileFn(beam.DoFn):
    """Yields one file's documents; rejects, revisits and skipped records are tagged.

    Its input is a path, or a ``(path, shard, shards)`` `FileShard`: then it
    reads the whole file but yields only the records whose position in it,
    modulo `shards`, is `shard`, so every record of the file comes out of
    exactly one shard. A failure may hit one shard only (a file gone, a
    network read failing half-way), so every shard yields the reject that
    ends its reading: the error it caught, or the file's last record when
    that is a reject another shard owns. `ReadDumps` keeps one row per input.
    """

    def __init__(self, ctx: ReadContext):
        self._ctx = ctx
        self._counters = StageCounters(STAGE)

    def process(self, element) -> Iterable[RawDocument]:
        path, shard, shards = (element, 0, 1) if isinstance(element, str) else element
        if shard == 0:
            self._counters.inc("files")
        records = read_records(path, lambda: open_raw(path), self._ctx)
        number = -1
        ending = None  # another shard's reject, yielded if no record follows it
        while True:
            try:
                record = next(records)
                number += 1
                if number % shards != shard:
                    ending = record if isinstance(record, Reject) else None
                    continue
                ending = None
            except StopIteration:
                if ending is not None:
                    yield beam.pvalue.TaggedOutput(REJECTS, ending)
                return
            except Exception as error:  # an unreadable file is a reject, not a crash
                self._counters.inc(f"error:{type(error).__name__}")
                reject = Reject(
                    doc_id=None, stage=STAGE, reason=UNREADABLE_FILE,
                    message=f"{type(error).__name__}: {error}"[:500], url=None, source_kind="file",
                    source_uri=path, source_position="byte:0", run_id=self._ctx.run_id,
                    ingested_at=self._ctx.ingested_at)
                yield beam.pvalue.TaggedOutput(REJECTS, reject)
                return
            yield route(record, self._counters)


class MatchInputs(beam.PTransform):
    """File globs to the `InputFile`s they match, each file once.

    Args:
      patterns: file globs, local paths or ``gs://`` URLs (matched when the
        pipeline runs, not when it is built).
    """

    def __init__(self, patterns: List[str]):
        super().__init__()
        self._patterns = list(patterns)

    def expand(self, pbegin) -> beam.PCollection[InputFile]:
        return (pbegin
                | "InputPatterns" >> beam.Create(self._patterns)
                | "MatchFiles" >> fileio.MatchAll()
                | "KeyByPath" >> beam.Map(lambda metadata: (metadata.path, input_file(metadata)))
                | "UniqueFiles" >> beam.CombinePerKey(min)  # two globs may name one file
                | "Files" >> beam.Values())


# A file read by several workers: (path, shard, shards).
FileShard = Tuple[str, int, int]
# The most workers that share one file (each reads all of it, keeping its share).
MAX_SHARDS = 8


def reject_key(reject: Reject) -> str:
    """What names one input of a file: a second reject with this key is the
    same input told by another shard."""
    return "\x00".join((reject.source_uri, reject.stage, reject.reason, reject.source_position))


def one_reject_per_input(rejects: Iterable[Reject]) -> Reject:
    """One of the rejects the shards wrote for one input: the first by message
    (shards that failed differently), so that reruns write the same row."""
    return min(rejects, key=lambda reject: reject.message)


def file_shards(path: str, workers: int, files: int) -> List[FileShard]:
    """`path` as the shards that keep `workers` busy when there are fewer
    `files` than workers: one shard a file when there are enough files."""
    shards = 1 if files >= workers else min(MAX_SHARDS, -(-workers // max(files, 1)))
    return [(path, shard, shards) for shard in range(shards)]


class ReadDumps(beam.PTransform):
    """`InputFile`s to raw documents, spread across workers file by file.

    With fewer files than `workers` (local worker processes), each file is
    read as several shards, spread across the workers, that each keep every
    n-th record of the file: only paths are shuffled, never documents.

    Args:
      ctx: run id, ingestion time and the size limit of one document.
      workers: the worker processes that should share the files.

    Returns a `SourceOutputs`: ``documents`` (`RawDocument`), ``rejects``
    (`Reject`), ``duplicates`` (WARC revisits) and ``skipped`` (`Skipped`);
    ``state`` is None. A failure that several shards of a file report is one
    reject.
    """

    def __init__(self, ctx: ReadContext, workers: int = 1):
        super().__init__()
        self._ctx = ctx
        self._workers = max(1, workers)

    def expand(self, files):
        paths = files | "FilePaths" >> beam.Map(lambda file: file.path)
        if self._workers > 1:
            count = paths | "CountFiles" >> beam.combiners.Count.Globally()
            paths = (paths
                     | "FileShards" >> beam.FlatMap(
                         file_shards, self._workers, beam.pvalue.AsSingleton(count)
                     ).with_output_types(FileShard)
                     | "SpreadShards" >> beam.Reshuffle())
        split = (paths
                 | "SplitRecords" >> beam.ParDo(SplitFileFn(self._ctx)).with_output_types(
                     RawDocument, **{REJECTS: Reject, DUPLICATES: Duplicate, SKIPPED: Skipped}
                 ).with_outputs(REJECTS, DUPLICATES, SKIPPED, main="documents"))
        rejects = split[REJECTS]
        if self._workers > 1:  # rejects are small rows: shuffling them costs little
            rejects = (rejects
                       | "ByInput" >> beam.Map(lambda reject: (reject_key(reject), reject))
                       .with_output_types(Tuple[str, Reject])
                       | "OneRejectPerInput" >> beam.CombinePerKey(one_reject_per_input)
                       | "Rejects" >> beam.Values().with_output_types(Reject))
        return SourceOutputs(documents=split.documents, rejects=rejects,
                             duplicates=split[DUPLICATES], skipped=split[SKIPPED])

