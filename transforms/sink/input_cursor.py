"""Which input files earlier runs ingested: ``_state/inputs.json`` under the output.

Every successful run records the dump files it read, each with its size and
modification time (``last_updated`` on gs://) and the run id that read it.
With ``--since_last_run`` a run reads only the files that no earlier
successful run read in that same version: a new file, or one whose size or
time changed (its records that were ingested before then come out as
duplicates, through the dedup index). A nightly job over a growing bucket
of dumps reads each file once.

The cursor moves on in the run's commit step, only when the run has
succeeded, written whole to a temporary file and renamed over the old one
(`commit_cursor`), like the feed state: a failed run leaves it as it was and
can simply be run again. A rerun of a run id reads again the files that its
earlier attempt read (its files are replaced), and its record replaces that
attempt's. Runs over one output run one at a time (the lease of
`transforms.sink.commit`).

The filter is a join on the file path inside the pipeline, so neither the
list of files nor the cursor is held by the launching process or shipped in
the job graph.
"""
from __future__ import annotations

import json
import uuid
from typing import Dict, Iterable, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from schemas.contexts import NewFilesResult
from schemas.records import InputFile
from transforms.core.counters import StageCounters
from transforms.core.paths import join_path, json_text, write_json

CURSOR_VERSION = 1
ALREADY_INGESTED = "already_ingested"


class CursorError(RuntimeError):
    """The cursor exists but cannot be read: move it aside to read every file again."""


def cursor_path(output: str) -> str:
    return join_path(output, "_state", "inputs.json")


def input_file(metadata) -> InputFile:
    """A matched file (Beam's `FileMetadata`) as the cursor identifies it."""
    return InputFile(metadata.path, int(metadata.size_in_bytes),
                     int(round((metadata.last_updated_in_seconds or 0.0) * 1_000_000)))


def load_cursor(output: str) -> Dict[str, dict]:
    """The files read by earlier successful runs, by path ({} before the first run).

    Raises:
      CursorError: the file is there but is not a cursor newsbeam can read.
    """
    path = cursor_path(output)
    if not FileSystems.exists(path):
        return {}
    try:
        with FileSystems.open(path) as handle:
            document = json.loads(handle.read().decode("utf-8"))
        if document.get("version") != CURSOR_VERSION:
            raise ValueError(f"cursor version {document.get('version')!r}, "
                             f"expected {CURSOR_VERSION}")
        return {str(p): {"size": int(e["size"]), "mtime_us": int(e["mtime_us"]),
                         "run_id": str(e["run_id"])} for p, e in document["files"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CursorError(f"cannot read the input cursor {path}: {error}; move it aside to "
                          "read every input file again") from None


def already_ingested(file: InputFile, entry: Optional[dict], run_id: str) -> bool:
    """Whether an earlier run (not an attempt of this one) read this very version."""
    return (entry is not None and entry["run_id"] != run_id
            and entry["size"] == file.size and entry["mtime_us"] == file.mtime_us)


def merge_cursor(old: Dict[str, dict], run_id: str,
                 files: Iterable[InputFile]) -> Dict[str, dict]:
    """The cursor after a run: an earlier attempt's record replaced by this run's files."""
    merged = {path: entry for path, entry in old.items() if entry["run_id"] != run_id}
    for file in files:
        merged[file.path] = {"size": file.size, "mtime_us": file.mtime_us, "run_id": run_id}
    return merged


def replace_file(temp: str, path: str) -> None:
    """Renames `temp` over `path`, on file systems that refuse to rename over a file too."""
    try:
        FileSystems.rename([temp], [path])
    except Exception:
        if not FileSystems.exists(path):
            raise
        FileSystems.delete([path])
        FileSystems.rename([temp], [path])


def plan_cursor(output: str, run_id: str, files: Iterable[InputFile],
                skipped: int = 0, since_last_run: bool = False) -> Tuple[Dict[str, str], dict]:
    """The cursor after a successful run, read before any write of the commit.

    Returns ``(writes, summary)``: the cursor's path and new text, and what
    the run manifest says of the input files.

    Raises:
      CursorError: the cursor is damaged; nothing has been written.
    """
    files = sorted(set(files))
    path = cursor_path(output)
    merged = merge_cursor(load_cursor(output), run_id, files)
    text = json_text({"version": CURSOR_VERSION, "run_id": run_id,
                      "files": {p: merged[p] for p in sorted(merged)}})
    return {path: text}, {"cursor": path, "since_last_run": since_last_run, "read": len(files),
                          "bytes_read": sum(f.size for f in files), ALREADY_INGESTED: skipped,
                          "files_known": len(merged)}


def commit_cursor(output: str, run_id: str, files: Iterable[InputFile],
                  skipped: int = 0, since_last_run: bool = False) -> dict:
    """Records the files this run read, written whole and renamed over the old cursor.

    Batch runs commit the same through their intent (`plan_cursor`).
    Returns what the run manifest says of the input files.
    """
    writes, summary = plan_cursor(output, run_id, files, skipped, since_last_run)
    for path, text in writes.items():
        temp = f"{path}.tmp-{run_id}-{uuid.uuid4().hex[:8]}"
        write_json(temp, json.loads(text))
        replace_file(temp, path)
    return summary


class _CursorEntriesFn(beam.DoFn):
    """The cursor as (path, entry) pairs, leaving out this run's earlier attempt."""

    def __init__(self, run_id: str):
        self._run_id = run_id

    def process(self, output: str) -> Iterable[Tuple[str, dict]]:
        for path, entry in load_cursor(output).items():
            if entry["run_id"] != self._run_id:
                yield path, entry


class _KeepNewFilesFn(beam.DoFn):
    def __init__(self, run_id: str):
        self._run_id = run_id
        self._counters = StageCounters("input_cursor")

    def process(self, joined) -> Iterable[InputFile]:
        _, grouped = joined
        entries = list(grouped["cursor"])
        entry = entries[0] if entries else None
        for file in grouped["files"]:
            if already_ingested(file, entry, self._run_id):
                self._counters.inc(f"skipped:{ALREADY_INGESTED}")
                yield beam.pvalue.TaggedOutput(ALREADY_INGESTED, file)
            else:
                self._counters.inc("out")
                yield file


class SkipIngestedFiles(beam.PTransform):
    """Input files that no earlier successful run read, by the cursor under ``_state/``.

    Args:
      output: the output folder holding ``_state/inputs.json``.
      run_id: this run (its own earlier attempt does not count).

    Returns a `NewFilesResult`: the new ``files`` and those ``already_ingested``.
    """

    def __init__(self, output: str, run_id: str):
        super().__init__()
        self._output = output
        self._run_id = run_id

    def expand(self, files):
        cursor = (files.pipeline
                  | "CursorPath" >> beam.Create([self._output])
                  | "ReadCursor" >> beam.ParDo(_CursorEntriesFn(self._run_id)))
        split = ({"files": files | "KeyByPath" >> beam.Map(lambda f: (f.path, f)),
                  "cursor": cursor}
                 | "JoinCursor" >> beam.CoGroupByKey()
                 | "KeepNewFiles" >> beam.ParDo(_KeepNewFilesFn(self._run_id)).with_outputs(
                     ALREADY_INGESTED, main="files"))
        return NewFilesResult(files=split.files, already_ingested=split[ALREADY_INGESTED])


__all__ = ["SkipIngestedFiles", "commit_cursor", "plan_cursor", "load_cursor", "merge_cursor",
           "already_ingested", "input_file", "cursor_path", "CursorError"]
