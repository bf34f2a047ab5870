"""End to end through `newsbeam ingest`: sitemaps as a source, dates, access, lying validators.

A real HTTP server on 127.0.0.1 (`tests.feed_server`) plays a news site:
robots.txt names a sitemap index, which names a gzip Google News sitemap and
a plain one. The run goes through the command line, on the FnApiRunner that
newsbeam picks where the DirectRunner is asked for.
"""
from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.report.build import build_report
from tests.conftest import read_table
from tests.feed_server import FeedServer, Route, article_html

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def news_sitemap(base: str) -> bytes:
    def url(path: str, published: datetime, title: str) -> str:
        return (f"<url><loc>{base}{path}</loc><news:news><news:publication>"
                f"<news:name>Example Times</news:name><news:language>en</news:language>"
                f"</news:publication><news:publication_date>{published.isoformat()}"
                f"</news:publication_date><news:title>{title}</news:title></news:news></url>")

    fresh = (NOW - timedelta(hours=3)).astimezone(timezone(timedelta(hours=2)))
    return ("<?xml version='1.0' encoding='UTF-8'?>"
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
            "xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
            + url("/news/bridge", fresh, "Council approves the bridge")
            + url("/news/locked", fresh, "Subscribers only")
            + url("/news/old", NOW - timedelta(days=6), "Old story")
            + url("/news/internal", fresh, "Internal").replace(base, "http://10.0.0.7")
            + "</urlset>").encode("utf-8")


def plain_sitemap(base: str) -> bytes:
    recent = (NOW - timedelta(hours=20)).isoformat()
    return ("<?xml version='1.0' encoding='UTF-8'?>"
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<url><loc>{base}/pages/recent</loc><lastmod>{recent}</lastmod></url>"
            f"<url><loc>{base}/pages/ancient</loc><lastmod>2015-01-01</lastmod></url>"
            "</urlset>").encode("utf-8")


def sitemap_index(base: str) -> bytes:
    return ("<?xml version='1.0' encoding='UTF-8'?>"
            "<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<sitemap><loc>{base}/sitemaps/news.xml.gz</loc></sitemap>"
            f"<sitemap><loc>{base}/sitemaps/pages.xml</loc></sitemap>"
            "</sitemapindex>").encode("utf-8")


def paywalled_html(title: str) -> bytes:
    """A page whose JSON-LD says it is not free to read."""
    page = article_html(title).decode("utf-8")
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle",
                     "headline": title, "isAccessibleForFree": False,
                     "hasPart": {"@type": "WebPageElement", "isAccessibleForFree": False,
                                 "cssSelector": ".paywall"}})
    return page.replace("</head>", f"<script type='application/ld+json'>{ld}</script></head>"
                        ).encode("utf-8")


@pytest.fixture
def site():
    srv = FeedServer().start()
    base = srv.base
    srv.routes["/robots.txt"] = Route(f"User-agent: *\nSitemap: {base}/sitemap_index.xml\n"
                                      .encode(), content_type="text/plain")
    srv.routes["/sitemap_index.xml"] = Route(sitemap_index(base),
                                             content_type="application/xml")
    srv.routes["/sitemaps/news.xml.gz"] = Route(gzip.compress(news_sitemap(base)),
                                                content_type="application/x-gzip",
                                                etag='"news-1"')
    srv.routes["/sitemaps/pages.xml"] = Route(plain_sitemap(base), content_type="text/xml",
                                              etag='"pages-1"')
    for path in ("/news/bridge", "/news/old", "/pages/recent", "/pages/ancient"):
        srv.routes[path] = Route(article_html("Story " + path.rsplit("/", 1)[-1]))
    srv.routes["/news/locked"] = Route(paywalled_html("Subscribers only"))
    yield srv
    srv.stop()


def ingest(out: Path, run_id: str, *sources: str) -> dict:
    assert cli.main(["ingest", *sources, "--output", str(out), "--run_id", run_id,
                     "--allow_hosts", "127.0.0.1", "--min_host_delay_s", "0",
                     "--fetch_timeout_s", "2", "--max_retries", "0",
                     "--runner", "FnApiRunner"]) == 0
    return json.loads((out / "_runs" / f"{run_id}.json").read_text(encoding="utf-8"))


def accounted(manifest: dict) -> bool:
    totals = manifest["totals"]
    return (manifest["invariant"]["holds"] and totals["articles"] + totals["duplicates"]
            + totals["rejects"] == totals["inputs"])


@pytest.mark.e2e
def test_a_site_read_through_its_sitemaps_twice(tmp_path, site):
    sitemaps = tmp_path / "sitemaps.txt"
    sitemaps.write_text(f"{site.base}/ | Example Times | en\n", encoding="utf-8")
    out = tmp_path / "out"

    first = ingest(out, "first", "--sitemaps", str(sitemaps))
    assert first["status"] == "succeeded" and accounted(first)
    articles = {row["url"].rsplit("/", 1)[-1]: row for row in read_table(out, "articles")}
    assert set(articles) == {"bridge", "locked", "recent"}
    bridge = articles["bridge"]
    # The page states no date: the sitemap's is kept, with the offset it was written in.
    assert bridge["source_kind"] == "sitemap" and bridge["published_source"] == "sitemap"
    assert bridge["published_offset_minutes"] == 120
    assert bridge["published"] == NOW - timedelta(hours=3)
    assert bridge["source_name"] == "Example Times"
    assert articles["locked"]["access"] == "paywalled"
    assert articles["locked"]["access_reason"] == "jsonld"
    assert articles["recent"]["published"] is None and articles["recent"]["access"] != "paywalled"
    # Entries older than the window are not fetched; a private address is refused.
    assert site.hits("/news/old") == 0 and site.hits("/pages/ancient") == 0
    rejects = read_table(out, "rejects")
    assert [(r["reason"], r["url"]) for r in rejects] == [
        ("address_refused", "http://10.0.0.7/news/internal")]
    requests = len(site.log)

    second = ingest(out, "second", "--sitemaps", str(sitemaps))
    assert second["status"] == "succeeded" and accounted(second)
    again = [entry.path for entry in site.log[requests:]]
    assert not [p for p in again if p.startswith(("/news/", "/pages/"))]
    assert second["totals"]["articles"] == 0
    news = [e for e in site.log[requests:] if e.path == "/sitemaps/news.xml.gz"]
    assert [(e.status, e.if_none_match) for e in news] == [(304, '"news-1"')]
    page = build_report(str(out)).html
    assert 'id="access-section"' in page and "paywalled" in page


def rss(items) -> bytes:
    body = "".join(f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid></item>"
                   for title, link in items)
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Stale tags</title><link>http://127.0.0.1/</link>{body}</channel></rss>"
            ).encode("utf-8")


@pytest.mark.e2e
def test_a_feed_that_keeps_its_etag_while_its_items_change(tmp_path):
    server = FeedServer().start()
    try:
        base = server.base
        stories = [("Story one", f"{base}/a/one")]
        # The server answers 304 to its ETag whatever the items are: the lie.
        server.routes["/feed.xml"] = Route(lambda _: rss(stories),
                                           content_type="application/rss+xml", etag='"same"')
        for path in ("/a/one", "/a/two"):
            server.routes[path] = Route(article_html("Story " + path[3:]))
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(f"{base}/feed.xml | Stale tags\n", encoding="utf-8")
        out = tmp_path / "out"
        every = ("--validator_check_every", "3")

        assert ingest(out, "r1", "--feeds", str(feeds), *every)["totals"]["articles"] == 1
        stories.append(("Story two", f"{base}/a/two"))
        hidden = ingest(out, "r2", "--feeds", str(feeds), *every)
        assert hidden["totals"]["articles"] == 0  # a 304 hides the new item
        caught = ingest(out, "r3", "--feeds", str(feeds), *every)
        assert caught["totals"]["articles"] == 1 and accounted(caught)
        polls = [(e.status, e.if_none_match) for e in server.log if e.path == "/feed.xml"]
        assert polls == [(200, None), (304, '"same"'), (200, None)]
        state = json.loads((out / "_state" / "feeds.json").read_text(encoding="utf-8"))
        kept = state["feeds"][f"{base}/feed.xml"]
        assert kept["validators_unreliable"] == "etag_kept_while_content_changed"
        # From then on it is polled unconditionally.
        ingest(out, "r4", "--feeds", str(feeds), *every)
        assert [e.if_none_match for e in server.log if e.path == "/feed.xml"][-1] is None
        assert "validators unreliable: etag_kept_while_content_changed" in \
            build_report(str(out)).html
    finally:
        server.stop()


def test_the_report_reads_articles_written_before_the_access_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.report.build import ARTICLE_COLUMNS, access_by_source
    from pipelines.report.read import read_columns

    old = tmp_path / "part-old.parquet"
    pq.write_table(pa.table({"run_id": ["r"], "source_uri": ["s"], "text_length": [10]}), old)
    articles = read_columns([str(old)], "articles", ARTICLE_COLUMNS)
    assert articles["access"].to_pylist() == [None]
    assert access_by_source(articles) == [{"source": "s", "articles": 1, "unknown": 1}]


def test_sitemap_options_are_checked(tmp_path, capsys):
    listed = tmp_path / "sitemaps.txt"
    listed.write_text("http://127.0.0.1/sitemap.xml\n", encoding="utf-8")
    out = str(tmp_path / "out")
    assert cli.main(["ingest", "--sitemaps", str(tmp_path / "missing.txt"),
                     "--output", out]) == 2
    assert "no sitemap list at --sitemaps" in capsys.readouterr().err
    assert cli.main(["ingest", "--sitemaps", str(listed), "--output", out,
                     "--sitemap_max_age_days", "0"]) == 2
    assert "--sitemap_max_age_days must be positive" in capsys.readouterr().err
    assert cli.main(["ingest", "--feeds", str(listed), "--output", out,
                     "--validator_check_every", "0"]) == 2
    assert "--validator_check_every must be 1 or more" in capsys.readouterr().err
    assert cli.main(["stream", "--sitemaps", str(listed), "--output", out,
                     "--sitemap_max_age_days", "-1"]) == 2
    assert "--sitemap_max_age_days must be positive" in capsys.readouterr().err
