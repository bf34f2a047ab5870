"""The streaming job: feeds polled and folders watched, continuously, into the same tables.

Locally, for a few minutes (the FnApiRunner writes everything when it stops;
see the README, "Streaming")::

    newsbeam stream --feeds seeds/feeds.txt --watch 'incoming/*' --output out \\
        --duration 600 --min_poll_s 120 --window_minutes 5

On Dataflow (Streaming Engine)::

    newsbeam stream --feeds gs://bucket/feeds.txt --watch 'gs://bucket/incoming/*' \\
        --output gs://bucket/news --runner DataflowRunner --streaming \\
        --enable_streaming_engine --project P --region R \\
        --temp_location gs://bucket/tmp --setup_file ./setup.py

The steps are batch's (`pipelines.ingest`): extract, detect language,
deduplicate, enrich, write. What differs: the sources tick
(`transforms.stream_sources`), dedup holds its keys in expiring state
(`transforms.stream_dedup`), and the tables are cut into event-time windows
with a stats file per window instead of a run manifest
(`transforms.stream_write`).
"""
from __future__ import annotations

import datetime as _dt
import logging
import sys
import time
from typing import List, Optional, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipelines.ingest import local_runner, versions
from pipelines.options import (IngestOptions, OptionsError, StreamOptions, command_help,
                               detection_languages, fetch_config, source_priorities,
                               validate_feed_options, validate_output, wants_help)
from schemas.tables import SCHEMA_VERSION
from transforms.accounting import (CountOutcomes, article_outcome, duplicate_outcome,
                                   input_outcome, reject_outcome, skipped_outcome)
from transforms.dates import parse_timestamp
from transforms.dedup_index import ReadIndex
from transforms.dump_formats import ReadContext
from transforms.enrich import EnrichArticles
from transforms.extract import ExtractArticles
from transforms.language import DetectLanguage
from transforms.read_feeds import FeedsContext
from transforms.stream_dedup import StreamDeduplicate
from transforms.stream_sources import (CommitFeedState, PollFeedsContinuously, Ticks,
                                      WatchFiles, impulse)
from transforms.stream_write import WriteStats, WriteWindowed, output_windows
from transforms.write import remove_tree, temp_dir

_log = logging.getLogger(__name__)
FOREVER = 9_223_372_036_854.0  # Beam's largest timestamp, in seconds
# Ingest options a stream refuses (--input) or does not use.
NOT_FOR_STREAMS = ("input", "since_last_run", "slice_files", "slice_mb")


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


def validate_stream(opts: IngestOptions, stream: StreamOptions) -> None:
    """Checks the options of `newsbeam stream` before graph construction."""
    if not opts.feeds and not stream.watch:
        raise OptionsError("--feeds or --watch is required (a feed list or a file glob; "
                           "repeat either for several)")
    if opts.input:
        raise OptionsError("--input is for `newsbeam ingest`; watch a glob with --watch")
    validate_output(opts)
    validate_feed_options(opts)
    detection_languages(opts)
    source_priorities(opts)
    for name in ("min_poll_s", "watch_interval_s", "window_minutes"):
        if getattr(stream, name) <= 0:
            raise OptionsError(f"--{name} must be positive")
    if stream.max_poll_s < stream.min_poll_s:
        raise OptionsError("--max_poll_s must be at least --min_poll_s")
    if stream.allowed_lateness_minutes < 0 or opts.dedup_window_days < 0:
        raise OptionsError("--allowed_lateness_minutes and --dedup_window_days must be 0 or more")
    if stream.duration is not None and stream.stop_after:
        raise OptionsError("give --duration or --stop_after, not both")
    if stream.duration is not None and stream.duration <= 0:
        raise OptionsError("--duration must be positive (seconds)")
    if stream.stop_after and parse_timestamp(stream.stop_after) is None:
        raise OptionsError(f"--stop_after {stream.stop_after!r}: expected an ISO 8601 UTC time")
    if stream.stop_after and parse_timestamp(stream.stop_after) <= time.time() * 1e6:
        raise OptionsError(f"--stop_after {stream.stop_after!r} is already past")
    if not 0 < opts.near_threshold <= 1:
        raise OptionsError("--near_threshold must be in (0, 1]")


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


def build(p: beam.Pipeline, opts: IngestOptions, stream: StreamOptions, run_id: str,
          started: float) -> None:
    """Wires the streaming graph onto `p`; `started` is the job's start (epoch seconds)."""
    started_at = int(started * 1e6)
    ctx = ReadContext(run_id, started_at, int(opts.max_document_mb * 1024 * 1024),
                      opts.max_decompression_ratio, int(opts.max_decompressed_mb * 1024 * 1024))
    ticks = Ticks(started, stop_time(stream, started),
                  tick_interval(stream, bool(opts.feeds), bool(stream.watch)))
    tick = p | "Ticks" >> impulse(ticks)
    sources = []
    if opts.feeds:
        sources.append(tick | "PollFeeds" >> PollFeedsContinuously(
            opts.feeds, FeedsContext(run_id, started_at, opts.output, fetch_config(opts),
                                     ctx.max_document_bytes),
            ticks, stream.min_poll_s, stream.max_poll_s))
    if stream.watch:
        sources.append(tick | "WatchFiles" >> WatchFiles(stream.watch, ctx))
    documents = _flatten(p, "ReadDocuments", [s.documents for s in sources])
    read_rejects = (_flatten(p, "ReadRejects", [s.rejects for s in sources])
                    | "StampReadRejects" >> beam.ParDo(_StampIngestionTime()))
    read_duplicates = (_flatten(p, "ReadDuplicates", [s.duplicates for s in sources])
                       | "StampReadDuplicates" >> beam.ParDo(_StampIngestionTime()))
    skipped = _flatten(p, "ReadSkipped", [s.skipped for s in sources])

    articles, extract_rejects = documents | "Extract" >> ExtractArticles(
        started_at, opts.extract_timeout_s, opts.extract_memory_mb, opts.min_text_chars,
        opts.precise_extraction)
    articles = (articles
                | "StampArticles" >> beam.ParDo(_StampIngestionTime())
                | "DetectLanguage" >> DetectLanguage(opts.min_language_score,
                                                     detection_languages(opts)))
    on_fnapi = local_runner(p.options) is not None
    if on_fnapi:
        # The FnApiRunner fires watermark timers at the end of each bundle of
        # the ticking stage; a shuffle puts dedup in a stage of its own.
        articles = articles | "DedupStage" >> beam.Reshuffle()
    known = p | "ReadDedupIndex" >> ReadIndex(opts.output, run_id, started_at,
                                              opts.dedup_window_days)
    unique, duplicates, index_entries = articles | "Deduplicate" >> StreamDeduplicate(
        known, run_id, opts.dedup_window_days, opts.near_threshold, not opts.no_near_dedup,
        source_priorities(opts), separate_stages=on_fnapi)
    unique = unique | "Enrich" >> EnrichArticles()
    all_duplicates = (read_duplicates, duplicates) | "AllDuplicates" >> beam.Flatten()
    all_rejects = ((read_rejects,
                    extract_rejects | "StampExtractRejects" >> beam.ParDo(_StampIngestionTime()))
                   | "AllRejects" >> beam.Flatten())

    def windows() -> beam.WindowInto:
        return output_windows(stream.window_minutes, stream.allowed_lateness_minutes)

    tables = {"articles": unique, "duplicates": all_duplicates, "rejects": all_rejects,
              "index": index_entries}
    windowed = {name: rows | f"Window{name.title()}" >> windows()
                for name, rows in tables.items()}
    for name, rows in windowed.items():
        _ = rows | f"Write{name.title()}" >> WriteWindowed(name, opts.output, run_id)

    inputs = [documents, read_rejects, read_duplicates]
    counts = [rows | f"WindowInput{i}" >> windows() | f"CountInputs{i}" >> CountOutcomes(
        input_outcome) for i, rows in enumerate(inputs)]
    counts += [
        windowed["articles"] | "CountArticles" >> CountOutcomes(article_outcome),
        windowed["duplicates"] | "CountDuplicates" >> CountOutcomes(duplicate_outcome),
        windowed["rejects"] | "CountRejects" >> CountOutcomes(reject_outcome),
        skipped | "WindowSkipped" >> windows() | "CountSkipped" >> CountOutcomes(
            skipped_outcome),
    ]
    header = {"schema_version": SCHEMA_VERSION, "versions": versions(),
              "started_at": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(),
              "options": {k: v for k, v in opts.get_all_options(drop_default=True).items()}}
    _ = (tuple(counts)
         | "AllCounts" >> beam.Flatten()
         | "WriteStats" >> WriteStats(opts.output, run_id, header))
    if opts.feeds:
        _ = (sources[0].state
             | "WindowFeedState" >> windows()
             | "CommitFeedState" >> CommitFeedState(opts.output, run_id))


def run(argv: Optional[Sequence[str]] = None):
    """Parses options and runs the streaming job until its stop time (or forever)."""
    options = PipelineOptions(list(argv) if argv is not None else sys.argv[1:])
    opts = options.view_as(IngestOptions)
    stream = options.view_as(StreamOptions)
    validate_stream(opts, stream)
    options.view_as(StandardOptions).streaming = True
    started = time.time()
    run_id = opts.run_id or default_stream_id()
    if stop_time(stream, started) >= FOREVER and local_runner(options) is not None:
        _log.warning("no --duration or --stop_after: the local runner writes nothing until "
                     "it is stopped, and then nothing at all")
    p = beam.Pipeline(runner=local_runner(options), options=options)
    build(p, opts, stream, run_id, started)
    result = p.run()
    if local_runner(options) is not None:
        result.wait_until_finish()
        remove_tree(temp_dir(opts.output, run_id))  # every window's files were moved out
        print(f"stream {run_id}: stopped; stats under {opts.output}/_runs/{run_id}/")
    return result


def main(argv: Optional[List[str]] = None) -> int:
    if wants_help(sys.argv[1:] if argv is None else argv):
        print(command_help(
            "newsbeam stream", "newsbeam stream --feeds LIST|--watch GLOB --output DIR "
            "[options] [Beam options]",
            "Poll feeds and watch folders continuously into the same tables as ingest.",
            [("stream options", StreamOptions), ("options shared with ingest", IngestOptions)],
            leave_out=NOT_FOR_STREAMS))
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
