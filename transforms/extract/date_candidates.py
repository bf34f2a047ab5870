"""Every date a page states of itself, and the dates its feed or sitemap states.

Readers for each place (`transforms.extract.published_date` chooses among them):
JSON-LD (``datePublished``, ``dateCreated``, ``uploadDate``, ``dateModified``
of the article nodes), the head's ``<meta>`` tags (``article:published_time``
and friends, by precedence) and the body's first microdata date, htmldate
on the whole page, a date in the URL's path (the fetched URL's, else the
one the page declares), a full date in the first lines
of the text (a dateline). Each source gives at most one published and one
modified candidate. Every value is UTC microseconds with the offset the
source wrote kept beside it (`parse_with_offset`).
"""
from __future__ import annotations

import email.utils
import json
import re
from datetime import date, datetime, timezone
from typing import Any, Iterable, List, NamedTuple, Optional, Tuple

from transforms.extract.dates import to_micros

_ARTICLE_TYPES = {"article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
                  "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle",
                  "blogposting", "liveblogposting", "socialmediaposting", "report",
                  "scholarlyarticle", "techarticle", "videoobject"}
# <meta> names and properties, lower case, that state a publication or a modification.
_META_PUBLISHED = ("article:published_time", "og:published_time", "og:article:published_time",
                   "datepublished", "pubdate", "publishdate", "publish-date", "publish_date",
                   "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.created",
                   "dc.date.created", "sailthru.date", "parsely-pub-date", "date",
                   "citation_publication_date", "article.published", "originalpublicationdate")
_META_MODIFIED = ("article:modified_time", "og:updated_time", "datemodified",
                  "dcterms.modified", "dc.date.modified", "last-modified", "article.updated")


class DateCandidate(NamedTuple):
    """One stated date: where from, when (UTC micros), the offset written, how precise."""
    source: str
    kind: str  # "published" or "modified"
    micros: int
    offset_minutes: Optional[int]
    has_time: bool
    raw: str


# ------------------------------------------------------------------ parsing

_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
_OFFSET_NO_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_with_offset(raw: Any) -> Optional[Tuple[int, Optional[int], bool]]:
    """``(UTC micros, offset minutes or None, has a time)`` of a written date, else None.

    ISO 8601 (with or without a time or an offset) and RFC 2822. A time
    with no offset is taken as UTC and its offset reported as unknown.
    """
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 64:
        return None
    value = raw.strip()
    match = _ISO_DATE.match(value)
    if match:
        try:
            day = date(*(int(g) for g in match.groups()))
        except ValueError:
            return None
        return to_micros(datetime(day.year, day.month, day.day, tzinfo=timezone.utc)), None, False
    moment = None
    iso = value.replace("Z", "+00:00").replace("z", "+00:00")
    iso = _OFFSET_NO_COLON.sub(r"\1:\2", iso) if "T" in iso or " " in iso else iso
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if moment is None:
        return None
    offset = moment.utcoffset()
    minutes = None if offset is None else int(offset.total_seconds() // 60)
    try:
        return to_micros(moment), minutes, True
    except (OverflowError, ValueError):
        return None


def candidate(source: str, raw: Any, kind: str = "published") -> Optional[DateCandidate]:
    """A `DateCandidate` from a written date, or None when it cannot be read."""
    parsed = parse_with_offset(raw)
    if parsed is None:
        return None
    micros, offset, has_time = parsed
    return DateCandidate(source, kind, micros, offset, has_time, str(raw).strip()[:64])


def from_micros_candidate(source: str, micros: Optional[int],
                          offset_minutes: Optional[int] = None,
                          has_time: bool = True) -> Optional[DateCandidate]:
    """A candidate from a date already parsed upstream (a feed entry's, a sitemap's)."""
    if micros is None:
        return None
    return DateCandidate(source, "published", int(micros), offset_minutes, has_time, "")


# ------------------------------------------------------------- the page

_URL_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d\d)([/_.-]?)(0[1-9]|1[0-2]|[1-9])\2(0[1-9]|[12]\d|3[01]|[1-9])(?!\d)")
_MONTHS = {m: i for i, names in enumerate((
    "jan january", "feb february", "mar march", "apr april", "may", "jun june",
    "jul july", "aug august", "sep sept september", "oct october", "nov november",
    "dec december"), 1) for m in names.split()}
_TEXT_DATES = (
    re.compile(r"\b(?P<month>[A-Za-z]{3,9})\.? (?P<day>\d{1,2}),? (?P<year>(?:19|20)\d\d)\b"),
    re.compile(r"\b(?P<day>\d{1,2})\.? (?P<month>[A-Za-z]{3,9})\.? (?P<year>(?:19|20)\d\d)\b"),
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>\d{2})-(?P<day>\d{2})\b"),
)


def url_date(url: Optional[str]) -> Optional[DateCandidate]:
    """A date in the URL's path: ``/2019/11/19/``, ``2019-11-19``, ``/20191119/``.

    The path must separate it (``/2019/11/19``) or it must be an 8-digit
    run on its own, so that article ids are not read as dates.
    """
    if not url:
        return None
    path = re.sub(r"^[a-z]+://[^/]*", "", url, flags=re.I).split("?", 1)[0]
    for match in _URL_DATE.finditer(path):
        year, sep, month, day = match.groups()
        if not sep and (len(month) != 2 or len(day) != 2):
            continue
        try:
            found = date(int(year), int(month), int(day))
        except ValueError:
            continue
        return DateCandidate("url", "published", to_micros(datetime(
            found.year, found.month, found.day, tzinfo=timezone.utc)), None, False,
            match.group(0))
    return None


def declared_url(root) -> Optional[str]:
    """The URL the page gives itself (canonical link, else ``og:url``): the one the
    publisher dated, where the fetched URL may be a redirect or a share link."""
    for link in root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            return link.get("href")
    for meta in root.iter("meta"):
        if (meta.get("property") or meta.get("name") or "").lower() == "og:url":
            return meta.get("content")
    return None


def dateline_date(text: Optional[str], head_chars: int = 300) -> Optional[DateCandidate]:
    """A full date (with its year) in the first lines of the text: a dateline."""
    head = (text or "")[:head_chars]
    for pattern in _TEXT_DATES:
        for match in pattern.finditer(head):
            month_text = match.group("month").lower()
            month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text)
            try:
                found = date(int(match.group("year")), month or 0, int(match.group("day")))
            except (TypeError, ValueError):
                continue
            return DateCandidate("dateline", "published", to_micros(datetime(
                found.year, found.month, found.day, tzinfo=timezone.utc)), None, False,
                match.group(0))
    return None


def _json_ld_nodes(root) -> Iterable[dict]:
    """Every object of the page's JSON-LD blocks, ``@graph`` and lists unfolded."""
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                yield item
                for key in ("@graph", "mainEntity", "mainEntityOfPage"):
                    if isinstance(item.get(key), (list, dict)):
                        stack.append(item[key])


def _types(node: dict) -> set:
    kinds = node.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return {str(k).lower() for k in kinds if k}


def json_ld_nodes(root) -> List[dict]:
    """The article nodes of the JSON-LD (else every node): what the page says of itself."""
    nodes = list(_json_ld_nodes(root))
    articles = [n for n in nodes if _types(n) & _ARTICLE_TYPES]
    return articles or nodes


def _first_per_kind(found: List[DateCandidate]) -> List[DateCandidate]:
    """One candidate per kind of a source: a page listing related articles must not
    vote once per teaser, and the first (by precedence) is the page's own."""
    kept: dict = {}
    for item in found:
        kept.setdefault(item.kind, item)
    return list(kept.values())


def _json_ld_candidates(root) -> List[DateCandidate]:
    found = []
    for node in json_ld_nodes(root):
        for key, kind in (("datePublished", "published"), ("dateCreated", "published"),
                          ("uploadDate", "published"), ("dateModified", "modified")):
            item = candidate("jsonld", node.get(key), kind)
            if item is not None:
                found.append(item)
    return _first_per_kind(found)


def _meta_candidates(root) -> List[DateCandidate]:
    """The head's ``<meta>`` dates by name precedence, then the first microdata date of
    the body (``itemprop`` on ``<meta>`` or ``<time>``, ``<time pubdate>``)."""
    named = []
    head = root.find("head")
    for meta in (head.iter("meta") if head is not None else ()):
        name = (meta.get("property") or meta.get("name") or meta.get("itemprop")
                or meta.get("http-equiv") or "").strip().lower()
        for kind, names in (("published", _META_PUBLISHED), ("modified", _META_MODIFIED)):
            item = name in names and candidate("meta", meta.get("content"), kind)
            if item:
                named.append((names.index(name), item))
    found = [item for _, item in sorted(named, key=lambda pair: pair[0])]
    for tag in root.iter("meta", "time"):
        prop = (tag.get("itemprop") or "").lower()
        kind = ("published" if prop == "datepublished" or tag.get("pubdate") is not None
                else "modified" if prop == "datemodified" else None)
        item = kind and candidate("meta", tag.get("datetime") or tag.get("content"), kind)
        if item:
            found.append(item)
    return _first_per_kind(found)


def htmldate_candidate(html: str) -> Optional[DateCandidate]:
    """htmldate's reading of the whole page: a day (original date, no URL: that is ours).

    A day only: the times htmldate finds come from the meta tags read here
    already; what it adds is the day of pages without them. Its first call
    in a process that needs dateparser loads dateparser's data (~2 s).
    """
    from htmldate import find_date
    from lxml.etree import LxmlError
    try:
        found = find_date(html, original_date=True, extensive_search=True)
    except (ValueError, TypeError, OverflowError, RecursionError, LxmlError):
        # What htmldate raises on hostile markup or dates (out of range, a
        # recursion in lxml): no date rather than a failed record. Anything
        # else is a bug and goes to the step's error handling.
        return None
    return candidate("htmldate", found)


def page_root(html: Optional[str]):
    """The page parsed by lxml, or None when there is nothing to parse."""
    if not html:
        return None
    import lxml.html
    from lxml import etree
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def candidates_from_page(html: Optional[str], url: Optional[str] = None,
                         text: Optional[str] = None,
                         use_htmldate: bool = True, root=None) -> List[DateCandidate]:
    """Every date the page states of itself: JSON-LD, meta, htmldate, URL, dateline.

    The URL's date is the fetched URL's, else that of the URL the page
    declares (`declared_url`).

    `root`: the page already parsed (`page_root`), to parse it once for
    dates and access both.
    """
    found: List[DateCandidate] = []
    in_url = url_date(url)
    if html:
        root = root if root is not None else page_root(html)
        if root is not None:
            found += _json_ld_candidates(root) + _meta_candidates(root)
            in_url = in_url or url_date(declared_url(root))
        if use_htmldate:
            item = htmldate_candidate(html)
            if item is not None:
                found.append(item)
    for item in (in_url, dateline_date(text)):
        if item is not None:
            found.append(item)
    return found


__all__ = ["DateCandidate", "parse_with_offset", "candidate", "from_micros_candidate",
           "url_date", "declared_url", "dateline_date", "json_ld_nodes", "htmldate_candidate", "page_root",
           "candidates_from_page"]
