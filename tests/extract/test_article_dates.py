"""The article builder's dates and access: the page's candidates and the source's hint."""
from __future__ import annotations

import json

from schemas.records import RawDocument
from tests.feed_server import article_html
from transforms.extract.articles import extract_dump_segment, to_article
from transforms.extract.html_extract import extract_html

FETCHED = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000_000


def _raw(payload: bytes, **hints) -> RawDocument:
    return RawDocument(doc_id="d", source_kind="feed", source_uri="http://example.org/feed",
                       source_position="entry:1", run_id="r", payload=payload,
                       payload_format="html", url="http://example.org/story",
                       fetched_at=FETCHED, **hints)


def _with_json_ld(data: dict) -> bytes:
    page = article_html("A story").decode("utf-8")
    return page.replace("</head>", "<script type='application/ld+json'>"
                        f"{json.dumps(data)}</script></head>").encode("utf-8")


def test_a_page_without_a_date_takes_the_sitemap_date_and_offset():
    raw = _raw(article_html("A story"), published=FETCHED - 3 * HOUR,
               published_source="sitemap", published_offset_minutes=120)
    article = to_article(raw, extract_html(raw.payload, None, raw.url), FETCHED)
    assert (article.published, article.published_source) == (FETCHED - 3 * HOUR, "sitemap")
    assert article.published_offset_minutes == 120 and article.published_rejected == []


def test_a_future_json_ld_date_is_refused_and_the_feed_date_kept():
    page = _with_json_ld({"@type": "NewsArticle", "datePublished": "2026-03-01T10:00:00+01:00",
                          "dateModified": "2026-03-02T10:00:00+01:00"})
    raw = _raw(page, published=FETCHED - HOUR, published_source="feed")
    article = to_article(raw, extract_html(page, None, raw.url), FETCHED)
    assert article.published_source == "feed" and article.published == FETCHED - HOUR
    assert "jsonld:future" in article.published_rejected
    assert article.modified is None  # the modification date is in the future too


def test_json_ld_wins_and_modified_is_kept():
    page = _with_json_ld({"@type": "NewsArticle", "datePublished": "2025-12-31T08:00:00-05:00",
                          "dateModified": "2025-12-31T12:00:00-05:00",
                          "isAccessibleForFree": False})
    raw = _raw(page)
    article = to_article(raw, extract_html(page, None, raw.url), FETCHED)
    assert article.published_source == "jsonld" and article.published_offset_minutes == -300
    assert article.modified == article.published + 4 * HOUR
    assert (article.access, article.access_reason) == ("paywalled", "jsonld")


def test_a_dump_keeps_todays_rule_with_source_or_inferred():
    payload = ("Ministers agree on the budget\n3 hours ago\n"
               + "The ministers met and agreed on the budget for the year ahead. " * 8
               ).encode("utf-8")
    raw = _raw(payload)._replace(payload_format="dump", source_kind="text_dump")
    found = extract_dump_segment(payload, None, FETCHED)
    article = to_article(raw, found, FETCHED)
    assert article.published == FETCHED - 3 * HOUR and "published" in article.inferred_fields
    assert article.published_source == "inferred" and article.published_confidence is None
    given = to_article(raw._replace(published=FETCHED - HOUR),
                       found._replace(published=None, inferred=[]), FETCHED)
    assert (given.published, given.published_source) == (FETCHED - HOUR, "source")


def test_an_html_page_is_parsed_once_for_text_tags_dates_and_access(monkeypatch):
    from lxml import etree

    parses = []
    real = etree.fromstring

    def counted(*args, **kwargs):
        parses.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(etree, "fromstring", counted)  # lxml.html parses through it
    page = _with_json_ld({"@type": "NewsArticle", "datePublished": "2025-12-31T08:00:00-05:00",
                          "isAccessibleForFree": False})
    found = extract_html(page, None, "http://example.org/story")
    assert found.access == "paywalled" and any(c.source == "jsonld" for c in found.date_candidates)
    assert len(parses) == 1
