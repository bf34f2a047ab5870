"""The tags and sections an HTML page declares for its article.

Read by `extract_html` in the isolated extraction process, beside what
trafilatura finds (its `tags` come from ``<meta name="keywords">`` and a few
tag links; it reads no JSON-LD keywords and no ``news_keywords``). Sources:

- ``<meta property="article:tag">`` (one per tag, or a joined list),
  ``<meta name="news_keywords">``;
- JSON-LD ``keywords`` and ``articleSection`` of the page's article objects
  (also inside ``@graph``);
- ``<meta property="article:section">``;
- tag links: ``<a rel="tag">``, else links to the site's tag pages
  (``/tag/``, ``/tags/``, ``/topic/``, ``?keyword=``...), except those in the
  site's navigation (inside ``nav``/``header``/``footer`` or an element whose
  class or id names a menu, header, footer, sidebar or breadcrumb): those are
  the same on every page of the site, not this article's tags.

Pure functions over lxml; no Beam, so the extraction child stays light.
"""
from __future__ import annotations

import json
import re
from typing import Iterable, List, NamedTuple, Optional

_TAG_HREF = re.compile(r"/(?:tag|tags|topic|topics|schlagwort|etiqueta|etiquetas|tema|temi|"
                       r"mot-cle|motcle|keyword|keywords)/|[?&](?:keyword|tag|tags)=",
                       re.IGNORECASE)
_NAVIGATION_TAGS = frozenset({"nav", "header", "footer"})
_NAVIGATION_WORDS = re.compile(r"(?:^|[-_\s])(?:nav|navbar|navigation|menu|menucontainer|submenu|"
                               r"header|masthead|footer|sidebar|breadcrumbs?|topnav|subnav|"
                               r"megamenu)(?:$|[-_\s])", re.IGNORECASE)
_ARTICLE_WORDS = re.compile(r"(?:^|[-_\s])(?:post|entry|story|article|hentry)(?:$|[-_\s])",
                            re.IGNORECASE)
_ARTICLE_TYPES = ("article", "posting", "report", "webpage", "newsarticle", "blogposting")
# More tag links outside the navigation than this is a tag cloud, not tags.
MAX_LINK_TAGS = 40


class PageTags(NamedTuple):
    tags: List[str]
    sections: List[str]


def _split(value) -> List[str]:
    """Strings from a JSON-LD or meta value: a string (maybe a joined list) or a list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [part for item in value for part in _split(item)]
    if isinstance(value, dict):
        return _split(value.get("name"))
    return [part.strip() for part in re.split(r"[,;|\n]", str(value)) if part.strip()]


def _json_ld_objects(data) -> Iterable[dict]:
    if isinstance(data, list):
        for item in data:
            yield from _json_ld_objects(item)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _json_ld_objects(data["@graph"])


def _is_article(obj: dict) -> bool:
    kinds = obj.get("@type", "")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(any(word in str(kind).lower() for word in _ARTICLE_TYPES) for kind in kinds)


def _in_navigation(element) -> bool:
    """Whether a link sits in the site's navigation rather than in the article.

    A link inside an article container (``<article>``, or an element named
    post, entry, story or article) is the article's, even in the article's own
    header or footer, where pages put their tag lists. Otherwise a ``nav``,
    ``header`` or ``footer`` element, or one named menu, header, footer,
    sidebar or breadcrumb, makes it navigation."""
    navigation = False
    for ancestor in element.iterancestors():
        if not isinstance(ancestor.tag, str):
            continue
        tag = ancestor.tag.lower()
        names = f"{ancestor.get('class') or ''} {ancestor.get('id') or ''}"
        if tag == "article" or (names.strip() and _ARTICLE_WORDS.search(names)):
            return False
        if tag in _NAVIGATION_TAGS or (names.strip() and _NAVIGATION_WORDS.search(names)):
            navigation = True
    return navigation


def _link_tags(doc) -> List[str]:
    rel_tags = doc.xpath('//a[contains(concat(" ", normalize-space(@rel), " "), " tag ")]')
    links = rel_tags or [a for a in doc.xpath("//a[@href]") if _TAG_HREF.search(a.get("href"))]
    texts = [" ".join(a.text_content().split()) for a in links if not _in_navigation(a)]
    texts = [t for t in texts if t]
    return texts if len(texts) <= MAX_LINK_TAGS else []


def page_tags(html: str, doc=None) -> PageTags:
    """The tags and sections `html` declares (uncleaned; see `transforms.enrich.tags.clean_tags`).

    Args:
      html: the decoded page.
      doc: the page already parsed by lxml.html, if the caller has it.
    """
    if doc is None:
        import lxml.html

        try:
            doc = lxml.html.fromstring(html)
        except (ValueError, TypeError, lxml.etree.ParserError):
            return PageTags([], [])
    tags: List[str] = []
    sections: List[str] = []
    for meta in doc.xpath("//meta[@content]"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        if key in ("article:tag", "news_keywords", "og:article:tag"):
            tags += _split(meta.get("content"))
        elif key in ("article:section", "og:article:section"):
            sections += _split(meta.get("content"))
    for script in doc.xpath('//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        for obj in _json_ld_objects(data):
            if _is_article(obj):
                tags += _split(obj.get("keywords"))
                sections += _split(obj.get("articleSection"))
    tags += _link_tags(doc)
    return PageTags(tags, sections)


def merge_unique(*lists: Optional[Iterable[str]]) -> List[str]:
    """The items of all lists in order, without case-folded repeats."""
    seen, merged = set(), []
    for values in lists:
        for value in values or ():
            key = value.casefold()
            if key not in seen:
                seen.add(key)
                merged.append(value)
    return merged
