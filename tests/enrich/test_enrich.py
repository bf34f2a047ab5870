"""Tags and YAKE: cleaning, page metadata, YAKE in Arabic and English (the keyphrase
step's small-runs fallback), the tag transform."""
from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import Article
from tests.conftest import SEEDS
from transforms.enrich.tags import EnrichArticles, clean_tags, extract_keywords, stopwords
from transforms.extract.articles import extract_dump_segment
from transforms.extract.html_extract import extract_html
from transforms.extract.page_tags import page_tags

ARABIC_FIRST_ARTICLE = (SEEDS / "rt-arabic-dump.txt").read_bytes().split(
    "إقرأ أيضاً".encode())[0]


def _article(article_id, title, text, language, tags=(), categories=(), site=None):
    return Article(article_id, f"https://www.{site or 'site.example'}/a", None, None, title, text,
                   None, [], None, site, None, list(tags), list(categories), [], language, 0.99,
                   None, None, None, "h", article_id, len(text), "jsonl", "mem", "line:1",
                   "plain_text", "run", 1)


def test_clean_tags_splits_trims_and_folds_repeats():
    raw = ["Politics, Economy; Elections | Iraq", "  economy ", "ECONOMY", "#Iraq", '"Baghdad"',
           "", "   ", "--", "العراق، داعش؛ بغداد", "AT&amp;T", "U.S.", "1.9"]
    assert clean_tags(raw) == ["Politics", "Economy", "Elections", "Iraq", "Baghdad", "العراق",
                               "داعش", "بغداد", "AT&T", "U.S.", "1.9"]


def test_clean_tags_drops_boilerplate_and_the_site_itself():
    raw = ["News", "Breaking News", "أخبار", "Home", "Valley News", "valley.example",
           "Bridges", "Transport", "x" * 200]
    assert clean_tags(raw, ["Valley News", "https://www.valley.example/news/1"]) == \
        ["Bridges", "Transport"]


def test_clean_tags_drops_dates_and_times_but_not_tags_with_numbers():
    raw = ["27 OCT 2012 - 12:14 CET", "2012-10-27", "27.10.2012", "12:14", "10:30 am",
           "Elections 2012", "John 3:16", "9/11", "Formula 1"]
    assert clean_tags(raw) == ["Elections 2012", "John 3:16", "9/11", "Formula 1"]


def test_page_tags_reads_metas_json_ld_and_tag_links_but_not_navigation():
    page = """<html><head>
    <meta property="article:tag" content="Floods">
    <meta property="article:tag" content="River Valley, Bridges">
    <meta name="news_keywords" content="infrastructure">
    <meta property="article:section" content="Local">
    <script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
      {"@type": "WebSite", "keywords": "site, wide"},
      {"@type": "NewsArticle", "keywords": ["Council", "Repairs"], "articleSection": "Regional"}]}
    </script></head><body>
    <nav><a href="/tag/sport/">Sport</a></nav>
    <div class="main-menu"><a href="/tag/weather/">Weather</a></div>
    <article><p>Text</p><footer><a href="/tag/engineering/">Engineering</a></footer></article>
    </body></html>"""
    found = page_tags(page)
    assert found.tags == ["Floods", "River Valley", "Bridges", "infrastructure", "Council",
                          "Repairs", "Engineering"]
    assert found.sections == ["Local", "Regional"]


def test_extract_html_merges_page_tags_into_trafilatura_tags():
    page = b"""<html lang="en"><head><title>Bridge reopens</title>
    <meta name="keywords" content="bridges, transport">
    <script type="application/ld+json">{"@type": "NewsArticle", "keywords": "floods, council",
      "articleSection": "Local"}</script></head><body><article><h1>Bridge reopens</h1>
    <p>The old stone bridge across the river reopened to traffic on Monday morning after eight
    months of repairs to two arches damaged in last winter's floods.</p>
    <p>Drivers had faced a detour of almost twenty kilometres while the work went on.</p>
    </article></body></html>"""
    found = extract_html(page, None, "https://valley.example/bridge")
    assert {"bridges", "transport", "floods", "council"} <= {t.lower() for t in found.tags}
    assert "Local" in found.categories


def test_arabic_keywords_of_the_sample_include_its_editor_tags():
    segment = extract_dump_segment(ARABIC_FIRST_ARTICLE, None)
    keywords = extract_keywords(segment.title, segment.text, "ar")
    assert len(keywords) == 10
    # The editor tags of the sample's keywords line that occur in its body.
    assert {"داعش", "التحالف", "بغداد", "واشنطن"} <= set(keywords)
    assert not any(k in stopwords("ar") for k in keywords)
    assert all("،" not in k and '"' not in k for k in keywords)


def test_english_keywords():
    record = json.loads((SEEDS / "sample-articles.jsonl").read_text().splitlines()[0])
    keywords = extract_keywords(record["title"], record["text"], "en")
    assert 0 < len(keywords) <= 10
    assert any("library" in k.lower() for k in keywords)
    assert len({k.casefold() for k in keywords}) == len(keywords)
    assert not {"the", "said", "and"} & {k.lower() for k in keywords}


def test_no_keywords_without_a_language_or_word_spaces():
    assert extract_keywords("Title", "Some text here about things.", "und") == []
    assert extract_keywords(None, "北京是中国的首都，也是政治和文化中心。", "zh") == []
    assert extract_keywords(None, "", "en") == []


def test_keywords_in_a_language_with_a_stopwordsiso_list_only():
    text = ("Vláda schválila nový zákon o podpoře výstavby bytů. Zákon má pomoci rodinám "
            "s dětmi, které hledají dostupné bydlení ve velkých městech.")
    keywords = extract_keywords(None, text, "cs")
    assert keywords and not {"o", "s", "ve", "které"} & {k.lower() for k in keywords}


def test_enrich_articles_transform(fnapi_pipeline):
    segment = extract_dump_segment(ARABIC_FIRST_ARTICLE, None)
    articles = [
        _article("ar", segment.title, segment.text, "ar", tags=segment.tags),
        _article("en", "Bridge reopens", "The old stone bridge across the river reopened to "
                 "traffic on Monday after eight months of repairs to its arches.", "en",
                 tags=["News", "bridges, Transport", "transport"], categories=["Local"],
                 site="valley.example"),
        _article("und", None, "1234 5678", "und", tags=["valley.example"],
                 site="valley.example"),
    ]
    with fnapi_pipeline as p:
        out = p | beam.Create(articles) | EnrichArticles()
        assert_that(out | "Tags" >> beam.Map(lambda a: (a.article_id, a.tags)), equal_to([
            ("ar", ["العراق", "التحالف", "الدولي", "الجيش", "الأمريكي", "بغداد", "داعش",
                    "واشنطن"]),
            ("en", ["bridges", "Transport", "Local"]),
            ("und", [])]), label="Tags")
        # Keywords are the keyphrase step's (tests/enrich/test_keyphrases.py): untouched here.
        assert_that(out | "Keywords" >> beam.Map(lambda a: (a.article_id, a.keywords)),
                    equal_to([("ar", []), ("en", []), ("und", [])]), label="Keywords")
