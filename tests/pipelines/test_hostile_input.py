"""Hostile input: every case ends in a reject row with its stage and reason, and the run goes on.

The corpus is generated here, into tmp folders, at test time: XML entity
bombs and external entities, decompression bombs (gzip, deflate and br HTTP
bodies; .gz dumps, WARC.gz), huge and deeply nested documents, binary
garbage, invalid and mixed encodings, truncated files, WARC records whose
Content-Length lies, values that would become paths, and addresses inside
the network. HTTP is served by a real server on 127.0.0.1
(tests/feed_server.py); pipelines run on the FnApiRunner (``--runner
DirectRunner``, see pipelines.runs.local_runner).
"""
from __future__ import annotations

import asyncio
import gzip
import io
import json
import random
import re
import time
import zlib
from collections import Counter
from pathlib import Path

import brotli
import feedparser
import pytest

from pipelines import cli
from schemas.records import RawDocument, Reject
from tests.conftest import read_table
from tests.feed_server import Route, article_html
from transforms.sources.decompression import decompression_refusal
from schemas.contexts import ReadContext
from transforms.sources.dump_formats import read_records
from transforms.extract.articles import _ExtractFn
from transforms.sources.feed_entries import UnsafeXml, parse_feed, xml_entity_refusal
from transforms.sources.feed_list import parse_feed_list
from transforms.sources.fetch import Fetcher
from schemas.contexts import FetchConfig
from transforms.sources.fetch_policy import default_user_agent

CTX = ReadContext("test-run", 1_700_000_000_000_000, 20 << 20)
PARA = ("The council met on Tuesday to discuss the budget, the new bridge and the school "
        "year; residents asked about the timetable and officials promised an answer. ")


def _records(name: str, data: bytes, ctx: ReadContext = CTX):
    return list(read_records(name, lambda: io.BytesIO(data), ctx))


def _outcomes(records):
    return Counter(f"Reject:{r.reason}" if isinstance(r, Reject) else type(r).__name__
                   for r in records)


def _one_item_feed(title: str, item: str, link: str) -> Route:
    """An RSS feed with one item whose page is at `link`."""
    return Route((f"<rss version='2.0'><channel><title>{title}</title><item><title>{item}"
                  f"</title><link>{link}</link></item></channel></rss>").encode(),
                 content_type="application/rss+xml")


# ------------------------------------------------------------ XML entities

LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol0 "lol">\n'
          + b"".join(b'<!ENTITY lol%d "%s">\n' % (i, b"&lol%d;" % (i - 1) * 10)
                     for i in range(1, 10))
          + b']>\n<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
            b'<link>http://example.org/a</link></item></channel></rss>')
# One 100 KB entity referenced 2,000 times: expat stops it, but feedparser's
# loose parser expanded it to a 200 MB summary (600 MB resident) before the guard.
QUADRATIC = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "' + b"x" * 100_000 + b'">]>\n'
             b'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
             b'<link>http://example.org/a</link><description>' + b"&a;" * 2000
             + b"</description></item></channel></rss>")


def _external(system_id: str, parameter: bool = False) -> bytes:
    if parameter:
        declaration = f'<!ENTITY % p SYSTEM "{system_id}"> %p;'
    else:
        declaration = f'<!ENTITY xxe SYSTEM "{system_id}">'
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rss [{declaration}]>\n'
            '<rss version="2.0"><channel><title>t &xxe;</title><item><title>x &xxe;</title>'
            '<link>http://example.org/a</link><description>&xxe;</description></item>'
            '</channel></rss>').encode()


def test_feedparser_itself_neither_fetches_nor_reads_external_entities(tmp_path, server):
    """What feedparser 6 and expat do unguarded: external and parameter entities
    are dropped (never fetched or read); entities are left as text."""
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT", encoding="utf-8")
    server.routes["/evil.dtd"] = Route(b'<!ENTITY leak "LEAKED">', content_type="text/plain")
    for body in (_external(secret.as_uri()), _external(server.url("/evil.dtd")),
                 _external(server.url("/evil.dtd"), parameter=True),
                 _external(secret.as_uri(), parameter=True)):
        result = feedparser.parse(io.BytesIO(body))
        text = json.dumps(result, default=str)
        assert "SECRET-CONTENT" not in text and "LEAKED" not in text
    assert server.hits("/evil.dtd") == 0


@pytest.mark.parametrize("body, words", [
    (LAUGHS, "'lol1' made of other entities"),
    (QUADRATIC, "expand to over 200000000 bytes"),
    (_external("file:///etc/passwd"), "external XML entity 'xxe' (SYSTEM)"),
    (_external("http://169.254.169.254/latest/meta-data/"), "external XML entity"),
    (_external("http://127.0.0.1:9/x.dtd", parameter=True), "parameter entity 'p'"),
    (b"<!DOCTYPE rss [<!ENTITY x PUBLIC '-//X//EN' 'http://e.org/x.dtd'>]><rss/>",
     "(PUBLIC)"),
])
def test_entities_that_fetch_or_amplify_are_refused_before_parsing(body, words):
    started = time.monotonic()
    with pytest.raises(UnsafeXml, match=re.escape(words)) as raised:
        parse_feed(body, "https://example.org/feed.xml", "application/rss+xml")
    assert raised.value.reason == "unsafe_xml"
    assert time.monotonic() - started < 1.0


def test_harmless_entities_and_entity_text_in_cdata_are_read():
    body = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n<!ENTITY c "(c)">\n]>'
            b'<rss version="2.0"><channel><title>T&nbsp;&c;</title><item><title>On XXE</title>'
            b'<link>http://example.org/a</link><description><![CDATA[<!ENTITY x SYSTEM '
            b'"file:///etc/passwd"> is how it starts]]></description></item></channel></rss>')
    assert xml_entity_refusal(body) is None
    feed = parse_feed(body, "https://example.org/feed.xml")
    assert feed.title == "T (c)" and feed.items[0].link == "http://example.org/a"


def test_opml_lists_with_entities_are_rejects():
    opml = (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<opml version="2.0"><body><outline text="&x;" xmlUrl="https://e.org/f"/>'
            b"</body></opml>")
    bomb = LAUGHS.replace(b"<rss", b"<opml><body><outline xmlUrl='https://e.org/f'/></body>"
                                   b"</opml><rss", 1)
    for data in (opml, bomb):
        records = list(parse_feed_list(data, "list.opml", "run", 0))
        assert [(r.stage, r.reason) for r in records] == [("read", "unsafe_xml")]


@pytest.mark.e2e
def test_feed_with_entity_bomb_is_a_reject_and_the_run_goes_on(tmp_path, server):
    server.routes["/feeds/laughs.xml"] = Route(LAUGHS, content_type="application/rss+xml")
    server.routes["/feeds/quadratic.xml"] = Route(QUADRATIC, content_type="text/xml")
    server.routes["/feeds/xxe.xml"] = Route(_external(server.url("/evil.dtd")),
                                            content_type="application/xml")
    server.routes["/feeds/good.xml"] = _one_item_feed("Good", "Fine", server.url("/ok"))
    server.routes["/ok"] = Route(article_html("Fine"))
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text("\n".join(server.url(f"/feeds/{n}.xml")
                                   for n in ("laughs", "quadratic", "xxe", "good")) + "\n",
                         encoding="utf-8")
    manifest, out = _ingest(tmp_path, "--feeds", str(feed_list), "--allow_hosts", "127.0.0.1")
    assert manifest["status"] == "succeeded" and manifest["invariant"]["holds"]
    rejects = read_table(out, "rejects")
    assert sorted((Path(r["source_uri"]).name, r["stage"], r["reason"]) for r in rejects) == [
        ("laughs.xml", "fetch", "unsafe_xml"), ("quadratic.xml", "fetch", "unsafe_xml"),
        ("xxe.xml", "fetch", "unsafe_xml")]
    assert [a["title"] for a in read_table(out, "articles")] == ["Fine"]
    assert server.hits("/evil.dtd") == 0


# ------------------------------------------------------ decompression bombs


def _gzip_of_zeros(size: int, unit: bytes = b"\0") -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = unit * (1 << 20)
    return b"".join([compressor.compress(block) for _ in range(size >> 20)]
                    + [compressor.flush()])


BOMB = _gzip_of_zeros(256 << 20)  # 256 MiB of zeros in about 250 KB


def test_decompression_rule():
    assert decompression_refusal(1000, 500_000, 100) is None  # under the 1 MiB floor
    assert decompression_refusal(20_000, 1_500_000, 100) is None
    assert "ratio over 100" in decompression_refusal(10_000, 1_500_000, 100)
    assert decompression_refusal(10_000, 1_500_000, 0) is None  # no ratio bound
    assert "over the limit" in decompression_refusal(10_000, 3000, 0, 2000)


@pytest.mark.parametrize("name, prefix, expected", [
    ("bomb.jsonl.gz", gzip.compress(json.dumps({"text": PARA}).encode() + b"\n"),
     {"RawDocument": 1, "Reject:decompression_bomb": 1}),
    ("bomb.html.gz", b"", {"Reject:decompression_bomb": 1}),
    ("bomb.txt.gz", b"", {"Reject:decompression_bomb": 1}),
])
def test_gzip_dump_bombs_are_rejected_early(name, prefix, expected):
    started = time.monotonic()
    records = _records(name, prefix + BOMB)
    assert _outcomes(records) == expected
    bomb = records[-1]
    assert bomb.stage == "read" and "ratio over 100" in bomb.message
    assert time.monotonic() - started < 5  # 256 MiB were not inflated


def test_warc_gz_bomb_is_rejected_within_the_record():
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    size = 256 << 20
    header = _warc_header(1, len(http) + size)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(header + http)]
    parts += [compressor.compress(b"<" * (1 << 20)) for _ in range(size >> 20)]
    parts += [compressor.compress(b"\r\n\r\n"), compressor.flush()]
    records = _records("bomb.warc.gz", gzip.compress(_warc_record(0)) + b"".join(parts))
    assert _outcomes(records) == {"RawDocument": 1, "Reject:decompression_bomb": 1}
    assert records[1].source_position == records[0].source_position  # the last good record


def test_ratio_and_size_bounds_are_options():
    unbounded = CTX._replace(max_decompression_ratio=0)
    assert _outcomes(_records("bomb.txt.gz", BOMB[:200_000], unbounded)) == {
        "Reject:too_large": 1}  # still bounded by --max_document_mb
    jsonl = b"".join(json.dumps({"text": f"{i} {PARA}"}).encode() + b"\n" for i in range(3000))
    assert _outcomes(_records("ok.jsonl.gz", gzip.compress(jsonl))) == {"RawDocument": 3000}
    small = CTX._replace(max_decompressed_bytes=100_000)
    limited = _outcomes(_records("ok.jsonl.gz", gzip.compress(jsonl), small))
    assert limited["Reject:decompression_bomb"] == 1 and 0 < limited["RawDocument"] < 3000


def _fetch_all(config: FetchConfig, urls):
    async def go():
        fetcher = Fetcher(config)
        await fetcher.start()
        try:
            return await asyncio.gather(*(fetcher.fetch_page(u) for u in urls))
        finally:
            await fetcher.close()
    return asyncio.run(go())


def _config(**changes) -> FetchConfig:
    return FetchConfig(user_agent=default_user_agent(), allow=("127.0.0.1",),
                       min_host_delay_s=0.0, timeout_s=10.0, max_body_bytes=200 << 20,
                       max_retries=0)._replace(**changes)


def test_http_bombs_gzip_deflate_br_are_rejected(server):
    page = b"<html><body>" + b" " * (50 << 20) + b"</body></html>"
    deflate = zlib.compressobj(9, zlib.DEFLATED, 15)
    server.routes["/gzip"] = Route(gzip.compress(page, 9), headers={"Content-Encoding": "gzip"})
    server.routes["/deflate"] = Route(deflate.compress(page) + deflate.flush(),
                                      headers={"Content-Encoding": "deflate"})
    server.routes["/br"] = Route(brotli.compress(page), headers={"Content-Encoding": "br"})
    server.routes["/fine"] = Route(article_html("Fine", paragraphs=400), gzip=True)
    results = _fetch_all(_config(), [server.url(p) for p in ("/gzip", "/deflate", "/br",
                                                              "/fine")])
    for result, encoding in zip(results, ("gzip", "deflate", "br")):
        assert result.error == "decompression_bomb", (encoding, result)
        assert "ratio over 100" in result.message and encoding in result.message
        assert not result.transient
    assert results[3].error is None and b"Fine" in results[3].body
    # The bound is an option: without it the same bodies are read whole.
    unbounded = _fetch_all(_config(max_decompression_ratio=0), [server.url("/gzip")])
    assert unbounded[0].error is None and len(unbounded[0].body) == len(page)


# ----------------------------------------------------- WARC lengths that lie


def _warc_header(n: int, length: int) -> bytes:
    return (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://example.org/%d\r\n"
            b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-%012d>\r\n"
            b"WARC-Date: 2024-01-01T00:00:00Z\r\n"
            b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n"
            % (n, n, length))


def _warc_record(n: int, lie: int = 0) -> bytes:
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            + article_html(f"Story {n}"))
    return _warc_header(n, len(http) + lie) + http + b"\r\n\r\n"


def _warc_outcomes(name: str, data: bytes):
    return [(type(r).__name__, getattr(r, "reason", None)) for r in _records(name, data)]


DOC, SHORT, LIES, TRUNC = (("RawDocument", None), ("Reject", "truncated_warc"),
                           ("Reject", "warc_length_mismatch"), ("Reject", "truncated_warc"))


@pytest.mark.parametrize("label, records, plain, gzipped", [
    # Declared shorter than written: the rest is not a record's end.
    ("shorter", [(1, 0), (2, -200), (3, 0)], [DOC, LIES, DOC], [DOC, LIES, DOC]),
    # Declared longer: uncompressed, it swallows the head of the next record,
    # and warcio reads on from the next line it can parse: here the page text
    # of record 3 as an ARC header, rejected as such. Per-record gzip members
    # end it at its member, and record 3 is whole.
    ("longer", [(1, 0), (2, 300), (3, 0)],
     [DOC, LIES, ("Reject", "corrupt_warc")], [DOC, SHORT, DOC]),
    ("longer_than_the_file", [(1, 0), (2, 100_000)], [DOC, SHORT], [DOC, SHORT]),
])
def test_warc_records_whose_length_lies(label, records, plain, gzipped):
    raw = [_warc_record(n, lie) for n, lie in records]
    assert _warc_outcomes(f"{label}.warc", b"".join(raw)) == plain
    assert _warc_outcomes(f"{label}.warc.gz", b"".join(gzip.compress(r) for r in raw)) == gzipped


def test_truncated_warc_files_keep_what_was_whole():
    raw = [_warc_record(n) for n in (1, 2, 3)]
    plain = b"".join(raw)
    assert _warc_outcomes("cut.warc", plain[:-300]) == [DOC, DOC, TRUNC]
    members = b"".join(gzip.compress(r) for r in raw)
    assert _warc_outcomes("cut.warc.gz", members[:-100]) == [DOC, DOC, TRUNC]
    # Cut inside the next record's headers: warcio stops quietly; the tail is a reject.
    assert _warc_outcomes("cut2.warc", plain[: len(raw[0]) + 60]) == [DOC, TRUNC]
    assert _warc_outcomes("cut2.warc.gz", members[: len(gzip.compress(raw[0])) + 40]) == [
        DOC, TRUNC]


# ------------------------------------------- documents, encodings, end to end


def _ingest(tmp_path: Path, *args: str, run_id: str = "hostile"):
    out = tmp_path / "out"
    assert cli.main(["ingest", "--output", str(out), "--run_id", run_id, "--min_host_delay_s",
                     "0", "--fetch_timeout_s", "5", "--retry_backoff_s", "0.05",
                     "--runner", "DirectRunner", *args]) == 0
    return json.loads((out / "_runs" / f"{run_id}.json").read_text(encoding="utf-8")), out


def _write_corpus(folder: Path) -> dict:
    """The hostile files, and what each must end as: {name: [(table, stage/reason)]}."""
    folder.mkdir()
    expected = {}
    with open(folder / "huge.html", "wb") as handle:  # 100 MB
        handle.write(b"<html><body>")
        block = (b"<p>" + PARA.encode() + b"</p>") * 1000
        while handle.tell() < 100 << 20:
            handle.write(block)
        handle.write(b"</body></html>")
    expected["huge.html"] = [("rejects", "read/too_large")]
    # A 10 MB single line: bounded by --max_document_mb, so it is read (as one article).
    (folder / "one_line.txt").write_bytes(PARA.encode() * (10 * 1024 * 1024 // len(PARA)))
    expected["one_line.txt"] = [("articles", "text_dump")]
    line = json.dumps({"text": "x " * (11 << 20)})  # 22 MB, over the 20 MB limit
    (folder / "long_line.jsonl").write_text(line + "\n" + json.dumps({"text": PARA * 3}) + "\n",
                                            encoding="utf-8")
    expected["long_line.jsonl"] = [("rejects", "read/too_large"), ("articles", "plain_text")]
    (folder / "nested.html").write_bytes(
        b"<html><body>" + b"<div>" * 200_000 + f"<p>{PARA * 5}</p>".encode()
        + b"</div>" * 200_000 + b"</body></html>")
    expected["nested.html"] = [("rejects", "extract/no_article_text")]
    rand = random.Random(8)
    garbage = bytes(rand.getrandbits(8) for _ in range(200_000))
    (folder / "garbage.html").write_bytes(garbage)
    expected["garbage.html"] = [("rejects", "extract/undecodable")]
    (folder / "garbage.txt").write_bytes(garbage[::-1])
    expected["garbage.txt"] = [("rejects", "read/undecodable")]
    (folder / "invalid_utf8.jsonl").write_bytes(
        b'{"text": "caf\xe9 \xff\xfe ' + PARA.encode() + b'"}\n'
        + json.dumps({"text": "Second line. " + PARA * 2}).encode() + b"\n")
    expected["invalid_utf8.jsonl"] = [("rejects", "read/invalid_json"),
                                      ("articles", "plain_text")]
    arabic = "قالت السفيرة الأمريكية لدى بغداد إن التنظيم لا يزال يشكل تهديدا في العراق. "
    (folder / "mixed.txt").write_bytes(
        (arabic * 6).encode("utf-8") + b"\n" + "Le maire a présenté le budget de l'année, "
        "très attendu par les élus. ".encode("cp1252") * 6 + b"\n")
    expected["mixed.txt"] = [("articles", "text_dump")]
    (folder / "bomb.jsonl.gz").write_bytes(BOMB)
    expected["bomb.jsonl.gz"] = [("rejects", "read/decompression_bomb")]
    cut = gzip.compress((PARA * 200).encode())
    (folder / "truncated.txt.gz").write_bytes(cut[: len(cut) // 2])
    expected["truncated.txt.gz"] = [("rejects", "read/corrupt_gzip")]
    (folder / "lies.warc").write_bytes(
        _warc_record(1) + _warc_record(2, -200) + _warc_record(3, 100_000))
    expected["lies.warc"] = [("articles", "trafilatura"), ("rejects", "read/warc_length_mismatch"),
                             ("rejects", "read/truncated_warc")]
    (folder / "binary.warc.gz").write_bytes(gzip.compress(b"WARC/1.0\r\n" + garbage[:5000]))
    expected["binary.warc.gz"] = [("rejects", "read/corrupt_warc")]
    # Values that would become paths: language, date, NUL bytes, very long values.
    hostile = [
        {"text": f"Path one. {PARA * 3}", "language": "../../../x", "lang": "../../x",
         "published": "../../etc/passwd", "url": "https://e.org/../../a\x00b",
         "title": "a\x00b/../../c", "source": "../" * 3000, "tags": ["../../t", "\x00"]},
        {"text": f"Path two. {(PARA * 3).upper()}", "published": "2024-01-01T00:00:00\x00/../x",
         "language": "x" * 100_000, "url": "file:///etc/passwd"},
        {"html": f"<html lang='../../x'><body><article><p>Path three. {PARA * 3}</p>"
                 "</article></body></html>", "published": "9999-12-31T23:59:59Z"},
    ]
    (folder / "paths.jsonl").write_text("".join(json.dumps(h) + "\n" for h in hostile),
                                        encoding="utf-8")
    expected["paths.jsonl"] = [("articles", "plain_text"), ("articles", "plain_text"),
                               ("articles", "trafilatura")]
    return expected


@pytest.mark.e2e
def test_hostile_corpus_every_file_ends_as_expected_and_nothing_leaves_output(tmp_path):
    expected = _write_corpus(tmp_path / "in")
    manifest, out = _ingest(tmp_path, "--input", str(tmp_path / "in" / "*"),
                            "--no_near_dedup", "--dedup_window_days", "0")
    assert manifest["status"] == "succeeded" and manifest["invariant"]["holds"]
    found = {}
    for table in ("articles", "duplicates", "rejects"):
        for row in read_table(out, table):
            what = (row["extraction_method"] if table == "articles"
                    else row.get("dup_type") if table == "duplicates"
                    else f"{row['stage']}/{row['reason']}")
            found.setdefault(Path(row["source_uri"]).name, []).append((table, what))
    assert {name: sorted(rows) for name, rows in found.items()} == {
        name: sorted(rows) for name, rows in expected.items()}
    assert manifest["totals"]["inputs"] == sum(len(rows) for rows in expected.values())
    # Nothing from the input became a path: every file is where the contract puts it.
    allowed = re.compile(r"^(articles/dt=\d{4}-\d{2}-\d{2}/lang=[a-z]{2,3}|"
                         r"(duplicates|rejects|_index)/dt=\d{4}-\d{2}-\d{2})/"
                         r"part-hostile-\d{5}\.parquet$|^_runs/hostile\.json$|"
                         r"^_runs/_order/\d{10}\.hostile$|"
                         r"^_state/[a-z_]+\.json$")
    files = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    assert files and all(allowed.match(f) for f in files), [f for f in files if not allowed.match(f)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]
    paths = [a for a in read_table(out, "articles") if a["source_uri"].endswith("paths.jsonl")]
    assert {a["language"] for a in paths} == {"en"}
    assert [a["published"] for a in paths if "/../" in (a["title"] or "")] == [None]
    mixed = [a for a in read_table(out, "articles") if a["source_uri"].endswith("mixed.txt")]
    assert "présenté" in mixed[0]["text"] and "بغداد" in mixed[0]["text"]


def test_memory_per_document_is_bounded():
    """A page that needs more than --extract_memory_mb fails in the child, not the
    worker, and the next page is extracted (the DoFn called directly; the timeout
    case runs on the FnApiRunner in test_transforms.py)."""
    page = (b"<html><body><article>" + (b"<p>" + PARA.encode() + b"</p>") * 60_000
            + b"</article></body></html>")
    small = (b"<html><body><article>" + (b"<p>" + PARA.encode() + b"</p>") * 5
             + b"</article></body></html>")
    fn = _ExtractFn(0, timeout_s=60, memory_limit_mb=120, min_text_chars=100, precise=False)
    fn.setup()
    try:
        outputs = [out for doc_id, payload in (("huge", page), ("small", small))
                   for out in fn.process(RawDocument(doc_id, "html", "mem.html", "byte:0",
                                                     "run", payload, "html"))]
    finally:
        fn.teardown()
    reject = outputs[0].value
    assert (reject.doc_id, reject.stage, reject.reason) == ("huge", "extract", "memory_limit")
    assert outputs[1].article_id == "small"


# ------------------------------------------------ addresses inside the network


def test_loopback_is_refused_unless_allowed_through_the_real_resolver(server):
    server.routes["/a"] = Route(article_html("A"))
    port = server.port
    urls = [f"http://localhost:{port}/a", f"http://127.0.0.1:{port}/a",
            f"http://[::ffff:127.0.0.1]:{port}/a"]
    refused = _fetch_all(_config(allow=()), urls + [f"http://2130706433:{port}/a"])
    assert [r.error for r in refused[:3]] == ["address_refused"] * 3, refused
    assert refused[3].error is not None  # an integer host: refused or unresolvable
    assert server.hits("/a") == 0 and server.log == []
    allowed = _fetch_all(_config(), urls[:2])
    assert [r.error for r in allowed] == [None, None]


def test_redirect_to_a_name_resolving_inside_is_refused(server):
    server.routes["/jump"] = Route(b"", status=302,
                                   headers={"Location": "http://intranet.test/admin"})
    server.routes["/jump-localhost"] = Route(b"", status=302, headers={
        "Location": f"http://localhost:{server.port}/secret"})
    server.routes["/secret"] = Route(article_html("Secret"))
    results = _fetch_all(_config(resolve=(("intranet.test", "10.1.2.3"),), allow=("127.0.0.1",)),
                         [server.url("/jump"), server.url("/jump-localhost")])
    assert results[0].error == "address_refused" and "10.1.2.3" in results[0].message
    # 127.0.0.1 is allowed as a literal; the name localhost resolves to ::1 or
    # 127.0.0.1: only an allowed address may be connected to.
    assert results[1].error in (None, "address_refused")
    if results[1].error is not None:
        assert server.hits("/secret") == 0


@pytest.mark.e2e
def test_feeds_on_loopback_are_refused_by_default(tmp_path, server):
    server.routes["/feed.xml"] = _one_item_feed("F", "A", server.url("/a"))
    server.routes["/a"] = Route(article_html("A"))
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text(f"{server.url('/feed.xml')}\nhttp://localhost:{server.port}/feed.xml\n",
                         encoding="utf-8")
    manifest, out = _ingest(tmp_path, "--feeds", str(feed_list))
    assert manifest["status"] == "succeeded" and manifest["invariant"]["holds"]
    assert manifest["rejects_by_reason"] == {"fetch/address_refused": 2}
    assert server.log == []


def test_decompression_options_reach_the_readers_and_are_checked(tmp_path):
    from apache_beam.options.pipeline_options import PipelineOptions
    from pipelines.options import IngestOptions
    from pipelines.validation import fetch_config
    opts = PipelineOptions(["--max_decompression_ratio", "50", "--max_decompressed_mb", "1",
                            "--max_body_mb", "2"]).view_as(IngestOptions)
    assert fetch_config(opts).max_decompression_ratio == 50
    (tmp_path / "a.txt").write_text(PARA, encoding="utf-8")
    for bad in (["--max_decompression_ratio", "-1"], ["--max_decompressed_mb", "-5"]):
        assert cli.main(["ingest", "--input", str(tmp_path / "a.txt"), "--output",
                         str(tmp_path / "out"), *bad]) == 2
