"""Feed bodies to entries: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed.

feedparser is always handed the bytes (in a `BytesIO`), never a URL or a
file name, which it would fetch or open. It also receives the feed's final
URL as ``Content-Location``, so relative links resolve against it; every
link is joined with that URL again here, whatever the feed format.

A malformed feed that feedparser can still read (``bozo``) yields its
entries and a warning; one it cannot read at all (no feed version and no
entries, such as an HTML page) raises `UnreadableFeed`; one declaring XML
entities that would be fetched or would amplify it raises `UnsafeXml`
before any parser sees it. feedparser 6 does not
read JSON Feed (jsonfeed.org 1.0/1.1); `_parse_json_feed` does.
"""
from __future__ import annotations

import calendar
import io
import json
import re
from typing import Any, Iterable, List, NamedTuple, Optional
from urllib.parse import urljoin

import xxhash

from schemas.records import FeedEntry, FeedSource
from transforms.extract.date_candidates import parse_with_offset
from transforms.extract.dates import parse_timestamp

# An entry's full content is used as the article when its page cannot be
# fetched only when it is this long as plain text: shorter ones are teasers.
MIN_BODY_CHARS = 500
_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
               "blockquote", "pre", "section", "article", "tr", "table", "figure",
               "figcaption", "header", "footer", "dd", "dt", "hr"}


class UnreadableFeed(ValueError):
    """The body is no feed that can be read (it may be an HTML page, or garbage)."""

    reason = "unreadable_feed"


class UnsafeXml(UnreadableFeed):
    """The body declares XML entities that would be fetched or would amplify it."""

    reason = "unsafe_xml"


# Entity declarations outside CDATA sections. feedparser drops external and
# parameter entities, but its fallback ("loose") parser expands every entity
# whose value holds no '&': a 100 KB feed with one 100 KB entity referenced
# 2,000 times became a 200 MB summary (600 MB resident, 22 s). So a feed is
# read only when its entities cannot amplify it much: plain values (no
# entity inside) whose references add at most `MAX_ENTITY_EXPANSION` bytes.
MAX_ENTITY_EXPANSION = 1024 * 1024
_CDATA = re.compile(rb"<!\[CDATA\[.*?\]\]>", re.DOTALL)
_ENTITY_START = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ENTITY = re.compile(
    rb"""<!ENTITY\s+(?P<param>%\s+)?(?P<name>[^\s"'%>]+)\s+"""
    rb"""(?:(?P<external>SYSTEM|PUBLIC)\b|"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')""",
    re.IGNORECASE)
_CHAR_REFERENCE = re.compile(rb"^&#(?:[0-9]{1,7}|x[0-9a-fA-F]{1,6});$")


def xml_entity_refusal(body: bytes) -> Optional[str]:
    """Why the XML entities `body` declares make it unsafe to parse, or None.

    Refused: external entities (SYSTEM/PUBLIC: a file or URL would be read),
    parameter entities, entities that refer to other entities ("billion
    laughs"), and plain entities whose references would add more than
    `MAX_ENTITY_EXPANSION` bytes (its quadratic cousin). Nothing is expanded
    or fetched to decide.
    """
    if b"<!" not in body:
        return None
    outside_cdata = _CDATA.sub(b"", body)
    expansion = 0
    for start in _ENTITY_START.finditer(outside_cdata):
        match = _ENTITY.match(outside_cdata, start.start())
        if match is None:
            return "an XML entity declaration that cannot be read"
        name = match.group("name").decode("utf-8", "replace")[:50]
        if match.group("param"):
            return f"the XML parameter entity {name!r} (parameter entities are never read)"
        if match.group("external"):
            return (f"the external XML entity {name!r} ({match.group('external').decode()}): "
                    "entities are never fetched")
        value = match.group("dq") if match.group("dq") is not None else match.group("sq")
        if _CHAR_REFERENCE.match(value):
            continue
        if b"&" in value or b"<" in value:
            return (f"the XML entity {name!r} made of other entities or markup: "
                    "nested expansion is refused")
        expansion += len(value) * outside_cdata.count(b"&" + match.group("name") + b";")
        if expansion > MAX_ENTITY_EXPANSION:
            return (f"XML entities whose references expand to over {expansion} bytes "
                    f"(the limit is {MAX_ENTITY_EXPANSION})")
    return None


class ParsedItem(NamedTuple):
    id: Optional[str]
    link: Optional[str]
    title: Optional[str]
    published: Optional[int]
    authors: List[str]
    tags: List[str]
    summary: Optional[str]
    content: Optional[str]
    # The offset from UTC the feed wrote `published` with, in minutes, when it wrote one.
    published_offset_minutes: Optional[int] = None


def written_offset(raw: Any, published: Optional[int]) -> Optional[int]:
    """The UTC offset of the date string `raw`, when it is the `published` instant."""
    parsed = parse_with_offset(raw) if isinstance(raw, str) and published is not None else None
    return parsed[1] if parsed is not None and parsed[0] == published else None


class ParsedFeed(NamedTuple):
    version: str
    title: Optional[str]
    language: Optional[str]
    items: List[ParsedItem]
    warning: Optional[str]
    # How often the publisher says the feed changes (RSS ttl, sy:updatePeriod
    # and sy:updateFrequency), in seconds; None when it does not say.
    update_interval_s: Optional[float] = None


def body_hash(body: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(body)


def html_to_text(html: Optional[str]) -> str:
    """Plain text of an HTML fragment, one paragraph a line."""
    if not html or not html.strip():
        return ""
    if "<" not in html:
        return "\n".join(" ".join(line.split()) for line in html.splitlines() if line.strip())
    import lxml.html
    from lxml import etree
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for element in root.iter(etree.Element):
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in ("script", "style", "noscript", "template"):
            element.drop_tree()
            continue
        if tag in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            if tag != "br":
                element.text = "\n" + (element.text or "")
    text = root.text_content()
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def entry_key(item: ParsedItem) -> str:
    """A short stable key of an entry within its feed: its id, else link, else title+date."""
    basis = item.id or item.link or f"{item.title or ''}\x1f{item.published or ''}"
    return xxhash.xxh3_64_hexdigest(basis.strip().encode("utf-8"))


def _struct_micros(value) -> Optional[int]:
    if not value:
        return None
    try:
        return calendar.timegm(value) * 1_000_000
    except (TypeError, ValueError, OverflowError):
        return None


def _names(values: Iterable[Any]) -> List[str]:
    names = []
    for value in values or []:
        name = value.get("name") if isinstance(value, dict) else value
        if isinstance(name, str) and name.strip() and name.strip() not in names:
            names.append(name.strip())
    return names


def _absolute(link: Optional[str], base: str) -> Optional[str]:
    if not isinstance(link, str) or not link.strip():
        return None
    return urljoin(base, link.strip())


def _clean(value: Any) -> Optional[str]:
    return " ".join(value.split()) or None if isinstance(value, str) else None


def _parse_json_feed(body: bytes, base: str) -> ParsedFeed:
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as error:
        raise UnreadableFeed(f"not JSON: {error}") from None
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or "jsonfeed.org" not in version \
            or not isinstance(document.get("items"), list):
        raise UnreadableFeed("JSON that is not a JSON Feed (no jsonfeed.org version, no items)")
    items = []
    for raw in document["items"]:
        if not isinstance(raw, dict):
            continue
        authors = _names(raw.get("authors") or ([raw["author"]] if raw.get("author") else []))
        content = raw.get("content_html") or raw.get("content_text")
        written = raw.get("date_published") or raw.get("date_modified")
        published = parse_timestamp(written)
        items.append(ParsedItem(
            id=str(raw["id"]) if raw.get("id") is not None else None,
            link=_absolute(raw.get("url") or raw.get("external_url"), base),
            title=_clean(raw.get("title")),
            published=published, published_offset_minutes=written_offset(written, published),
            authors=authors,
            tags=[t.strip() for t in raw.get("tags") or [] if isinstance(t, str) and t.strip()],
            summary=html_to_text(raw.get("summary")) or None,
            content=content if isinstance(content, str) else None))
    language = document.get("language")
    return ParsedFeed(version="json" + version.rstrip("/").rsplit("/", 1)[-1],
                      title=_clean(document.get("title")),
                      language=language if isinstance(language, str) else None,
                      items=items, warning=None)


def parse_feed(body: bytes, url: str, content_type: Optional[str] = None) -> ParsedFeed:
    """The entries of a feed body fetched from `url` (its final URL).

    Raises:
      UnsafeXml: the body declares entities that are unsafe to expand.
      UnreadableFeed: the body is no feed.
    """
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if start == b"{" or (media.endswith("json") and start != b"<"):
        return _parse_json_feed(body, url)
    refusal = xml_entity_refusal(body)
    if refusal is not None:
        raise UnsafeXml(f"the feed declares {refusal}")
    import feedparser

    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    result = feedparser.parse(io.BytesIO(body), response_headers=headers)
    warning = None
    if result.get("bozo"):
        error = result.get("bozo_exception")
        warning = f"malformed feed: {type(error).__name__}: {error}"[:300]
    if not result.get("version") and not result.entries:
        raise UnreadableFeed(warning or "no feed format recognised and no entries")
    feed = result.get("feed", {})
    items = []
    for entry in result.entries:
        contents = [c.get("value") for c in entry.get("content") or []
                    if isinstance(c.get("value"), str)]
        authors = _names(entry.get("authors") or [])
        if not authors and entry.get("author"):
            authors = [entry["author"].strip()]
        tags = []
        for tag in entry.get("tags") or []:
            term = (tag.get("term") or tag.get("label") or "").strip()
            if term and term not in tags:
                tags.append(term)
        published = _struct_micros(entry.get("published_parsed") or entry.get("updated_parsed"))
        items.append(ParsedItem(
            id=(entry.get("id") or "").strip() or None,
            link=_absolute(entry.get("link"), url),
            title=_clean(entry.get("title")),
            published=published, published_offset_minutes=written_offset(
                entry.get("published") or entry.get("updated"), published),
            authors=authors, tags=tags,
            summary=html_to_text(entry.get("summary")) or None,
            content=max(contents, key=len) if contents else None))
    return ParsedFeed(version=result.get("version") or "unknown",
                      title=_clean(feed.get("title")), language=feed.get("language"),
                      items=items, warning=warning, update_interval_s=declared_interval(feed))


_SY_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 7 * 86400.0,
               "monthly": 30 * 86400.0, "yearly": 365 * 86400.0}


def declared_interval(feed: Any) -> Optional[float]:
    """Seconds between updates that a feed declares: RSS ``<ttl>`` (minutes),
    else ``sy:updatePeriod`` divided by ``sy:updateFrequency``; None if neither
    is usable. Streaming polls each feed at about this interval."""
    try:
        ttl = float(str(feed.get("ttl") or "").strip())
        if 0 < ttl < 1e6:
            return ttl * 60.0
    except ValueError:
        pass
    period = _SY_PERIODS.get(str(feed.get("sy_updateperiod") or "").strip().lower())
    if period is None:
        return None
    try:
        frequency = float(str(feed.get("sy_updatefrequency") or "1").strip())
    except ValueError:
        frequency = 1.0
    return period / frequency if frequency >= 1 else period


def _language(value: Optional[str]) -> Optional[str]:
    match = re.match(r"^\s*([A-Za-z]{2,3})(?:[-_]|\s*$)", value or "")
    return match.group(1).lower() if match else None


def to_feed_entry(item: ParsedItem, feed: ParsedFeed, source: FeedSource) -> FeedEntry:
    """One entry with the feed's metadata, ready to be fetched.

    The name the feed list gives wins over the feed's own title as the
    source name; the list's language over the feed's. The list's tags are
    added to the entry's categories.
    """
    key = entry_key(item)
    body = html_to_text(item.content) if item.content else ""
    tags = list(dict.fromkeys(item.tags + list(source.tags)))
    return FeedEntry(
        feed_url=source.url, entry_key=key, position=f"entry:{key}", link=item.link,
        title=item.title, published=item.published, authors=item.authors, tags=tags,
        summary=item.summary, content=body if is_article_body(body, item.summary) else None,
        source_name=source.name or feed.title,
        language=source.language or _language(feed.language),
        published_source="feed" if item.published is not None else None,
        published_offset_minutes=item.published_offset_minutes)


def is_article_body(text: str, summary: Optional[str] = None) -> bool:
    """Whether an entry's content is a real article body, not a teaser."""
    return len(text) >= MIN_BODY_CHARS


__all__ = ["parse_feed", "to_feed_entry", "entry_key", "html_to_text", "is_article_body",
           "body_hash", "declared_interval", "UnreadableFeed", "UnsafeXml", "xml_entity_refusal",
           "ParsedFeed", "ParsedItem", "MIN_BODY_CHARS"]
