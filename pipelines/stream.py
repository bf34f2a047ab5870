"""The streaming job: feeds polled and folders watched, continuously, into the same tables.

Locally, for a few minutes (the FnApiRunner writes everything when it stops;
see the README, "Streaming")::

    newsbeam stream --feeds seeds/feeds.txt --sitemaps seeds/sitemaps.txt \\
        --watch 'incoming/*' --output out --duration 600 --min_poll_s 120 --window_minutes 5

On Dataflow (Streaming Engine)::

    newsbeam stream --feeds gs://bucket/feeds.txt --watch 'gs://bucket/incoming/*' \\
        --output gs://bucket/news --runner DataflowRunner --streaming \\
        --enable_streaming_engine --project P --region R \\
        --temp_location gs://bucket/tmp --setup_file ./setup.py

The steps are batch's (`pipelines.ingest`): extract, detect language,
deduplicate, enrich, write. What differs: the sources tick
(`transforms.sources.stream_sources`), dedup holds its keys in expiring state
(`transforms.dedup.stream`), and the tables are cut into event-time windows
with a stats file per window, summed into the run manifest when the stream stops
(`transforms.sink.stream_write`).
"""
from __future__ import annotations

import datetime as _dt
import logging
import sys
import time
from typing import List, Optional, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TestOptions

from pipelines.options import (CommonOptions, OptionsError, StreamOptions, command_help,
                               options_in_effect, wants_help)
from pipelines.runs import (RunContext, article_steps, counted_rows, format_summary,
                            local_pipeline, local_runner, run_context, run_tables, versions)
from pipelines.validation import listed_feed_names, source_priorities, validate_stream
from schemas.contexts import SourceOutputs
from schemas.tables import SCHEMA_VERSION
from transforms.core.paths import remove_tree, temp_dir, write_json
from transforms.core.process import PROCESS, RENAMED_STEPS, ProcessDocuments
from transforms.dedup.index import ReadIndex
from transforms.dedup.stream import StreamDeduplicate
from transforms.extract.dates import parse_timestamp
from transforms.sink.accounting import CountRunOutcomes, manifest_path
from transforms.sink.commit import mark_stream_temp
from transforms.sink.stream_write import (WriteStats, WriteWindowed, format_windows,
                                          output_windows, read_stats, stream_manifest)
from transforms.sink.write import write_empty_tables
from transforms.sources.stream_sources import (CommitFeedState, PollFeedsContinuously, Ticks,
                                               impulse)
from transforms.sources.watch_files import WatchFiles
from transforms.sources.stream_sitemaps import PollSitemapsContinuously


_log = logging.getLogger(__name__)
FOREVER = 9_223_372_036_854.0  # Beam's largest timestamp, in seconds

# A stream launched before the middle and the counts were one composite each
# named these steps (name prefixes) as on the left: the mapping a Dataflow
# update of such a job takes (--transform_name_mapping, docs/guide/streaming.md).
STEP_RENAMES = {**RENAMED_STEPS, **{
    old: f"CountOutcomes/{new}" for old, new in (
        ("WindowInput0", "WindowDocumentInputs"), ("CountInputs0", "CountDocumentInputs"),
        ("WindowInput1", "WindowRejectedInputs"), ("CountInputs1", "CountRejectedInputs"),
        ("WindowInput2", "WindowDuplicateInputs"), ("CountInputs2", "CountDuplicateInputs"),
        ("CountArticles", "CountArticles"), ("CountDuplicates", "CountDuplicates"),
        ("CountRejects", "CountRejects"), ("WindowSkipped", "WindowSkipped"),
        ("CountSkipped", "CountSkipped"), ("WindowUrlConflicts", "WindowUrlConflicts"),
        ("CountUrlConflicts", "CountUrlConflicts"), ("AllCounts", "AllCounts"))}}


def default_stream_id(now: Optional[_dt.datetime] = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("stream-%Y%m%dT%H%M%SZ")


def stop_time(stream: StreamOptions, started: float) -> float:
    """When the sources stop ticking (seconds since the epoch): --duration, --stop_after, never."""
    if stream.duration is not None:
        return started + stream.duration
    if stream.stop_after:
        return parse_timestamp(stream.stop_after) / 1e6
    return FOREVER


def tick_interval(stream: StreamOptions, has_feeds: bool, has_watch: bool) -> float:
    """One tick serves both sources: the shorter of their intervals that are used."""
    used = ([stream.min_poll_s] if has_feeds else []) + (
        [stream.watch_interval_s] if has_watch else [])
    return min(used)


class _StampIngestionTime(beam.DoFn):
    """Sets a row's `ingested_at` to its event time: when newsbeam read it.

    Batch stamps one time per run; a stream stamps each input when its tick read it.
    """

    def process(self, row, timestamp=beam.DoFn.TimestampParam):
        yield row._replace(ingested_at=timestamp.micros)


def _flatten(p: beam.Pipeline, label: str, parts: List):
    parts = [part for part in parts if part is not None]
    if not parts:
        return p | f"No{label}" >> beam.Create([])
    return tuple(parts) | label >> beam.Flatten()


def stamped() -> beam.PTransform:
    return beam.ParDo(_StampIngestionTime())


def read_sources(p: beam.Pipeline, opts: CommonOptions, stream: StreamOptions,
                 run: RunContext, started: float) -> SourceOutputs:
    """The feeds polled and the folders watched, on one tick, as one set of outputs."""
    ticks = Ticks(started, stop_time(stream, started),
                  tick_interval(stream, bool(opts.feeds or opts.sitemaps), bool(stream.watch)))
    tick = p | "Ticks" >> impulse(ticks)
    sources = []
    if opts.feeds:
        sources.append(tick | "PollFeeds" >> PollFeedsContinuously(
            opts.feeds, run.feeds, ticks, stream.min_poll_s, stream.max_poll_s))
    if stream.watch:
        sources.append(tick | "WatchFiles" >> WatchFiles(stream.watch, run.read))
    if opts.sitemaps:  # after the feeds: their state is flattened with the feeds' below
        sources.append(tick | "PollSitemaps" >> PollSitemapsContinuously(
            opts.sitemaps, run.feeds, ticks, stream.min_poll_s, stream.max_poll_s,
            opts.sitemap_max_age_days))
    return SourceOutputs(
        documents=_flatten(p, "ReadDocuments", [s.documents for s in sources]),
        rejects=(_flatten(p, "ReadRejects", [s.rejects for s in sources])
                 | "StampReadRejects" >> stamped()),
        duplicates=(_flatten(p, "ReadDuplicates", [s.duplicates for s in sources])
                    | "StampReadDuplicates" >> stamped()),
        skipped=_flatten(p, "ReadSkipped", [s.skipped for s in sources]),
        state=_flatten(p, "ReadState", [s.state for s in sources]) if run.feeds is not None
        else None)


def write_windowed(tables: dict, output: str, run_id: str, windows) -> None:
    """Each table cut into output windows and written."""
    for name, rows in tables.items():
        _ = (rows | f"Window{name.title()}" >> windows()
             | f"Write{name.title()}" >> WriteWindowed(name, output, run_id))


def stream_header(opts: CommonOptions, started: float) -> dict:
    """What each stats file and the stream's manifest say of the job."""
    return {"schema_version": SCHEMA_VERSION, "versions": versions(),
            "started_at": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(),
            "options": options_in_effect(opts, StreamOptions, CommonOptions),
            "feed_names": listed_feed_names((opts.feeds or []) + (opts.sitemaps or []))}


def deduplicate(p: beam.Pipeline, opts: CommonOptions, run: RunContext,
                separate_stages: bool) -> StreamDeduplicate:
    """Stream dedup: keys held in expiring state, seeded with the index of earlier runs."""
    known = p | "ReadDedupIndex" >> ReadIndex(opts.output, run.run_id, run.started_at,
                                              opts.dedup_window_days)
    return StreamDeduplicate(
        known, run.run_id, opts.dedup_window_days, opts.near_threshold, not opts.no_near_dedup,
        source_priorities(opts), separate_stages=separate_stages)


def build(p: beam.Pipeline, opts: CommonOptions, stream: StreamOptions, run_id: str,
          started: float) -> dict:
    """Wires the streaming graph onto `p`: sources -> process -> windowed tables and stats.

    `started` is the job's start (epoch seconds). Returns the header of its
    stats files (options, versions), which the stream's manifest repeats."""
    run = run_context(opts, run_id, int(started * 1e6))
    read = read_sources(p, opts, stream, run, started)
    # The FnApiRunner fires watermark timers at the end of each bundle of the
    # ticking stage; a shuffle puts dedup in a stage of its own.
    on_fnapi = local_runner(p.options) is not None
    out = read.documents | PROCESS >> ProcessDocuments(
        *article_steps(opts, run.started_at), deduplicate(p, opts, run, on_fnapi),
        stamp=stamped, dedup_stage=on_fnapi)

    def windows() -> beam.WindowInto:
        return output_windows(stream.window_minutes, stream.allowed_lateness_minutes)

    tables = run_tables(read, out)
    write_windowed(tables, opts.output, run_id, windows)
    header = stream_header(opts, started)
    _ = (counted_rows(read, tables, out)
         | "CountOutcomes" >> CountRunOutcomes(windows)
         | "WriteStats" >> WriteStats(opts.output, run_id, header))
    if read.state is not None:
        _ = (read.state
             | "WindowFeedState" >> windows()
             | "CommitFeedState" >> CommitFeedState(opts.output, run_id))
    return header


def run(argv: Optional[Sequence[str]] = None):
    """Parses options and runs the streaming job until its stop time (or forever)."""
    options = PipelineOptions(list(argv) if argv is not None else sys.argv[1:])
    opts = options.view_as(CommonOptions)
    stream = options.view_as(StreamOptions)
    validate_stream(opts, stream)
    options.view_as(StandardOptions).streaming = True
    started = time.time()
    run_id = opts.run_id or default_stream_id()
    if stop_time(stream, started) >= FOREVER and local_runner(options) is not None:
        _log.warning("no --duration or --stop_after: the local runner writes nothing until "
                     "it is stopped, and then nothing at all")
    dry_run = str(options.view_as(TestOptions).dry_run).lower() in ("true", "1")
    if not dry_run:
        mark_stream_temp(opts.output, run_id)  # batch runs' recovery leaves this _tmp/ alone
    p = local_pipeline(options)
    header = build(p, opts, stream, run_id, started)
    if local_runner(options) is None and not dry_run:
        # A managed runner's stream may never stop: its empty tables get their files now.
        write_empty_tables(opts.output, run_id, int(started * 1e6))
    result = p.run()
    if local_runner(options) is not None:
        result.wait_until_finish()
        remove_tree(temp_dir(opts.output, run_id))  # every window's files were moved out
        write_empty_tables(opts.output, run_id, int(started * 1e6))
        manifest = finish(opts.output, run_id, header, started)
        print(format_stream_summary(manifest, opts.output))
    return result


def finish(output: str, run_id: str, header: dict, started: float) -> dict:
    """Writes the stopped stream's manifest, ``_runs/<run_id>.json``, from its windows."""
    finished = time.time()
    manifest = stream_manifest(
        run_id, read_stats(output, run_id), header,
        _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(),
        _dt.datetime.fromtimestamp(finished, _dt.timezone.utc).isoformat(),
        round(finished - started, 3))
    write_json(manifest_path(output, run_id), manifest)
    return manifest


def format_stream_summary(manifest: dict, output: str) -> str:
    """What a stream prints when it stops: batch's summary, then each window."""
    lines = format_summary(manifest).splitlines()
    lines[0] = lines[0].replace(f"run {manifest['run_id']}:", f"stream {manifest['run_id']}:")
    return "\n".join(lines + [f"  windows: {len(manifest['windows'])}", format_windows(manifest),
                              f"  manifest {manifest_path(output, manifest['run_id'])}"])


def main(argv: Optional[List[str]] = None) -> int:
    if wants_help(sys.argv[1:] if argv is None else argv):
        print(command_help(
            "newsbeam stream", "newsbeam stream --feeds LIST|--sitemaps LIST|--watch GLOB --output DIR "
            "[options] [Beam options]",
            "Poll feeds and sitemaps and watch folders continuously into the same tables "
            "as ingest.",
            [("stream options", StreamOptions), ("options shared with ingest", CommonOptions)]))
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        run(argv)
    except OptionsError as error:
        print(f"newsbeam stream: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
