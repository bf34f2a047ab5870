"""HTML extraction with trafilatura: what runs in the isolated child process.

Kept apart from `transforms.extract.articles` so that the child imports trafilatura
and nothing of Beam: a child starts in a fraction of the time, and a page
that kills one costs little to restart.
"""
from __future__ import annotations

import logging
import re
from typing import List, NamedTuple, Optional

from transforms.extract.access import access_verdict, page_signs
from transforms.extract.date_candidates import (DateCandidate, candidate, candidates_from_page,
                                               dateline_date)
from transforms.extract.dates import parse_timestamp
from transforms.sources.decode import decode_text
from transforms.extract.page_tags import merge_unique, page_tags

_HTML_LANG = re.compile(rb"<html[^>]*?\blang\s*=\s*[\"']?([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]+)?",
                        re.IGNORECASE)


class NoArticleText(ValueError):
    """The extractor found no article body in the page."""


class Extracted(NamedTuple):
    """What an extractor read from one document, before provenance is added."""
    title: Optional[str]
    text: str
    method: str
    authors: List[str] = []
    published: Optional[int] = None
    site_name: Optional[str] = None
    page_url: Optional[str] = None
    description: Optional[str] = None
    tags: List[str] = []
    categories: List[str] = []
    declared_language: Optional[str] = None
    # Fields whose value was inferred rather than read as written ("title"
    # from a dump's lead, "published" from "3 hours ago").
    inferred: List[str] = []
    # Every date the page states of itself, for the date rule (HTML only).
    date_candidates: List[DateCandidate] = []
    access: Optional[str] = None
    access_reason: Optional[str] = None


def _list_field(value) -> List[str]:
    """A list from a string or list whose items may themselves be joined lists."""
    if not value:
        return []
    items = [value] if isinstance(value, str) else value
    return [part.strip() for item in items if item
            for part in re.split(r"[;,]", str(item)) if part.strip()]


def warm_up() -> None:
    """Imports trafilatura before the first page, so that the import is not
    charged to that page's time limit (`transforms.extract.isolation` calls it)."""
    import trafilatura  # noqa: F401

    # Its complaints about a page are rejects with reasons here; not log noise.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def extract_html(payload: bytes, charset: Optional[str], url: Optional[str],
                 precise: bool = False) -> Extracted:
    """trafilatura's article text and metadata of an HTML page.

    Runs in the isolated child process. `precise` adds trafilatura's fallback
    extractors (readability, jusText): slower, and on the ScrapingHub
    benchmark no better (see DESIGN).

    Raises:
      UndecodableError: the bytes are no text.
      NoArticleText: trafilatura found no main text.
    """
    import trafilatura  # imported in the child only (see warm_up)
    from trafilatura.utils import load_html

    html = decode_text(payload, charset)
    # One parse, shared: the page's declared tags, dates and access signs are
    # read from the tree trafilatura then extracts from (it parses a string
    # the same way), and read before extraction, which may prune it.
    tree = load_html(html)
    if tree is None:
        raise NoArticleText("trafilatura found no main text")
    declared_tags = page_tags(html, tree)
    dates = candidates_from_page(html, url, None, use_htmldate=False, root=tree)
    signs = page_signs(tree)
    document = trafilatura.bare_extraction(
        tree, url=url, fast=not precise, with_metadata=True, include_comments=False,
        include_tables=True, deduplicate=False,
        date_extraction_params={"original_date": True, "extensive_search": False,
                                "outputformat": "%Y-%m-%dT%H:%M:%S%z"})
    if document is None or not (document.text or "").strip():
        raise NoArticleText("trafilatura found no main text")
    declared = _HTML_LANG.search(payload[:8192])
    text = document.text.strip()
    # trafilatura's date is htmldate's reading of the page: it is that
    # candidate (as a day, as `htmldate_candidate` gives it), not run twice.
    dateline = dateline_date(text)  # after the URL's, where candidates_from_page puts it
    if dateline is not None:
        dates.append(dateline)
    page_day = candidate("htmldate", (document.date or "")[:10])
    if page_day is not None:
        dates.append(page_day)
    verdict = access_verdict(signs, text)
    # trafilatura reads meta keywords; article:tag, news_keywords, JSON-LD
    # keywords and sections and the page's tag links come from `page_tags`.
    return Extracted(
        title=document.title, text=text, method="trafilatura",
        authors=_list_field(document.author), published=parse_timestamp(document.date),
        site_name=document.sitename, page_url=document.url,
        description=document.description,
        tags=merge_unique(_list_field(document.tags), declared_tags.tags),
        categories=merge_unique(_list_field(document.categories), declared_tags.sections),
        declared_language=declared.group(1).decode("ascii").lower() if declared else None,
        date_candidates=dates, access=verdict.access, access_reason=verdict.reason)
