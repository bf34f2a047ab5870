"""Feed lists: a plain text list or an OPML export, to `FeedSource` records.

The text format (see seeds/README.md), one feed a line::

    # comments and blank lines are ignored
    https://arabic.rt.com/rss/ | RT Arabic | ar | world, middle-east
    https://feeds.bbci.co.uk/news/world/rss.xml | BBC News World | en
    https://www.tagesschau.de/xml/rss2/

After the URL, separated by ``|``, come the optional name, language (an
ISO 639 code, a region suffix such as ``en-GB`` is dropped) and tags
(comma separated). OPML (what feed readers export) is recognised by its
first bytes that are not blank and not a ``#`` comment (they open a tag): every ``<outline>`` with an ``xmlUrl`` is a feed, named by its
``title`` or ``text``, with its ``language`` and ``category`` attributes;
the titles of the folders around it become tags.

A line that is not a feed (not an http(s) URL, a bad language code) is a
`Reject` with its line number, never silently skipped. The same URL listed
twice keeps its first listing.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Iterator, List, Optional, Union
from urllib.parse import urlsplit

from schemas.records import FeedSource, Reject
from schemas.contexts import Skipped
from transforms.sources.feed_entries import xml_entity_refusal
from transforms.extract.normalize import stable_id

STAGE = "read"
SOURCE_KIND = "feed_list"
_LANGUAGE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]{2,8})*$")
MAX_LIST_BYTES = 16 * 1024 * 1024


def normalise_language(value: Optional[str]) -> Optional[str]:
    """``en-GB`` → ``en``; None for an empty value.

    Raises:
      ValueError: not a language code.
    """
    value = (value or "").strip()
    if not value:
        return None
    match = _LANGUAGE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a language code (like ar, en or pt-BR)")
    return match.group(1).lower()


def split_tags(value: Optional[str]) -> List[str]:
    return [t.strip() for t in re.split(r"[,;]", value or "") if t.strip()]


def feed_url_problem(url: str) -> Optional[str]:
    """Why `url` cannot be a feed address, or None."""
    try:
        parts = urlsplit(url)
        parts.port
    except ValueError as error:
        return f"{url[:200]!r} is not a URL: {error}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"{url[:200]!r}: only http and https feeds are read"
    if not parts.hostname:
        return f"{url[:200]!r} has no host"
    if any(c.isspace() for c in url):
        return f"{url[:200]!r} holds white space"
    return None


def first_significant_bytes(data: bytes) -> bytes:
    """The list from its first line that is neither blank nor a ``#`` comment.

    A comment may mention ``<opml>`` (a list converted from an export) and a
    text list may begin with comments: only what follows them tells the format.
    """
    data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    offset = 0
    for line in data.splitlines(keepends=True):
        stripped = line.strip()
        if stripped and not stripped.startswith(b"#"):
            return data[offset:].lstrip()
        offset += len(line)
    return b""


def looks_like_opml(data: bytes) -> bool:
    """XML (OPML) when the first significant byte opens a tag: a text list's
    lines begin with a URL, never with ``<``."""
    return first_significant_bytes(data).startswith(b"<")


def _reject(list_uri: str, position: str, message: str, url: Optional[str], run_id: str,
            ingested_at: int, reason: str = "invalid_feed_line") -> Reject:
    return Reject(doc_id=stable_id(list_uri, position), stage=STAGE, reason=reason,
                  message=message[:500], url=url, source_kind=SOURCE_KIND, source_uri=list_uri,
                  source_position=position, run_id=run_id, ingested_at=ingested_at)


def parse_text_list(text: str, list_uri: str, run_id: str,
                    ingested_at: int) -> Iterator[Union[FeedSource, Reject]]:
    """The feeds of a plain text list, and a reject for each line that is none."""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip().lstrip("\ufeff")
        if not stripped or stripped.startswith("#"):
            continue
        position = f"line:{number}"
        fields = [f.strip() for f in stripped.split("|")]
        url = fields[0]
        problem = feed_url_problem(url)
        if problem is None and len(fields) > 4:
            problem = f"{len(fields)} fields; expected URL | name | language | tags"
        if problem is None:
            try:
                language = normalise_language(fields[2] if len(fields) > 2 else None)
            except ValueError as error:
                problem = str(error)
        if problem is not None:
            yield _reject(list_uri, position, problem, url or None, run_id, ingested_at)
            continue
        name = fields[1] if len(fields) > 1 and fields[1] else None
        tags = split_tags(fields[3]) if len(fields) > 3 else []
        yield FeedSource(url, name, language, tags, list_uri, position)


def parse_opml(data: bytes, list_uri: str, run_id: str,
               ingested_at: int) -> Iterator[Union[FeedSource, Reject]]:
    """The feeds of an OPML document (outlines with an ``xmlUrl``)."""
    refusal = xml_entity_refusal(data)
    if refusal is not None:  # expat would refuse most of these too; not every expat
        yield _reject(list_uri, "byte:0", f"the OPML file declares {refusal}", None, run_id,
                      ingested_at, reason="unsafe_xml")
        return
    try:
        # ElementTree never fetches external entities; expat bounds entity expansion.
        root = ET.fromstring(data)
    except ET.ParseError as error:
        yield _reject(list_uri, "byte:0", f"the OPML file is not well-formed XML: {error}",
                      None, run_id, ingested_at, reason="invalid_feed_list")
        return
    body = root.find("body")
    if root.tag != "opml" or body is None:
        yield _reject(list_uri, "byte:0", "an XML file that is not OPML (no <opml><body>)",
                      None, run_id, ingested_at, reason="invalid_feed_list")
        return
    counter = [0]

    def walk(element, folders: List[str]) -> Iterator[Union[FeedSource, Reject]]:
        for outline in element.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            label = (outline.get("title") or outline.get("text") or "").strip() or None
            if not url:
                yield from walk(outline, folders + ([label] if label else []))
                continue
            counter[0] += 1
            position = f"outline:{counter[0]}"
            problem = feed_url_problem(url)
            language = None
            if problem is None:
                try:
                    language = normalise_language(outline.get("language"))
                except ValueError as error:
                    problem = str(error)
            if problem is not None:
                yield _reject(list_uri, position, problem, url, run_id, ingested_at)
                continue
            categories = [part.strip() for item in split_tags(outline.get("category"))
                          for part in item.split("/") if part.strip()]
            tags = list(dict.fromkeys(folders + categories))
            yield FeedSource(url, label, language, tags, list_uri, position)

    yield from walk(body, [])


def parse_feed_list(data: bytes, list_uri: str, run_id: str,
                    ingested_at: int) -> Iterator[Union[FeedSource, Reject, Skipped]]:
    """Feeds of a list file of either format; each URL once, first listing kept
    (a repeat is `Skipped`, kind ``feed_listed_twice``)."""
    if looks_like_opml(data):  # from its first tag: ``#`` lines before it are no XML
        records = parse_opml(first_significant_bytes(data), list_uri, run_id, ingested_at)
    else:
        records = parse_text_list(data.decode("utf-8", errors="replace"), list_uri, run_id,
                                  ingested_at)
    listed = set()
    for record in records:
        if isinstance(record, FeedSource):
            if record.url in listed:
                yield Skipped(list_uri, "feed_listed_twice")
                continue
            listed.add(record.url)
        yield record


def feed_list_problem(data: bytes, list_uri: str) -> Optional[str]:
    """Why a feed list cannot be run, or None: too large, or no feed in it.

    Checked before the graph is built: a list that yields no feed at all is
    a mistake to stop on (a wrong file, an export cut short), not a run that
    succeeds with 0 inputs. Lines that are no feed in a list that has some
    stay rejects of the run.
    """
    if len(data) > MAX_LIST_BYTES:
        return f"{list_uri} is over {MAX_LIST_BYTES} bytes"
    records = list(parse_feed_list(data, list_uri, "check", 0))
    if any(isinstance(r, FeedSource) for r in records):
        return None
    rejects = [r for r in records if isinstance(r, Reject)]
    if not rejects:
        return f"{list_uri} holds no feed (only blank lines and comments)"
    more = f" (and {len(rejects) - 1} more lines that are no feed)" if len(rejects) > 1 else ""
    return (f"{list_uri} holds no feed: {rejects[0].source_position}: "
            f"{rejects[0].message}{more}")


__all__ = ["parse_feed_list", "feed_list_problem", "parse_text_list", "parse_opml", "normalise_language",
           "feed_url_problem"]
