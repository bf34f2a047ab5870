"""Large local runs in bounded slices: one pipeline run per slice of the input files.

The FnApiRunner keeps a stage's data in memory, so a local run over more
input than memory holds cannot finish in one pipeline. With ``--slice_files
N`` or ``--slice_mb M`` the launcher matches the input files itself, cuts
them (sorted by path) into slices of at most N files and M MB (a file larger
than M is a slice of its own) and runs the same job once per slice, one
after the other, each in a fresh process, as runs ``<run_id>-s00000``,
``<run_id>-s00001``, ... Each
slice commits its files, its dedup index entries and its line in the cursor
of ingested files before the next starts, so:

- dedup carries across slices through the index under ``_index/``, exactly
  as it does across scheduled runs (a slice's articles are checked against
  those of the slices before it);
- memory is bounded by the largest slice, not by the whole input;
- a run that stops half-way is resumed with ``--since_last_run``: the
  slices that finished are in the cursor and are not read again.

Feeds are polled in the first slice. Each slice is a run with its own
manifest in ``_runs/``; ``_runs/slices/<run_id>.json`` sums them and names
them (apart, so that tools reading ``_runs/*.json`` count each run once).
Rerun a sliced run with the same slice options over the same inputs to
replace its files (the slice ids follow from the plan).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.options import IngestOptions, default_run_id
from pipelines.runs import (INHERITED_LEASE, format_summary, read_manifest, received_signal,
                            started_run, take_lease)
from pipelines.validation import validate
from schemas.records import InputFile
from transforms.core.paths import join_path, write_json
from transforms.extract.dates import from_micros
from transforms.sink.input_cursor import input_file, load_cursor

MB = 1024 * 1024


def plan_slices(files: Iterable[InputFile], max_files: int, max_bytes: int) -> List[List[InputFile]]:
    """`files` in path order, cut into slices of at most `max_files` files and
    `max_bytes` bytes (0: no bound); a file over `max_bytes` is a slice alone."""
    slices: List[List[InputFile]] = []
    current: List[InputFile] = []
    size = 0
    for file in sorted(set(files)):
        full = (max_files and len(current) >= max_files) or \
            (max_bytes and current and size + file.size > max_bytes)
        if full:
            slices.append(current)
            current, size = [], 0
        current.append(file)
        size += file.size
    if current:
        slices.append(current)
    return slices


def slice_run_id(run_id: str, index: int) -> str:
    return f"{run_id}-s{index:05d}"


class SliceFailed(RuntimeError):
    """A slice's run failed; the slices before it are committed."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def as_flags(settings: Dict[str, object]) -> List[str]:
    """Options as command-line flags (what `PipelineOptions.from_dictionary` reads)."""
    flags = []
    for name, value in settings.items():
        if isinstance(value, bool):
            if value:
                flags.append(f"--{name}")
        elif isinstance(value, list):
            flags.extend(f"--{name}={item}" for item in value)
        elif isinstance(value, dict):
            flags.append(f"--{name}={json.dumps(value)}")
        else:
            flags.append(f"--{name}={value}")
    return flags


def summary_path(output: str, run_id: str) -> str:
    """Where the sum of a sliced run's manifests goes: beside them, one folder down."""
    return join_path(output, "_runs", "slices", f"{run_id}.json")


def matched_files(patterns: Sequence[str]) -> List[InputFile]:
    """Every file the globs match, once, in path order."""
    found: Dict[str, InputFile] = {}
    for result in FileSystems.match(list(patterns)):
        for metadata in result.metadata_list:
            found.setdefault(metadata.path, input_file(metadata))
    return [found[path] for path in sorted(found)]


def not_yet_ingested(files: Sequence[InputFile], output: str, run_id: str) -> List[InputFile]:
    """The files no earlier run read in this version; this run's own slices do not count."""
    cursor = load_cursor(output)

    def read_before(file: InputFile) -> bool:
        entry = cursor.get(file.path)
        return (entry is not None and entry["size"] == file.size
                and entry["mtime_us"] == file.mtime_us
                and entry["run_id"] != run_id and not entry["run_id"].startswith(run_id + "-s"))

    return [file for file in files if not read_before(file)]


def combine(run_id: str, manifests: List[dict], started: float, planned: dict) -> dict:
    """One manifest for the whole run: the slices' counts summed, their ids listed."""
    totals: Dict[str, int] = {name: 0 for name in
                              ("inputs", "articles", "duplicates", "rejects", "skipped")}
    details: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_source: Dict[str, dict] = {}
    for manifest in manifests:
        for name, value in manifest["totals"].items():
            totals[name] = totals.get(name, 0) + value
        for key in ("inputs_by_kind", "articles_by_language", "duplicates_by_type",
                    "rejects_by_reason", "skipped_by_kind"):
            for name, value in manifest.get(key, {}).items():
                details[key][name] += value
        by_source.update(manifest.get("by_source", {}))
    holds = all(m["invariant"]["holds"] for m in manifests)
    finished = time.time()
    combined = {
        "run_id": run_id,
        "status": "succeeded" if holds else "invariant_violated",
        "started_at": from_micros(int(started * 1e6)).isoformat(),
        "finished_at": from_micros(int(finished * 1e6)).isoformat(),
        "wall_seconds": round(finished - started, 3),
        "totals": totals,
        "invariant": {"holds": holds, "inputs": totals["inputs"],
                      "articles_duplicates_rejects":
                          totals["articles"] + totals["duplicates"] + totals["rejects"]},
        "by_source": dict(sorted(by_source.items())),
        "slices": {"runs": [m["run_id"] for m in manifests], **planned},
    }
    for key in ("inputs_by_kind", "articles_by_language", "duplicates_by_type",
                "rejects_by_reason", "skipped_by_kind"):
        combined[key] = dict(sorted(details[key].items()))
    if manifests:
        combined["options"] = manifests[0].get("options", {})
        combined["versions"] = manifests[0].get("versions", {})
    return combined


def run_in_slices(argv: Sequence[str], options: Optional[PipelineOptions] = None) -> dict:
    """Runs the job once per slice of the input files; returns the combined manifest.

    `options`: `argv` parsed already (each slice's process parses its own command line).
    """
    options = options if options is not None else PipelineOptions(list(argv))
    opts = options.view_as(IngestOptions)
    validate(opts)
    started = time.time()
    run_id = opts.run_id or default_run_id()
    print(f"run {run_id}: starting in slices, output {opts.output}", flush=True)
    started_run(run_id)
    # One lease for all the slices: each slice's process finds its token.
    lease, _ = take_lease(opts, run_id)
    try:
        combined = _run_slices(argv, options, opts, run_id, started,
                               {**os.environ, INHERITED_LEASE: lease.token})
    except BaseException:
        if received_signal() is not None:
            lease.stop_renewing()  # a slice may be committing: see pipelines.ingest
        else:
            lease.release()
        raise
    lease.release()
    return combined


def _run_slices(argv: Sequence[str], options: PipelineOptions, opts, run_id: str,
                started: float, env: Dict[str, str]) -> dict:

    matched = matched_files(opts.input or [])
    files = not_yet_ingested(matched, opts.output, run_id) if opts.since_last_run else matched
    slices = plan_slices(files, opts.slice_files, int(opts.slice_mb * MB))
    if not slices and (opts.feeds or opts.sitemaps):
        slices = [[]]  # the feeds and sitemaps still need reading
    planned = {"files_matched": len(matched), "already_ingested": len(matched) - len(files),
               "files_per_slice": [len(s) for s in slices],
               "max_files": opts.slice_files, "max_mb": opts.slice_mb}
    base = options.get_all_options(drop_default=True)
    manifests = []
    for index, paths in enumerate(slices):
        slice_id = slice_run_id(run_id, index)
        overrides = {"input": [f.path for f in paths], "run_id": slice_id,
                     "feeds": opts.feeds if index == 0 else None,
                     "sitemaps": opts.sitemaps if index == 0 else None, "since_last_run": False,
                     "slice_files": 0, "slice_mb": 0.0}
        settings = {k: v for k, v in {**base, **overrides}.items() if v is not None}
        print(f"slice {index + 1}/{len(slices)}: {len(paths)} files, run {slice_id}",
              flush=True)
        # A fresh process per slice: what one slice's run leaves allocated
        # (the runner's caches, a fragmented heap) is not carried to the next.
        done = subprocess.run([sys.executable, "-m", "pipelines.ingest", *as_flags(settings)],
                              env=env)
        if done.returncode != 0:
            raise SliceFailed(f"slice {slice_id} failed (exit code {done.returncode}); the "
                              "slices before it are committed: run again with "
                              "--since_last_run to go on from there", done.returncode)
        manifests.append(read_manifest(opts.output, slice_id))
    combined = combine(run_id, manifests, started, planned)
    write_json(summary_path(opts.output, run_id), combined)
    print(format_summary(combined))
    return combined
