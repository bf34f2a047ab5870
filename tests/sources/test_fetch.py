"""The fetcher: address and URL rules, retries, robots.txt, limits, politeness.

Policy functions are tested as plain functions; the client against a real
HTTP server on 127.0.0.1 (tests/feed_server.py). Addresses that must be
refused are never connected to: the check runs before any connection.
"""
from __future__ import annotations

import asyncio
import gzip
import random

import brotli
import pytest

from tests.feed_server import FeedServer, Route, article_html
from transforms.sources.fetch import Fetcher
from schemas.contexts import FetchConfig
from transforms.sources.fetch_policy import (AllowList, address_refusal, backoff_delay,
                                             content_type_refusal, default_user_agent, origin,
                                             parse_retry_after, url_refusal)
from transforms.sources.robots import parse_robots, robots_crawl_delay

NOBODY = AllowList.parse([])
LOCAL = AllowList.parse(["127.0.0.1"])


# ------------------------------------------------------------ pure policy


@pytest.mark.parametrize("ip, refused", [
    ("8.8.8.8", None), ("2606:4700:4700::1111", None), ("::ffff:8.8.8.8", None),
    ("127.0.0.1", "loopback"), ("127.9.9.9", "loopback"), ("::1", "loopback"),
    ("10.0.0.5", "private"), ("172.16.3.4", "private"), ("192.168.1.1", "private"),
    ("fd00::1", "private"), ("169.254.169.254", "metadata"), ("fe80::1", "link-local"),
    ("224.0.0.251", "multicast"), ("ff02::1", "multicast"), ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"), ("100.64.0.1", "not a global"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a00:1", "private"), ("2002:a00:1::1", "private"),
])
def test_addresses_outside_the_public_internet_are_refused(ip, refused):
    reason = address_refusal(ip, NOBODY)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


def test_allow_list_admits_listed_hosts_and_networks_only():
    allow = AllowList.parse(["127.0.0.1", "10.1.0.0/16, intranet.example", ".corp.example"])
    assert address_refusal("127.0.0.1", allow) is None
    assert address_refusal("127.0.0.2", allow) is not None
    assert address_refusal("10.1.7.7", allow) is None
    assert address_refusal("10.2.0.1", allow) is not None
    assert address_refusal("10.9.9.9", allow, "intranet.example") is None
    assert address_refusal("10.9.9.9", allow, "news.corp.example") is None
    assert address_refusal("10.9.9.9", allow, "evilcorp.example") is not None
    with pytest.raises(ValueError):
        AllowList.parse(["http://x/y"])


@pytest.mark.parametrize("url, reason", [
    ("file:///etc/passwd", "unsupported_scheme"), ("ftp://example.org/feed", "unsupported_scheme"),
    ("javascript:alert(1)", "unsupported_scheme"), ("gopher://example.org/", "unsupported_scheme"),
    ("http://169.254.169.254/latest/meta-data/", "address_refused"),
    ("http://[::1]:8080/", "address_refused"), ("http://10.0.0.1/", "address_refused"),
    ("http:///nohost", "invalid_url"), ("http://example.org:99999/", "invalid_url"),
    ("https://example.org/news", None),
])
def test_url_rules(url, reason):
    refusal = url_refusal(url, NOBODY)
    assert (refusal.reason if refusal else None) == reason


def test_backoff_grows_is_capped_and_honours_retry_after():
    rand = random.Random(7)
    delays = [backoff_delay(a, 1.0, 8.0, None, rand) for a in range(6)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and 2.0 <= delays[2] <= 4.0
    assert all(d <= 8.0 for d in delays) and delays[5] >= 4.0
    assert backoff_delay(0, 1.0, 8.0, 30.0, rand) == 30.0
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_robots_rules_and_crawl_delay():
    robots = parse_robots("User-agent: *\nDisallow: /private/\n\n"
                          "User-agent: newsbeam\nDisallow: /no-bots/\nCrawl-delay: 2.5\n")
    agent = default_user_agent("https://example.org/contact", "1.0")
    assert agent == "newsbeam/1.0 (+https://example.org/contact)"
    assert not robots.can_fetch(agent, "https://example.org/no-bots/a")
    assert robots.can_fetch(agent, "https://example.org/private/a")  # its own group applies
    assert robots_crawl_delay(robots) == 2.5
    assert robots_crawl_delay(parse_robots("User-agent: *\nCrawl-delay: 9999\n")) == 60.0


def test_content_types():
    assert content_type_refusal("feed", "application/rss+xml; charset=utf-8", b"<") is None
    assert content_type_refusal("feed", "application/feed+json", b"{") is None
    assert content_type_refusal("feed", "text/html", b"<") is None
    assert content_type_refusal("feed", "image/png", b"\x89PNG") is not None
    assert content_type_refusal("page", "text/html", b"<") is None
    assert content_type_refusal("page", "application/pdf", b"%PDF") is not None
    assert content_type_refusal("page", None, b"<!doctype html>") is None
    assert content_type_refusal("page", "application/octet-stream", b"\x00\x01") is not None
    assert origin("HTTPS://Example.org/a?b") == "https://example.org:443"


# ------------------------------------------------------- against a server


@pytest.fixture
def server():
    srv = FeedServer().start()
    srv.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n",
                                      content_type="text/plain")
    yield srv
    srv.stop()


def _config(**changes) -> FetchConfig:
    base = FetchConfig(user_agent=default_user_agent("https://example.org/contact"),
                       allow=("127.0.0.1",), min_host_delay_s=0.0, max_per_host=2,
                       max_concurrency=8, timeout_s=1.0, max_body_bytes=100_000,
                       max_redirects=3, max_retries=2, backoff_base_s=0.05,
                       backoff_cap_s=0.2, max_retry_after_s=5.0)
    return base._replace(**changes)


def _run(config: FetchConfig, use):
    async def go():
        fetcher = Fetcher(config)
        await fetcher.start()
        try:
            return await use(fetcher)
        finally:
            await fetcher.close()
    return asyncio.run(go())


def test_pages_robots_and_user_agent(server):
    server.routes["/a"] = Route(article_html("A"))
    server.routes["/private/b"] = Route(article_html("B"))
    ok, blocked, again = _run(_config(), lambda f: asyncio.gather(
        f.fetch_page(server.url("/a")), f.fetch_page(server.url("/private/b")),
        f.fetch_page(server.url("/a"))))
    assert ok.error is None and ok.status == 200 and b"<h1>A</h1>" in ok.body
    assert blocked.error == "robots_disallowed" and "/private/b" in blocked.message
    assert again.error is None
    assert len(server.requests_to("/robots.txt")) == 1  # once per host and run
    assert not server.requests_to("/private/")
    assert {e.user_agent for e in server.log} == {_config().user_agent}
    assert "newsbeam/" in _config().user_agent and "example.org/contact" in _config().user_agent


def test_unreachable_robots_means_nothing_is_fetched(server):
    server.routes["/robots.txt"] = Route(b"down", status=503, content_type="text/plain")
    server.routes["/a"] = Route(article_html("A"))
    result = _run(_config(max_retries=1), lambda f: f.fetch_page(server.url("/a")))
    assert result.error == "robots_unavailable" and result.transient
    assert not server.requests_to("/a")


def test_robots_rejects_say_why_the_host_was_unreachable(server):
    config = _config(max_retries=0, resolve=())
    dns = _run(config, lambda f: f.fetch_page("http://news.invalid/a"))
    assert dns.error == "robots_unavailable"
    assert dns.message.startswith("robots.txt unavailable: DNS lookup failed for news.invalid")
    closed = _closed_port()
    refused = _run(config, lambda f: f.fetch_page(f"http://127.0.0.1:{closed}/a"))
    assert refused.error == "robots_unavailable"
    assert f"connection refused by 127.0.0.1:{closed}" in refused.message
    server.routes["/robots.txt"] = Route(b"down", status=503, content_type="text/plain")
    down = _run(config, lambda f: f.fetch_page(server.url("/a")))
    assert "robots.txt unavailable: HTTP status 503" in down.message


def _closed_port() -> int:
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_missing_robots_allows_everything(server):
    del server.routes["/robots.txt"]
    server.routes["/private/b"] = Route(article_html("B"))
    result = _run(_config(), lambda f: f.fetch_page(server.url("/private/b")))
    assert result.error is None


def test_429_is_retried_after_the_time_it_asks_for(server):
    server.routes["/busy"] = Route(article_html("Busy"), statuses=(429,),
                                   headers={"Retry-After": "1"})
    result = _run(_config(), lambda f: f.fetch_page(server.url("/busy")))
    assert result.error is None and result.attempts == 2
    first, second = server.requests_to("/busy")
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 0.95


def test_retry_after_over_the_limit_ends_the_attempt(server):
    server.routes["/busy"] = Route(b"", status=429, headers={"Retry-After": "3600"})
    result = _run(_config(), lambda f: f.fetch_page(server.url("/busy")))
    assert result.error == "rate_limited" and "3600" in result.message and result.transient
    assert len(server.requests_to("/busy")) == 1


def test_5xx_is_retried_then_reported(server):
    server.routes["/down"] = Route(b"", status=503)
    result = _run(_config(max_retries=2), lambda f: f.fetch_page(server.url("/down")))
    assert result.error == "http_status" and result.status == 503 and result.transient
    assert len(server.requests_to("/down")) == 3
    server.routes["/gone"] = Route(b"", status=404)
    gone = _run(_config(), lambda f: f.fetch_page(server.url("/gone")))
    assert gone.error == "http_status" and gone.status == 404 and not gone.transient
    assert len(server.requests_to("/gone")) == 1


def test_a_server_slower_than_the_timeout(server):
    server.routes["/slow"] = Route(article_html("Slow"), delay_s=1.5)
    result = _run(_config(timeout_s=0.4, max_retries=1),
                  lambda f: f.fetch_page(server.url("/slow")))
    assert result.error == "timeout" and result.transient
    assert server.hits("/slow") == 2


def test_redirects_are_followed_and_loops_end(server):
    server.routes["/old"] = Route(b"", status=301, headers={"Location": "/new"})
    server.routes["/new"] = Route(article_html("New"))
    server.routes["/loop/a"] = Route(b"", status=302, headers={"Location": "/loop/b"})
    server.routes["/loop/b"] = Route(b"", status=302, headers={"Location": "/loop/a"})
    moved, loop = _run(_config(), lambda f: asyncio.gather(
        f.fetch_page(server.url("/old")), f.fetch_page(server.url("/loop/a"))))
    assert moved.error is None and moved.final_url == server.url("/new")
    assert loop.error == "too_many_redirects"
    assert len(server.requests_to("/loop/")) == 4  # the first request and 3 redirects


def test_redirect_into_the_network_is_refused(server):
    server.routes["/jump"] = Route(b"", status=302, headers={
        "Location": "http://169.254.169.254/latest/meta-data/"})
    result = _run(_config(), lambda f: f.fetch_page(server.url("/jump")))
    assert result.error == "address_refused" and "169.254.169.254" in result.message


def test_names_resolving_to_private_addresses_are_refused_before_connecting(server):
    resolve = (("intranet.test", "10.0.0.7"), ("metadata.test", "169.254.169.254"),
               ("loop.test", "127.0.0.1"))
    config = _config(resolve=resolve)
    port = server.port
    private, metadata, loop = _run(config, lambda f: asyncio.gather(
        f.fetch_page(f"http://intranet.test:{port}/a"),
        f.fetch_page("http://metadata.test/latest/meta-data/"),
        f.fetch_page(f"http://loop.test:{port}/a")))
    assert private.error == "address_refused" and "10.0.0.7 is a private" in private.message
    assert metadata.error == "address_refused" and "169.254.169.254" in metadata.message
    # 127.0.0.1 is allowed as an address: the name that resolves to it is fetched.
    server.routes["/a"] = Route(article_html("A"))
    assert loop.error is None or loop.status == 404
    refused = _run(config._replace(allow=()), lambda f: f.fetch_page(
        f"http://loop.test:{port}/a"))
    assert refused.error == "address_refused" and "loopback" in refused.message
    assert not [e for e in server.log if e.host.startswith(("intranet", "metadata"))]


def test_body_limits_also_after_decompression(server):
    server.routes["/big"] = Route(b"<html>" + b"x" * 200_000)
    server.routes["/bomb"] = Route(b"<html>" + b" " * 2_000_000, gzip=True)
    server.routes["/zipped"] = Route(article_html("Zipped"), gzip=True)
    brotli_body = article_html("Brotli")
    server.routes["/br"] = Route(brotli.compress(brotli_body),
                                 headers={"Content-Encoding": "br"})
    big, bomb, zipped, br = _run(_config(), lambda f: asyncio.gather(
        f.fetch_page(server.url("/big")), f.fetch_page(server.url("/bomb")),
        f.fetch_page(server.url("/zipped")), f.fetch_page(server.url("/br"))))
    assert big.error == "too_large" and bomb.error == "too_large"
    assert len(gzip.compress(b"<html>" + b" " * 2_000_000)) < 100_000
    assert zipped.error is None and b"<h1>Zipped</h1>" in zipped.body
    assert br.error is None and br.body == brotli_body


def test_wrong_content_types_are_refused(server):
    server.routes["/report.pdf"] = Route(b"%PDF-1.4", content_type="application/pdf")
    server.routes["/feed.png"] = Route(b"\x89PNG....", content_type="image/png")
    server.routes["/feed.xml"] = Route(b"<rss version='2.0'><channel/></rss>",
                                       content_type="text/xml")
    pdf, png, feed = _run(_config(), lambda f: asyncio.gather(
        f.fetch_page(server.url("/report.pdf")), f.fetch_feed(server.url("/feed.png")),
        f.fetch_feed(server.url("/feed.xml"))))
    assert pdf.error == "unsupported_content_type" and "application/pdf" in pdf.message
    assert png.error == "unsupported_content_type" and not png.transient
    assert feed.error is None


def test_conditional_requests_get_304(server):
    server.routes["/feed.xml"] = Route(b"<rss version='2.0'><channel/></rss>",
                                       content_type="application/rss+xml", etag='"v1"')
    first = _run(_config(), lambda f: f.fetch_feed(server.url("/feed.xml")))
    second = _run(_config(), lambda f: f.fetch_feed(server.url("/feed.xml"), first.etag,
                                                    "Wed, 21 Oct 2015 07:28:00 GMT"))
    assert first.status == 200 and first.etag == '"v1"'
    assert second.status == 304 and second.error is None
    request = server.requests_to("/feed.xml")[-1]
    assert request.if_none_match == '"v1"' and request.if_modified_since


def _gaps(entries):
    times = sorted(e.at for e in entries)
    return [b - a for a, b in zip(times, times[1:])]


def test_one_host_gets_spaced_requests_and_a_bounded_number_in_flight(server):
    for i in range(8):
        server.routes[f"/p{i}"] = Route(article_html(f"P{i}"), delay_s=0.3)
    config = _config(min_host_delay_s=0.1, max_per_host=2)
    results = _run(config, lambda f: asyncio.gather(
        *(f.fetch_page(server.url(f"/p{i}")) for i in range(8))))
    assert all(r.error is None for r in results)
    pages = [e for e in server.log if e.path.startswith("/p")]
    assert min(_gaps(server.log)) >= 0.095
    assert server.max_in_flight[f"127.0.0.1:{server.port}"] <= 2
    assert len(pages) == 8


def test_crawl_delay_spaces_requests(server):
    server.routes["/robots.txt"] = Route(b"User-agent: *\nCrawl-delay: 0.3\n",
                                         content_type="text/plain")
    for i in range(4):
        server.routes[f"/c{i}"] = Route(article_html(f"C{i}"))
    _run(_config(), lambda f: asyncio.gather(*(f.fetch_page(server.url(f"/c{i}"))
                                               for i in range(4))))
    assert min(_gaps(server.requests_to("/c"))) >= 0.29
