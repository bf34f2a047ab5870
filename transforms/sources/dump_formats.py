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
import io
import json
import re
import zlib
from typing import IO, Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

from warcio.archiveiterator import ArchiveIterator

from schemas.records import Duplicate, RawDocument, Reject
from transforms.extract.dates import parse_timestamp
from transforms.sources.decompression import DEFAULT_MAX_RATIO, DecompressionBomb, decompression_refusal
from transforms.sources.decode import UndecodableError, charset_from_content_type, decode_text
from transforms.extract.normalize import stable_id
from transforms.extract.text_dump import split_page

STAGE = "read"
GZIP_MAGIC = b"\x1f\x8b"
LZ4_MAGIC = b"\x04\x22\x4d\x18"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
FORMATS = ("warc", "jsonl", "html", "text_dump")


class Skipped(NamedTuple):
    """A record that is no input (a WARC request, say), counted by kind."""
    source_uri: str
    kind: str


class ReadContext(NamedTuple):
    run_id: str
    ingested_at: int
    max_document_bytes: int
    # A gzip file whose output outgrows its input this many times (0: no
    # bound), or whose output passes `max_decompressed_bytes`, is a bomb.
    max_decompression_ratio: float = DEFAULT_MAX_RATIO
    max_decompressed_bytes: int = 10 * 1024 ** 3


Record = Union[RawDocument, Reject, Duplicate, Skipped]


class InputTooLarge(ValueError):
    pass


class _Guard:
    """Counts what a decompressor reads and writes; raises on a bomb.

    `compressed` wraps the raw file (every byte the decompressor takes in);
    `decompressed` wraps what it gives out. WARC files are decompressed by
    warcio itself, which reports its output through `output_count`.
    """

    def __init__(self, ctx: ReadContext, output_count: Optional[Callable[[], int]] = None):
        self._ratio = ctx.max_decompression_ratio
        self._limit = ctx.max_decompressed_bytes
        self._output_count = output_count
        self.read_in = 0
        self.given_out = 0

    def check(self) -> None:
        out = self._output_count() if self._output_count is not None else self.given_out
        refusal = decompression_refusal(self.read_in, out, self._ratio, self._limit)
        if refusal is not None:
            raise DecompressionBomb(refusal)

    def compressed(self, raw: IO[bytes]) -> "_Counted":
        return _Counted(raw, self, "read_in")

    def decompressed(self, stream: IO[bytes]) -> "_Counted":
        return _Counted(stream, self, "given_out")


class _Counted(io.RawIOBase):
    """A read-only stream that counts its bytes into a `_Guard` and checks it."""

    def __init__(self, inner: IO[bytes], guard: _Guard, field: str):
        super().__init__()
        self._inner = inner
        self._guard = guard
        self._field = field

    def readable(self) -> bool:
        return True

    def _count(self, data: bytes) -> bytes:
        setattr(self._guard, self._field, getattr(self._guard, self._field) + len(data))
        self._guard.check()
        return data

    def read(self, size: int = -1) -> bytes:
        return self._count(self._inner.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._count(self._inner.readline(size))

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self._inner.tell()


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
            yield _file_reject(ctx, "empty_file", "the file is empty", name)
            return
        if magic.startswith((LZ4_MAGIC, ZSTD_MAGIC)):
            codec = "lz4" if magic.startswith(LZ4_MAGIC) else "zstd"
            yield _file_reject(ctx, "unsupported_compression",
                               f"{codec} compression is not supported: use gzip or none", name)
            return
        try:
            raw.seek(0)
            head = (gzip.GzipFile(fileobj=raw) if compressed else raw).read(1024)
        except (OSError, EOFError, zlib.error) as error:
            yield _file_reject(ctx, "corrupt_gzip", f"cannot decompress: {error}", name)
            return
    fmt = sniff_format(name, head)
    with open_file() as raw:
        if fmt == "warc":
            yield from _warc_records(name, raw, ctx, compressed)
            return
        guard = _Guard(ctx)
        stream = guard.decompressed(gzip.GzipFile(fileobj=guard.compressed(raw))) \
            if compressed else raw
        try:
            if fmt == "jsonl":
                yield from _jsonl_records(name, stream, ctx)
            else:
                yield from _whole_file_records(name, fmt, stream, ctx)
        except DecompressionBomb as error:
            yield _file_reject(ctx, "decompression_bomb", f"{error}; the rest is not read",
                               name, f"byte:{guard.read_in}",
                               "jsonl" if fmt == "jsonl" else "file")


def _file_reject(ctx: ReadContext, reason: str, message: str, name: str,
                 position: str = "byte:0", kind: str = "file") -> Reject:
    return Reject(None, STAGE, reason, message, None, kind, name, position,
                  ctx.run_id, ctx.ingested_at)


def _read_bounded(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(f"over the limit of {limit} bytes")
    return data


def _whole_file_records(name: str, fmt: str, stream: IO[bytes],
                        ctx: ReadContext) -> Iterator[Record]:
    """An HTML file is one record; a text dump is one record per article in it."""
    kind = "html" if fmt == "html" else "text_dump"
    try:
        data = _read_bounded(stream, ctx.max_document_bytes)
    except InputTooLarge as error:
        yield _file_reject(ctx, "too_large", str(error), name, kind=kind)
        return
    except (OSError, EOFError, zlib.error) as error:
        yield _file_reject(ctx, "corrupt_gzip", f"cannot decompress: {error}", name, kind=kind)
        return
    if not data.strip():
        yield _file_reject(ctx, "empty_file", "the file holds only white space", name, kind=kind)
        return
    if fmt == "html":
        yield RawDocument(stable_id(name, "byte:0"), kind, name, "byte:0", ctx.run_id,
                          data, "html")
        return
    try:
        text = decode_text(data)
    except UndecodableError as error:
        yield _file_reject(ctx, "undecodable", str(error), name, kind=kind)
        return
    page = split_page(text)
    if not page.segments:
        yield _file_reject(ctx, "no_article_text", "the dump holds no article text", name,
                           kind=kind)
        return
    for segment in page.segments:
        position = f"line:{segment.start_line}"
        yield RawDocument(stable_id(name, position), kind, name, position, ctx.run_id,
                          segment.text.encode("utf-8"), "dump", title=segment.title,
                          source_name=page.source_name)


def _iter_lines(stream: IO[bytes], limit: int) -> Iterator[Tuple[int, Optional[bytes]]]:
    """Numbered lines; a line over `limit` bytes comes as None and is skipped over."""
    number = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(1 << 20)
            yield number, None
            continue
        yield number, line


_JSON_FIELDS = {
    "html": ("html", "raw_html"),
    "text": ("text", "content", "body", "maintext", "article"),
    "title": ("title", "headline"),
    "published": ("published", "date", "published_at", "pubdate", "date_publish"),
    "tags": ("tags", "keywords", "categories"),
    "authors": ("authors", "author"),
    "source_name": ("source", "source_name", "site", "site_name"),
    "language": ("language", "lang"),
    "description": ("description", "summary"),
    "url": ("url",),
}
# What each field may hold: a string, or for these a list too (of strings),
# or for the date a number (seconds since the epoch) too.
_LIST_FIELDS = frozenset({"tags", "authors"})
_NUMBER_FIELDS = frozenset({"published"})


def _field(obj: Dict[str, Any], name: str) -> Any:
    return _keyed_field(obj, name)[1]


def _keyed_field(obj: Dict[str, Any], name: str) -> Tuple[Optional[str], Any]:
    """(key, value) of the first key of a field that holds a value."""
    for key in _JSON_FIELDS[name]:
        value = obj.get(key)
        if value not in (None, "", []):
            return key, value
    return None, None


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def jsonl_field_problem(obj: Dict[str, Any]) -> Optional[str]:
    """Why a field of a JSONL object cannot be read, naming the field, or None.

    A value of the wrong type is refused rather than turned into text: a
    ``url`` given as an object would otherwise be stored as its Python repr.
    """
    for name in _JSON_FIELDS:
        key, value = _keyed_field(obj, name)
        if key is None or isinstance(value, str):
            continue
        if name in _NUMBER_FIELDS and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            continue
        if name in _LIST_FIELDS and isinstance(value, list):
            bad = next((v for v in value if not isinstance(v, str)), None)
            if bad is None:
                continue
            return f"field {key!r} holds {_type_name(bad)}; expected strings"
        expected = ("a string or a list of strings" if name in _LIST_FIELDS
                    else "a string or a number" if name in _NUMBER_FIELDS else "a string")
        return f"field {key!r} is {_type_name(value)}; expected {expected}"
    return None


def _string_list(value: Any) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _optional_str(value: Any) -> Optional[str]:
    return str(value).strip() or None if value is not None else None


def _jsonl_records(name: str, stream: IO[bytes], ctx: ReadContext) -> Iterator[Record]:
    kind = "jsonl"
    try:
        for number, line in _iter_lines(stream, ctx.max_document_bytes):
            position = f"line:{number}"
            if line is None:
                yield _file_reject(ctx, "too_large", "line over the document size limit",
                                   name, position, kind)
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except Exception as error:  # RecursionError too: a reject, not the file's end
                reason = str(error)[:300] if isinstance(error, ValueError) else \
                    f"{type(error).__name__}: {str(error)[:200]}"
                yield _file_reject(ctx, "invalid_json", reason, name, position, kind)
                continue
            if not isinstance(obj, dict):
                yield _file_reject(ctx, "invalid_json",
                                   f"a line holds a JSON {type(obj).__name__}, not an object",
                                   name, position, kind)
                continue
            yield _jsonl_document(obj, name, position, ctx)
    except (OSError, EOFError, zlib.error) as error:
        yield _file_reject(ctx, "corrupt_gzip", f"cannot decompress the rest: {error}",
                           name, "end", kind)


def _jsonl_document(obj: Dict[str, Any], name: str, position: str,
                    ctx: ReadContext) -> Record:
    html, text = _field(obj, "html"), _field(obj, "text")
    url = obj.get("url") if isinstance(obj.get("url"), str) else None
    problem = jsonl_field_problem(obj)
    if problem is not None:
        return Reject(stable_id(name, position), STAGE, "invalid_field", problem, url,
                      "jsonl", name, position, ctx.run_id, ctx.ingested_at)
    url = _optional_str(url)
    if not isinstance(html, str) and not isinstance(text, str):
        return Reject(stable_id(name, position), STAGE, "missing_content",
                      "the object has no string 'html' or 'text' field", url, "jsonl",
                      name, position, ctx.run_id, ctx.ingested_at)
    payload, fmt = (html, "html") if isinstance(html, str) else (text, "text")
    published = _field(obj, "published")
    return RawDocument(
        stable_id(name, position), "jsonl", name, position, ctx.run_id,
        payload.encode("utf-8", errors="replace"), fmt, url=url, charset="utf-8",
        title=_optional_str(_field(obj, "title")),
        published=_published(published),
        authors=_string_list(_field(obj, "authors")), tags=_string_list(_field(obj, "tags")),
        source_name=_optional_str(_field(obj, "source_name")),
        declared_language=_optional_str(_field(obj, "language")),
        description=_optional_str(_field(obj, "description")))


def _published(value: Any) -> Optional[int]:
    """A JSONL date in UTC microseconds: a date string, or seconds since the epoch."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            return int(float(value) * 1_000_000)
        except (OverflowError, ValueError):
            return None
    return parse_timestamp(value)


_PAGE_RECORD_TYPES = ("response",)
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _warc_records(name: str, raw: IO[bytes], ctx: ReadContext,
                  compressed: bool = False) -> Iterator[Record]:
    """Response records with HTML become documents; revisits are duplicates."""
    kind = "warc"
    iterator = None
    source = raw
    if compressed:  # warcio decompresses: its reader counts the output
        guard = _Guard(ctx, lambda: iterator.reader.num_read if iterator is not None else 0)
        raw = guard.compressed(raw)
    iterator = ArchiveIterator(raw, arc2warc=True)
    offset = end = 0
    try:
        warnings = 0
        for record in iterator:
            target = record.rec_headers.get_header("WARC-Target-URI")
            if target and not _URI_SCHEME.match(target):  # warcio resynced inside a body
                result: Record = Reject(
                    "", STAGE, "corrupt_warc", "a record whose target is no URI: bytes after a "
                    "record whose length lies, read as a header", None, kind, name, "",
                    ctx.run_id, ctx.ingested_at)
            elif record.rec_type == "revisit":
                result = _revisit(record, name, ctx)
            elif record.rec_type in _PAGE_RECORD_TYPES:
                result = _warc_response(record, name, ctx)
            elif not record.rec_type:  # garbage read as headers: not a record at all
                result = Reject("", STAGE, "corrupt_warc", "a record without a WARC-Type",
                                None, kind, name, "", ctx.run_id, ctx.ingested_at)
            else:
                result = Skipped(name, f"warc_{record.rec_type}")
            # Asked only now: warcio reads the record to its end to answer.
            offset = iterator.get_record_offset()
            end = offset + iterator.get_record_length()
            mismatch = _length_mismatch(record, iterator.err_count > warnings)
            warnings = iterator.err_count
            if mismatch is not None:  # the body read is not the record that was written
                result = Reject("", STAGE, mismatch[0], mismatch[1],
                                record.rec_headers.get_header("WARC-Target-URI"), kind, name,
                                "", ctx.run_id, ctx.ingested_at)
            yield _placed(result, name, f"byte:{offset}")
        left = _unread_tail(source, end)
        if left:  # warcio ends quietly at a record cut inside its headers
            yield _file_reject(ctx, "truncated_warc", f"{left} bytes after the last whole "
                               "record are no whole record (a truncated file)", name,
                               f"byte:{end}", kind)
    except DecompressionBomb as error:
        yield _file_reject(ctx, "decompression_bomb", f"{error}; the rest is not read",
                           name, f"byte:{offset}", kind)
    except Exception as error:  # warcio raises many types on corrupt input
        yield _file_reject(ctx, "corrupt_warc",
                           f"{type(error).__name__}: {' '.join(str(error).split())[:300]}",
                           name, f"byte:{offset}", kind)


def _unread_tail(raw: IO[bytes], end: int) -> int:
    """How many bytes past `end` (where the last whole record ended) hold more
    than the blank lines that may close a file; 0 when it cannot be told."""
    try:
        size = raw.seek(0, io.SEEK_END)
        raw.seek(end)
        tail = raw.read(64 * 1024)
    except (OSError, ValueError, AttributeError):  # a stream that cannot seek
        return 0
    return size - end if tail.strip(b"\r\n") else 0


def _length_mismatch(record, not_followed_by_blank_line: bool) -> Optional[Tuple[str, str]]:
    """(reason, message) when a WARC record's declared Content-Length does not
    fit its bytes (``truncated_warc``, ``warc_length_mismatch``), else None.

    warcio reads exactly the declared length. If the file ends first, the
    block is cut short (a truncated file, or a length that claims more); if
    what follows the block is not the blank lines that end a record, the
    length claims less than was written (warcio only prints a warning).
    """
    declared = record.length
    left = getattr(record.raw_stream, "limit", 0)
    if left and left > 0:
        return ("truncated_warc", f"Content-Length {declared} but the file ends {left} "
                "bytes short of it (truncated, or the length lies)")
    if not_followed_by_blank_line:
        return ("warc_length_mismatch", f"Content-Length {declared} is not followed by the "
                "blank lines that end a record: the length lies")
    return None


def _placed(result: Record, name: str, position: str) -> Record:
    """Sets where in its file a WARC record was, and the id that follows from it."""
    if isinstance(result, Skipped):
        return result
    return result._replace(source_position=position, doc_id=stable_id(name, position))


def _warc_response(record, name: str, ctx: ReadContext) -> Record:
    """A response as a document (or reject); `_placed` sets its position."""
    url = record.rec_headers.get_header("WARC-Target-URI")
    doc_id, position = "", ""
    http = record.http_headers
    status = http.get_statuscode() if http is not None else None
    content_type = (http.get_header("Content-Type") if http is not None else None) or ""
    if status and not str(status).startswith("2"):
        return Reject(doc_id, STAGE, "http_status", f"HTTP status {status}", url, "warc",
                      name, position, ctx.run_id, ctx.ingested_at)
    try:
        body = _read_bounded(record.content_stream(), ctx.max_document_bytes)
    except InputTooLarge as error:
        return Reject(doc_id, STAGE, "too_large", str(error), url, "warc", name, position,
                      ctx.run_id, ctx.ingested_at)
    lowered = content_type.lower()
    if not ("html" in lowered or (not lowered and body.lstrip()[:1] == b"<")):
        return Reject(doc_id, STAGE, "unsupported_content_type",
                      f"content type {content_type or 'missing'} is not HTML", url, "warc",
                      name, position, ctx.run_id, ctx.ingested_at)
    return RawDocument(doc_id, "warc", name, position, ctx.run_id, body, "html", url=url,
                       charset=charset_from_content_type(content_type),
                       fetched_at=parse_timestamp(record.rec_headers.get_header("WARC-Date")))


def _revisit(record, name: str, ctx: ReadContext) -> Duplicate:
    headers = record.rec_headers
    position = ""
    target = headers.get_header("WARC-Refers-To-Target-URI") or headers.get_header(
        "WARC-Target-URI")
    return Duplicate("", None, target, "revisit", 1.0, None,
                     headers.get_header("WARC-Target-URI"), None,
                     headers.get_header("WARC-Payload-Digest"), None, "warc", name, position,
                     ctx.run_id, ctx.ingested_at)
