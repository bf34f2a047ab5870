"""Sitemaps as a source (transforms.sources.sitemaps, transforms.sources.read_sitemaps), against a
real HTTP server on 127.0.0.1 (tests/feed_server.py).

The site: robots.txt with two ``Sitemap:`` lines -> an index -> a gzip Google
News sitemap and a plain urlset (with <lastmod>); entries inside and outside
the window, one undated, one pointing at a private address.
"""
from __future__ import annotations

import asyncio
import gzip
from datetime import datetime, timedelta, timezone

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import FeedSource, RawDocument
from tests.feed_server import FeedServer, Route, article_html
from transforms.extract.dates import to_micros
from transforms.sources.feed_entries import UnsafeXml
from transforms.sink.feed_state import merge_states
from schemas.contexts import FetchConfig
from transforms.sources.fetch import Fetcher
from transforms.sources.fetch_policy import default_user_agent
from schemas.contexts import FeedsContext
from transforms.sources.feed_jobs import ENTRIES, REJECTS, SKIPPED, STATE, fetch_pages
from transforms.sources.read_sitemaps import ReadSitemaps, read_sitemap_source
from transforms.sources.sitemaps import (SitemapRefused, inflate, is_site_url, news_date_hint,
                                 parse_sitemap, robots_sitemaps, window_refusal)

NOW = datetime.now(timezone.utc).replace(microsecond=0)
PLUS_TWO = timezone(timedelta(hours=2))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _news_sitemap(base: str) -> bytes:
    fresh = NOW - timedelta(hours=3)
    old = NOW - timedelta(days=5)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>{base}/news/fresh-1</loc>
    <news:news><news:publication><news:name>Example Times</news:name>
      <news:language>en-GB</news:language></news:publication>
      <news:publication_date>{_iso(fresh.astimezone(PLUS_TWO))}</news:publication_date>
      <news:title>Council approves the bridge</news:title>
      <news:keywords>bridge, council, budget</news:keywords></news:news></url>
  <url><loc>{base}/news/old-1</loc>
    <news:news><news:publication><news:name>Example Times</news:name>
      <news:language>en</news:language></news:publication>
      <news:publication_date>{_iso(old)}</news:publication_date>
      <news:title>Old story</news:title></news:news></url>
  <url><loc>http://10.0.0.7/news/internal</loc>
    <news:news><news:publication><news:name>X</news:name><news:language>en</news:language>
      </news:publication><news:publication_date>{_iso(fresh)}</news:publication_date>
      <news:title>Internal</news:title></news:news></url>
</urlset>""".encode("utf-8")


def _plain_sitemap(base: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>{base}/pages/recent</loc><lastmod>{_iso(NOW - timedelta(hours=20))}</lastmod></url>
  <url><loc>{base}/pages/ancient</loc><lastmod>2015-01-01</lastmod></url>
  <url><loc>{base}/pages/undated</loc></url>
</urlset>""".encode("utf-8")


def _index(base: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{base}/sitemaps/news.xml.gz</loc><lastmod>{_iso(NOW)}</lastmod></sitemap>
  <sitemap><loc>{base}/sitemaps/pages.xml</loc></sitemap>
  <sitemap><loc>{base}/sitemaps/archive-2015.xml</loc><lastmod>2015-02-01</lastmod></sitemap>
</sitemapindex>""".encode("utf-8")


@pytest.fixture
def site():
    srv = FeedServer().start()
    base = srv.base
    srv.routes["/robots.txt"] = Route(
        f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap_index.xml\n"
        f"Sitemap: {base}/sitemaps/pages.xml\n".encode(), content_type="text/plain")
    srv.routes["/sitemap_index.xml"] = Route(_index(base), content_type="application/xml",
                                             etag='"index-1"')
    srv.routes["/sitemaps/news.xml.gz"] = Route(gzip.compress(_news_sitemap(base)),
                                                content_type="application/x-gzip",
                                                etag='"news-1"')
    srv.routes["/sitemaps/pages.xml"] = Route(_plain_sitemap(base), content_type="text/xml",
                                              etag='"pages-1"')
    for path in ("/news/fresh-1", "/news/old-1", "/pages/recent", "/pages/ancient",
                 "/pages/undated"):
        srv.routes[path] = Route(article_html(path.rsplit("/", 1)[-1]))
    yield srv
    srv.stop()


def _config(**changes) -> FetchConfig:
    return FetchConfig(user_agent=default_user_agent(), allow=("127.0.0.1",),
                       min_host_delay_s=0.0, timeout_s=2.0, max_retries=0,
                       backoff_base_s=0.01)._replace(**changes)


def _ctx(tmp_path, config=None) -> FeedsContext:
    return FeedsContext("run-1", to_micros(NOW), str(tmp_path), config or _config(), 1 << 20)


def _run(url: str, states, ctx: FeedsContext):
    """Reads one listed URL, then fetches its entries' pages, as the pipeline does."""
    emitted = []
    source = FeedSource(url, "Listed", None, ["listed"], "sitemaps.txt", "line:1")

    def emit(tag, value):
        emitted.append((tag, value))

    async def go():
        fetcher = Fetcher(ctx.fetch)
        await fetcher.start()
        try:
            await read_sitemap_source(fetcher, source, states, ctx, emit, 2.0,
                                      now=to_micros(NOW))
            entries = [v for t, v in emitted if t == ENTRIES]
            await fetch_pages(fetcher, entries, ctx, emit)
        finally:
            await fetcher.close()
    asyncio.run(go())
    return emitted


def _of(emitted, tag):
    return [v for t, v in emitted if t == tag]


# ------------------------------------------------------------ pure parts


def test_robots_sitemap_lines_and_site_urls():
    text = ("User-agent: *\nDisallow: /x\nSitemap: https://a.example/s1.xml\n"
            "sitemap: https://a.example/s2.xml.gz\nSitemap: https://a.example/s1.xml\n")
    assert robots_sitemaps(text) == ["https://a.example/s1.xml", "https://a.example/s2.xml.gz"]
    assert is_site_url("https://a.example") and is_site_url("https://a.example/")
    assert not is_site_url("https://a.example/sitemap.xml")


def test_news_entries_keep_date_offset_title_language_keywords():
    parsed = parse_sitemap(_news_sitemap("https://a.example"), "https://a.example/news.xml")
    assert parsed.kind == "urlset" and len(parsed.entries) == 3
    first = parsed.entries[0]
    assert first.news_title == "Council approves the bridge"
    assert first.news_language == "en" and first.news_publication == "Example Times"
    assert first.news_keywords == ["bridge", "council", "budget"]
    assert first.news_offset_minutes == 120
    assert first.news_published == to_micros(NOW - timedelta(hours=3))
    hint = news_date_hint(first)
    assert hint.source == "sitemap" and hint.offset_minutes == 120 and hint.has_time


def test_index_text_sitemap_and_refusals():
    index = parse_sitemap(_index("https://a.example"), "https://a.example/i.xml")
    assert index.kind == "index" and [r.url.rsplit("/", 1)[-1] for r in index.sitemaps] == [
        "news.xml.gz", "pages.xml", "archive-2015.xml"]
    assert index.sitemaps[1].lastmod is None
    text = parse_sitemap(b"https://a.example/a\n\nhttps://a.example/b\nftp://x/\n",
                         "https://a.example/s.txt")
    assert text.kind == "text" and [e.url for e in text.entries] == [
        "https://a.example/a", "https://a.example/b"]
    with pytest.raises(UnsafeXml):
        parse_sitemap(b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/'
                      b'passwd">]><urlset><url><loc>&x;</loc></url></urlset>', "https://a/")
    with pytest.raises(SitemapRefused) as refused:
        parse_sitemap(b"<rss version='2.0'><channel/></rss>", "https://a/")
    assert refused.value.reason == "unreadable_sitemap"


def test_gzip_is_inflated_within_bounds():
    body = _plain_sitemap("https://a.example")
    assert inflate(gzip.compress(body)) == body and inflate(body) == body
    with pytest.raises(SitemapRefused) as bomb:
        inflate(gzip.compress(b" " * 5_000_000), max_ratio=100.0)
    assert bomb.value.reason == "decompression_bomb"
    with pytest.raises(SitemapRefused) as corrupt:
        inflate(b"\x1f\x8b\x08\x00garbage")
    assert corrupt.value.reason == "corrupt_gzip"


def test_window():
    now = to_micros(NOW)
    assert window_refusal(now - 3600 * 10**6, now) is None
    assert window_refusal(now - 3 * 86_400 * 10**6, now) == "sitemap_entry_old"
    assert window_refusal(now - 3 * 86_400 * 10**6, now, max_age_days=4) is None
    assert window_refusal(None, now) == "sitemap_entry_undated"


# ------------------------------------------------------- against a server


def test_robots_index_gzip_news_and_plain_then_nothing_new(site, tmp_path):
    ctx = _ctx(tmp_path)
    first = _run(site.base + "/", {}, ctx)
    entries = _of(first, ENTRIES)
    assert sorted(e.link.rsplit("/", 1)[-1] for e in entries) == [
        "fresh-1", "internal", "recent"]
    fresh = next(e for e in entries if e.link.endswith("fresh-1"))
    assert fresh.title == "Council approves the bridge" and fresh.language == "en"
    assert fresh.tags == ["bridge", "council", "budget", "listed"]
    assert fresh.source_name == "Listed" and fresh.published is not None
    assert fresh.feed_url == site.url("/sitemaps/news.xml.gz")
    documents = [v for t, v in first if t is None and isinstance(v, RawDocument)]
    assert sorted(d.url.rsplit("/", 1)[-1] for d in documents) == ["fresh-1", "recent"]
    kinds = sorted(s.kind for s in _of(first, SKIPPED))
    assert kinds.count("sitemap_entry_old") == 2 and "sitemap_entry_undated" in kinds
    assert "sitemap_old" in kinds  # the 2015 archive of the index is not fetched
    assert site.hits("/sitemaps/archive-2015.xml") == 0
    assert site.hits("/sitemaps/pages.xml") == 1  # listed twice (robots and index): read once
    for path in ("/news/old-1", "/pages/ancient", "/pages/undated"):
        assert site.hits(path) == 0, path
    refused = [r for r in _of(first, REJECTS) if r.reason == "address_refused"]
    assert len(refused) == 1 and "10.0.0.7" in refused[0].message

    states = merge_states({}, _of(first, STATE))
    assert states[site.url("/sitemaps/news.xml.gz")].etag == '"news-1"'
    assert states[site.url("/sitemap_index.xml")].etag is None  # re-read every run
    before = len(site.log)
    second = _run(site.base + "/", states, ctx)
    assert _of(second, ENTRIES) == []
    new_requests = site.log[before:]
    assert {e.path for e in new_requests} == {"/robots.txt", "/sitemap_index.xml",
                                               "/sitemaps/news.xml.gz", "/sitemaps/pages.xml"}
    children = [e for e in new_requests if e.path.startswith("/sitemaps/")]
    assert {e.status for e in children} == {304}
    assert {e.if_none_match for e in children} == {'"news-1"', '"pages-1"'}


def test_a_page_already_ingested_is_not_fetched_again_when_the_sitemap_changes(site, tmp_path):
    ctx = _ctx(tmp_path)
    states = merge_states({}, _of(_run(site.url("/sitemaps/pages.xml"), {}, ctx), STATE))
    changed = _plain_sitemap(site.base).replace(
        b"</urlset>", f"<url><loc>{site.base}/pages/new</loc><lastmod>{_iso(NOW)}</lastmod>"
                      "</url></urlset>".encode())
    site.routes["/sitemaps/pages.xml"] = Route(changed, content_type="text/xml", etag='"pages-2"')
    site.routes["/pages/new"] = Route(article_html("new"))
    second = _run(site.url("/sitemaps/pages.xml"), states, ctx)
    assert [e.link.rsplit("/", 1)[-1] for e in _of(second, ENTRIES)] == ["new"]
    assert "sitemap_entry_seen" in [s.kind for s in _of(second, SKIPPED)]
    assert site.hits("/pages/recent") == 1


def test_a_name_resolving_to_a_private_address_is_refused(site, tmp_path):
    site.routes["/sitemaps/pages.xml"] = Route(
        f"<urlset><url><loc>http://intranet.test:{site.port}/secret</loc>"
        f"<lastmod>{_iso(NOW)}</lastmod></url></urlset>".encode(), content_type="text/xml")
    config = _config(resolve=(("intranet.test", "10.1.2.3"),))
    emitted = _run(site.url("/sitemaps/pages.xml"), {}, _ctx(tmp_path, config))
    rejects = _of(emitted, REJECTS)
    assert [r.reason for r in rejects] == ["address_refused"]
    assert "10.1.2.3 is a private" in rejects[0].message
    assert not [e for e in site.log if e.host.startswith("intranet")]


def test_a_listed_site_on_a_private_address_is_refused(site, tmp_path):
    emitted = _run("http://192.168.7.7/", {}, _ctx(tmp_path))
    assert [r.reason for r in _of(emitted, REJECTS)] == ["address_refused"]
    assert "192.168.7.7 is a private" in _of(emitted, REJECTS)[0].message


def test_robots_without_sitemap_lines_is_a_reject(site, tmp_path):
    site.routes["/robots.txt"] = Route(b"User-agent: *\nAllow: /\n", content_type="text/plain")
    emitted = _run(site.base, {}, _ctx(tmp_path))
    assert [r.reason for r in _of(emitted, REJECTS)] == ["no_sitemap"]


def test_read_sitemaps_transform_on_fnapi(site, tmp_path, fnapi_pipeline):
    listing = tmp_path / "sitemaps.txt"
    listing.write_text(f"{site.base}/ | Example Times | en\n", encoding="utf-8")
    ctx = _ctx(tmp_path / "out")
    with fnapi_pipeline as p:
        result = p | "ReadSitemaps" >> ReadSitemaps([str(listing)], ctx, max_age_days=2)
        assert_that(result.documents | beam.Map(lambda d: (d.source_kind,
                                                           d.url.rsplit("/", 1)[-1])),
                    equal_to([("sitemap", "fresh-1"), ("sitemap", "recent")]),
                    label="Documents")
        assert_that(result.rejects | beam.Map(lambda r: (r.source_kind, r.reason)),
                    equal_to([("sitemap", "address_refused")]), label="Rejects")


def test_the_fetcher_takes_gzip_files_as_sitemaps_only():
    from transforms.sources.fetch_policy import content_type_refusal
    zipped = gzip.compress(b"<urlset/>")
    assert content_type_refusal("sitemap", "application/x-gzip", zipped[:512]) is None
    assert content_type_refusal("sitemap", "application/octet-stream", zipped[:512]) is None
    assert content_type_refusal("sitemap", "application/xml", b"<urlset/>") is None
    assert content_type_refusal("sitemap", "image/png", b"\x89PNG") is not None
    assert content_type_refusal("feed", "application/x-gzip", zipped[:512]) is not None


def test_locs_that_are_not_taken_are_accounted_with_a_reason(monkeypatch):
    from transforms.sources import sitemaps as sm
    monkeypatch.setattr(sm, "MAX_ENTRIES", 2)
    body = ("<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            "<url><loc>javascript:alert(1)</loc></url><url></url>"
            + "".join(f"<url><loc>https://s.example/{i}</loc></url>" for i in range(3))
            + "</urlset>").encode()
    parsed = sm.parse_sitemap(body, "https://s.example/sitemap.xml")
    assert [e.url for e in parsed.entries] == ["https://s.example/0", "https://s.example/1"]
    assert parsed.dropped == [("sitemap_bad_loc", "javascript:alert(1)"), ("sitemap_bad_loc", ""),
                              ("sitemap_entry_over_limit", "https://s.example/2")]
    text = sm.parse_sitemap(b"https://s.example/a\nftp://s.example/b\n", "https://s.example/s.txt")
    assert text.dropped == [("sitemap_bad_loc", "ftp://s.example/b")]


def test_a_bad_loc_is_a_reject_and_an_entry_past_the_limit_a_skip(tmp_path, monkeypatch):
    from schemas.contexts import Skipped
    from transforms.sources import sitemaps as sm
    monkeypatch.setattr(sm, "MAX_ENTRIES", 1)
    fresh = _iso(NOW - timedelta(hours=1))
    srv = FeedServer().start()
    try:
        srv.routes["/robots.txt"] = Route(b"User-agent: *\nAllow: /\n", content_type="text/plain")
        srv.routes["/news.xml"] = Route(
            ("<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
             "<url><loc>mailto:x@y</loc></url>"
             + "".join(f"<url><loc>{srv.base}/n/{i}</loc><lastmod>{fresh}</lastmod></url>"
                       for i in range(2)) + "</urlset>").encode(), content_type="text/xml")
        srv.routes["/n/0"] = Route(article_html("zero"))
        emitted = _run(srv.url("/news.xml"), {}, _ctx(tmp_path))
    finally:
        srv.stop()
    assert [(r.stage, r.reason, r.source_kind) for r in _of(emitted, REJECTS)] == [
        ("fetch", "sitemap_bad_loc", "sitemap")]
    assert Skipped(srv.url("/news.xml"), "sitemap_entry_over_limit") in _of(emitted, SKIPPED)
    assert [e.link for e in _of(emitted, ENTRIES)] == [srv.url("/n/0")]
