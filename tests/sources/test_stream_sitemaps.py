"""Sitemaps in the stream: the pure parts of `transforms.sources.stream_sitemaps`, no runner.

The stream end to end (FnApiRunner, a server on 127.0.0.1) is in
`tests/pipelines/test_stream.py`.
"""
from __future__ import annotations

from schemas.records import FeedEntry, FeedSource, FeedState, FeedStateUpdate
from transforms.sink.feed_state import merge_states
from transforms.sources.feed_jobs import ENTRIES, STATE
from transforms.sources.stream_sitemaps import settle, source_status, sources_by_shard

URLSET = "https://site.example/news.xml"


def _poll(status: str, at: int, **fields) -> FeedStateUpdate:
    return FeedStateUpdate(URLSET, "poll", status, at, **fields)


def test_polls_of_one_window_are_applied_in_the_order_they_were_made():
    # A stream window holds several reads of a sitemap; the 304 that came
    # after the 200 must not wipe the 200's ETag, whatever the list order.
    fetched = _poll("fetched", 1, etag='"a"', body_hash="h", present=["k1"])
    later = _poll("not_modified", 2)
    for updates in ([fetched, later], [later, fetched]):
        state = merge_states({}, updates)[URLSET]
        assert state.etag == '"a"' and state.last_status == "not_modified"


def test_an_emitted_entry_is_settled_at_once():
    entry = FeedEntry(feed_url=URLSET, entry_key="k1", position="entry:k1",
                      link="https://site.example/a", title=None, published=None, authors=[],
                      tags=[], summary=None, content=None, source_name=None, language=None)
    emitted = [(STATE, _poll("fetched", 1, etag='"a"', present=["k1"])), (ENTRIES, entry)]
    touched, updates, entries = settle({URLSET: FeedState(url=URLSET)}, emitted, 5)
    assert entries == 1 and len(updates) == 2
    assert touched[URLSET].seen == ["k1"] and touched[URLSET].etag == '"a"'


def test_a_source_is_fetched_failed_or_not_modified_by_its_sitemaps():
    assert source_status([_poll("failed", 1), _poll("fetched", 2)]) == "fetched"
    assert source_status([_poll("not_modified", 1), _poll("unchanged", 2)]) == "not_modified"
    assert source_status([_poll("failed", 1)]) == "failed" and source_status([]) == "failed"


def test_sources_of_one_host_go_to_one_group():
    a = FeedSource("https://a.example/", None, None, [], "l", "line:1")
    b = FeedSource("https://a.example/news.xml", None, None, [], "l", "line:2")
    groups = list(sources_by_shard(None, [("a.example", (a, None)), ("a.example", (b, None))]))
    assert len(groups) == 1 and [s.url for s in groups[0][1]] == [a.url, b.url]
