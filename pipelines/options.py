"""Pipeline options of newsbeam, validated before any graph is built.

Every Beam option (``--runner``, ``--direct_num_workers``, ``--project``, ...)
passes through unchanged; these are newsbeam's own.
"""
from __future__ import annotations

import datetime as _dt
from typing import Dict, List, Optional

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.write import valid_run_id


class IngestOptions(PipelineOptions):
    """Options of `newsbeam ingest` (see the README for each)."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument("--input", action="append", default=None,
                            help="A file glob of dumps (text, HTML, JSONL, WARC; local or "
                                 "gs://). Repeat for several.")
        parser.add_argument("--output", default=None,
                            help="The output folder (local or gs://).")
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
        parser.add_argument("--precise_extraction", action="store_true", default=False,
                            help="Run trafilatura's fallback extractors too (slower).")
        parser.add_argument("--min_language_score", type=float, default=0.5,
                            help="Below this probability the language is 'und'.")
        parser.add_argument("--dedup_window_days", type=int, default=30,
                            help="Days of the dedup index of earlier runs to dedup against "
                                 "(0: this run only).")
        parser.add_argument("--near_threshold", type=float, default=0.72,
                            help="Least estimated Jaccard similarity of near-duplicates.")
        parser.add_argument("--no_near_dedup", action="store_true", default=False,
                            help="Dedup by URL and exact content only.")
        parser.add_argument("--source_priority", action="append", default=None,
                            help="NAME=N: prefer sources with a lower N when choosing the "
                                 "copy to keep (default 0). Repeat for several.")


def default_run_id(now: Optional[_dt.datetime] = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ")


class OptionsError(ValueError):
    """The command line asks for something that cannot run; the message says why."""


def validate(opts: IngestOptions) -> None:
    """Checks the options before graph construction, with messages a user can act on."""
    if not opts.input:
        raise OptionsError("--input is required (a file glob; repeat it for several)")
    if not opts.output:
        raise OptionsError("--output is required (a local folder or gs://bucket/prefix)")
    if opts.run_id:
        try:
            valid_run_id(opts.run_id)
        except ValueError as error:
            raise OptionsError(str(error)) from None
    empty: List[str] = []
    for pattern, result in zip(opts.input, FileSystems.match(list(opts.input))):
        if not result.metadata_list:
            empty.append(pattern)
    if empty:
        raise OptionsError("no file matches --input " + ", ".join(empty))
    for name in ("max_document_mb", "extract_timeout_s"):
        if getattr(opts, name) <= 0:
            raise OptionsError(f"--{name} must be positive")
    if opts.dedup_window_days < 0:
        raise OptionsError("--dedup_window_days must be 0 or more")
    if not 0 < opts.near_threshold <= 1:
        raise OptionsError("--near_threshold must be in (0, 1]")
    source_priorities(opts)


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
