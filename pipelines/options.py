"""Pipeline options of newsbeam, validated before any graph is built.

Every Beam option (``--runner``, ``--direct_num_workers``, ``--project``, ...)
passes through unchanged; these are newsbeam's own.
"""
from __future__ import annotations

import argparse
import datetime as _dt
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, Type

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.write import valid_run_id


def switch(value: str) -> bool:
    """A yes/no option's value: ``--flag`` alone, or ``--flag=true|false`` as
    Flex Templates and schedulers pass every parameter."""
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not true or false")


SWITCH = {"nargs": "?", "const": True, "default": False, "type": switch}


class IngestOptions(PipelineOptions):
    """Options of `newsbeam ingest` (see the README for each)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument("--input", action="append", default=None,
                            help="A file glob of dumps (text, HTML, JSONL, WARC; local or "
                                 "gs://). Repeat for several.")
        parser.add_argument("--feeds", action="append", default=None,
                            help="A feed list (text, one URL a line, or OPML; local or "
                                 "gs://). Repeat for several; combines with --input.")
        parser.add_argument("--output", default=None,
                            help="The output folder (local or gs://).")
        parser.add_argument("--run_id", default=None,
                            help="The run's id; a rerun of an id replaces its files. "
                                 "Default: the UTC start time, YYYYMMDDTHHMMSSZ.")
        parser.add_argument("--since_last_run", **SWITCH,
                            help="Read only the --input files that no earlier successful run "
                                 "into this --output read (new, or changed in size or time), "
                                 "by the cursor in _state/inputs.json.")
        parser.add_argument("--slice_files", type=int, default=0,
                            help="Run the job once per slice of at most this many input "
                                 "files, one slice after the other, dedup carried by the "
                                 "index (0: one run). Bounds a local run's memory.")
        parser.add_argument("--slice_mb", type=float, default=0.0,
                            help="Likewise, slices of at most this many MB of input files "
                                 "(0: no bound).")
        parser.add_argument("--max_document_mb", type=float, default=20.0,
                            help="Larger documents are rejected as too_large.")
        parser.add_argument("--extract_timeout_s", type=float, default=30.0,
                            help="The most one HTML page may take to extract.")
        parser.add_argument("--extract_memory_mb", type=int, default=2048,
                            help="Address-space cap of the extraction process (0: none).")
        parser.add_argument("--min_text_chars", type=int, default=100,
                            help="Articles with a shorter body are rejected as too_short.")
        parser.add_argument("--precise_extraction", **SWITCH,
                            help="Run trafilatura's fallback extractors too (slower).")
        parser.add_argument("--max_decompression_ratio", type=float, default=100.0,
                            help="A gzip/deflate/br body or .gz dump whose output outgrows "
                                 "its compressed input this many times (judged past 1 MiB of "
                                 "output) is rejected as decompression_bomb (0: no bound).")
        parser.add_argument("--max_decompressed_mb", type=float, default=10240.0,
                            help="The most one compressed dump file may expand to; then "
                                 "the rest is rejected as decompression_bomb (0: no bound).")
        parser.add_argument("--min_language_score", type=float, default=0.5,
                            help="Below this probability the language is 'und'.")
        parser.add_argument("--languages", default=None,
                            help="Detect only these languages, comma-separated ISO 639 codes "
                                 "(ar,en,...); default: every language newsbeam detects.")
        # Feeds: politeness and safety of the fetcher (transforms/fetch.py).
        parser.add_argument("--user_agent_contact", default=None,
                            help="A URL or mail address for publishers, added to the "
                                 "User-Agent: newsbeam/<version> (+CONTACT).")
        parser.add_argument("--allow_hosts", action="append", default=None,
                            help="Hosts, addresses or networks (CIDR) that may be fetched "
                                 "although they are loopback/private/link-local. Repeat or "
                                 "separate with commas.")
        parser.add_argument("--min_host_delay_s", type=float, default=1.0,
                            help="Least time between the starts of two requests to one host "
                                 "(robots.txt Crawl-delay raises it).")
        parser.add_argument("--max_per_host", type=int, default=2,
                            help="Most requests in flight to one host.")
        parser.add_argument("--max_concurrency", type=int, default=32,
                            help="Most requests in flight in one worker.")
        parser.add_argument("--fetch_timeout_s", type=float, default=20.0,
                            help="The most one request may take, body included.")
        parser.add_argument("--max_body_mb", type=float, default=10.0,
                            help="Larger (decompressed) feed or page bodies are refused.")
        parser.add_argument("--max_redirects", type=int, default=5,
                            help="Most redirects followed for one feed or page.")
        parser.add_argument("--max_retries", type=int, default=3,
                            help="Retries on 429, 5xx, timeouts and network errors.")
        parser.add_argument("--retry_backoff_s", type=float, default=1.0,
                            help="First retry waits about this long, doubling each time "
                                 "(at least what Retry-After asks).")
        parser.add_argument("--max_retry_after_s", type=float, default=120.0,
                            help="A longer Retry-After ends the attempt (retried next run).")
        parser.add_argument("--dedup_window_days", type=int, default=30,
                            help="Days of the dedup index of earlier runs to dedup against "
                                 "(0: this run only).")
        parser.add_argument("--near_threshold", type=float, default=0.72,
                            help="Least estimated Jaccard similarity of near-duplicates.")
        parser.add_argument("--no_near_dedup", **SWITCH,
                            help="Dedup by URL and exact content only.")
        parser.add_argument("--source_priority", action="append", default=None,
                            help="NAME=N: prefer sources with a lower N when choosing the "
                                 "copy to keep (default 0). Repeat for several.")


class StreamOptions(PipelineOptions):
    """Options of `newsbeam stream` beyond those of ingest (see the README, "Streaming")."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument("--watch", action="append", default=None,
                            help="A file glob (local or gs://) watched for new dumps; each "
                                 "file is ingested once. Repeat for several.")
        parser.add_argument("--min_poll_s", type=float, default=300.0,
                            help="Least time between two polls of one feed; also the tick "
                                 "of the feed poller.")
        parser.add_argument("--max_poll_s", type=float, default=6 * 3600.0,
                            help="Most time between two polls of one feed (backing off a "
                                 "feed that rarely changes stops here).")
        parser.add_argument("--watch_interval_s", type=float, default=60.0,
                            help="How often the --watch globs are matched.")
        parser.add_argument("--window_minutes", type=float, default=10.0,
                            help="Output window: one file per partition per window.")
        parser.add_argument("--allowed_lateness_minutes", type=float, default=24 * 60.0,
                            help="Rows this late still go to a further file of their window.")
        parser.add_argument("--duration", type=float, default=None,
                            help="Stop polling and watching after this many seconds.")
        parser.add_argument("--stop_after", default=None,
                            help="Stop polling and watching at this UTC time (ISO 8601).")


def wants_help(argv: Sequence[str]) -> bool:
    """Whether the command line asks for the help (``-h`` or ``--help``)."""
    return any(arg in ("-h", "--help") for arg in argv)


def command_help(prog: str, usage: str, description: str,
                 groups: Sequence[Tuple[str, Type[PipelineOptions]]],
                 leave_out: Iterable[str] = ()) -> str:
    """A command's ``--help``: newsbeam's options, one group per options class.

    Beam's own parser would print an empty usage (it knows no option when
    ``--help`` is parsed); Beam's options pass through and are not listed.
    `leave_out`: options of a class that the command does not use.
    """
    parser = argparse.ArgumentParser(
        prog=prog, usage=usage, description=description,
        epilog="Beam's options (--runner, --project, --region, --temp_location, "
               "--direct_num_workers, ...) pass through unchanged.")
    for title, options_class in groups:
        options_class._add_argparse_args(parser.add_argument_group(title))
    hidden = {f"--{name}" for name in leave_out}
    for action in parser._actions:
        if hidden.intersection(action.option_strings):
            action.help = argparse.SUPPRESS
    return parser.format_help()


def default_run_id(now: Optional[_dt.datetime] = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ")


class OptionsError(ValueError):
    """The command line asks for something that cannot run; the message says why."""


def validate(opts: IngestOptions) -> None:
    """Checks the options before graph construction, with messages a user can act on."""
    if not opts.input and not opts.feeds:
        raise OptionsError("--input or --feeds is required (a file glob or a feed list; "
                           "repeat either for several)")
    validate_output(opts)
    empty: List[str] = []
    for pattern, result in zip(opts.input or [], FileSystems.match(list(opts.input or []))):
        if not result.metadata_list:
            empty.append(pattern)
    if empty:
        raise OptionsError("no file matches --input " + ", ".join(empty))
    validate_feed_options(opts)
    detection_languages(opts)
    for name in ("max_document_mb", "extract_timeout_s"):
        if getattr(opts, name) <= 0:
            raise OptionsError(f"--{name} must be positive")
    for name in ("max_decompression_ratio", "max_decompressed_mb"):
        if getattr(opts, name) < 0:
            raise OptionsError(f"--{name} must be 0 (no bound) or more")
    if opts.slice_files < 0 or opts.slice_mb < 0:
        raise OptionsError("--slice_files and --slice_mb must be 0 (no slices) or more")
    if opts.dedup_window_days < 0:
        raise OptionsError("--dedup_window_days must be 0 or more")
    if not 0 < opts.near_threshold <= 1:
        raise OptionsError("--near_threshold must be in (0, 1]")
    source_priorities(opts)


def validate_output(opts: IngestOptions) -> None:
    """Checks --output is given and --run_id, if given, can name files (ingest and stream)."""
    if not opts.output:
        raise OptionsError("--output is required (a local folder or gs://bucket/prefix)")
    if opts.run_id:
        try:
            valid_run_id(opts.run_id)
        except ValueError as error:
            raise OptionsError(str(error)) from None


def source_priorities(opts: IngestOptions) -> Dict[str, int]:
    """--source_priority NAME=N options as a mapping."""
    priorities: Dict[str, int] = {}
    for item in opts.source_priority or []:
        name, _, value = item.rpartition("=")
        try:
            priorities[name.strip()] = int(value)
        except ValueError:
            raise OptionsError(f"--source_priority {item!r}: expected NAME=N, N an integer") \
                from None
    return priorities


def validate_feed_options(opts: IngestOptions) -> None:
    """Checks the feed lists exist and the fetcher's limits make sense."""
    missing = [path for path in opts.feeds or [] if not FileSystems.exists(path)]
    if missing:
        raise OptionsError("no feed list at --feeds " + ", ".join(missing))
    for name in ("min_host_delay_s", "retry_backoff_s", "max_retry_after_s"):
        if getattr(opts, name) < 0:
            raise OptionsError(f"--{name} must be 0 or more")
    for name in ("max_per_host", "max_concurrency", "fetch_timeout_s", "max_body_mb"):
        if getattr(opts, name) <= 0:
            raise OptionsError(f"--{name} must be positive")
    for name in ("max_redirects", "max_retries"):
        if getattr(opts, name) < 0:
            raise OptionsError(f"--{name} must be 0 or more")
    fetch_config(opts)


def fetch_config(opts: IngestOptions):
    """The fetcher's configuration from the options (see transforms/fetch.py)."""
    from transforms.fetch import AllowList, FetchConfig, default_user_agent
    allow = tuple(opts.allow_hosts or [])
    try:
        AllowList.parse(allow)
    except ValueError as error:
        raise OptionsError(f"--allow_hosts: {error}") from None
    return FetchConfig(
        user_agent=default_user_agent(opts.user_agent_contact), allow=allow,
        min_host_delay_s=opts.min_host_delay_s, max_per_host=opts.max_per_host,
        max_concurrency=opts.max_concurrency, timeout_s=opts.fetch_timeout_s,
        max_body_bytes=int(opts.max_body_mb * 1024 * 1024), max_redirects=opts.max_redirects,
        max_retries=opts.max_retries, backoff_base_s=opts.retry_backoff_s,
        max_retry_after_s=opts.max_retry_after_s,
        max_decompression_ratio=opts.max_decompression_ratio)


def detection_languages(opts: IngestOptions) -> Optional[FrozenSet[str]]:
    """The --languages restriction as a set of codes (None: every language)."""
    from transforms.language import parse_languages
    try:
        return parse_languages(opts.languages)
    except ValueError as error:
        raise OptionsError(f"--languages: {error}") from None
