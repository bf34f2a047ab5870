"""The batch ingestion job: dumps in, partitioned Parquet out.

Locally (DirectRunner)::

    newsbeam ingest --input 'seeds/*.txt' --output out
    python -m pipelines.ingest --input 'dumps/*.warc.gz' --output out \\
        --direct_num_workers 2 --direct_running_mode multi_processing

On Dataflow::

    newsbeam ingest --input 'gs://bucket/dumps/*' --output gs://bucket/news \\
        --runner DataflowRunner --project P --region R \\
        --temp_location gs://bucket/tmp --setup_file ./setup.py

The graph reads as its steps: read dumps, remove the lines each source
repeats across its dumps, extract, detect language, deduplicate (against the
index of earlier runs too), write each table and the index, commit the run.
"""
from __future__ import annotations

import logging
import signal
import sys
import time
from typing import Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult

from pipelines.options import (CommonOptions, IngestOptions, OptionsError, command_help,
                               default_run_id, options_in_effect, wants_help)
from pipelines.runs import (RunContext, article_steps, counted_rows, first_run_id,
                            forget_signals, format_summary, interrupt, local_pipeline,
                            read_manifest, received_signal, run_context, run_tables,
                            started_run, take_lease, versions)
from pipelines.slices import SliceFailed, run_in_slices
from pipelines.validation import listed_feed_names, source_priorities, validate
from pipelines.worker_guard import stop_children, stop_when_a_worker_dies
from schemas.contexts import SourceOutputs
from schemas.tables import SCHEMA_VERSION
from transforms.core.paths import join_path, temp_dir
from transforms.core.process import PROCESS, ProcessDocuments
from transforms.dedup.batch import Deduplicate
from transforms.dedup.index import ReadIndex
from transforms.extract.boilerplate import (CountSourceBoilerplate, RemoveSourceBoilerplate,
                                            after_counts)
from transforms.sink.accounting import CommitRun, CountRunOutcomes, manifest_path
from transforms.sink.commit import runs_committed_after
from transforms.sink.conditional_writes import LeaseHeld
from transforms.sink.feed_state import StateError, load_states
from transforms.sink.input_cursor import CursorError, SkipIngestedFiles, load_cursor
from transforms.sink.write import WriteTable
from transforms.sources.read_dumps import MatchInputs, ReadDumps
from transforms.sources.read_feeds import ReadFeeds
from transforms.sources.read_sitemaps import ReadSitemaps


_log = logging.getLogger(__name__)


def match_inputs(p: beam.Pipeline, opts: IngestOptions, run_id: str):
    """The dump files to read, and how many were left out (None: all are read).

    Every file that --input matches, or with --since_last_run only those no
    earlier successful run read (the cursor under ``_state/``).
    """
    files = p | "MatchInputs" >> MatchInputs(opts.input or [])
    if not opts.since_last_run:
        return files, None
    new = files | "SkipIngestedFiles" >> SkipIngestedFiles(opts.output, run_id)
    return new.files, (new.already_ingested
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


def read_sources(p: beam.Pipeline, opts: IngestOptions, run: RunContext,
                 files: beam.PCollection) -> SourceOutputs:
    """Dumps (the `InputFile`s `files`), feeds (--feeds) and sitemaps (--sitemaps),
    flattened into one set of outputs.

    ``state`` holds the feed and sitemap state updates (None when neither is read).
    """
    dumps = files | "ReadDumps" >> ReadDumps(run.read, local_workers(opts))
    if run.feeds is None:
        return dumps
    web = []
    if opts.feeds:
        web.append(p | "ReadFeeds" >> ReadFeeds(opts.feeds, run.feeds))
    if opts.sitemaps:
        web.append(p | "ReadSitemaps" >> ReadSitemaps(opts.sitemaps, run.feeds,
                                                      opts.sitemap_max_age_days))
    return SourceOutputs(
        documents=((dumps.documents, *(w.documents for w in web))
                   | "ReadDocuments" >> beam.Flatten()),
        rejects=(dumps.rejects, *(w.rejects for w in web)) | "ReadRejects" >> beam.Flatten(),
        duplicates=dumps.duplicates,  # feeds and sitemaps have none (see ReadFeeds)
        skipped=(dumps.skipped, *(w.skipped for w in web)) | "ReadSkipped" >> beam.Flatten(),
        state=tuple(w.state for w in web) | "WebStateUpdates" >> beam.Flatten())


def write_tables(output: str, run_id: str, tables: dict) -> beam.PCollection:
    """The four tables' `WrittenFile`s, written under ``_tmp/`` until the commit."""
    return ((tables["articles"] | "WriteArticles" >> WriteTable("articles", output, run_id),
             tables["duplicates"] | "WriteDuplicates" >> WriteTable("duplicates", output, run_id),
             tables["rejects"] | "WriteRejects" >> WriteTable("rejects", output, run_id),
             tables["index"] | "WriteDedupIndex" >> WriteTable("index", output, run_id))
            | "AllWrittenFiles" >> beam.Flatten())


def staging_folder(opts: IngestOptions, run_id: str) -> str:
    """Where the run's rows wait for a barrier (dedup's decisions, the keyphrase
    table) as files, not in the runner's memory: inside ``_tmp/<run>/``, which
    the commit removes."""
    return join_path(temp_dir(opts.output, run_id), "staged")


def deduplicate(opts: IngestOptions, run_id: str, started_at: int,
                later_runs: Iterable[str]) -> Deduplicate:
    """Batch dedup, against the index of earlier runs (but for `later_runs`)."""
    # Deduplicate applies the read itself (twice) and keeps only the entries
    # that meet this run's articles: memory does not grow with the index.
    known = ReadIndex(opts.output, run_id, started_at, opts.dedup_window_days,
                      ignore_runs=later_runs)
    return Deduplicate(known, run_id, started_at, opts.near_threshold,
                       not opts.no_near_dedup, source_priorities(opts),
                       stage_dir=join_path(staging_folder(opts, run_id), "dedup"))


def run_header(opts: IngestOptions) -> dict:
    """What the run manifest says of the job beside its counts."""
    return {"schema_version": SCHEMA_VERSION, "versions": versions(),
            "options": options_in_effect(opts, IngestOptions, CommonOptions),
            "feed_names": listed_feed_names((opts.feeds or []) + (opts.sitemaps or []))}


def build(p: beam.Pipeline, opts: IngestOptions, run_id: str, started_at: int,
          later_runs: Iterable[str] = (), lease_token: Optional[str] = None) -> None:
    """Wires the ingestion graph onto `p`: sources -> process -> tables and commit.

    `later_runs`: for a rerun, the runs committed after its first commit,
    whose index entries it ignores; `lease_token`: the lease the commit
    checks it still holds (see `transforms.sink.commit`).
    """
    run = run_context(opts, run_id, started_at)
    files, already_ingested = match_inputs(p, opts, run_id)
    # Lines a source repeats across its dumps (menus, footers) are learnt from
    # a first pass over the files (only line hashes are shuffled); the files
    # are read once they are known, so no document waits for them in memory.
    boilerplate = files | "CountBoilerplate" >> CountSourceBoilerplate(run.read)
    read = read_sources(p, opts, run, after_counts(files, boilerplate))
    documents = read.documents | "SourceBoilerplate" >> RemoveSourceBoilerplate(boilerplate)
    out = documents | PROCESS >> ProcessDocuments(
        *article_steps(opts, started_at), deduplicate(opts, run_id, started_at, later_runs),
        stage_dir=join_path(staging_folder(opts, run_id), "keyphrases"))
    tables = run_tables(read, out)
    counts = counted_rows(read, tables, out) | "CountOutcomes" >> CountRunOutcomes()
    _ = p | "CommitRun" >> CommitRun(
        write_tables(opts.output, run_id, tables), counts, opts.output, run_id, started_at,
        run_header(opts), feed_state=read.state, input_files=files if opts.input else None,
        already_ingested=already_ingested, since_last_run=opts.since_last_run,
        lease_token=lease_token)


def launch(argv: Sequence[str]) -> Tuple[PipelineResult, IngestOptions, str]:
    """Parses and checks the options, builds the graph and runs it to the end.

    Returns the runner's result, the options and the run id. The job itself
    commits its files and writes the manifest (the `CommitRun` step), on
    whichever runner and worker it runs.
    """
    return launch_options(PipelineOptions(list(argv)))


def read_state_first(opts: IngestOptions, run_id: str) -> None:
    """Reads the cursor and the feed state before the run writes anything.

    A damaged file fails the run here, with the output as it was (the
    commit reads them again under the same lease).
    """
    if opts.input:
        load_cursor(opts.output)
    if opts.feeds or opts.sitemaps:
        load_states(opts.output, run_id)


def launch_options(options: PipelineOptions) -> Tuple[PipelineResult, IngestOptions, str]:
    """`launch`, from options already parsed: lease, recovery, run, release."""
    opts = options.view_as(IngestOptions)
    validate(opts)
    started = time.time()
    run_id = opts.run_id or default_run_id()
    print(f"run {run_id}: starting, output {opts.output}", flush=True)
    started_run(run_id)
    lease, inherited = take_lease(opts, run_id)
    try:
        read_state_first(opts, run_id)
        p = local_pipeline(options)
        build(p, opts, run_id, int(started * 1e6), runs_committed_after(opts.output, run_id),
              lease.token)
        result = p.run()
        result.wait_until_finish()
    except BaseException:
        if received_signal() is not None:
            # Kept: a commit may still be under way in a worker. The next run on
            # this machine takes it over at once (this process is gone), others
            # after --lease_ttl_s.
            lease.stop_renewing()
        elif not inherited:
            lease.release()
        raise
    if not inherited:
        lease.release()
    return result, opts, run_id


def run(argv: Optional[Sequence[str]] = None) -> dict:
    """Runs the job to the end and returns its manifest.

    A runner that did not run the job here (``--dry_run``, a template being
    staged) leaves no manifest: that is said, and {} returned. With
    ``--slice_files``/``--slice_mb`` the job runs once per slice of the input
    files (`pipelines.slices`).
    """
    argv = list(argv) if argv is not None else sys.argv[1:]
    options = PipelineOptions(argv)  # parsed once, here, for the whole run
    sliced = options.view_as(IngestOptions)
    if sliced.slice_files or sliced.slice_mb:
        return run_in_slices(argv, options)
    result, opts, run_id = launch_options(options)
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
            "newsbeam ingest", "newsbeam ingest --input GLOB|--feeds LIST|--sitemaps LIST "
            "--output DIR "
            "[options] [Beam options]",
            "Read dumps (text, HTML, JSONL, WARC) and feeds into deduplicated, "
            "partitioned Parquet.",
            [("ingest options", IngestOptions), ("options shared with stream", CommonOptions)]))
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    stop_when_a_worker_dies()  # multi_processing: a dead worker can hang the FnApiRunner
    forget_signals()
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        run(argv)
    except BaseException as error:
        signum = received_signal()
        if signum is not None:
            stop_children()
            run_id = first_run_id() or "<the run id>"
            print(f"interrupted: rerun with --run_id {run_id} to finish or replace it",
                  file=sys.stderr, flush=True)
            return 128 + signum
        if isinstance(error, (OptionsError, LeaseHeld, CursorError, StateError)):
            print(f"newsbeam ingest: {error}", file=sys.stderr)
            return 2
        if isinstance(error, SliceFailed):
            print(f"newsbeam ingest: {error}", file=sys.stderr)
            return error.exit_code or 1
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
