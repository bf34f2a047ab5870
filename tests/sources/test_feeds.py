"""Feeds: feed lists, feed bodies, state between runs, and ingestion end to end.

The end-to-end tests run `newsbeam ingest --feeds` twice against a real HTTP
server on 127.0.0.1 (tests/feed_server.py) serving the captured feeds of
../shared/data/feeds/rss-parser/input/, their links rewritten to the server,
and generated article pages; the server's request log shows what was fetched.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipelines import cli
from schemas.records import FeedSource, FeedState, FeedStateUpdate, Reject
from tests.conftest import SEEDS, read_table
from tests.feed_server import FeedServer, Route, article_html
from schemas.contexts import Skipped
from transforms.sources.feed_entries import UnreadableFeed, html_to_text, parse_feed, to_feed_entry
from transforms.sources.feed_list import feed_list_problem, parse_feed_list
from transforms.sink.feed_state import (StateError, load_states, merge_states, state_path,
                                   write_states)

FEEDS = Path("feeds") / "rss-parser" / "input"
SOURCE = FeedSource("http://127.0.0.1:1/feed.xml", None, None, [], "list.txt", "line:1")


# ------------------------------------------------------------- feed lists


def _parse_list(text: str, name: str = "feeds.txt"):
    return list(parse_feed_list(text.encode("utf-8"), name, "run", 0))


def test_text_feed_list_with_names_languages_tags_and_bad_lines():
    records = _parse_list(
        "# news\n\nhttps://arabic.rt.com/rss/ | RT Arabic | ar | world, middle-east\n"
        "https://example.org/feed.xml\n"
        "ftp://example.org/feed.xml\n"
        "https://example.org/de.xml | Beispiel | de-DE\n"
        "https://example.org/x.xml | X | not a language\n"
        "https://example.org/feed.xml | again\n"
        "not a url at all\n")
    feeds = [r for r in records if isinstance(r, FeedSource)]
    rejects = [r for r in records if isinstance(r, Reject)]
    assert [(f.url, f.name, f.language, f.tags, f.list_position) for f in feeds] == [
        ("https://arabic.rt.com/rss/", "RT Arabic", "ar", ["world", "middle-east"], "line:3"),
        ("https://example.org/feed.xml", None, None, [], "line:4"),
        ("https://example.org/de.xml", "Beispiel", "de", [], "line:6")]
    assert [(r.source_position, r.reason) for r in rejects] == [
        ("line:5", "invalid_feed_line"), ("line:7", "invalid_feed_line"),
        ("line:9", "invalid_feed_line")]
    assert all(r.stage == "read" and r.source_kind == "feed_list" for r in rejects)
    assert [r.kind for r in records if isinstance(r, Skipped)] == ["feed_listed_twice"]


def test_opml_feed_list():
    opml = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>My feeds</title></head><body>
  <outline text="World">
    <outline type="rss" text="RT Arabic" xmlUrl="https://arabic.rt.com/rss/" language="ar"
             category="/news/middle-east"/>
    <outline type="rss" title="Broken" xmlUrl="file:///etc/passwd"/>
  </outline>
  <outline type="rss" text="Le Monde" xmlUrl="https://www.lemonde.fr/rss/une.xml"/>
</body></opml>"""
    records = _parse_list(opml, "feeds.opml")
    feeds = [r for r in records if isinstance(r, FeedSource)]
    assert [(f.url, f.name, f.language, f.tags, f.list_position) for f in feeds] == [
        ("https://arabic.rt.com/rss/", "RT Arabic", "ar", ["World", "news", "middle-east"],
         "outline:1"),
        ("https://www.lemonde.fr/rss/une.xml", "Le Monde", None, [], "outline:3")]
    assert [(r.source_position, r.reason) for r in records if isinstance(r, Reject)] == [
        ("outline:2", "invalid_feed_line")]
    bad = _parse_list("<?xml version='1.0'?><opml><body><outline", "bad.opml")
    assert [r.reason for r in bad] == ["invalid_feed_list"]


def test_feed_lists_are_sniffed_after_their_comments():
    text = ("# converted from my reader's <opml> export\n\n"
            "https://a.example/rss | A | en\nhttps://b.example/atom\n")
    feeds = _parse_list(text, "feeds.txt")
    assert [f.url for f in feeds] == ["https://a.example/rss", "https://b.example/atom"]
    assert all(isinstance(f, FeedSource) for f in feeds)
    commented_opml = ("\ufeff# my feeds\n<?xml version='1.0'?><opml><body>"
                      "<outline text='A' xmlUrl='https://a.example/rss'/></body></opml>")
    assert [f.name for f in _parse_list(commented_opml, "feeds.opml")] == ["A"]


def test_a_list_with_no_feed_is_a_problem_before_the_run():
    assert feed_list_problem(b"https://a.example/rss\n", "ok.txt") is None
    assert "no feed (only blank lines and comments)" in feed_list_problem(b"# none\n\n", "e")
    problem = feed_list_problem(b"not a url\nftp://x.example/\n", "bad.txt")
    assert problem.startswith("bad.txt holds no feed: line:1:") and "1 more" in problem
    assert "not well-formed" in feed_list_problem(b"<opml><body><outline", "cut.opml")


def test_the_seed_feed_list_is_curated_and_multilingual():
    records = list(parse_feed_list((SEEDS / "feeds.txt").read_bytes(), "seeds/feeds.txt",
                                   "run", 0))
    assert all(isinstance(r, FeedSource) for r in records)
    assert len(records) >= 20
    assert "https://arabic.rt.com/rss/" in {r.url for r in records}
    languages = {r.language for r in records}
    assert {"ar", "en", "fr", "de", "es"} <= languages and len(languages) >= 8
    assert all(r.name for r in records)
    assert "feeds.txt" in (SEEDS / "README.md").read_text(encoding="utf-8")


# ------------------------------------------------------------ feed bodies


def test_every_captured_feed_is_read_or_rejected(shared_data):
    versions = set()
    for path in sorted((shared_data / FEEDS).iterdir()):
        url = f"http://127.0.0.1:1/feeds/{path.name}"
        if path.name == "unrecognized.rss":  # an HTML "document moved" page
            with pytest.raises(UnreadableFeed):
                parse_feed(path.read_bytes(), url, "text/html")
            continue
        feed = parse_feed(path.read_bytes(), url, "application/xml")
        versions.add(feed.version)
        assert feed.items, path.name
    assert {"rss092", "rss10", "rss20", "atom10"} <= versions


def test_feed_metadata_fills_the_entry(shared_data):
    body = (shared_data / FEEDS / "guardian.rss").read_bytes()
    feed = parse_feed(body, "https://www.theguardian.com/us/rss", "application/rss+xml")
    entry = to_feed_entry(feed.items[0], feed, SOURCE._replace(name="Guardian", tags=["us"]))
    assert entry.title and entry.published and entry.authors == ["David Smith in Washington"]
    assert "Donald Trump" in entry.tags and entry.tags[-1] == "us"
    assert entry.source_name == "Guardian" and entry.language == "en"
    assert entry.summary and entry.position == f"entry:{entry.entry_key}"
    assert feed.warning is None


def test_relative_links_resolve_against_the_feed_url(shared_data):
    feed = parse_feed((shared_data / FEEDS / "gulp-atom.atom").read_bytes(),
                      "http://127.0.0.1:8/feeds/gulp.atom")
    assert feed.items[0].link == "http://127.0.0.1:8/gulpjs/gulp/releases/tag/v3.9.0"
    rss = parse_feed(b"<rss version='2.0'><channel><title>t</title><item><title>a</title>"
                     b"<link>/news/1.html</link></item></channel></rss>",
                     "https://example.org/feeds/main.xml")
    assert rss.items[0].link == "https://example.org/news/1.html"


def test_malformed_feed_keeps_its_entries_with_a_warning(shared_data):
    feed = parse_feed((shared_data / FEEDS / "itunes-keywords-astext.rss").read_bytes(),
                      "http://127.0.0.1:1/f.rss", "application/rss+xml")
    assert feed.items and feed.warning and "malformed" in feed.warning


def test_full_content_is_kept_only_when_it_is_an_article_body(shared_data):
    feed = parse_feed((shared_data / FEEDS / "content-encoded.rss").read_bytes(),
                      "http://127.0.0.1:1/f.rss")
    entries = [to_feed_entry(item, feed, SOURCE) for item in feed.items]
    assert all(e.content and len(e.content) >= 500 for e in entries)
    teaser = parse_feed((shared_data / FEEDS / "guardian.rss").read_bytes(),
                        "http://127.0.0.1:1/g.rss")
    assert all(to_feed_entry(i, teaser, SOURCE).content is None for i in teaser.items)
    assert html_to_text("<p>One <b>two</b></p><p>Three</p><script>x()</script>") == \
        "One two\nThree"


def test_json_feed():
    body = json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "J", "language": "fr-FR",
        "items": [{"id": "1", "url": "/a/1", "title": "Un", "tags": ["x"],
                   "date_published": "2026-01-02T03:04:05Z", "authors": [{"name": "Ana"}],
                   "content_html": "<p>Bonjour</p>"}]}).encode()
    feed = parse_feed(body, "https://example.org/feed.json", "application/feed+json")
    entry = to_feed_entry(feed.items[0], feed, SOURCE)
    assert entry.link == "https://example.org/a/1" and entry.authors == ["Ana"]
    assert entry.language == "fr" and entry.tags == ["x"] and entry.published
    with pytest.raises(UnreadableFeed):
        parse_feed(b'{"hello": 1}', "https://example.org/x.json", "application/json")


# ------------------------------------------------------------------ state


def _poll(url, status="fetched", present=(), etag='"e"'):
    return FeedStateUpdate(url, "poll", status, 1_000_000, etag=etag, body_hash="h",
                           present=list(present))


def _entry(url, key, status):
    return FeedStateUpdate(url, "entry", status, 1_000_000, entry_key=key)


def test_state_merge_settles_entries_and_retries_transient_failures():
    url = "https://example.org/feed.xml"
    merged = merge_states({}, [_poll(url, present=["a", "b", "c"]), _entry(url, "a", "ingested"),
                               _entry(url, "b", "failed"), _entry(url, "c", "retry")])
    state = merged[url]
    assert state.seen == ["a", "b"] and state.failures == {"c": 1}
    assert state.etag is None and state.body_hash is None  # read again next run, to retry c
    for _ in range(2):
        merged = merge_states(merged, [_poll(url, present=["a", "b", "c"]),
                                       _entry(url, "c", "retry")])
    assert merged[url].seen == ["a", "b", "c"] and merged[url].failures == {}
    assert merged[url].etag == '"e"'  # nothing pending: validators kept
    later = merge_states(merged, [_poll(url, "not_modified", etag=None)])
    assert later[url].etag == '"e"' and later[url].last_status == "not_modified"


def test_state_is_written_atomically_and_read_back(tmp_path):
    states = {"https://e.org/f": FeedState("https://e.org/f", '"x"', None, "h", 5_000_000,
                                           "fetched", ["k1"], {"k2": 1})}
    path = write_states(str(tmp_path), states, "run1")
    assert path == state_path(str(tmp_path))
    assert [p.name for p in (tmp_path / "_state").iterdir()] == ["feeds.json"]
    assert load_states(str(tmp_path)) == states
    Path(path).write_text("{not json", encoding="utf-8")
    with pytest.raises(StateError):
        load_states(str(tmp_path))


# ------------------------------------------------------------- end to end


def _rss(items, title="Scenarios"):
    """RSS 2.0 items (guid, title, link or None, text); a text over 500 characters
    is given as content:encoded, a shorter one as the description."""
    body = "".join(
        f"<item><title>{t}</title>{f'<link>{link}</link>' if link else ''}"
        f"<guid isPermaLink='false'>{guid}</guid>"
        + (f"<content:encoded><![CDATA[<p>{text}</p>]]></content:encoded>" if len(text) > 500
           else f"<description>{text}</description>") + "</item>"
        for guid, t, link, text in items)
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0' "
            f"xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel>"
            f"<title>{title}</title><link>http://127.0.0.1/</link>{body}</channel></rss>"
            ).encode("utf-8")


def _serve_captured(server: FeedServer, data: Path, name: str, host_prefix: bytes,
                    local: str, etag=None, pages=True) -> bytes:
    """Serves a captured feed with its links moved under `local` (relative links)."""
    body = (data / FEEDS / name).read_bytes().replace(host_prefix, local.encode())
    server.routes[f"/feeds/{name}"] = Route(body, content_type="application/rss+xml",
                                            etag=etag)
    if pages:
        for match in re.finditer(rb"(?:<link>|href=\")(" + re.escape(local.encode())
                                 + rb"[^<\"]+)", body):
            path = match.group(1).decode().replace("&amp;", "&")
            server.routes[path] = Route(article_html("Story " + path.rsplit("/", 1)[-1]))
    return body


@pytest.fixture
def server(server):
    """The shared server, with a robots.txt that keeps /private/ out."""
    server.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n",
                                         content_type="text/plain")
    return server


def _ingest(feed_list: Path, out: Path, run_id: str, *extra: str) -> dict:
    assert cli.main(["ingest", "--feeds", str(feed_list), "--output", str(out),
                     "--run_id", run_id, "--allow_hosts", "127.0.0.1",
                     "--min_host_delay_s", "0", "--fetch_timeout_s", "2",
                     "--retry_backoff_s", "0.05", *extra, "--runner", "DirectRunner"]) == 0
    return json.loads((out / "_runs" / f"{run_id}.json").read_text(encoding="utf-8"))


@pytest.mark.e2e
def test_two_runs_second_fetches_no_page_and_adds_no_article(tmp_path, server, shared_data):
    _serve_captured(server, shared_data, "guardian.rss", b"https://www.theguardian.com/",
                    "/guardian/", etag='"g1"')
    _serve_captured(server, shared_data, "heise.atom", b"http://www.heise.de/", "/heise/")
    # Full content used where the pages are missing (404).
    _serve_captured(server, shared_data, "content-encoded.rss", b"https://medium.com/",
                    "/medium/", pages=False)
    server.routes["/feeds/unrecognized.rss"] = Route(
        (shared_data / FEEDS / "unrecognized.rss").read_bytes(), content_type="text/xml")
    shared = "/guardian/us-news/2018/jan/31/donald-trump-state-of-the-union-address-unity-discord"
    server.routes["/feeds/also.xml"] = Route(_rss([("also-1", "Same story", shared, "x")]),
                                             content_type="application/rss+xml")
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text("\n".join([
        f"{server.url('/feeds/guardian.rss')} | The Guardian | en | us",
        server.url("/feeds/heise.atom"),
        server.url("/feeds/content-encoded.rss"),
        server.url("/feeds/unrecognized.rss"),
        server.url("/feeds/also.xml")]) + "\n", encoding="utf-8")
    out = tmp_path / "out"

    first = _ingest(feed_list, out, "first")
    assert first["status"] == "succeeded" and first["invariant"]["holds"]
    articles = read_table(out, "articles")
    by_kind = {}
    for article in articles:
        by_kind.setdefault(article["extraction_method"], []).append(article)
    assert len(by_kind["trafilatura"]) >= 60 and len(by_kind["plain_text"]) == 7
    guardian = [a for a in articles if a["source_uri"].endswith("guardian.rss")]
    assert len(guardian) + (1 if any(d["source_uri"].endswith("guardian.rss")
                                      for d in read_table(out, "duplicates")) else 0) == 55
    sample = guardian[0]
    assert sample["source_kind"] == "feed" and sample["source_name"] == "The Guardian"
    assert sample["url"].startswith(server.url("/guardian/")) and sample["published"]
    assert "us" in sample["tags"] and sample["authors"] and sample["description"]
    # The entry in two feeds was fetched once; URL dedup kept one copy.
    assert len(server.requests_to(shared)) == 1
    duplicates = read_table(out, "duplicates")
    assert [d["dup_type"] for d in duplicates] == ["url"]
    rejects = read_table(out, "rejects")
    assert [(r["stage"], r["reason"]) for r in rejects] == [("fetch", "unreadable_feed")]
    assert first["feed_state"]["feeds_polled"] == 5
    first_requests = len(server.log)

    second = _ingest(feed_list, out, "second")
    assert second["status"] == "succeeded"
    new_requests = server.log[first_requests:]
    assert {e.path for e in new_requests} <= {
        "/robots.txt", "/feeds/guardian.rss", "/feeds/heise.atom",
        "/feeds/content-encoded.rss", "/feeds/unrecognized.rss", "/feeds/also.xml"}
    guardian_poll = [e for e in new_requests if e.path == "/feeds/guardian.rss"]
    assert [(e.status, e.if_none_match) for e in guardian_poll] == [(304, '"g1"')]
    assert second["totals"]["articles"] == 0 and second["totals"]["duplicates"] == 0
    assert len(read_table(out, "articles")) == len(articles)
    assert second["skipped_by_kind"]["feed_not_modified"] == 1
    assert second["skipped_by_kind"]["feed_unchanged"] == 3
    assert second["rejects_by_reason"] == {"fetch/unreadable_feed": 1}


@pytest.mark.e2e
def test_hostile_and_broken_entries_are_rejects_that_say_why(tmp_path, server):
    server.routes["/ok"] = Route(article_html("Fine"))
    server.routes["/private/secret"] = Route(article_html("Secret"))
    server.routes["/slow"] = Route(article_html("Slow"), delay_s=1.5)
    server.routes["/loop/a"] = Route(b"", status=302, headers={"Location": "/loop/b"})
    server.routes["/loop/b"] = Route(b"", status=302, headers={"Location": "/loop/a"})
    server.routes["/big"] = Route(b"<html><body>" + b"<p>word</p>" * 10_000)
    server.routes["/report.pdf"] = Route(b"%PDF-1.4", content_type="application/pdf")
    server.routes["/busy"] = Route(article_html("Busy"), statuses=(429,),
                                   headers={"Retry-After": "1"})
    long_text = "A full article body given in the feed itself. " * 20
    items = [
        ("ok", "Fine", "/ok", "x"),
        ("robots", "Robots", "/private/secret", "x"),
        ("metadata", "Metadata", "http://169.254.169.254/latest/meta-data/", "x"),
        ("private", "Private", "http://10.0.0.5/internal", "x"),
        ("slow", "Slow", "/slow", "x"),
        ("loop", "Loop", "/loop/a", "x"),
        ("big", "Big", "/big", "x"),
        ("pdf", "Pdf", "/report.pdf", "x"),
        ("busy", "Busy", "/busy", "x"),
        ("nolink", "No link", None, long_text),
    ]
    server.routes["/feeds/scenarios.xml"] = Route(_rss(items), content_type="text/xml")
    malformed = _rss([("m1", "Bad & worse", "/ok", "x")], title="Malformed & co")
    server.routes["/feeds/malformed.xml"] = Route(malformed, content_type="application/xml")
    server.routes["/feeds/feed.png"] = Route(b"\x89PNG\r\n", content_type="image/png")
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text("\n".join(server.url(p) for p in (
        "/feeds/scenarios.xml", "/feeds/malformed.xml", "/feeds/feed.png")) + "\n",
        encoding="utf-8")
    out = tmp_path / "out"
    manifest = _ingest(feed_list, out, "scenarios", "--fetch_timeout_s", "0.5",
                       "--max_retries", "1", "--max_body_mb", "0.05", "--max_redirects", "3")
    assert manifest["status"] == "succeeded"
    rejects = {(r["source_position"], r["reason"]): r for r in read_table(out, "rejects")}
    reasons = sorted(reason for _, reason in rejects)
    assert reasons == sorted(["robots_disallowed", "address_refused", "address_refused",
                              "timeout", "too_many_redirects", "too_large",
                              "unsupported_content_type", "unsupported_content_type"])
    messages = " ".join(r["message"] for r in rejects.values())
    assert "169.254.169.254" in messages and "10.0.0.5 is a private address" in messages
    assert all(r["stage"] == "fetch" for r in rejects.values())
    feed_reject = rejects[("poll", "unsupported_content_type")]
    assert feed_reject["source_uri"].endswith("/feeds/feed.png") and feed_reject["doc_id"] is None
    assert not [e for e in server.log if e.path.startswith("/private/")]
    articles = read_table(out, "articles")
    titles = {a["title"] for a in articles}
    assert {"Fine", "Busy"} <= titles
    assert [a["extraction_method"] for a in articles if a["title"] == "No link"] == ["plain_text"]
    assert len(server.requests_to("/ok")) == 1  # in two feeds, fetched once
    busy = server.requests_to("/busy")
    assert [e.status for e in busy] == [429, 200] and busy[1].at - busy[0].at >= 0.95
    state = json.loads((out / "_state" / "feeds.json").read_text(encoding="utf-8"))
    scenarios = state["feeds"][server.url("/feeds/scenarios.xml")]
    assert set(scenarios["failures"]) and scenarios["etag"] is None  # timeout: retried later
    assert state["feeds"][server.url("/feeds/feed.png")]["last_status"] == "failed"


def test_feed_options_are_checked(tmp_path):
    assert cli.main(["ingest", "--feeds", str(tmp_path / "missing.txt"),
                     "--output", str(tmp_path)]) == 2
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text("https://example.org/feed.xml\n", encoding="utf-8")
    assert cli.main(["ingest", "--feeds", str(feed_list), "--output", str(tmp_path),
                     "--allow_hosts", "http://bad/"]) == 2
    assert cli.main(["ingest", "--feeds", str(feed_list), "--output", str(tmp_path),
                     "--max_per_host", "0"]) == 2


def test_the_manifest_names_feeds_as_their_list_does(tmp_path):
    from pipelines.validation import listed_feed_names
    listing = tmp_path / "feeds.txt"
    listing.write_text("https://a.example/rss | A News | en\nhttps://b.example/rss\n",
                       encoding="utf-8")
    assert listed_feed_names([str(listing)]) == {"https://a.example/rss": "A News"}
