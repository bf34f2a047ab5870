"""Splitting files into input records: every input is one document, reject or duplicate."""
from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from schemas.records import Duplicate, RawDocument, Reject
from tests.conftest import SEEDS
from schemas.contexts import ReadContext, Skipped
from transforms.sources.dump_formats import read_records, sniff_format

CTX = ReadContext("test-run", 1_700_000_000_000_000, 1 << 20)


def _records(name: str, data: bytes, ctx: ReadContext = CTX):
    return list(read_records(name, lambda: io.BytesIO(data), ctx))


def _kinds(records):
    return Counter(type(r).__name__ if not isinstance(r, Reject) else f"Reject:{r.reason}"
                   for r in records)


def test_sniffing_prefers_content_over_name():
    assert sniff_format("page.txt", b"<!DOCTYPE html><html>") == "html"
    assert sniff_format("x.bin", b"WARC/1.0\r\n") == "warc"
    assert sniff_format("lines.txt", b'{"url": 1}') == "jsonl"
    assert sniff_format("a.jsonl.gz", b"") == "jsonl"
    assert sniff_format("dump.txt", "قالت".encode()) == "text_dump"


def test_text_dump_gives_one_document_per_article_with_line_positions():
    data = (SEEDS / "rt-arabic-dump.txt").read_bytes()
    docs = _records("seeds/rt-arabic-dump.txt", data)
    assert [type(d) for d in docs] == [RawDocument, RawDocument]
    assert [d.source_position for d in docs][0] == "line:1"
    assert docs[1].title == "مسؤول أمريكي: الدولة المركزية بسوريا ستدفع واشنطن لدعم قسد"
    assert {d.source_name for d in docs} == {"RT Arabic"}
    assert len({d.doc_id for d in docs}) == 2


def test_gzip_is_sniffed_from_bytes_not_name():
    data = gzip.compress((SEEDS / "rt-arabic-dump.txt").read_bytes())
    assert _kinds(_records("dump.txt", data)) == {"RawDocument": 2}


def test_jsonl_fields_bad_lines_and_positions():
    lines = [
        json.dumps({"url": "https://a.example/1", "text": "body one", "title": "One",
                    "published": "2024-05-01T10:00:00Z", "tags": "x, y", "source": "A",
                    "lang": "en", "authors": ["Ann"]}),
        "{not json",
        json.dumps(["a", "list"]),
        "",
        json.dumps({"url": "https://a.example/2", "title": "no body"}),
        json.dumps({"html": "<html><body><p>hi</p></body></html>"}),
    ]
    records = _records("feed.jsonl", "\n".join(lines).encode())
    assert _kinds(records) == {"RawDocument": 2, "Reject:invalid_json": 2,
                               "Reject:missing_content": 1}
    first = records[0]
    assert (first.url, first.title, first.tags, first.source_name, first.declared_language,
            first.authors, first.payload_format) == (
        "https://a.example/1", "One", ["x", "y"], "A", "en", ["Ann"], "text")
    assert first.published == 1714557600000000
    assert [r.source_position for r in records] == ["line:1", "line:2", "line:3", "line:5",
                                                    "line:6"]
    assert records[-1].payload_format == "html"


def test_jsonl_reads_description_and_rejects_fields_of_the_wrong_type():
    lines = [
        json.dumps({"url": "https://a.example/1", "text": "body", "description": "The gist",
                    "published": 1714557600}),
        json.dumps({"url": {"nested": 1}, "text": "body"}),
        json.dumps({"url": "https://a.example/3", "text": "body", "title": ["a", "b"]}),
        json.dumps({"url": "https://a.example/4", "text": "body", "tags": ["ok", {"x": 1}]}),
        json.dumps({"url": "https://a.example/5", "html": 42}),
    ]
    first, nested, title, tags, html = _records("typed.jsonl", "\n".join(lines).encode())
    assert isinstance(first, RawDocument)
    assert first.description == "The gist" and first.published == 1714557600000000
    for reject, field in ((nested, "url"), (title, "title"), (tags, "tags"), (html, "html")):
        assert isinstance(reject, Reject) and reject.reason == "invalid_field"
        assert f"field '{field}'" in reject.message
    assert "an object" in nested.message and nested.url is None
    assert title.url == "https://a.example/3"


def test_oversized_jsonl_line_is_rejected_and_the_next_line_still_read():
    small = ReadContext("r", 0, 100)
    data = (json.dumps({"text": "x" * 500}) + "\n" + json.dumps({"text": "ok"}) + "\n").encode()
    records = _records("big.jsonl", data, small)
    assert _kinds(records) == {"Reject:too_large": 1, "RawDocument": 1}
    assert records[1].source_position == "line:2"


def test_empty_and_blank_files_are_rejects():
    assert _kinds(_records("empty.txt", b"")) == {"Reject:empty_file": 1}
    assert _kinds(_records("blank.txt", b"  \n\n ")) == {"Reject:empty_file": 1}
    assert _kinds(_records("blank.html", b"\n")) == {"Reject:empty_file": 1}


def test_truncated_gzip_keeps_what_was_read_and_rejects_the_rest():
    lines = "".join(json.dumps({"text": f"article number {i} " * 20}) + "\n" for i in range(200))
    data = gzip.compress(lines.encode())
    records = _records("cut.jsonl.gz", data[: len(data) // 2])
    kinds = _kinds(records)
    assert kinds["Reject:corrupt_gzip"] == 1
    assert 0 < kinds["RawDocument"] < 200
    dump = gzip.compress((SEEDS / "rt-arabic-dump.txt").read_bytes())
    assert _kinds(_records("cut.txt.gz", dump[: len(dump) // 2])) == {"Reject:corrupt_gzip": 1}


def test_oversized_html_file_is_rejected_before_it_is_read_whole():
    small = ReadContext("r", 0, 1000)
    assert _kinds(_records("huge.html", b"<html>" + b"a" * 5000, small)) == {
        "Reject:too_large": 1}


def test_lz4_is_a_clear_reject():
    records = _records("x.warc.lz4", b"\x04\x22\x4d\x18rest")
    assert _kinds(records) == {"Reject:unsupported_compression": 1}
    assert "gzip" in records[0].message


def _file_records(path: Path):
    return list(read_records(str(path), lambda: open(path, "rb"), CTX))


def test_real_common_crawl_warc(shared_data):
    path = shared_data / "warc" / "resiliparse" / "warcfile.warc.gz"
    records = _file_records(path)
    docs = [r for r in records if isinstance(r, RawDocument)]
    assert len(docs) == 16
    assert all(d.url.startswith("http") and d.payload.lstrip(b"\xef\xbb\xbf \r\n")[:1] == b"<" for d in docs)
    assert len({d.source_position for d in docs}) == 16
    assert Counter(r.kind for r in records if isinstance(r, Skipped)) == {
        "warc_request": 17, "warc_metadata": 16, "warc_warcinfo": 1}


def test_warc_revisit_is_a_duplicate(shared_data):
    records = _file_records(shared_data / "warc" / "warcio" / "data" / "example.warc.gz")
    revisits = [r for r in records if isinstance(r, Duplicate)]
    assert len(revisits) == 1 and revisits[0].dup_type == "revisit"
    assert revisits[0].duplicate_of_url.startswith("http://example.com")


# Every file of warcio's test data, with exactly what it gives: the broken
# ones end in rejects whose reasons say what is wrong, and nothing is lost.
WARCIO_FILES = {
    "bad.arc": {"Reject:unsupported_content_type": 3, "Skipped:warc_warcinfo": 1},
    "example-bad-non-chunked.warc.gz": {"Reject:corrupt_warc": 1, "Skipped:warc_warcinfo": 1},
    "example-bad.warc.gz.bad": {"Reject:corrupt_warc": 1, "Skipped:warc_warcinfo": 1},
    "example-digest.warc": {"Skipped:warc_request": 4},
    "example-iana.org-chunked.warc": {"RawDocument": 1, "Skipped:warc_request": 1,
                                      "Skipped:warc_warcinfo": 1},
    "example-resource.warc.gz": {"Skipped:warc_resource": 1, "Skipped:warc_warcinfo": 2},
    "example-space-in-target-uri.warc.gz": {"Skipped:warc_resource": 1,
                                            "Skipped:warc_warcinfo": 1},
    # Its ARC header declares 1591 bytes; the file holds 48 fewer.
    "example-space-in-url.arc": {"Reject:truncated_warc": 1, "Skipped:warc_warcinfo": 1},
    "example-trunc.warc": {"Reject:warc_length_mismatch": 1, "Skipped:warc_request": 1,
                           "Skipped:warc_warcinfo": 2},
    "example-wget-bad-target-uri.warc.gz": {
        "RawDocument": 1, "Skipped:warc_metadata": 1, "Skipped:warc_request": 1,
        "Skipped:warc_resource": 2, "Skipped:warc_warcinfo": 1},
    "example-wrong-chunks.warc.gz": {"Reject:corrupt_warc": 1, "Reject:truncated_warc": 1},
    "example.arc": {"RawDocument": 1, "Skipped:warc_warcinfo": 1},
    "example.arc.gz": {"RawDocument": 1, "Skipped:warc_warcinfo": 1},
    "example.warc": {"Duplicate": 1, "RawDocument": 1, "Skipped:warc_request": 2,
                     "Skipped:warc_warcinfo": 2},
    "example.warc.gz": {"Duplicate": 1, "RawDocument": 1, "Skipped:warc_request": 2,
                        "Skipped:warc_warcinfo": 2},
    "post-test.warc.gz": {"Reject:unsupported_content_type": 3, "Skipped:warc_request": 3},
}


def _outcomes(records):
    return dict(Counter(
        f"Reject:{r.reason}" if isinstance(r, Reject) else
        f"Skipped:{r.kind}" if isinstance(r, Skipped) else type(r).__name__ for r in records))


@pytest.mark.parametrize("name", sorted(WARCIO_FILES))
def test_warcio_test_files_give_exactly_these_outcomes(shared_data, name):
    records = _file_records(shared_data / "warc" / "warcio" / "data" / name)
    assert _outcomes(records) == WARCIO_FILES[name]


def test_every_warcio_test_file_is_listed(shared_data):
    folder = shared_data / "warc" / "warcio" / "data"
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == sorted(WARCIO_FILES)


def test_every_warc_file_splits_without_raising(shared_data):
    for path in sorted((shared_data / "warc").rglob("*")):
        if path.is_file() and path.name != "LICENSE":
            records = _file_records(path)
            assert all(isinstance(r, (RawDocument, Reject, Duplicate, Skipped))
                       for r in records), path
