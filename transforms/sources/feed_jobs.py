"""The two fetch jobs of the feed reader: poll a feed, fetch its entries' pages.

Coroutines on the fetcher's event loop (`poll_feed`, `fetch_pages`) that say
what happened through `emit(tag, value)`: a feed state update, entries,
documents, rejects, skips, or a `Bump` of a counter, which the DoFn applies on
the Beam thread (Beam's metrics work only there). `ReadFeeds` (batch) and
`PollFeedsContinuously` (stream) run them.
"""
from __future__ import annotations

import logging
import asyncio
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional

from schemas.records import FeedEntry, FeedSource, FeedState, FeedStateUpdate, RawDocument, Reject
from transforms.sources.decode import charset_from_content_type
from schemas.contexts import Skipped
from transforms.sources.feed_entries import UnreadableFeed, body_hash, parse_feed, to_feed_entry
from transforms.sources.feed_validators import (from_state_fields, is_check_due, observe,
                                                request_validators, state_fields)
from transforms.sources.fetch_policy import FetchResult, host_of
from transforms.extract.normalize import stable_id
from transforms.core.routing import REJECTS, SKIPPED
from schemas.contexts import FeedsContext

_log = logging.getLogger(__name__)


STAGE = "fetch"
SOURCE_KIND = "feed"
STATE, ENTRIES = "state", "entries"  # with REJECTS and SKIPPED of transforms.core.routing


class Bump(NamedTuple):
    """A counter to bump, sent from the fetch loop to the Beam thread."""
    name: str


Emit = Callable[[Optional[str], Any], None]


# ------------------------------------------------------------------ records


def _feed_reject(source: FeedSource, ctx: FeedsContext, reason: str, message: str) -> Reject:
    return Reject(doc_id=None, stage=STAGE, reason=reason, message=message[:500], url=source.url,
                  source_kind=SOURCE_KIND, source_uri=source.url, source_position="poll",
                  run_id=ctx.run_id, ingested_at=ctx.ingested_at)


def _entry_reject(entry: FeedEntry, ctx: FeedsContext, reason: str, message: str) -> Reject:
    return Reject(doc_id=stable_id(entry.feed_url, entry.position), stage=STAGE, reason=reason,
                  message=message[:500], url=entry.link, source_kind=SOURCE_KIND,
                  source_uri=entry.feed_url, source_position=entry.position, run_id=ctx.run_id,
                  ingested_at=ctx.ingested_at)


def entry_document(entry: FeedEntry, ctx: FeedsContext, page: Optional[FetchResult],
                   fetched_at: Optional[int] = None) -> RawDocument:
    """The document of an entry: its page (HTML) when given, else its own content."""
    common = dict(
        doc_id=stable_id(entry.feed_url, entry.position), source_kind=SOURCE_KIND,
        source_uri=entry.feed_url, source_position=entry.position, run_id=ctx.run_id,
        title=entry.title, published=entry.published, authors=list(entry.authors),
        tags=list(entry.tags), source_name=entry.source_name,
        declared_language=entry.language, fetched_at=fetched_at, description=entry.summary,
        published_source=entry.published_source,
        published_offset_minutes=entry.published_offset_minutes)
    if page is not None:
        return RawDocument(payload=page.body, payload_format="html",
                           url=page.final_url or entry.link,
                           charset=charset_from_content_type(page.content_type), **common)
    return RawDocument(payload=(entry.content or "").encode("utf-8"), payload_format="text",
                       url=entry.link, charset="utf-8", **common)


def _update(entry: FeedEntry, status: str, ctx: FeedsContext) -> FeedStateUpdate:
    return FeedStateUpdate(entry.feed_url, "entry", status, ctx.ingested_at,
                           entry_key=entry.entry_key)


def _now_micros() -> int:
    return int(time.time() * 1e6)


# ------------------------------------------------------ the two async jobs


async def poll_feed(fetcher, source: FeedSource, state: Optional[FeedState],
                    ctx: FeedsContext, emit: Emit) -> None:
    """Polls one feed and emits what follows: state, entries, documents, rejects, skips.

    Every `ctx.validator_check_every` polls, and every poll of a feed whose
    validators lied before, the request goes out without them and the body
    is compared with the one kept (`transforms.sources.feed_validators`).
    """
    state = state or FeedState(url=source.url)
    emit(None, Bump("in"))
    checks = from_state_fields(state._asdict())
    checked = is_check_due(checks, ctx.validator_check_every)
    etag, last_modified = request_validators(state.etag, state.last_modified, checks,
                                             ctx.validator_check_every)
    if checked and (state.etag or state.last_modified):
        emit(None, Bump("validator_check"))
    result = await fetcher.fetch_feed(source.url, etag, last_modified)
    polled_at = _now_micros()
    answered = result.error is None and result.status == 200
    checks_after = observe(checks, checked, result.status if result.error is None else None,
                           (state.etag, state.last_modified, state.body_hash),
                           (result.etag, result.last_modified,
                            body_hash(result.body) if answered else None))
    if checks_after.unreliable and not checks.unreliable:
        _log.warning("feed %s: %s; polled unconditionally from now on", source.url,
                     checks_after.reason)
        emit(None, Bump(f"warning:{checks_after.reason}"))

    def poll_update(status: str, **fields) -> FeedStateUpdate:
        return FeedStateUpdate(source.url, "poll", status, polled_at,
                               **state_fields(checks_after), **fields)

    if result.error is not None:
        emit(STATE, poll_update("failed", warning=f"{result.error}: {result.message}"[:300]))
        emit(REJECTS, _feed_reject(source, ctx, result.error, result.message))
        return
    if result.status == 304:
        emit(STATE, poll_update("not_modified"))
        emit(SKIPPED, Skipped(source.url, "feed_not_modified"))
        return
    digest = body_hash(result.body)
    if state.body_hash is not None and digest == state.body_hash:
        emit(STATE, poll_update("unchanged"))
        emit(SKIPPED, Skipped(source.url, "feed_unchanged"))
        return
    try:
        parsed = parse_feed(result.body, result.final_url or source.url, result.content_type)
    except UnreadableFeed as error:  # reason unreadable_feed, or unsafe_xml
        emit(STATE, poll_update("failed", warning=f"{error.reason}: {error}"[:300]))
        emit(REJECTS, _feed_reject(source, ctx, error.reason, str(error)))
        return
    if parsed.warning:
        _log.warning("feed %s: %s", source.url, parsed.warning)
        emit(None, Bump("warning:malformed_feed"))
    seen = set(state.seen)
    present: List[str] = []
    for item in parsed.items:
        entry = to_feed_entry(item, parsed, source)
        if entry.entry_key in present:
            emit(SKIPPED, Skipped(source.url, "feed_entry_repeated"))
            continue
        present.append(entry.entry_key)
        if entry.entry_key in seen:
            emit(SKIPPED, Skipped(source.url, "feed_entry_seen"))
            continue
        if entry.link and host_of(entry.link) and entry.link.lower().startswith("http"):
            emit(ENTRIES, entry)
        elif entry.content:
            emit(None, entry_document(entry, ctx, None))
            emit(STATE, _update(entry, "ingested", ctx))
        else:
            emit(REJECTS, _entry_reject(entry, ctx, "no_link",
                                        f"the entry has no http(s) link ({entry.link!r}) and "
                                        "no full content"))
            emit(STATE, _update(entry, "failed", ctx))
    emit(STATE, poll_update("fetched", etag=result.etag, last_modified=result.last_modified,
                            body_hash=digest, present=present, warning=parsed.warning,
                            interval_s=parsed.update_interval_s))


async def fetch_pages(fetcher, entries: List[FeedEntry], ctx: FeedsContext,
                      emit: Emit) -> None:
    """Fetches the page of each entry (each address once) and emits documents or rejects."""
    by_link: Dict[str, List[FeedEntry]] = {}
    for entry in entries:
        by_link.setdefault(entry.link or "", []).append(entry)

    async def one(link: str, group: List[FeedEntry]) -> None:
        for _ in group:
            emit(None, Bump("in"))
        page = await fetcher.fetch_page(link)
        fetched_at = _now_micros()
        for entry in sorted(group, key=lambda e: (e.feed_url, e.position)):
            if page.error is None and page.status == 200:
                emit(None, entry_document(entry, ctx, page, fetched_at))
                emit(STATE, _update(entry, "ingested", ctx))
                continue
            reason = page.error or "http_status"
            message = page.message or f"HTTP status {page.status}"
            if entry.content:
                emit(None, Bump(f"fallback:{reason}"))
                emit(None, entry_document(entry, ctx, None, fetched_at))
                emit(STATE, _update(entry, "ingested", ctx))
                continue
            emit(REJECTS, _entry_reject(entry, ctx, reason, f"{link}: {message}"))
            emit(STATE, _update(entry, "retry" if page.transient else "failed", ctx))

    await asyncio.gather(*(one(link, group) for link, group in sorted(by_link.items())))
