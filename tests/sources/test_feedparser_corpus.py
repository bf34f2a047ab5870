"""feedparser's own test feeds (its source distribution) through newsbeam's feed path.

The sdist is not committed: the Makefile's ``test`` target fetches it from
PyPI into tests/.cache (``pip download --no-deps --no-binary :all:
feedparser==<installed version>``); without it these tests skip and say so.
Its ``illformed``, ``entities``, ``encoding``, ``http``, ``compression`` and
``wellformed`` feeds each end as a read feed (perhaps with a warning), an
``unreadable_feed`` or an ``unsafe_xml`` reject, never an exception; the
ill-formed ones also go through a whole run (FnApiRunner) served from
127.0.0.1, where the invariant must hold.
"""
from __future__ import annotations

import json
import re
import tarfile
import time
from collections import Counter
from importlib import metadata

import pytest

from pipelines import cli
from tests.conftest import REPO
from tests.feed_server import FeedServer, Route
from transforms.sources.feed_entries import UnreadableFeed, parse_feed, to_feed_entry
from schemas.records import FeedSource

VERSION = metadata.version("feedparser")
SDIST = REPO / "tests" / ".cache" / f"feedparser-{VERSION}.tar.gz"
FOLDERS = ("illformed", "entities", "encoding", "http", "compression", "wellformed")
# What feedparser 6.0.14's files give (another version has other files).
EXPECTED_6_0_14 = {
    ("compression", "unreadable_feed"): 4, ("compression", "ok"): 2,
    ("encoding", "ok"): 198, ("encoding", "warning"): 21,
    ("entities", "warning"): 256,
    ("http", "ok"): 8, ("http", "unreadable_feed"): 1,
    ("illformed", "ok"): 5, ("illformed", "unreadable_feed"): 1, ("illformed", "warning"): 13,
    ("wellformed", "ok"): 1730, ("wellformed", "unreadable_feed"): 7,
    ("wellformed", "unsafe_xml"): 1, ("wellformed", "warning"): 1,
}
SOURCE = FeedSource("http://127.0.0.1:1/feed.xml", None, None, [], "list.txt", "line:1")


@pytest.fixture(scope="module")
def sdist() -> tarfile.TarFile:
    if not SDIST.is_file():
        pytest.skip(f"feedparser's source distribution is not at {SDIST}: `make test` fetches "
                    f"it (pip download --no-deps --no-binary :all: feedparser=={VERSION} "
                    "-d tests/.cache)")
    with tarfile.open(SDIST) as archive:
        yield archive


def _feeds(archive: tarfile.TarFile, folders=FOLDERS):
    for member in archive.getmembers():
        parts = member.name.split("/")
        if member.isfile() and len(parts) >= 4 and parts[1] == "tests" and parts[2] in folders:
            yield parts[2], "/".join(parts[2:]), archive.extractfile(member).read()


def test_every_feed_of_feedparsers_tests_is_read_or_rejected_with_a_reason(sdist):
    outcomes = Counter()
    for folder, name, body in _feeds(sdist):
        started = time.monotonic()
        try:
            feed = parse_feed(body, f"http://127.0.0.1:1/{name}", "application/xml")
            entries = [to_feed_entry(item, feed, SOURCE) for item in feed.items]
            assert all(e.entry_key and e.position.startswith("entry:") for e in entries)
            outcome = "warning" if feed.warning else "ok"
        except UnreadableFeed as error:  # unreadable_feed, or unsafe_xml
            outcome = error.reason
        assert time.monotonic() - started < 5, name
        outcomes[(folder, outcome)] += 1
    assert sum(n for (folder, _), n in outcomes.items() if folder == "illformed") >= 15
    if VERSION == "6.0.14":
        assert dict(outcomes) == EXPECTED_6_0_14


@pytest.mark.e2e
def test_ill_formed_feeds_through_a_whole_run(tmp_path, sdist):
    server = FeedServer().start()
    try:
        server.routes["/robots.txt"] = Route(b"User-agent: *\nAllow: /\n",
                                             content_type="text/plain")
        names = []
        for folder, name, body in _feeds(sdist, ("illformed",)):
            path = "/" + name
            # Links to the test files' hosts (example.org, ...) are moved to this
            # server, where they are missing: nothing is fetched from outside.
            body = re.sub(rb"(<link>\s*|href=[\"'])https?://",
                          lambda m: m.group(1) + server.url("/elsewhere/").encode(), body)
            server.routes[path] = Route(body, content_type="application/xml")
            names.append(path)
        feed_list = tmp_path / "feeds.txt"
        feed_list.write_text("".join(server.url(p) + "\n" for p in names), encoding="utf-8")
        out = tmp_path / "out"
        assert cli.main(["ingest", "--feeds", str(feed_list), "--output", str(out),
                         "--run_id", "illformed", "--allow_hosts", "127.0.0.1",
                         "--min_host_delay_s", "0", "--max_retries", "0",
                         "--fetch_timeout_s", "2", "--runner", "DirectRunner"]) == 0
        manifest = json.loads((out / "_runs" / "illformed.json").read_text(encoding="utf-8"))
    finally:
        server.stop()
    assert manifest["status"] == "succeeded" and manifest["invariant"]["holds"]
    assert manifest["feed_state"]["feeds_polled"] == len(names)
    polls = {path: status for path, status in manifest["feed_state"]["polls_by_status"].items()}
    assert sum(polls.values()) == len(names)
    reasons = set(manifest["rejects_by_reason"])
    assert "fetch/unreadable_feed" in reasons
    assert reasons <= {"fetch/unreadable_feed", "fetch/http_status", "fetch/no_link",
                       "fetch/unsafe_xml", "fetch/invalid_url", "extract/no_article_text",
                       "extract/too_short"}, reasons
    assert not [e for e in server.log if not e.host.startswith("127.0.0.1")]
