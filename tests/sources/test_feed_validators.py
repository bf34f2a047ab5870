"""Feeds whose validators lie: a server that keeps its ETag (answers 304) while
the items change is caught within N polls, against a real server on 127.0.0.1."""
from __future__ import annotations

import asyncio

import pytest

from tests.feed_server import FeedServer, Route
from transforms.sources.feed_entries import body_hash, parse_feed
from transforms.sources.feed_validators import (LIED_ETAG, LIED_LAST_MODIFIED, ValidatorState,
                                        from_state_fields, is_check_due, observe,
                                        request_validators, state_fields, validators_lied)
from schemas.contexts import FetchConfig
from transforms.sources.fetch import Fetcher
from transforms.sources.fetch_policy import default_user_agent

CONFIG = FetchConfig(user_agent=default_user_agent(), allow=("127.0.0.1",),
                     min_host_delay_s=0.0, timeout_s=2.0, max_retries=0)


def _rss(titles) -> bytes:
    items = "".join(f"<item><title>{t}</title><link>https://x.example/{t}</link>"
                    f"<guid>{t}</guid></item>" for t in titles)
    return f"<rss version='2.0'><channel><title>F</title>{items}</channel></rss>".encode()


def _poll_loop(srv: FeedServer, polls: int, every: int, before_poll):
    """Polls /feed.xml `polls` times as poll_feed is to: validators from the state
    unless a check is due. `before_poll(i)` lets the server change between polls.

    Returns the poll index at which each title was first read, and the final state.
    """
    url = srv.url("/feed.xml")
    first_read = {}
    state = ValidatorState()
    kept = (None, None, None)  # ETag, Last-Modified, body hash of the last body read

    async def go():
        nonlocal state, kept
        fetcher = Fetcher(CONFIG)
        await fetcher.start()
        try:
            for i in range(polls):
                before_poll(i)
                checked = is_check_due(state, every)
                etag, last_modified = request_validators(kept[0], kept[1], state, every)
                result = await fetcher.fetch_feed(url, etag, last_modified)
                digest = body_hash(result.body) if result.status == 200 else None
                state = observe(state, checked, result.status, kept,
                                (result.etag, result.last_modified, digest))
                if result.status == 200:
                    kept = (result.etag, result.last_modified, digest)
                    for item in parse_feed(result.body, url).items:
                        first_read.setdefault(item.title, i)
        finally:
            await fetcher.close()
    asyncio.run(go())
    return first_read, state


def _feed_route(titles, etag: str) -> Route:
    return Route(_rss(titles), content_type="application/rss+xml", etag=etag)


@pytest.fixture
def srv():
    server = FeedServer().start()
    server.routes["/robots.txt"] = Route(b"User-agent: *\nAllow: /\n",
                                         content_type="text/plain")
    yield server
    server.stop()


def test_a_server_that_keeps_its_etag_while_items_change_is_caught_within_n_polls(srv):
    every, change_at = 4, 2

    def lying_server(i):  # the same ETag for both bodies: 304 to every conditional poll
        titles = ["first", "second"] if i >= change_at else ["first"]
        srv.routes["/feed.xml"] = _feed_route(titles, '"always-the-same"')
    first_read, state = _poll_loop(srv, 10, every, lying_server)
    assert first_read["first"] == 0
    assert change_at <= first_read["second"] < change_at + every
    assert state.unreliable and state.reason == LIED_ETAG
    log = srv.requests_to("/feed.xml")
    assert all(e.if_none_match == '"always-the-same"' and e.status == 304
               for e in log[1:first_read["second"]])
    # From the detection on, every poll goes out unconditionally.
    after = log[first_read["second"]:]
    assert len(after) == 10 - first_read["second"]
    assert all(e.if_none_match is None and e.status == 200 for e in after)


def test_an_honest_server_keeps_conditional_requests(srv):
    def honest_server(i):  # the ETag follows the content
        new = i >= 2
        srv.routes["/feed.xml"] = _feed_route(["first", "second"] if new else ["first"],
                                              '"v2"' if new else '"v1"')
    first_read, state = _poll_loop(srv, 9, 4, honest_server)
    assert first_read == {"first": 0, "second": 2}  # seen at once: the ETag changed
    assert not state.unreliable
    log = srv.requests_to("/feed.xml")
    assert [i for i, e in enumerate(log) if e.if_none_match is None] == [0, 3, 7]
    assert [e.status for e in log] == [200, 304, 200, 200, 304, 304, 304, 200, 304]


def test_pure_rules():
    state = ValidatorState()
    assert not is_check_due(state, 3)
    state = observe(state, False, 304, (None,) * 3, (None,) * 3)
    state = observe(state, False, 304, (None,) * 3, (None,) * 3)
    assert is_check_due(state, 3) and request_validators('"e"', "lm", state, 3) == (None, None)
    assert request_validators('"e"', "lm", ValidatorState(), 3) == ('"e"', "lm")
    assert observe(state, True, 503, (None,) * 3, (None,) * 3) == state  # check not done
    assert observe(state, True, 200, ('"e"', None, "h1"), ('"e"', None, "h1")) == \
        ValidatorState(0, False, None)
    lied = observe(state, True, 200, ('"e"', None, "h1"), ('"e"', None, "h2"))
    assert lied.unreliable and lied.reason == LIED_ETAG and is_check_due(lied, 100)
    assert validators_lied(None, "Tue, 01 Dec 2026 10:00:00 GMT", "h1", None,
                           "Tue, 01 Dec 2026 10:00:00 GMT", "h2") == LIED_LAST_MODIFIED
    assert validators_lied('"a"', None, "h1", '"b"', None, "h2") is None
    assert validators_lied('"a"', None, None, '"a"', None, "h2") is None  # nothing to compare
    assert from_state_fields(state_fields(lied)) == lied
    assert from_state_fields({}) == ValidatorState()


def test_a_marked_feed_is_trusted_again_after_honest_changes_in_a_row():
    from transforms.sources.feed_validators import TRUST_AGAIN_AFTER, observe
    marked = ValidatorState(0, True, LIED_ETAG)

    def check(state, kept, got):
        return observe(state, True, 200, kept, got)
    honest = lambda n: (('"e%d"' % n, None, "h%d" % n), ('"e%d"' % (n + 1), None, "h%d" % (n + 1)))  # noqa: E731
    state = marked
    for n in range(TRUST_AGAIN_AFTER - 1):
        state = check(state, *honest(n))
        assert state.unreliable and state.polls_since_check == n + 1
    # An unchanged body proves nothing: the count stays.
    assert check(state, ('"e9"', None, "same"), ('"e9"', None, "same")) == state
    # A lie in between starts the count again.
    assert check(state, ('"e9"', None, "a"), ('"e9"', None, "b")) == ValidatorState(0, True, LIED_ETAG)
    trusted = check(state, *honest(7))
    assert trusted == ValidatorState() and not trusted.unreliable
    # Last-Modified alone counts when the server sends no ETag.
    lm = check(marked, (None, "Mon, 01 Dec 2026 10:00:00 GMT", "a"),
               (None, "Mon, 01 Dec 2026 11:00:00 GMT", "b"))
    assert lm.unreliable and lm.polls_since_check == 1
