"""Sitemaps, parsed: robots.txt ``Sitemap:`` lines, indexes, gzip, Google News.

A sitemap list has the format of a feed list (`transforms.feed_list`). Each
line is a sitemap URL, or a site URL (a path of ``/`` or none) whose
robots.txt ``Sitemap:`` lines are followed (`is_site_url`). From there:

- an index (``<sitemapindex>``) names more sitemaps (`SitemapRef`, with
  their ``<lastmod>``), so that those older than the window need not be
  fetched (news indexes list years of archive sitemaps);
- a urlset (``<urlset>``, or a plain text sitemap, one URL a line) lists
  pages (`SitemapEntry`), with ``<lastmod>`` and, in a Google News sitemap,
  ``<news:news>``: publication date (and the offset it was written with),
  title, language, keywords, publication name. Only entries newer than the
  window (``--sitemap_max_age_days``, default 2) go on (`window_refusal`),
  dated by their news publication date, else their lastmod; undated
  entries are skipped, since a full-site sitemap would otherwise send
  every page the site ever had.

A ``.xml.gz`` body is inflated in bounded steps (`inflate`, with the ratio
and size bounds of `transforms.sources.decompression`); a body sent with
``Content-Encoding: gzip`` was inflated by the fetcher already. XML is read
by lxml with entities, DTDs and the network off, after the feed reader's
entity guard (`xml_entity_refusal`) has refused anything that could expand.
Element names are matched without their namespace: sites misspell it.

Why not ultimate-sitemap-parser: it fetches by itself (its own HTTP client,
which would bypass newsbeam's SSRF guard, robots.txt, politeness and
conditional requests), its string parser is a self-declared workaround
around that fetcher, and its index parser drops the ``<lastmod>`` of the
sitemaps an index names, which is what keeps a news crawl from fetching
years of archives. Parsing itself is ~150 lines over lxml, already a
dependency. `transforms.sources.read_sitemaps` does the fetching.
"""
from __future__ import annotations

import gzip
import io
from typing import Any, List, NamedTuple, Optional, Tuple
from urllib.parse import urljoin, urlsplit

import xxhash

from schemas.records import FeedEntry, FeedSource
from transforms.extract.date_candidates import (DateCandidate, from_micros_candidate,
                                               parse_with_offset)
from transforms.sources.decompression import DEFAULT_MAX_RATIO, decompression_refusal
from transforms.sources.feed_entries import UnreadableFeed, UnsafeXml, xml_entity_refusal
from transforms.sources.robots import parse_robots

MAX_SITEMAPS = 50  # sitemaps an index may name that are read, per listed source
MAX_ENTRIES = 50_000  # the sitemaps.org limit per file
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit, uncompressed
DEFAULT_MAX_AGE_DAYS = 2.0
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
    # What was not taken, as (reason, the <loc> as written): ``sitemap_bad_loc``
    # (no http(s) URL), ``sitemap_entry_over_limit`` (past `MAX_ENTRIES`),
    # ``sitemap_over_limit`` (an index naming more than it is read for).
    dropped: List[Tuple[str, str]] = []


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
        lines = [l.strip() for l in body.decode("utf-8", "replace").splitlines() if l.strip()]
        entries, dropped = [], []
        for line in lines:
            loc = _http_url(line, url) if " " not in line else None
            if loc is None:
                dropped.append(("sitemap_bad_loc", line[:300]))
            elif len(entries) >= MAX_ENTRIES:
                dropped.append(("sitemap_entry_over_limit", loc))
            else:
                entries.append(SitemapEntry(loc, url))
        if not entries:
            raise SitemapRefused("unreadable_sitemap", "neither XML nor a list of URLs")
        return ParsedSitemap("text", [], entries, dropped)
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
        refs, dropped = [], []
        for item in root:
            if _local(item.tag) != "sitemap":
                continue
            raw = _child_text(item, "loc")
            loc = _http_url(raw, url)
            if loc is None:
                dropped.append(("sitemap_bad_loc", (raw or "")[:300]))
            elif len(refs) >= MAX_SITEMAPS * 20:
                dropped.append(("sitemap_over_limit", loc))
            else:
                refs.append(SitemapRef(loc, _micros(_child_text(item, "lastmod"))))
        return ParsedSitemap("index", refs, [], dropped)
    if kind != "urlset":
        raise SitemapRefused("unreadable_sitemap",
                             f"root element <{kind or '?'}> is no sitemapindex or urlset "
                             "(list RSS or Atom sitemaps with --feeds)")
    entries, dropped = [], []
    for item in root:
        if _local(item.tag) != "url":
            continue
        raw = _child_text(item, "loc")
        loc = _http_url(raw, url)
        if not loc:
            dropped.append(("sitemap_bad_loc", (raw or "")[:300]))
            continue
        if len(entries) >= MAX_ENTRIES:
            dropped.append(("sitemap_entry_over_limit", loc))
            continue
        entry = SitemapEntry(loc, url, lastmod=_micros(_child_text(item, "lastmod")))
        news = next((c for c in item if _local(c.tag) == "news"), None)
        entries.append(_news(entry, news) if news is not None else entry)
    return ParsedSitemap("urlset", [], entries, dropped)


def entry_time(entry: SitemapEntry) -> Optional[int]:
    """When an entry was last news: its publication date, else its lastmod."""
    return entry.news_published if entry.news_published is not None else entry.lastmod


def window_refusal(moment: Optional[int], now: int,
                   max_age_days: float = DEFAULT_MAX_AGE_DAYS) -> Optional[str]:
    """Why an entry (or a sitemap of an index) is not followed, or None.

    ``sitemap_entry_undated`` for no date, ``sitemap_entry_old`` for one
    older than `max_age_days`. A date in the future is followed: the date
    choice (`transforms.extract.published_date`) decides whether it is believed.
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
        language=source.language or entry.news_language,
        published_source="sitemap" if entry.news_published is not None else None,
        published_offset_minutes=entry.news_offset_minutes)


def news_date_hint(entry: SitemapEntry) -> Optional[DateCandidate]:
    """The sitemap's publication date as a candidate for `published_date.choose_published`."""
    return from_micros_candidate("sitemap", entry.news_published, entry.news_offset_minutes,
                                 entry.news_has_time)


__all__ = ["parse_sitemap", "inflate", "robots_sitemaps", "is_site_url", "entry_time",
           "window_refusal", "to_feed_entry", "news_date_hint", "sitemap_entry_key",
           "SitemapEntry", "SitemapRef", "ParsedSitemap", "SitemapRefused",
           "DEFAULT_MAX_AGE_DAYS", "MAX_SITEMAPS"]
