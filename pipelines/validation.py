"""One validator for the options of `newsbeam ingest` and `newsbeam stream`.

Every check runs before a graph is built and raises `OptionsError` with a
message a user can act on; the command prints it and exits with status 2.
`validate_common` holds the checks both commands share, so a value one
command refuses the other refuses too.
"""
from __future__ import annotations

import os
import time
import uuid
from typing import Dict, FrozenSet, List, Optional, Sequence

from apache_beam.io.filesystems import FileSystems

from transforms.core.paths import valid_run_id
from transforms.extract.dates import parse_timestamp
from pipelines.options import (CommonOptions, IngestOptions, OptionsError, StreamOptions,
                               check_arguments, option_names)


def validate(opts: IngestOptions) -> None:
    """Checks the options of `newsbeam ingest` before graph construction, with
    messages a user can act on."""
    check_arguments(getattr(opts, "_flags", ()), option_names(IngestOptions, CommonOptions),
                    foreign={"stream": option_names(StreamOptions)})
    if not opts.input and not opts.feeds and not opts.sitemaps:
        raise OptionsError("--input, --feeds or --sitemaps is required (a file glob, a feed "
                           "list or a sitemap list; repeat any for several)")
    if opts.slice_files < 0 or opts.slice_mb < 0:
        raise OptionsError("--slice_files and --slice_mb must be 0 (no slices) or more")
    if opts.wait_for_lease < 0 or opts.lease_ttl_s <= 0:
        raise OptionsError("--wait_for_lease must be 0 or more and --lease_ttl_s positive")
    validate_common(opts)
    check_output_location(opts.output, opts.input or [])
    empty: List[str] = []
    for pattern, result in zip(opts.input or [], FileSystems.match(list(opts.input or []))):
        if not result.metadata_list:
            empty.append(pattern)
    if empty:
        raise OptionsError("no file matches --input " + ", ".join(empty))


def validate_common(opts: CommonOptions) -> None:
    """The checks of the options that ingest and stream share: one validator,
    so a value refused by one command is refused by the other."""
    for name in ("max_document_mb", "extract_timeout_s"):
        if getattr(opts, name) <= 0:
            raise OptionsError(f"--{name} must be positive")
    for name in ("max_decompression_ratio", "max_decompressed_mb", "extract_memory_mb",
                 "min_text_chars"):
        if getattr(opts, name) < 0:
            raise OptionsError(f"--{name} must be 0 or more")
    if not 0 <= opts.min_language_score <= 1:
        raise OptionsError("--min_language_score must be in [0, 1]")
    if opts.dedup_window_days < 0:
        raise OptionsError("--dedup_window_days must be 0 or more")
    if not 0 < opts.near_threshold <= 1:
        raise OptionsError("--near_threshold must be in (0, 1]")
    detection_languages(opts)
    source_priorities(opts)
    validate_output(opts)
    validate_feed_options(opts)


def validate_output(opts: CommonOptions) -> None:
    """Checks --output is given and --run_id, if given, can name files (ingest and stream)."""
    if not opts.output:
        raise OptionsError("--output is required (a local folder or gs://bucket/prefix)")
    if opts.run_id:
        try:
            valid_run_id(opts.run_id)
        except ValueError as error:
            raise OptionsError(str(error)) from None
    check_output(opts.output)


def check_output(output: str) -> None:
    """Checks --output can be a writable folder, before the graph is built.

    Without it a file given as --output, or a folder or bucket that cannot
    be written, fails only once the whole pipeline ran, in a long traceback.
    On gs:// (and other object stores) a small object is written under
    ``_tmp/`` and removed: only a write tells whether the bucket exists and
    the credentials may write there.
    """
    if "://" in output:
        probe = FileSystems.join(output, "_tmp", f".write-check-{uuid.uuid4().hex}")
        try:
            with FileSystems.create(probe) as handle:
                handle.write(b"")
            FileSystems.delete([probe])
        except Exception as error:  # each file system raises its own errors
            raise OptionsError(f"--output {output} cannot be written: "
                               f"{type(error).__name__}: {str(error)[:300]}") from None
        return
    path = os.path.abspath(output)
    if os.path.exists(path) and not os.path.isdir(path):
        raise OptionsError(f"--output {output} is a file, not a folder")
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise OptionsError(f"--output {output}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OptionsError(f"--output {output}: {existing} is not writable")


# Paths a run writes under its output, to test an --input glob against.
_OUTPUT_PROBES = ("articles/dt=2026-01-01/lang=en/part-run-00000.parquet",
                  "duplicates/dt=2026-01-01/part-run-00000.parquet",
                  "rejects/dt=2026-01-01/part-run-00000.parquet",
                  "_index/dt=2026-01-01/part-run-00000.parquet", "_runs/run.json",
                  "_state/inputs.json", "_tmp/run/articles/0.parquet")


def check_output_location(output: str, inputs: Sequence[str]) -> None:
    """Checks, before any graph, that --output can be written and is no input.

    An --input glob that matches what a run writes there would make each run
    read the earlier runs' output. Locally the folder is created if missing
    (a path through a file, or a folder that cannot be written, is refused).
    """
    import os
    import re

    from apache_beam.io.filesystem import FileSystem

    root = output.rstrip("/")
    for pattern in inputs:
        matcher = re.compile(FileSystem.translate_pattern(pattern))
        hits = [probe for probe in _OUTPUT_PROBES if matcher.match(f"{root}/{probe}")]
        if "://" not in pattern and "://" not in root:
            absolute = re.compile(FileSystem.translate_pattern(os.path.abspath(pattern)))
            hits += [probe for probe in _OUTPUT_PROBES
                     if absolute.match(f"{os.path.abspath(root)}/{probe}")]
        if hits:
            raise OptionsError(f"--input {pattern} matches files that runs write under "
                               f"--output {output} (such as {hits[0]}): each run would read "
                               "the output of the runs before it; put the output elsewhere")
    if "://" in root:
        return
    if os.path.exists(root) and not os.path.isdir(root):
        raise OptionsError(f"--output {output} is a file, not a folder")
    try:
        os.makedirs(root, exist_ok=True)
        probe = os.path.join(root, f".newsbeam-write-test-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.unlink(probe)
    except OSError as error:
        raise OptionsError(f"--output {output} cannot be written: {error.strerror or error}") \
            from None


def source_priorities(opts: CommonOptions) -> Dict[str, int]:
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


def validate_feed_options(opts: CommonOptions) -> None:
    """Checks the feed lists exist and the fetcher's limits make sense."""
    for flag, paths in (("--feeds", opts.feeds), ("--sitemaps", opts.sitemaps)):
        missing = [path for path in paths or [] if not FileSystems.exists(path)]
        if missing:
            what = "feed" if flag == "--feeds" else "sitemap"
            raise OptionsError(f"no {what} list at {flag} " + ", ".join(missing))
        for path in paths or []:
            check_feed_list(path, flag)
    if not opts.sitemap_max_age_days > 0:
        raise OptionsError("--sitemap_max_age_days must be positive")
    if opts.validator_check_every < 1:
        raise OptionsError("--validator_check_every must be 1 or more")
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


def check_feed_list(path: str, flag: str = "--feeds") -> None:
    """Reads a --feeds (or --sitemaps) list and raises `OptionsError` if it cannot be read or
    holds no feed: a wrong list stops the command instead of a run that
    "succeeds" with one reject or with no input."""
    from transforms.sources.feed_list import MAX_LIST_BYTES, feed_list_problem
    try:
        with FileSystems.open(path) as handle:
            data = handle.read(MAX_LIST_BYTES + 1)
    except Exception as error:  # each file system raises its own errors
        raise OptionsError(f"{flag} {path} cannot be read: {type(error).__name__}: "
                           f"{str(error)[:300]}") from None
    problem = feed_list_problem(data, path)
    if problem:
        raise OptionsError(f"{flag} {problem}")


def listed_feed_names(paths: Sequence[str]) -> Dict[str, str]:
    """Feed URL → the name its list gives it, for the manifest (the report names
    feeds by it). Lists were checked readable by `check_feed_list`."""
    from transforms.sources.feed_list import MAX_LIST_BYTES, parse_feed_list
    from schemas.records import FeedSource
    names: Dict[str, str] = {}
    for path in paths or []:
        with FileSystems.open(path) as handle:
            data = handle.read(MAX_LIST_BYTES + 1)
        for record in parse_feed_list(data, path, "names", 0):
            if isinstance(record, FeedSource) and record.name:
                names.setdefault(record.url, record.name)
    return names


def fetch_config(opts: CommonOptions):
    """The fetcher's configuration from the options (see transforms/sources/fetch.py)."""
    from schemas.contexts import FetchConfig
    from transforms.sources.fetch_policy import AllowList, default_user_agent
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


def detection_languages(opts: CommonOptions) -> Optional[FrozenSet[str]]:
    """The --languages restriction as a set of codes (None: every language)."""
    from transforms.enrich.language_text import parse_languages
    try:
        return parse_languages(opts.languages)
    except ValueError as error:
        raise OptionsError(f"--languages: {error}") from None


def validate_stream(opts: CommonOptions, stream: StreamOptions) -> None:
    """Checks the options of `newsbeam stream` before graph construction: its
    own, and those it shares with ingest by ingest's validator."""
    check_arguments(getattr(opts, "_flags", ()),
                    option_names(StreamOptions, CommonOptions),
                    foreign={"ingest": option_names(IngestOptions)})
    if not opts.feeds and not opts.sitemaps and not stream.watch:
        raise OptionsError("--feeds, --sitemaps or --watch is required (a feed list, a "
                           "sitemap list or a file glob; repeat any for several)")
    validate_common(opts)
    # As ingest's --input: a watched glob that matches the output would read it back.
    check_output_location(opts.output, stream.watch or [])
    for name in ("min_poll_s", "watch_interval_s", "window_minutes"):
        if getattr(stream, name) <= 0:
            raise OptionsError(f"--{name} must be positive")
    if stream.max_poll_s < stream.min_poll_s:
        raise OptionsError("--max_poll_s must be at least --min_poll_s")
    if stream.allowed_lateness_minutes < 0:
        raise OptionsError("--allowed_lateness_minutes must be 0 or more")
    if stream.duration is not None and stream.stop_after:
        raise OptionsError("give --duration or --stop_after, not both")
    if stream.duration is not None and stream.duration <= 0:
        raise OptionsError("--duration must be positive (seconds)")
    if stream.stop_after and parse_timestamp(stream.stop_after) is None:
        raise OptionsError(f"--stop_after {stream.stop_after!r}: expected an ISO 8601 UTC time")
    if stream.stop_after and parse_timestamp(stream.stop_after) <= time.time() * 1e6:
        raise OptionsError(f"--stop_after {stream.stop_after!r} is already past")
