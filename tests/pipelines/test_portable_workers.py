"""The batch pipeline on the portable worker path: SDK workers in other processes.

`--direct_num_workers=2 --direct_running_mode=multi_processing` makes the
FnApiRunner start two SDK worker processes and send them the pickled DoFns
over the Fn API, as Dataflow, Flink and Spark do. Whatever would not pickle,
or would lean on state of the launching process, fails here. The inputs
cover every reader (text dump, JSONL, HTML, WARC, a feed served on
127.0.0.1), so each DoFn is shipped to a worker at least once.
"""
from __future__ import annotations

import pytest
import io
import json
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines import cli
from tests.conftest import SEEDS, read_table
from tests.feed_server import Route, article_html

PORTABLE = ["--runner", "DirectRunner", "--direct_num_workers", "2",
            "--direct_running_mode", "multi_processing"]


def write_warc(path: Path, pages) -> None:
    """A gzipped WARC with one response record per (url, html) page."""
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, html in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(html), http_headers=headers))


def _rss(items) -> bytes:
    body = "".join(f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid></item>"
                   for title, link in items)
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Local</title><link>http://127.0.0.1/</link>{body}</channel></rss>"
            ).encode("utf-8")


@pytest.mark.e2e
def test_batch_run_on_two_worker_processes(tmp_path, server):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "page.html").write_bytes(article_html("Harbour plan approved"))
    write_warc(inputs / "crawl.warc.gz", [
        ("https://news.example/a", article_html("Bridge reopens after repairs")),
        ("https://news.example/b", article_html("Library extends its opening hours"))])
    (inputs / "broken.warc.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    for path in ("/stories/1", "/stories/2"):
        server.routes[path] = Route(article_html(f"Council story {path[-1]}"))
    server.routes["/feed.xml"] = Route(
        _rss([("One", server.url("/stories/1")), ("Two", server.url("/stories/2"))]),
        content_type="application/rss+xml")
    (tmp_path / "feeds.txt").write_text(server.url("/feed.xml") + " | Local | en\n")
    out = tmp_path / "out"

    assert cli.main(["ingest", "--input", str(SEEDS / "*-dump.txt"),
                     "--input", str(SEEDS / "*.jsonl"), "--input", str(inputs / "*"),
                     "--feeds", str(tmp_path / "feeds.txt"), "--allow_hosts", "127.0.0.1",
                     "--min_host_delay_s", "0", "--output", str(out), "--run_id", "portable",
                     *PORTABLE]) == 0

    manifest = json.loads((out / "_runs" / "portable.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "succeeded" and manifest["invariant"]["holds"]
    totals = manifest["totals"]
    # Seeds: 8 inputs (7 articles, 1 duplicate: the "(updated)" story is another
    # article under the first one's URL); here: 1 page, 2 WARC pages,
    # 1 broken WARC, 2 feed entries.
    assert totals["inputs"] == 14
    assert totals["articles"] == 12 and totals["duplicates"] == 1
    assert manifest["rejects_by_reason"] == {"read/corrupt_gzip": 1}
    articles = read_table(out, "articles")
    assert len(articles) == 12
    assert {a["source_kind"] for a in articles} == {"text_dump", "jsonl", "html", "warc", "feed"}
    assert manifest["feed_state"]["feeds_polled"] == 1
