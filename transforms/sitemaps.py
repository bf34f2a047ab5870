"""Sitemaps as a source: robots.txt ``Sitemap:`` lines, indexes, gzip, Google News.

A sitemap list has the format of a feed list (`transforms.feed_list`). Each
line is a sitemap URL, or a site URL (a path of ``/`` or none) whose
robots.txt ``Sitemap:`` lines are followed. From there:

- an index (``<sitemapindex>``) names more sitemaps; those whose
  ``<lastmod>`` is older than the window are not fetched (news indexes list
  years of archive sitemaps), the others are, up to `MAX_DEPTH` levels and
  `MAX_SITEMAPS` documents per listed source;
- a urlset (``<urlset>``, or a plain text sitemap, one URL a line) lists
  pages, with ``<lastmod>`` and, in a Google News sitemap, ``<news:news>``
  (publication date, title, language, keywords, publication name). Only
  entries newer than the window (``--sitemap_max_age_days``, default 2) go
  on, dated by their news publication date, else their lastmod; undated
  entries are skipped (counted), since a full-site sitemap would otherwise
  send every page the site ever had.

A ``.xml.gz`` body is inflated here in bounded steps (`inflate`, with the
ratio and size bounds of `transforms.decompression`); a body sent with
``Content-Encoding: gzip`` was inflated by the fetcher already. XML is read
by lxml with entities, DTDs and the network off, after the feed reader's
entity guard (`xml_entity_refusal`) has refused anything that could expand.

Fetching is the feed reader's: the same `Fetcher` (robots.txt, politeness,
the SSRF guard, size limits), conditional requests with the ETag and
Last-Modified kept in the feed state (one state record per urlset, keyed
by its URL; an index is read again every run, since its children are what
is polled conditionally), entries already ingested skipped
(``sitemap_entry_seen``). Entries become the `FeedEntry` records a feed
poll produces, so pages are fetched by the same step as feed entries.

Locally, once wired (see the issue's plan)::

    newsbeam ingest --sitemaps seeds/sitemaps.txt --output out
"""
from __future__ import annotations

import asyncio
import gzip
import io
import time
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional
from urllib.parse import urljoin, urlsplit

import apache_beam as beam
import xxhash

from schemas.records import FeedEntry, FeedSource, FeedState, FeedStateUpdate, Reject
from transforms.decompression import DEFAULT_MAX_RATIO, decompression_refusal
from transforms.dump_formats import Skipped
from transforms.feed_entries import UnreadableFeed, UnsafeXml, body_hash, xml_entity_refusal
from transforms.fetch import host_of, parse_robots
from transforms.published_date import DateCandidate, parse_with_offset
from transforms.read_feeds import (ENTRIES, REJECTS, SKIPPED, STATE, FeedsContext,
                                   _AsyncFetchFn, _Count, _FetchPagesFn, _load_state,
                                   listed_feeds)

SOURCE_KIND = "sitemap"
STAGE = "fetch"
MAX_DEPTH = 3  # listed sitemap (or robots.txt) -> index -> index -> urlset
MAX_SITEMAPS = 50
MAX_ENTRIES = 50_000  # the sitemaps.org limit per file
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit, uncompressed
DEFAULT_MAX_AGE_DAYS = 2.0
SITEMAP_ACCEPT = ("application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, "
                  "text/plain;q=0.5, */*;q=0.1")
_MICROS_PER_DAY = 86_400_000_000
_GZIP_MAGIC = b"\x1f\x8b"


class SitemapRefused(UnreadableFeed):
    """A sitemap body that is not read, with the reason code to reject it by."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class SitemapRef(NamedTuple):
    """A sitemap named by an index, with its ``<lastmod>`` (UTC micros) if given."""
    url: str
    lastmod: Optional[int]


class SitemapEntry(NamedTuple):
    """One page of a urlset, with what the sitemap says of it."""
    url: str
    sitemap_url: str
    lastmod: Optional[int] = None
    news_published: Optional[int] = None
    news_offset_minutes: Optional[int] = None
    news_has_time: bool = True
    news_title: Optional[str] = None
    news_language: Optional[str] = None
    news_keywords: List[str] = []
    news_publication: Optional[str] = None


class ParsedSitemap(NamedTuple):
    kind: str  # "index", "urlset" or "text"
    sitemaps: List[SitemapRef]
    entries: List[SitemapEntry]


# ------------------------------------------------------------ pure parts


def robots_sitemaps(robots_text: str) -> List[str]:
    """The ``Sitemap:`` URLs of a robots.txt, in order, each once."""
    return list(dict.fromkeys(parse_robots(robots_text).site_maps() or []))


def is_site_url(url: str) -> bool:
    """A listed URL with no path stands for the site: its robots.txt is read."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.path in ("", "/") and not parts.query


def inflate(body: bytes, max_bytes: int = MAX_SITEMAP_BYTES,
            max_ratio: float = DEFAULT_MAX_RATIO) -> bytes:
    """A gzip body inflated in bounded steps; any other body as it is.

    Raises:
      SitemapRefused: ``decompression_bomb`` past the bounds, ``corrupt_gzip``.
    """
    if not body.startswith(_GZIP_MAGIC):
        return body
    chunks, size = [], 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            while True:
                chunk = stream.read(256 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                bomb = decompression_refusal(len(body), size, max_ratio, max_bytes)
                if bomb:
                    raise SitemapRefused("decompression_bomb", f"gzip sitemap: {bomb}")
                chunks.append(chunk)
    except (OSError, EOFError) as error:
        raise SitemapRefused("corrupt_gzip", f"cannot decompress: {error}") from None
    return b"".join(chunks)


def _local(tag: Any) -> str:
    """The local name of an element, whatever namespace (or misspelt one) it has."""
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(element, name: str) -> Optional[str]:
    for child in element:
        if _local(child.tag) == name:
            text = " ".join((child.text or "").split())
            return text or None
    return None


def _micros(value: Optional[str]) -> Optional[int]:
    parsed = parse_with_offset(value)
    return parsed[0] if parsed else None


def _news(entry: SitemapEntry, news) -> SitemapEntry:
    publication = next((c for c in news if _local(c.tag) == "publication"), None)
    parsed = parse_with_offset(_child_text(news, "publication_date"))
    keywords = [k.strip() for k in (_child_text(news, "keywords") or "").split(",") if k.strip()]
    language = _child_text(publication, "language") if publication is not None else None
    return entry._replace(
        news_published=parsed[0] if parsed else None,
        news_offset_minutes=parsed[1] if parsed else None,
        news_has_time=parsed[2] if parsed else True,
        news_title=_child_text(news, "title"),
        news_language=(language or "").split("-")[0].lower() or None,
        news_keywords=list(dict.fromkeys(keywords)),
        news_publication=_child_text(publication, "name") if publication is not None else None)


def _http_url(value: Optional[str], base: str) -> Optional[str]:
    if not value:
        return None
    url = urljoin(base, value.strip())
    return url if url.lower().startswith(("http://", "https://")) else None


def parse_sitemap(body: bytes, url: str) -> ParsedSitemap:
    """An index, a urlset or a text sitemap, from its (inflated) body.

    Raises:
      UnsafeXml: entities that could be fetched or expand (the feed guard).
      SitemapRefused: ``unreadable_sitemap``: neither XML sitemap nor URL list.
    """
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start != b"<":
        lines = body.decode("utf-8", "replace").splitlines()[:MAX_ENTRIES]
        entries = [SitemapEntry(u, url) for u in (_http_url(l, url) for l in lines
                                                  if l.strip() and " " not in l.strip()) if u]
        if not entries:
            raise SitemapRefused("unreadable_sitemap", "neither XML nor a list of URLs")
        return ParsedSitemap("text", [], entries)
    refusal = xml_entity_refusal(body)
    if refusal is not None:
        raise UnsafeXml(f"the sitemap declares {refusal}")
    from lxml import etree
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, remove_pis=True,
                             recover=True)
    try:
        root = etree.fromstring(body, parser)
    except (etree.XMLSyntaxError, ValueError) as error:
        raise SitemapRefused("unreadable_sitemap", f"not XML: {error}") from None
    kind = _local(root.tag) if root is not None else ""
    if kind == "sitemapindex":
        refs = [SitemapRef(u, _micros(_child_text(item, "lastmod")))
                for item in root if _local(item.tag) == "sitemap"
                for u in [_http_url(_child_text(item, "loc"), url)] if u]
        return ParsedSitemap("index", refs[:MAX_SITEMAPS * 20], [])
    if kind != "urlset":
        raise SitemapRefused("unreadable_sitemap",
                             f"root element <{kind or '?'}> is no sitemapindex or urlset "
                             "(list RSS or Atom sitemaps with --feeds)")
    entries = []
    for item in root:
        if _local(item.tag) != "url" or len(entries) >= MAX_ENTRIES:
            continue
        loc = _http_url(_child_text(item, "loc"), url)
        if not loc:
            continue
        entry = SitemapEntry(loc, url, lastmod=_micros(_child_text(item, "lastmod")))
        news = next((c for c in item if _local(c.tag) == "news"), None)
        entries.append(_news(entry, news) if news is not None else entry)
    return ParsedSitemap("urlset", [], entries)


def entry_time(entry: SitemapEntry) -> Optional[int]:
    """When an entry was last news: its publication date, else its lastmod."""
    return entry.news_published if entry.news_published is not None else entry.lastmod


def window_refusal(moment: Optional[int], now: int,
                   max_age_days: float = DEFAULT_MAX_AGE_DAYS) -> Optional[str]:
    """Why an entry (or a sitemap of an index) is not followed, or None.

    ``sitemap_entry_undated`` for no date, ``sitemap_entry_old`` for one
    older than `max_age_days`. A date in the future is followed: the date
    choice (`transforms.published_date`) decides whether it is believed.
    """
    if moment is None:
        return "sitemap_entry_undated"
    if moment < now - int(max_age_days * _MICROS_PER_DAY):
        return "sitemap_entry_old"
    return None


def sitemap_entry_key(url: str) -> str:
    """The entry key of a page, as `feed_entries.entry_key` keys an entry by its link."""
    return xxhash.xxh3_64_hexdigest(url.strip().encode("utf-8"))


def to_feed_entry(entry: SitemapEntry, source: FeedSource) -> FeedEntry:
    """The `FeedEntry` a feed poll would give for this page, so the page fetch is shared.

    `feed_url` is the urlset the page was listed in: its state keeps the
    page as seen. The sitemap's publication date is the entry's date.
    """
    key = sitemap_entry_key(entry.url)
    return FeedEntry(
        feed_url=entry.sitemap_url, entry_key=key, position=f"entry:{key}", link=entry.url,
        title=entry.news_title, published=entry.news_published, authors=[],
        tags=list(dict.fromkeys(list(entry.news_keywords) + list(source.tags))),
        summary=None, content=None, source_name=source.name or entry.news_publication,
        language=source.language or entry.news_language)


def news_date_hint(entry: SitemapEntry) -> Optional[DateCandidate]:
    """The sitemap's publication date as a candidate for `published_date.choose_published`."""
    if entry.news_published is None:
        return None
    return DateCandidate("sitemap", "published", entry.news_published,
                         entry.news_offset_minutes, entry.news_has_time, "")


# ------------------------------------------------------------ the reading

Emit = Callable[[Optional[str], Any], None]


def _reject(url: str, source: FeedSource, ctx: FeedsContext, reason: str,
            message: str) -> Reject:
    return Reject(None, STAGE, reason, message[:500], url, SOURCE_KIND, source.url, "poll",
                  ctx.run_id, ctx.ingested_at)


async def read_sitemap_source(fetcher, source: FeedSource, states: Dict[str, FeedState],
                              ctx: FeedsContext, emit: Emit,
                              max_age_days: float = DEFAULT_MAX_AGE_DAYS,
                              now: Optional[int] = None) -> None:
    """Reads one listed sitemap (or site) and emits entries, state, rejects and skips.

    Emits, as `read_feeds.poll_feed` does: `ENTRIES` (`FeedEntry`), `STATE`
    (a ``poll`` update per sitemap document), `REJECTS`, `SKIPPED`.
    """
    now = int(time.time() * 1e6) if now is None else now
    emit(None, _Count("in"))
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
    if parsed.kind == "index":  # no validators kept: next run reads it again
        emit(STATE, poll("fetched"))
        children = []
        for ref in parsed.sitemaps:
            if ref.lastmod is not None and window_refusal(ref.lastmod, now, max_age_days):
                emit(SKIPPED, Skipped(url, "sitemap_old"))
            else:
                children.append(ref.url)
        return children
    seen, present = set(state.seen), []
    for entry in parsed.entries:
        key = sitemap_entry_key(entry.url)
        if key in present or entry.url in seen_pages:
            emit(SKIPPED, Skipped(url, "sitemap_entry_repeated"))
            continue
        present.append(key)
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


class _ReadSitemapsFn(_AsyncFetchFn):
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


def _as_sitemap(record):
    """Documents and rejects of this source say so (the feed code stamps ``feed``)."""
    return record._replace(source_kind=SOURCE_KIND)


class ReadSitemaps(beam.PTransform):
    """Sitemap lists to raw documents: recent pages of sitemaps, fetched as feed pages are.

    Args:
      sitemap_lists: paths of lists in the feed-list format (local or ``gs://``).
      ctx: as for `read_feeds.ReadFeeds` (state lives in the same ``_state/``).
      max_age_days: entries older than this are not followed.

    Returns a `read_feeds.FeedsResult` (``duplicates`` always empty).
    """

    def __init__(self, sitemap_lists: List[str], ctx: FeedsContext,
                 max_age_days: float = DEFAULT_MAX_AGE_DAYS):
        super().__init__()
        self._lists = list(sitemap_lists)
        self._ctx = ctx
        self._max_age_days = max_age_days

    def expand(self, pbegin):
        from schemas.records import Duplicate
        from transforms.read_feeds import FeedsResult
        ctx = self._ctx
        lists, feeds = listed_feeds(pbegin, self._lists, ctx, rerun_id=ctx.run_id)
        states = (pbegin
                  | "SitemapStateFolder" >> beam.Create([ctx.output])
                  | "LoadSitemapState" >> beam.FlatMap(_load_state, ctx.run_id))
        read = (feeds.feeds
                | "GroupSitemapsByHost" >> beam.GroupByKey()
                | "ReadSitemapFiles" >> beam.ParDo(
                    _ReadSitemapsFn(ctx, self._max_age_days),
                    beam.pvalue.AsDict(states)).with_outputs(
                        ENTRIES, REJECTS, SKIPPED, STATE, main="documents"))
        pages = (read[ENTRIES]
                 | "KeyPageByHost" >> beam.Map(lambda e: (host_of(e.link), e))
                 | "GroupPagesByHost" >> beam.GroupByKey()
                 | "FetchSitemapPages" >> beam.ParDo(_FetchPagesFn(ctx)).with_outputs(
                     REJECTS, STATE, main="documents"))
        return FeedsResult(
            documents=pages.documents | "MarkSitemapDocuments" >> beam.Map(_as_sitemap),
            rejects=((lists[REJECTS], read[REJECTS],
                      pages[REJECTS] | "MarkSitemapRejects" >> beam.Map(_as_sitemap))
                     | "SitemapRejects" >> beam.Flatten()),
            duplicates=(pbegin | "NoSitemapDuplicates" >> beam.Create([]).with_output_types(
                Duplicate)),
            skipped=((lists[SKIPPED], feeds[SKIPPED], read[SKIPPED])
                     | "SitemapSkipped" >> beam.Flatten()),
            state=(read[STATE], pages[STATE]) | "SitemapStateUpdates" >> beam.Flatten())


__all__ = ["ReadSitemaps", "read_sitemap_source", "parse_sitemap", "inflate",
           "robots_sitemaps", "is_site_url", "entry_time", "window_refusal", "to_feed_entry",
           "news_date_hint", "sitemap_entry_key", "SitemapEntry", "SitemapRef",
           "ParsedSitemap", "SitemapRefused", "DEFAULT_MAX_AGE_DAYS"]
