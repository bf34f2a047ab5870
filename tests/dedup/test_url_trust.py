"""URL trust: fetched URLs are facts, a page's canonical/og:url is a claim."""
from __future__ import annotations

import pytest
import html
import json
from pathlib import Path

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from pipelines import cli
from schemas.records import RawDocument
from tests.conftest import read_table
from transforms.dedup.batch import Deduplicate
from transforms.extract.articles import to_article
from transforms.extract.html_extract import Extracted
from transforms.dedup import urls

INGESTED = 1_764_400_000_000_000


def _bodies(data: Path, n: int, min_chars: int = 1200):
    truth = json.loads((data / "html" / "scrapinghub-aeb" / "ground-truth.json").read_text())
    return [(v.get("articleBody"), v.get("headline") or f"Story {i}")
            for i, (_, v) in enumerate(sorted(truth.items()))
            if len(v.get("articleBody") or "") > min_chars][:n]


def _page(title: str, body: str, canonical: str, og_url: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n") if p.strip())
    return (f"<!doctype html><html lang=\"en\"><head><title>{html.escape(title)}</title>"
            f"<link rel=\"canonical\" href=\"{canonical}\">"
            f"<meta property=\"og:url\" content=\"{og_url}\">"
            f"<meta property=\"og:title\" content=\"{html.escape(title)}\"></head>"
            f"<body><nav><a href=\"/\">Home</a></nav><article><h1>{html.escape(title)}</h1>"
            f"{paragraphs}</article></body></html>")


def _manifest(out: Path, run_id: str) -> dict:
    return json.loads((out / "_runs" / f"{run_id}.json").read_text(encoding="utf-8"))


def test_site_roots_and_section_pages_are_no_plausible_claims():
    for claim in ("http://site.example/", "https://www.site.example/index.html",
                  "https://site.example/news/", "https://site.example/el/politics",
                  "https://m.site.example/?lang=el"):
        assert not urls.plausible_claim(claim), claim
    for claim in ("https://site.example/news/2026/11/29/budget-passes",
                  "https://site.example/article/123456", "https://site.example/a-long-slug-here",
                  "https://site.example/news/story.html"):
        assert urls.plausible_claim(claim), claim
    assert urls.site_of("https://www.site.example/news/x") == "site.example"
    assert urls.site_of("site.example/news/x") == "site.example"


def test_a_fact_wins_over_an_implausible_claim_and_a_plausible_claim_keys():
    raw = RawDocument("d1", "jsonl", "mem", "line:1", "r", b"", "html",
                      url="https://site.example/2026/11/29/budget?utm_source=x")
    home = Extracted(title="t", text="body", method="trafilatura",
                     page_url="http://site.example/")
    article = to_article(raw, home, INGESTED)
    assert article.url_key == "site.example/2026/11/29/budget"
    plausible = home._replace(page_url="https://site.example/2026/11/29/budget-slug")
    assert to_article(raw, plausible, INGESTED).url_key == "site.example/2026/11/29/budget-slug"
    no_fact = to_article(raw._replace(url=None), home, INGESTED)
    assert no_fact.url_key is None


@pytest.mark.e2e
def test_ten_distinct_articles_declaring_the_home_page_stay_ten(tmp_path, shared_data):
    """Failed before: the ten pages went to duplicates as url duplicates of one."""
    pages = tmp_path / "pages"
    pages.mkdir()
    for i, (body, title) in enumerate(_bodies(shared_data, 10)):
        (pages / f"story-{i}.html").write_text(
            _page(f"{title} ({i})", body, "http://site.example/", "http://site.example/"),
            encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["ingest", "--input", str(pages / "*.html"), "--output", str(out),
                     "--run_id", "r1", "--runner", "DirectRunner"]) == 0
    manifest = _manifest(out, "r1")
    assert manifest["totals"]["articles"] == 10
    assert manifest["totals"]["duplicates"] == 0
    assert manifest["url_conflicts"]["total"] == 10
    assert manifest["url_conflicts"]["by_site"] == {"site.example": 10}


def test_one_url_shared_by_dissimilar_bodies_keeps_both_and_counts_a_conflict(
        fnapi_pipeline, shared_data):
    """Failed before: the second article was a url duplicate of the first."""
    (a, _), (b, _) = _bodies(shared_data, 2)
    docs = [RawDocument(f"d{i}", "jsonl", "mem.jsonl", f"line:{i}", "r", text.encode(), "text",
                        url="https://www.site.example/live")
            for i, text in enumerate((a, b))]
    from transforms.extract.articles import ExtractArticles
    with fnapi_pipeline as p:
        articles, _ = p | beam.Create(docs) | ExtractArticles(ingested_at=INGESTED)
        dedup = Deduplicate(run_id="r", ingested_at=INGESTED)
        dedup_out = articles | dedup
        unique = dedup_out.articles
        duplicates = dedup_out.duplicates
        assert_that(unique | "Ids" >> beam.Map(lambda x: x.article_id), equal_to(["d0", "d1"]),
                    label="BothKept")
        assert_that(duplicates, equal_to([]), label="NoDuplicates")
        assert_that(dedup_out.url_conflicts, equal_to([("url_conflicts", "", "site.example")]),
                    label="Conflict")


@pytest.mark.e2e
def test_two_real_copies_under_utm_and_amp_urls_are_one_url_duplicate(tmp_path, shared_data):
    import gzip
    truth = json.loads((shared_data / "html" / "scrapinghub-aeb" / "ground-truth.json")
                       .read_text())
    key = next(k for k, v in sorted(truth.items()) if len(v["articleBody"]) > 1500)
    page = gzip.decompress((shared_data / "html" / "scrapinghub-aeb" / "html" /
                            f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
    rows = [{"url": "https://news.example/2026/11/29/story-slug?utm_source=rss&utm_medium=feed",
             "html": page},
            {"url": "https://amp.news.example/2026/11/29/story-slug/amp/", "html": page}]
    (tmp_path / "copies.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows),
                                           encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["ingest", "--input", str(tmp_path / "copies.jsonl"), "--output", str(out),
                     "--run_id", "r1", "--runner", "DirectRunner"]) == 0
    duplicates = read_table(out, "duplicates")
    assert [d["dup_type"] for d in duplicates] == ["url"]
    assert len(read_table(out, "articles")) == 1
