"""What a source step is told, and what it hands on besides documents.

`ReadContext` (the run, its time, the size and decompression limits) goes to
every dump reader, `FeedsContext` (with the fetcher's `FetchConfig`) to every
feed step; `FeedsResult` names the outputs of the feed reader and
`SourceOutputs` those of all of a run's sources (and of `ReadDumps`); `Skipped` is a
record that is no input (a WARC request, say), counted by kind. Built by keyword.

A composite with several outputs returns one of these NamedTuples (the
others: `ExtractResult`, `DedupResult`, `NewFilesResult`): each output by
name, and tuple unpacking in field order still works.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Tuple

# --max_decompression_ratio's default (transforms.sources.decompression applies it).
DEFAULT_MAX_RATIO = 100.0


class Skipped(NamedTuple):
    """A record that is no input (a WARC request, say), counted by kind."""
    source_uri: str
    kind: str


class ReadContext(NamedTuple):
    run_id: str
    ingested_at: int
    max_document_bytes: int
    # A gzip file whose output outgrows its input this many times (0: no
    # bound), or whose output passes `max_decompressed_bytes`, is a bomb.
    max_decompression_ratio: float = DEFAULT_MAX_RATIO
    max_decompressed_bytes: int = 10 * 1024 ** 3


class FetchConfig(NamedTuple):
    """Everything the fetcher is told; hashable, so it keys the shared fetcher.

    `resolve` maps host names to addresses, like curl's ``--resolve``: it is
    how tests and benchmarks give many host names to one loopback server.
    The addresses are still checked against the rules and `allow`.
    """
    user_agent: str
    allow: Tuple[str, ...] = ()
    min_host_delay_s: float = 1.0
    max_per_host: int = 2
    max_concurrency: int = 32
    timeout_s: float = 20.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    max_retries: int = 3
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    max_retry_after_s: float = 120.0
    obey_robots: bool = True
    resolve: Tuple[Tuple[str, str], ...] = ()
    max_decompression_ratio: float = DEFAULT_MAX_RATIO


class FeedsContext(NamedTuple):
    """What every feed step is told: the run, where state lives, how to fetch."""
    run_id: str
    ingested_at: int
    output: str
    fetch: FetchConfig
    max_document_bytes: int
    # A feed is polled unconditionally every this many polls (sources.feed_validators).
    validator_check_every: int = 6


class FeedsResult(NamedTuple):
    """The outputs of `ReadFeeds`. No duplicates: an entry listed in two feeds gives
    two documents, and URL dedup keeps one."""
    documents: Any
    rejects: Any
    skipped: Any
    state: Any


class SourceOutputs(NamedTuple):
    """What the sources of a run emit together: dumps and feeds, batch or stream (in a
    stream each element at the event time it was read).

    ``state``: the feed state updates (`FeedStateUpdate`), None when no feed is read.
    """
    documents: Any
    rejects: Any
    duplicates: Any
    skipped: Any
    state: Any = None


class ExtractResult(NamedTuple):
    """The outputs of `ExtractArticles`."""
    articles: Any  # `Article`s
    rejects: Any   # `Reject`s: the documents that have no article


class DedupResult(NamedTuple):
    """The outputs of `Deduplicate` and `StreamDeduplicate`."""
    articles: Any       # the kept `Article`s
    duplicates: Any     # a `Duplicate` for each other copy
    index_entries: Any  # `IndexEntry`s of this run, for ``_index/``
    url_conflicts: Any  # ``("url_conflicts", "", site)``, one a refused URL claim


class NewFilesResult(NamedTuple):
    """The outputs of `SkipIngestedFiles`."""
    files: Any             # the `InputFile`s to read
    already_ingested: Any  # the `InputFile`s an earlier run read


__all__ = ["ReadContext", "FeedsContext", "FetchConfig", "FeedsResult", "SourceOutputs",
           "ExtractResult", "DedupResult", "NewFilesResult", "Skipped", "DEFAULT_MAX_RATIO"]
