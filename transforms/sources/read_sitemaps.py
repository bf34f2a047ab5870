"""Read sitemaps: sitemap lists to raw documents, as feeds are read.

Locally (``newsbeam stream --sitemaps`` reads them continuously: `stream_sitemaps`)::

    newsbeam ingest --sitemaps seeds/sitemaps.txt --output out

The steps (`ReadSitemaps.expand`):

1. the lists are read and joined with the state as feed lists are
   (`read_feeds.listed_feeds`: a bad line is a reject, a URL listed twice
   is read once);
2. ``ReadSitemapFiles``: listed sources grouped by host, then each read
   (`read_sitemap_source`): a site URL's robots.txt ``Sitemap:`` lines, then
   indexes and urlsets breadth first, up to `MAX_DEPTH` levels and
   `sitemaps.MAX_SITEMAPS` documents per source; index entries older than
   the window are not fetched; new entries of the window become the
   `FeedEntry` records a feed poll gives (`sitemaps.to_feed_entry`);
3. ``FetchSitemapPages``: the feed reader's page step, unchanged, so pages
   are fetched, fall back and are rejected as feed pages are.

Fetching is the feed reader's: the same process-wide `Fetcher` (robots.txt,
politeness per host, the SSRF guard, size and decompression limits).
Conditional requests use the ETag and Last-Modified kept in the feed state,
one record per urlset keyed by its URL, with the keys of the pages already
ingested (skipped as ``sitemap_entry_seen``). An index keeps no validators
and is read again every run: its children are what is polled conditionally,
and a 304 for the index would hide them. Documents and rejects say
``source_kind`` ``sitemap``.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, Iterable, List, Optional

import apache_beam as beam

from schemas.contexts import FeedsContext, FeedsResult, Skipped
from schemas.records import FeedSource, FeedState, FeedStateUpdate, Reject
from transforms.sources.feed_entries import UnreadableFeed, body_hash
from transforms.sources.fetch_policy import host_of, url_refusal
from transforms.sources.feed_jobs import ENTRIES, REJECTS, SKIPPED, STATE, Bump, Emit
from transforms.sources.read_feeds import AsyncFetchFn, FetchPagesFn, listed_feeds, prior_states
from transforms.sources.sitemaps import (DEFAULT_MAX_AGE_DAYS, MAX_SITEMAP_BYTES, MAX_SITEMAPS, entry_time,
                                 inflate, is_site_url, parse_sitemap, sitemap_entry_key,
                                 to_feed_entry, window_refusal)

SOURCE_KIND = "sitemap"
STAGE = "fetch"
MAX_DEPTH = 3  # listed sitemap (or robots.txt) -> index -> index -> urlset
SITEMAP_ACCEPT = ("application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, "
                  "text/plain;q=0.5, */*;q=0.1")


def _reject(url: str, source: FeedSource, ctx: FeedsContext, reason: str,
            message: str) -> Reject:
    return Reject(doc_id=None, stage=STAGE, reason=reason, message=message[:500], url=url,
                  source_kind=SOURCE_KIND, source_uri=source.url, source_position="poll",
                  run_id=ctx.run_id, ingested_at=ctx.ingested_at)


async def read_sitemap_source(fetcher, source: FeedSource, states: Dict[str, FeedState],
                              ctx: FeedsContext, emit: Emit,
                              max_age_days: float = DEFAULT_MAX_AGE_DAYS,
                              now: Optional[int] = None) -> None:
    """Reads one listed sitemap (or site) and emits entries, state, rejects and skips.

    Emits, as `feed_jobs.poll_feed` does: `ENTRIES` (`FeedEntry`), `STATE`
    (a ``poll`` update per sitemap document), `REJECTS`, `SKIPPED`.
    """
    now = int(time.time() * 1e6) if now is None else now
    emit(None, Bump("in"))
    refused = url_refusal(source.url, fetcher.allow)
    if refused is not None:  # before robots.txt, whose loader lets refused URLs pass
        emit(REJECTS, _reject(source.url, source, ctx, refused.reason, refused.message))
        return
    if is_site_url(source.url):
        robots = await fetcher.robots_for(source.url)
        if robots.disallow_all:
            cause = getattr(robots, "newsbeam_cause", "") or "it could not be fetched"
            emit(REJECTS, _reject(source.url, source, ctx, "robots_unavailable",
                                  f"robots.txt unavailable: {cause}"))
            return
        listed = list(dict.fromkeys(robots.site_maps() or []))
        if not listed:
            emit(REJECTS, _reject(source.url, source, ctx, "no_sitemap",
                                  "robots.txt names no sitemap (no Sitemap: line)"))
            return
    else:
        listed = [source.url]
    queue = [(url, 1) for url in listed]
    visited: set = set()
    seen_pages: set = set()
    while queue:
        url, depth = queue.pop(0)
        if url in visited:
            continue
        if len(visited) >= MAX_SITEMAPS:
            emit(SKIPPED, Skipped(source.url, "sitemap_over_limit"))
            continue
        visited.add(url)
        for child in await _read_one(fetcher, url, source, states.get(url), ctx, emit,
                                     max_age_days, now, seen_pages):
            if depth >= MAX_DEPTH:
                emit(SKIPPED, Skipped(source.url, "sitemap_too_deep"))
            else:
                queue.append((child, depth + 1))


async def _read_one(fetcher, url: str, source: FeedSource, state: Optional[FeedState],
                    ctx: FeedsContext, emit: Emit, max_age_days: float, now: int,
                    seen_pages: set) -> List[str]:
    """One sitemap document: its new entries emitted; the sitemaps it names returned."""
    state = state or FeedState(url=url)
    headers = {"Accept": SITEMAP_ACCEPT}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    result = await fetcher.fetch(url, "sitemap", headers)
    polled_at = int(time.time() * 1e6)

    def poll(status: str, **fields) -> FeedStateUpdate:
        return FeedStateUpdate(url, "poll", status, polled_at, **fields)

    if result.error is not None:
        emit(STATE, poll("failed", warning=f"{result.error}: {result.message}"[:300]))
        emit(REJECTS, _reject(url, source, ctx, result.error, result.message))
        return []
    if result.status == 304:
        emit(STATE, poll("not_modified"))
        emit(SKIPPED, Skipped(url, "sitemap_not_modified"))
        return []
    try:
        body = inflate(result.body, MAX_SITEMAP_BYTES, ctx.fetch.max_decompression_ratio)
        digest = body_hash(body)
        if state.body_hash is not None and digest == state.body_hash:
            emit(STATE, poll("unchanged"))
            emit(SKIPPED, Skipped(url, "sitemap_unchanged"))
            return []
        parsed = parse_sitemap(body, result.final_url or url)
    except UnreadableFeed as error:  # unsafe_xml, unreadable_sitemap, corrupt_gzip, ...
        emit(STATE, poll("failed", warning=f"{error.reason}: {error}"[:300]))
        emit(REJECTS, _reject(url, source, ctx, error.reason, str(error)))
        return []
    for reason, loc in parsed.dropped:  # each <loc> not taken says why
        if reason == "sitemap_bad_loc":
            emit(REJECTS, _reject(url, source, ctx, reason, f"<loc> is no http(s) URL: {loc!r}"))
        else:
            emit(SKIPPED, Skipped(url, reason))
    if parsed.kind == "index":  # no validators kept: next run reads it again
        emit(STATE, poll("fetched"))
        children = []
        for ref in parsed.sitemaps:
            if ref.lastmod is not None and window_refusal(ref.lastmod, now, max_age_days):
                emit(SKIPPED, Skipped(url, "sitemap_old"))
            else:
                children.append(ref.url)
        return children
    seen, present, listed = set(state.seen), [], set()  # `present` keeps the order for the state
    for entry in parsed.entries:
        key = sitemap_entry_key(entry.url)
        if key in listed or entry.url in seen_pages:
            emit(SKIPPED, Skipped(url, "sitemap_entry_repeated"))
            continue
        present.append(key)
        listed.add(key)
        seen_pages.add(entry.url)
        if key in seen:
            emit(SKIPPED, Skipped(url, "sitemap_entry_seen"))
            continue
        refusal = window_refusal(entry_time(entry), now, max_age_days)
        if refusal:
            emit(SKIPPED, Skipped(url, refusal))
            continue
        emit(ENTRIES, to_feed_entry(entry, source))
    emit(STATE, poll("fetched", etag=result.etag, last_modified=result.last_modified,
                     body_hash=digest, present=present))
    return []


class _ReadSitemapsFn(AsyncFetchFn):
    """(host, [(FeedSource, FeedState or None)]) + all states → entries, rejects, ..."""

    def __init__(self, ctx: FeedsContext, max_age_days: float):
        super().__init__(ctx)
        self._max_age_days = max_age_days

    def process(self, element, states: Dict[str, FeedState]) -> Iterable[Any]:
        self._states = states
        yield from super().process(element)

    async def _job(self, element, emit) -> None:
        _, sources = element
        await asyncio.gather(*(read_sitemap_source(self._worker.fetcher, source, self._states,
                                                   self._ctx, emit, self._max_age_days)
                               for source, _ in sources))


def as_sitemap(record):
    """Documents and rejects of this source say so (the feed code stamps ``feed``)."""
    return record._replace(source_kind=SOURCE_KIND)


class ReadSitemaps(beam.PTransform):
    """Sitemap lists to raw documents: recent pages of sitemaps, fetched as feed pages are.

    Args:
      sitemap_lists: paths of lists in the feed-list format (local or ``gs://``).
      ctx: as for `read_feeds.ReadFeeds` (state lives in the same ``_state/``).
      max_age_days: entries older than this are not followed.

    Returns a `FeedsResult`, as `ReadFeeds` does.
    """

    def __init__(self, sitemap_lists: List[str], ctx: FeedsContext,
                 max_age_days: float = DEFAULT_MAX_AGE_DAYS):
        super().__init__()
        self._lists = list(sitemap_lists)
        self._ctx = ctx
        self._max_age_days = max_age_days

    def expand(self, pbegin):
        ctx = self._ctx
        lists, feeds = listed_feeds(pbegin, self._lists, ctx, rerun_id=ctx.run_id)
        states = (pbegin
                  | "SitemapStateFolder" >> beam.Create([ctx.output])
                  | "LoadSitemapState" >> beam.FlatMap(prior_states, ctx.run_id))
        read = (feeds.feeds
                | "GroupSitemapsByHost" >> beam.GroupByKey()
                | "ReadSitemapFiles" >> beam.ParDo(
                    _ReadSitemapsFn(ctx, self._max_age_days),
                    beam.pvalue.AsDict(states)).with_outputs(
                        ENTRIES, REJECTS, SKIPPED, STATE, main="documents"))
        pages = (read[ENTRIES]
                 | "KeyPageByHost" >> beam.Map(lambda e: (host_of(e.link), e))
                 | "GroupPagesByHost" >> beam.GroupByKey()
                 | "FetchSitemapPages" >> beam.ParDo(FetchPagesFn(ctx)).with_outputs(
                     REJECTS, STATE, main="documents"))
        return FeedsResult(
            documents=pages.documents | "MarkSitemapDocuments" >> beam.Map(as_sitemap),
            rejects=((lists[REJECTS], read[REJECTS],
                      pages[REJECTS] | "MarkSitemapRejects" >> beam.Map(as_sitemap))
                     | "SitemapRejects" >> beam.Flatten()),
            skipped=((lists[SKIPPED], feeds[SKIPPED], read[SKIPPED])
                     | "SitemapSkipped" >> beam.Flatten()),
            state=(read[STATE], pages[STATE]) | "SitemapStateUpdates" >> beam.Flatten())


__all__ = ["ReadSitemaps", "read_sitemap_source", "as_sitemap", "SOURCE_KIND", "MAX_DEPTH"]
