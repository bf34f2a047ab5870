"""A feed entry's date reaches the document with who stated it and its UTC offset."""
from __future__ import annotations

from schemas.contexts import FeedsContext, FetchConfig
from schemas.records import FeedSource
from transforms.sources.feed_entries import parse_feed, to_feed_entry
from transforms.sources.feed_jobs import entry_document

RSS = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
       b"<item><title>a</title><link>http://x.org/a</link>"
       b"<pubDate>Tue, 01 Dec 2026 10:00:00 +0100</pubDate></item>"
       b"<item><title>b</title><link>http://x.org/b</link></item></channel></rss>")


def test_the_entry_date_keeps_its_source_and_offset():
    feed = parse_feed(RSS, "http://x.org/feed", "application/rss+xml")
    source = FeedSource("http://x.org/feed", None, None, [], "list.txt", "line:1")
    dated, undated = (to_feed_entry(item, feed, source) for item in feed.items)
    assert (dated.published_source, dated.published_offset_minutes) == ("feed", 60)
    assert (undated.published_source, undated.published_offset_minutes) == (None, None)
    ctx = FeedsContext("r", 0, "out", FetchConfig(user_agent="t"), 1 << 20)
    document = entry_document(dated, ctx, None)
    assert (document.published, document.published_source,
            document.published_offset_minutes) == (dated.published, "feed", 60)
