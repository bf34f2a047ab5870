"""JSONL dumps: one JSON object a line, each a document or a reject.

The fields a line may carry (`html`/`raw_html`, `text`, `url`, `title`,
`published`, `tags`, ...), checked by `jsonl_field_problem`; a line that is no
object, too long, or of wrong field types becomes a reject with its line number.
"""
from __future__ import annotations

import json
import zlib
from typing import IO, Any, Dict, Iterator, List, Optional, Tuple

from schemas.records import RawDocument, Reject
from transforms.extract.dates import parse_timestamp
from transforms.extract.normalize import stable_id
from schemas.contexts import ReadContext
from transforms.sources.dump_io import Record, STAGE, file_reject, numbered_lines


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


def jsonl_records(name: str, stream: IO[bytes], ctx: ReadContext) -> Iterator[Record]:
    kind = "jsonl"
    try:
        for number, line in numbered_lines(stream, ctx.max_document_bytes):
            position = f"line:{number}"
            if line is None:
                yield file_reject(ctx, "too_large", "line over the document size limit",
                                   name, position, kind)
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except Exception as error:  # RecursionError too: a reject, not the file's end
                reason = str(error)[:300] if isinstance(error, ValueError) else \
                    f"{type(error).__name__}: {str(error)[:200]}"
                yield file_reject(ctx, "invalid_json", reason, name, position, kind)
                continue
            if not isinstance(obj, dict):
                yield file_reject(ctx, "invalid_json",
                                   f"a line holds a JSON {type(obj).__name__}, not an object",
                                   name, position, kind)
                continue
            yield _jsonl_document(obj, name, position, ctx)
    except (OSError, EOFError, zlib.error) as error:
        yield file_reject(ctx, "corrupt_gzip", f"cannot decompress the rest: {error}",
                           name, "end", kind)


def _jsonl_document(obj: Dict[str, Any], name: str, position: str,
                    ctx: ReadContext) -> Record:
    html, text = _field(obj, "html"), _field(obj, "text")
    url = obj.get("url") if isinstance(obj.get("url"), str) else None
    problem = jsonl_field_problem(obj)
    if problem is not None:
        return Reject(doc_id=stable_id(name, position), stage=STAGE, reason="invalid_field",
                      message=problem, url=url, source_kind="jsonl", source_uri=name,
                      source_position=position, run_id=ctx.run_id, ingested_at=ctx.ingested_at)
    url = _optional_str(url)
    if not isinstance(html, str) and not isinstance(text, str):
        return Reject(doc_id=stable_id(name, position), stage=STAGE, reason="missing_content",
                      message="the object has no string 'html' or 'text' field", url=url,
                      source_kind="jsonl", source_uri=name, source_position=position,
                      run_id=ctx.run_id, ingested_at=ctx.ingested_at)
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
