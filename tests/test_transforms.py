"""Composite transforms under TestPipeline on the FnApiRunner."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import RawDocument
from tests.conftest import SEEDS
from transforms.extract.dates import parse_timestamp
from schemas.dedup import DedupKey
from transforms.dedup.batch import Deduplicate
from transforms.dedup.rules import rank, split_group
from transforms.extract.articles import ExtractArticles, to_article
from transforms.extract.html_extract import extract_html
from transforms.enrich.language import DetectLanguage, LanguageDetector
from transforms.enrich.language_text import detection_text

INGESTED = parse_timestamp("2026-11-29T12:00:00Z")
PAGE = b"""<!doctype html><html lang="en-GB"><head><title>Bridge reopens | Valley News</title>
<link rel="canonical" href="https://valley.example/news/bridge-reopens">
<meta property="og:site_name" content="Valley News">
<meta name="keywords" content="bridges, transport">
<meta name="author" content="Jo Reporter">
<meta property="article:published_time" content="2026-03-02T08:15:00Z"></head>
<body><nav><a href="/">Home</a> | <a href="/sport">Sport</a></nav>
<article><h1>Bridge reopens after repairs</h1>
<p>The old stone bridge across the river reopened to traffic on Monday morning after eight months of repairs to two arches damaged in last winter's floods.</p>
<p>Drivers had faced a detour of almost twenty kilometres while the work went on, and shop owners on both banks said trade had fallen by a third.</p>
<p>The council said a weight limit of seven tonnes would stay in place until the spring, when engineers will inspect the arches again.</p>
</article><footer>Copyright Valley News</footer></body></html>"""


def _raw(doc_id, payload, fmt, **hints):
    return RawDocument(doc_id, "jsonl", "mem.jsonl", f"line:{doc_id}", "run", payload, fmt,
                       **hints)


def test_extract_html_reads_text_and_metadata():
    found = extract_html(PAGE, None, "https://valley.example/news/bridge-reopens?utm_source=x")
    assert found.title.startswith("Bridge reopens")
    assert "weight limit of seven tonnes" in found.text
    assert "Copyright" not in found.text and "Sport" not in found.text
    assert found.site_name == "Valley News"
    assert found.page_url == "https://valley.example/news/bridge-reopens"
    assert found.authors == ["Jo Reporter"]
    assert found.declared_language == "en"
    assert set(found.tags) >= {"bridges", "transport"}
    assert found.published is not None


def test_to_article_prefers_page_metadata_and_keeps_source_hints():
    raw = _raw("1", PAGE, "html", url="https://valley.example/news/bridge-reopens?utm_source=x",
               title="Feed title", tags=["Local"], source_name="Valley News Feed")
    article = to_article(raw, extract_html(PAGE, None, raw.url), 7)
    assert article.title.startswith("Bridge reopens")
    assert article.source_name == "Valley News Feed"
    assert article.tags[0] == "Local" and "bridges" in article.tags
    assert article.url_key == "valley.example/news/bridge-reopens"
    assert article.ingested_at == 7 and article.run_id == "run"


def test_extract_articles_routes_every_document(fnapi_pipeline):
    dump = (SEEDS / "rt-arabic-dump.txt").read_bytes()
    docs = [_raw("html", PAGE, "html"),
            _raw("nav", b"<html><head><title>x</title></head><body><script>var a;</script></body></html>",
                 "html"),
            _raw("binary", bytes(range(32)) * 300, "html"),
            _raw("text", b"A plain text body that is long enough to count as an article. " * 3,
                 "text"),
            _raw("short", b"Too short.", "text"),
            _raw("dump", dump.split("إقرأ أيضاً".encode())[0], "dump")]
    with fnapi_pipeline as p:
        articles, rejects = (p | beam.Create(docs)
                             | ExtractArticles(ingested_at=1, timeout_s=60, min_text_chars=50))
        assert_that(articles | "Ids" >> beam.Map(lambda a: (a.article_id, a.extraction_method)),
                    equal_to([("html", "trafilatura"), ("text", "plain_text"),
                              ("dump", "text_dump")]), label="Articles")
        assert_that(rejects | "Reasons" >> beam.Map(
            lambda r: (r.doc_id, r.stage, r.reason, r.extraction_method)),
            equal_to([("nav", "extract", "no_article_text", "trafilatura"),
                      ("binary", "extract", "undecodable", "trafilatura"),
                      ("short", "extract", "too_short", "plain_text")]), label="Rejects")


def test_language_detection_cleans_its_input():
    assert detection_text("TITLE IN CAPITALS", "BODY IN CAPITALS TOO") == \
        "title in capitals body in capitals too"
    assert "َ" not in detection_text(None, "العَرَبِيَّة")
    detector = LanguageDetector()
    vocalised = "قَالَتِ السَّفِيرَةُ الأَمْرِيكِيَّةُ لَدَى بَغْدَادَ إِنَّ التَّنْظِيمَ لا يَزَالُ يُشَكِّلُ تَهْدِيدًا"
    assert detector.detect(None, vocalised, 0.5)[0] == "ar"
    assert detector.detect("", "", 0.5) == ("und", 0.0)


def test_detect_language_transform(fnapi_pipeline):
    dump = (SEEDS / "rt-arabic-dump.txt").read_bytes()
    with fnapi_pipeline as p:
        articles, _ = (p | beam.Create([_raw("ar", dump.split("إقرأ أيضاً".encode())[0], "dump"),
                                        _raw("en", PAGE, "html")])
                       | ExtractArticles(ingested_at=1))
        languages = articles | DetectLanguage() | beam.Map(
            lambda a: (a.article_id, a.language, a.language_score > 0.9))
        assert_that(languages, equal_to([("ar", "ar", True), ("en", "en", True)]))


def _key(article_id, url_key=None, content="h", canonical=False, published=None, length=100,
         known=False):
    return DedupKey(article_id, url_key, content, None, canonical, 0, published, length, known,
                    article_id, article_id)


def test_rank_keeps_canonical_then_earliest_then_longest_then_lowest_id():
    kept, losers = split_group([_key("b", published=5), _key("a", published=9),
                                _key("c", published=5, length=200)], "exact")
    assert kept.article_id == "c"
    assert sorted(l[0] for l in losers) == ["a", "b"]
    assert all(d.duplicate_of == "c" and d.dup_type == "exact" for _, d in losers)
    assert split_group([_key("z", canonical=True, published=99), _key("a", published=1)],
                       "url")[0].article_id == "z"
    assert rank(_key("a")) < rank(_key("b"))
    kept, losers = split_group([_key("new", published=1), _key("old", published=9, known=True)],
                               "url")
    assert kept.article_id == "old" and [l[0] for l in losers] == ["new"]
    assert split_group([_key("old1", known=True), _key("old2", known=True)], "url")[1] == []


def test_deduplicate_by_url_then_content(fnapi_pipeline):
    dump = (SEEDS / "rt-arabic-dump.txt").read_bytes()
    body = b"The same body of a story that several sites carried word for word. " * 3
    day = parse_timestamp("2026-11-28T00:00:00Z")
    docs = [
        _raw("first", body, "text", url="https://a.example/s?utm_source=rss", published=day),
        _raw("url-copy", body + b" Updated.", "text", url="https://www.a.example/s",
             published=day + 10),
        _raw("mirror", body.replace(b".", b"!"), "text", url="https://b.example/s",
             published=day + 20),
        _raw("other", dump.split("إقرأ أيضاً".encode())[0], "dump"),
    ]
    with fnapi_pipeline as p:
        articles, _ = p | beam.Create(docs) | ExtractArticles(ingested_at=INGESTED)
        dedup_out = articles | Deduplicate()
        unique = dedup_out.articles
        duplicates = dedup_out.duplicates
        assert_that(unique | "Kept" >> beam.Map(lambda a: a.article_id),
                    equal_to(["first", "other"]), label="Unique")
        assert_that(duplicates | "Dups" >> beam.Map(
            lambda d: (d.doc_id, d.duplicate_of, d.dup_type, d.similarity, d.cluster_id,
                       d.extraction_method)),
            equal_to([("url-copy", "first", "url", 1.0, "first", "plain_text"),
                      ("mirror", "first", "exact", 1.0, "first", "plain_text")]),
            label="Duplicates")


def test_a_pathological_page_is_stopped_and_the_run_goes_on(fnapi_pipeline):
    # trafilatura spends about ten seconds on this 2.7 MB table here.
    rows = b"<tr><td>cell text here</td><td>more</td></tr>" * 60000
    huge = b"<html><body><table>" + rows + b"</table></body></html>"
    docs = [_raw("huge", huge, "html"), _raw("small", PAGE, "html")]
    with fnapi_pipeline as p:
        articles, rejects = (p | beam.Create(docs)
                             | ExtractArticles(ingested_at=INGESTED, timeout_s=1.0))
        assert_that(rejects | "Reasons" >> beam.Map(lambda r: (r.doc_id, r.reason)),
                    equal_to([("huge", "timeout")]), label="Rejects")
        assert_that(articles | "Ids" >> beam.Map(lambda a: a.article_id), equal_to(["small"]),
                    label="Articles")
