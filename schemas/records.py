"""One typed record per stage, updated by copy (`_replace`), carrying provenance.

Every record says where it came from: `source_kind` (text_dump, html, jsonl,
warc, feed), `source_uri` (the file or URL), `source_position` (``line:N`` or
``byte:N`` inside it) and the `run_id` that produced it.

Timestamps are integers, microseconds since the Unix epoch in UTC: Beam's
RowCoder keeps integers exactly, while its timestamp type drops to
milliseconds. The Parquet tables turn them into ``timestamp[us, UTC]``.
"""
from __future__ import annotations

from typing import List, Mapping, NamedTuple, Optional

import apache_beam as beam


class RawDocument(NamedTuple):
    """One input record, as split out of a dump file or fetched from the web.

    `payload_format` says which extractor reads `payload`: ``html`` (bytes of
    an HTML page, `charset` is the declared one if any), ``dump`` (one article
    segment of a plain-text page dump, UTF-8) or ``text`` (an article body
    given as plain text, UTF-8). The remaining fields are hints that the
    source declared; the extractor keeps them when the page says nothing.
    """
    doc_id: str
    source_kind: str
    source_uri: str
    source_position: str
    run_id: str
    payload: bytes
    payload_format: str
    url: Optional[str] = None
    charset: Optional[str] = None
    title: Optional[str] = None
    published: Optional[int] = None
    authors: List[str] = []
    tags: List[str] = []
    source_name: Optional[str] = None
    declared_language: Optional[str] = None
    fetched_at: Optional[int] = None
    description: Optional[str] = None
    # Who stated `published` (``feed``, ``sitemap``) and the offset from UTC
    # it was written with, in minutes: a hint for the date rule.
    published_source: Optional[str] = None
    published_offset_minutes: Optional[int] = None


class FeedSource(NamedTuple):
    """One feed of a feed list: where it is, what to call it, where it was listed.

    `language` is the language the list declares for the feed (a hint for
    its entries), `tags` the list's labels for it; `list_uri` and
    `list_position` (``line:N`` or ``outline:N``) say where it was listed.
    """
    url: str
    name: Optional[str]
    language: Optional[str]
    tags: List[str]
    list_uri: str
    list_position: str


class FeedState(NamedTuple):
    """What newsbeam remembers of one feed between runs (``_state/feeds.json``).

    `seen` holds the keys of entries that are settled (ingested, or failed
    for good); `failures` counts the failed attempts of the others.
    `last_success` is the last poll that was answered (fetched, 304 or
    unchanged), `consecutive_failures` the failed polls since, and
    `poll_counts` counts polls by status, plus ``conditional`` for those sent
    with an ETag or Last-Modified (the run report's feed health).
    """
    url: str
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    body_hash: Optional[str] = None
    last_poll: Optional[int] = None
    last_status: Optional[str] = None
    seen: List[str] = []
    failures: Mapping[str, int] = {}
    last_success: Optional[int] = None
    consecutive_failures: int = 0
    poll_counts: Mapping[str, int] = {}
    # Polls since the last unconditional content check, and why the feed's
    # validators are not trusted (None: trusted); see sources.feed_validators.
    validator_polls: int = 0
    validators_unreliable: Optional[str] = None


class FeedEntry(NamedTuple):
    """One new entry of a polled feed, on its way to its article page.

    `content` is the entry's full content as plain text when it is a real
    article body (used when the page cannot be fetched), else None.
    """
    feed_url: str
    entry_key: str
    position: str
    link: Optional[str]
    title: Optional[str]
    published: Optional[int]
    authors: List[str]
    tags: List[str]
    summary: Optional[str]
    content: Optional[str]
    source_name: Optional[str]
    language: Optional[str]
    published_source: Optional[str] = None  # "feed" or "sitemap"
    published_offset_minutes: Optional[int] = None


class FeedStateUpdate(NamedTuple):
    """A change to the feed state, committed only when the run succeeds.

    `kind` ``poll``: the feed was polled; `status` is ``fetched``,
    ``not_modified``, ``unchanged`` or ``failed``, with the validators to keep
    and `present` the keys of the entries in the body. `kind` ``entry``: one
    entry's outcome, `status` ``ingested``, ``failed`` (for good) or
    ``retry`` (a transient failure: try again in a later run).
    """
    feed_url: str
    kind: str
    status: str
    polled_at: int
    entry_key: Optional[str] = None
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    body_hash: Optional[str] = None
    present: List[str] = []
    warning: Optional[str] = None
    # What the feed declares of its update interval (ttl, sy:updatePeriod), in seconds.
    interval_s: Optional[float] = None
    # The validator check's state after this poll (None: not tracked, e.g. sitemaps).
    validator_polls: Optional[int] = None
    validators_unreliable: Optional[str] = None


class Article(NamedTuple):
    """An extracted article: a row of the `articles` table once it is unique.

    `cluster_id` names the story cluster: the id of the first article of the
    cluster ever kept, so it is stable across runs. `inferred_fields` names
    the fields among ``title``, ``published`` and ``authors`` whose value
    newsbeam inferred (a dump's title from its lead, a date from "3 hours
    ago"); a value present and not named there was found as written.
    `published_source` says which candidate gave `published` and
    `published_rejected` which were refused (``source:reason``).
    """
    article_id: str
    url: Optional[str]
    canonical_url: Optional[str]
    url_key: Optional[str]
    title: Optional[str]
    text: str
    description: Optional[str]
    authors: List[str]
    published: Optional[int]
    site_name: Optional[str]
    source_name: Optional[str]
    tags: List[str]
    categories: List[str]
    keywords: List[str]
    language: str
    language_score: float
    script: Optional[str]
    declared_language: Optional[str]
    language_agrees: Optional[bool]
    content_hash: str
    cluster_id: str
    text_length: int
    source_kind: str
    source_uri: str
    source_position: str
    extraction_method: str
    run_id: str
    ingested_at: int
    inferred_fields: List[str] = []
    # How `published` was chosen (transforms.extract.published_date).
    published_source: Optional[str] = None
    published_confidence: Optional[float] = None
    published_offset_minutes: Optional[int] = None
    published_rejected: List[str] = []
    modified: Optional[int] = None
    modified_offset_minutes: Optional[int] = None
    # free, paywalled or unknown (transforms.extract.access), and why.
    access: Optional[str] = None
    access_reason: Optional[str] = None


class Duplicate(NamedTuple):
    """An input that repeats an article already kept: a row of `duplicates`.

    `dup_type` is ``url`` (same canonical URL), ``exact`` (same normalised
    body) or ``revisit`` (a WARC revisit record). `duplicate_of` is the
    article id of the copy that was kept; for WARC revisits, which point at a
    capture rather than an article, `duplicate_of_url` names the target.
    ``near`` duplicates have Jaccard `similarity` at least the threshold.
    The story's provenance: `lag_seconds` is this copy's publication time
    minus the kept copy's (when both are known; negative when the kept copy
    was published later, e.g. an earlier run's article); `kept_source` is the
    kept copy's source name and host, ``name (host)``.
    """
    doc_id: str
    duplicate_of: Optional[str]
    duplicate_of_url: Optional[str]
    dup_type: str
    similarity: float
    cluster_id: Optional[str]
    url: Optional[str]
    title: Optional[str]
    content_hash: Optional[str]
    published: Optional[int]
    source_kind: str
    source_uri: str
    source_position: str
    run_id: str
    ingested_at: int
    extraction_method: Optional[str] = None
    lag_seconds: Optional[float] = None
    kept_source: Optional[str] = None


class Reject(NamedTuple):
    """An input that could not become an article, with the stage and reason.

    `reason` is a short stable code (``empty_file``, ``invalid_json``,
    ``no_article_text``, ...) to group by; `message` is the human detail.
    `doc_id` is empty when a whole file failed before any record was read;
    `extraction_method` is set for inputs that failed in extraction.
    """
    doc_id: Optional[str]
    stage: str
    reason: str
    message: str
    url: Optional[str]
    source_kind: str
    source_uri: str
    source_position: str
    run_id: str
    ingested_at: int
    extraction_method: Optional[str] = None


class IndexEntry(NamedTuple):
    """A row of the dedup index under ``_index/``: the keys of one input.

    Written for every article and duplicate of a run when it commits, and read
    back by later runs for the last `--dedup_window_days` days. `kept_id` is
    the article that stands in the articles table for this input (itself, or
    what it duplicates). `signature` (MinHash, 128 little-endian uint32) is
    stored for kept articles only, with the `algorithm` that made it: rows of
    an incompatible algorithm version are never compared
    (`transforms.dedup.minhash.COMPATIBLE_VERSIONS`). `title_hash` and `source`
    (added in schema 1.2; None in older files) serve the URL stage and the
    duplicates' `kept_source`. `shingles` (added in schema 1.4 with
    `minhash-v5`; None in older files, for duplicates and for texts of more
    than `MAX_EXACT_SHINGLES`) are a kept article's sorted distinct shingle
    hashes (little-endian uint32): a later run verifies a near candidate on
    them exactly, as it does its own articles.
    """
    article_id: str
    kept_id: str
    cluster_id: str
    url_key: Optional[str]
    content_hash: str
    signature: Optional[bytes]
    algorithm: str
    is_canonical_address: bool
    source_priority: int
    published: Optional[int]
    text_length: int
    run_id: str
    ingested_at: int
    title_hash: Optional[str] = None
    source: Optional[str] = None
    shingles: Optional[bytes] = None


class WrittenFile(NamedTuple):
    """A Parquet file written by one bundle, waiting to be committed."""
    table: str
    partition: str
    temp_path: str
    rows: int


class InputFile(NamedTuple):
    """A matched input file, as the cursor of ingested files identifies it."""
    path: str
    size: int
    mtime_us: int  # last modification (gs://: last update), UTC microseconds


for _record in (RawDocument, Article, Duplicate, Reject, IndexEntry, WrittenFile, InputFile):
    beam.coders.registry.register_coder(_record, beam.coders.RowCoder)
for _record in (FeedSource, FeedState, FeedEntry, FeedStateUpdate):
    beam.coders.registry.register_coder(_record, beam.coders.RowCoder)
