"""WARC and ARC files: response records become documents, revisits duplicates.

Read with warcio, gzip per record, tolerant of the broken files crawlers write:
a record whose length does not match is a reject at its byte offset, and the
reading goes on after it where it can.
"""
from __future__ import annotations

import io
import re
from typing import IO, Iterator, Optional, Tuple

from warcio.archiveiterator import ArchiveIterator

from schemas.records import Duplicate, RawDocument, Reject
from transforms.extract.dates import parse_timestamp
from transforms.sources.decompression import DecompressionBomb
from transforms.sources.decode import charset_from_content_type
from transforms.extract.normalize import stable_id
from schemas.contexts import ReadContext, Skipped
from transforms.sources.dump_io import (InputTooLarge, Record, STAGE, DecompressionGuard, file_reject,
                                        read_bounded)


_PAGE_RECORD_TYPES = ("response",)
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def warc_records(name: str, raw: IO[bytes], ctx: ReadContext,
                  compressed: bool = False) -> Iterator[Record]:
    """Response records with HTML become documents; revisits are duplicates."""
    kind = "warc"
    iterator = None
    source = raw
    if compressed:  # warcio decompresses: its reader counts the output
        guard = DecompressionGuard(ctx, lambda: iterator.reader.num_read if iterator is not None else 0)
        raw = guard.compressed(raw)
    iterator = ArchiveIterator(raw, arc2warc=True)
    offset = end = 0
    try:
        warnings = 0
        for record in iterator:
            target = record.rec_headers.get_header("WARC-Target-URI")
            if target and not _URI_SCHEME.match(target):  # warcio resynced inside a body
                result: Record = Reject(doc_id="", stage=STAGE, reason="corrupt_warc",
                                        message="a record whose target is no URI: bytes after "
                                                "a record whose length lies, read as a header",
                                        url=None, source_kind=kind, source_uri=name,
                                        source_position="", run_id=ctx.run_id,
                                        ingested_at=ctx.ingested_at)
            elif record.rec_type == "revisit":
                result = _revisit(record, name, ctx)
            elif record.rec_type in _PAGE_RECORD_TYPES:
                result = _warc_response(record, name, ctx)
            elif not record.rec_type:  # garbage read as headers: not a record at all
                result = Reject(doc_id="", stage=STAGE, reason="corrupt_warc",
                                message="a record without a WARC-Type", url=None, source_kind=kind,
                                source_uri=name, source_position="", run_id=ctx.run_id,
                                ingested_at=ctx.ingested_at)
            else:
                result = Skipped(name, f"warc_{record.rec_type}")
            # Asked only now: warcio reads the record to its end to answer.
            offset = iterator.get_record_offset()
            end = offset + iterator.get_record_length()
            mismatch = _length_mismatch(record, iterator.err_count > warnings)
            warnings = iterator.err_count
            if mismatch is not None:  # the body read is not the record that was written
                result = Reject(doc_id="", stage=STAGE, reason=mismatch[0], message=mismatch[1],
                                url=record.rec_headers.get_header("WARC-Target-URI"),
                                source_kind=kind, source_uri=name, source_position="",
                                run_id=ctx.run_id, ingested_at=ctx.ingested_at)
            yield _placed(result, name, f"byte:{offset}")
        left = _unread_tail(source, end)
        if left:  # warcio ends quietly at a record cut inside its headers
            yield file_reject(ctx, "truncated_warc", f"{left} bytes after the last whole "
                               "record are no whole record (a truncated file)", name,
                               f"byte:{end}", kind)
    except DecompressionBomb as error:
        yield file_reject(ctx, "decompression_bomb", f"{error}; the rest is not read",
                           name, f"byte:{offset}", kind)
    except Exception as error:  # warcio raises many types on corrupt input
        yield file_reject(ctx, "corrupt_warc",
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
        return Reject(doc_id=doc_id, stage=STAGE, reason="http_status",
                      message=f"HTTP status {status}", url=url, source_kind="warc",
                      source_uri=name, source_position=position, run_id=ctx.run_id,
                      ingested_at=ctx.ingested_at)
    try:
        body = read_bounded(record.content_stream(), ctx.max_document_bytes)
    except InputTooLarge as error:
        return Reject(doc_id=doc_id, stage=STAGE, reason="too_large", message=str(error), url=url,
                      source_kind="warc", source_uri=name, source_position=position,
                      run_id=ctx.run_id, ingested_at=ctx.ingested_at)
    lowered = content_type.lower()
    if not ("html" in lowered or (not lowered and body.lstrip()[:1] == b"<")):
        return Reject(doc_id=doc_id, stage=STAGE, reason="unsupported_content_type",
                      message=f"content type {content_type or 'missing'} is not HTML", url=url,
                      source_kind="warc", source_uri=name, source_position=position,
                      run_id=ctx.run_id, ingested_at=ctx.ingested_at)
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
