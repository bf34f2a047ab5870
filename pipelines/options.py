"""Pipeline options of newsbeam, validated before any graph is built.

Every Beam option (``--runner``, ``--direct_num_workers``, ``--project``, ...)
passes through unchanged; these are newsbeam's own: `CommonOptions`, which
both commands take, and `IngestOptions` and `StreamOptions`, each command's
own. Each command parses its command line once (`PipelineOptions(argv)`) and
reads it through views; `pipelines.validation` checks it before any graph.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import difflib
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Type

from apache_beam.options.pipeline_options import PipelineOptions


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


class CommonOptions(PipelineOptions):
    """Options that `newsbeam ingest` and `newsbeam stream` both take.

    `IngestOptions` and `StreamOptions` add each command's own; a view of
    either holds these too (Beam's view walks the class's bases).
    """

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument("--feeds", action="append", default=None,
                            help="A feed list (text, one URL a line, or OPML; local or "
                                 "gs://). Repeat for several; combines with --input.")
        parser.add_argument("--sitemaps", action="append", default=None,
                            help="A list of sitemaps, in the feed-list format: a sitemap URL, "
                                 "or a site URL whose robots.txt Sitemap: lines are followed. "
                                 "Repeat for several; combines with --input and --feeds. "
                                 "`newsbeam stream` reads each again when due, on the "
                                 "feeds' --min_poll_s/--max_poll_s schedule.")
        parser.add_argument("--sitemap_max_age_days", type=float, default=2.0,
                            help="Sitemap entries older than this (publication date, else "
                                 "lastmod) are not fetched.")
        parser.add_argument("--validator_check_every", type=int, default=6,
                            help="Every this many polls a feed is polled unconditionally and "
                                 "its body compared, to catch an ETag or Last-Modified kept "
                                 "while the items changed (1: every poll).")
        parser.add_argument("--output", default=None,
                            help="The output folder (local or gs://); required.")
        parser.add_argument("--run_id", default=None,
                            help="The run's id; a rerun of an id replaces its files. "
                                 "Default: the UTC start time, YYYYMMDDTHHMMSSZ.")
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
        # Feeds: politeness and safety of the fetcher (transforms/sources/fetch.py).
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
        parser.add_argument("--near_threshold", type=float, default=0.70,
                            help="Least Jaccard similarity of near-duplicates (exact within a "
                                 "run, estimated against the index); the LSH bands follow it.")
        parser.add_argument("--no_near_dedup", **SWITCH,
                            help="Dedup by URL and exact content only.")
        parser.add_argument("--source_priority", action="append", default=None,
                            help="NAME=N: prefer sources with a lower N when choosing the "
                                 "copy to keep (default 0). Repeat for several.")


class IngestOptions(CommonOptions, PipelineOptions):
    """Options of `newsbeam ingest` alone, with the common ones in its view.

    `PipelineOptions` is a direct base too: Beam parses the options of the
    direct subclasses of `PipelineOptions` only.
    """

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument("--input", action="append", default=None,
                            help="A file glob of dumps (text, HTML, JSONL, WARC; local or "
                                 "gs://). Repeat for several.")
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
        parser.add_argument("--wait_for_lease", type=float, default=0.0,
                            help="Seconds to wait for another run into the same --output to "
                                 "finish (0: refuse at once, exit code 2). See "
                                 "docs/reliability.md.")
        parser.add_argument("--lease_ttl_s", type=float, default=600.0,
                            help="A run renews its lease on --output every third of this; a "
                                 "lease not renewed for this long (its run died) is taken "
                                 "over by the next run.")


class StreamOptions(CommonOptions, PipelineOptions):
    """Options of `newsbeam stream` alone, with the common ones in its view
    (docs/guide/streaming.md)."""

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
                 groups: Sequence[Tuple[str, Type[PipelineOptions]]]) -> str:
    """A command's ``--help``: newsbeam's options, one group per options class.

    Beam's own parser would print an empty usage (it knows no option when
    ``--help`` is parsed); Beam's options pass through and are not listed.
    """
    parser = argparse.ArgumentParser(
        prog=prog, usage=usage, description=description, formatter_class=DefaultsHelpFormatter,
        epilog="Beam's options (--runner, --project, --region, --temp_location, "
               "--direct_num_workers, ...) pass through unchanged.")
    for title, options_class in groups:
        options_class._add_argparse_args(parser.add_argument_group(title))
    return parser.format_help()


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that ends each option's text with its default, so ``--help`` alone
    tells what a run does when the option is not given."""

    def _get_help_string(self, action) -> str:
        text = action.help or ""
        if action.default is argparse.SUPPRESS or not action.option_strings \
                or "default" in text.lower() or "required" in text.lower() \
                or action.dest == "help":
            return text
        return f"{text} (default: {describe_default(action.default)})"


def describe_default(value: Any) -> str:
    """An option's default as a user would type it (``none`` for no value)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def known_option_names() -> List[str]:
    """Every option Beam or newsbeam understands, as ``--name`` strings.

    The same set of `PipelineOptions` subclasses Beam itself parses with
    (every subclass imported, newsbeam's included).
    """
    return sorted({string for action in _beam_parser()._actions
                   for string in action.option_strings if string.startswith("--")})


def _beam_parser() -> argparse.ArgumentParser:
    """The parser Beam's `PipelineOptions.get_all_options` builds: one class per
    name among the direct subclasses of `PipelineOptions` (newsbeam's included)."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser
    parser = _BeamArgumentParser(allow_abbrev=False)
    subset: Dict[str, Type[PipelineOptions]] = {}
    for cls in PipelineOptions.__subclasses__():
        subset.setdefault(str(cls), cls)
    for cls in subset.values():
        cls._add_argparse_args(parser)
    return parser


def unknown_arguments(argv: Sequence[str]) -> List[str]:
    """The arguments of `argv` that no Beam or newsbeam option takes.

    Beam drops them with a warning and the run goes on with the default:
    ``--min_text_char 5000`` would run with 100 and exit 0. newsbeam stops.
    """
    _, unknown = _beam_parser().parse_known_args(list(argv))
    return unknown


def did_you_mean(argument: str, names: Sequence[str]) -> str:
    """`` (did you mean --x?)`` for the closest known option name, or ''."""
    name = argument.split("=", 1)[0]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def check_arguments(argv: Sequence[str], own: Sequence[str] = (),
                    foreign: Dict[str, Sequence[str]] = None) -> None:
    """Raises `OptionsError` for the first argument no option takes, or that
    only another command takes.

    `own`: the command's own option names, preferred in the suggestion.
    `foreign`: other commands' own option names, by command: Beam parses
    them for every command, so without this check they would pass and be
    ignored.
    """
    for command, names in (foreign or {}).items():
        given = next((a for a in argv if a.split("=", 1)[0] in names), None)
        if given is not None:
            raise OptionsError(f"{given.split('=', 1)[0]} is an option of `newsbeam {command}`; "
                               "--help lists this command's options")
    unknown = unknown_arguments(argv)
    if not unknown:
        return
    first = next((a for a in unknown if a.startswith("-")), unknown[0])
    names = list(own) + [n for n in known_option_names() if n not in own]
    if not first.startswith("-"):
        raise OptionsError(f"unexpected argument {first!r}: every value follows its --option")
    raise OptionsError(f"unknown option {first.split('=', 1)[0]}{did_you_mean(first, names)}; "
                       "--help lists the options")


def option_names(*classes: Type[PipelineOptions]) -> List[str]:
    """The ``--name`` strings of newsbeam's options classes."""
    parser = argparse.ArgumentParser(add_help=False)
    for options_class in classes:
        options_class._add_argparse_args(parser)
    return [s for action in parser._actions for s in action.option_strings]


def options_in_effect(options: PipelineOptions,
                      *classes: Type[PipelineOptions]) -> Dict[str, Any]:
    """What the run manifest records: every newsbeam option with its value,
    defaults included, and the Beam options that were given.

    Beam's own defaults (a few hundred, most of them for other runners) are
    left out; they are the Beam version's, which the manifest names.
    """
    given = options.get_all_options(drop_default=True)
    recorded = {}
    for options_class in classes:
        parser = argparse.ArgumentParser(add_help=False)
        options_class._add_argparse_args(parser)
        for action in parser._actions:
            recorded[action.dest] = getattr(options.view_as(options_class), action.dest)
    recorded.update({k: v for k, v in given.items() if k not in recorded})
    return dict(sorted(recorded.items()))


def default_run_id(now: Optional[_dt.datetime] = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ")


class OptionsError(ValueError):
    """The command line asks for something that cannot run; the message says why."""
