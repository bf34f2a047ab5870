"""Splitting dump files into input records: plain-text dumps, HTML, JSONL, WARC.

`read_records` sniffs a file's compression and format from its name and first
bytes and yields, for every input it holds, exactly one `RawDocument`, a
`Reject` (it could not be read) or a `Duplicate` (a WARC revisit record).
WARC records that hold no page (request, metadata, warcinfo, ...) are no
inputs: they are yielded as `Skipped` and counted.

JSONL objects may carry (see the README): ``url``; ``html`` or one of ``text``,
``content``, ``body``; ``title``; ``published`` (or ``date``, ``published_at``,
``pubdate``); ``tags`` (or ``keywords``, ``categories``: a list or a comma
separated string); ``authors`` (or ``author``); ``source`` (or ``source_name``,
``site``); ``language`` (or ``lang``).
"""
from __future__ import annotations

import gzip
import zlib
from typing import IO, Callable, Iterator

from schemas.records import RawDocument
from transforms.sources.decompression import DecompressionBomb
from transforms.sources.decode import UndecodableError, decode_text
from transforms.extract.normalize import stable_id
from transforms.extract.text_dump import split_page
from schemas.contexts import ReadContext
from transforms.sources.dump_io import InputTooLarge, Record, DecompressionGuard, file_reject, read_bounded
from transforms.sources.jsonl import jsonl_records
from transforms.sources.warc import warc_records


GZIP_MAGIC = b"\x1f\x8b"
LZ4_MAGIC = b"\x04\x22\x4d\x18"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
FORMATS = ("warc", "jsonl", "html", "text_dump")


def sniff_format(name: str, head: bytes) -> str:
    """The format of a file from its (decompressed) first bytes, then its name."""
    lowered = name.lower()
    for suffix in (".gz", ".gzip"):
        if lowered.endswith(suffix):
            lowered = lowered[: -len(suffix)]
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:512]
    if start.startswith(b"WARC/") or lowered.endswith((".warc", ".arc")):
        return "warc"
    if start[:1] == b"{" or lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    low = start.lower()
    if low.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in low \
            or lowered.endswith((".html", ".htm", ".xhtml")):
        return "html"
    return "text_dump"


def read_records(name: str, open_file: Callable[[], IO[bytes]],
                 ctx: ReadContext) -> Iterator[Record]:
    """Every input record of one file, whatever its format and compression.

    `open_file` opens the file afresh: the first opening only sniffs its
    first bytes, the second reads it (WARC readers want the raw stream).
    """
    with open_file() as raw:
        magic = raw.read(4)
        compressed = magic.startswith(GZIP_MAGIC)
        if not magic:
            yield file_reject(ctx, "empty_file", "the file is empty", name)
            return
        if magic.startswith((LZ4_MAGIC, ZSTD_MAGIC)):
            codec = "lz4" if magic.startswith(LZ4_MAGIC) else "zstd"
            yield file_reject(ctx, "unsupported_compression",
                               f"{codec} compression is not supported: use gzip or none", name)
            return
        try:
            raw.seek(0)
            head = (gzip.GzipFile(fileobj=raw) if compressed else raw).read(1024)
        except (OSError, EOFError, zlib.error) as error:
            yield file_reject(ctx, "corrupt_gzip", f"cannot decompress: {error}", name)
            return
    fmt = sniff_format(name, head)
    with open_file() as raw:
        if fmt == "warc":
            yield from warc_records(name, raw, ctx, compressed)
            return
        guard = DecompressionGuard(ctx)
        stream = guard.decompressed(gzip.GzipFile(fileobj=guard.compressed(raw))) \
            if compressed else raw
        try:
            if fmt == "jsonl":
                yield from jsonl_records(name, stream, ctx)
            else:
                yield from _whole_file_records(name, fmt, stream, ctx)
        except DecompressionBomb as error:
            yield file_reject(ctx, "decompression_bomb", f"{error}; the rest is not read",
                               name, f"byte:{guard.read_in}",
                               "jsonl" if fmt == "jsonl" else "file")


def _whole_file_records(name: str, fmt: str, stream: IO[bytes],
                        ctx: ReadContext) -> Iterator[Record]:
    """An HTML file is one record; a text dump is one record per article in it."""
    kind = "html" if fmt == "html" else "text_dump"
    try:
        data = read_bounded(stream, ctx.max_document_bytes)
    except InputTooLarge as error:
        yield file_reject(ctx, "too_large", str(error), name, kind=kind)
        return
    except (OSError, EOFError, zlib.error) as error:
        yield file_reject(ctx, "corrupt_gzip", f"cannot decompress: {error}", name, kind=kind)
        return
    if not data.strip():
        yield file_reject(ctx, "empty_file", "the file holds only white space", name, kind=kind)
        return
    if fmt == "html":
        yield RawDocument(stable_id(name, "byte:0"), kind, name, "byte:0", ctx.run_id,
                          data, "html")
        return
    try:
        text = decode_text(data)
    except UndecodableError as error:
        yield file_reject(ctx, "undecodable", str(error), name, kind=kind)
        return
    page = split_page(text)
    if not page.segments:
        yield file_reject(ctx, "no_article_text", "the dump holds no article text", name,
                           kind=kind)
        return
    for segment in page.segments:
        position = f"line:{segment.start_line}"
        yield RawDocument(stable_id(name, position), kind, name, position, ctx.run_id,
                          segment.text.encode("utf-8"), "dump", title=segment.title,
                          source_name=page.source_name)
