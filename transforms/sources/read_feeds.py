"""Read feeds: feed lists to raw documents, politely, safely, only what is new.

Locally::

    newsbeam ingest --feeds seeds/feeds.txt --output out

On Dataflow the same, with ``--output gs://...``: the feed lists and the
state under ``_state/`` are read and written through Beam's `FileSystems`.

The steps (`ReadFeeds.expand`):

1. ``ReadFeedLists``: each list file (text or OPML, `transforms.sources.feed_list`)
   to `FeedSource`s; a bad line is a reject.
2. ``JoinFeedState``: each feed with what the last successful run kept of it
   (`transforms.sink.feed_state`), keyed by feed URL. A feed listed twice is
   polled once.
3. ``PollFeeds``: feeds grouped by host, then polled: a conditional GET
   (ETag / Last-Modified); a 304 or a body identical to the last one ends
   there; otherwise the body is parsed (`transforms.sources.feed_entries`), entries
   already ingested in an earlier run are counted as skipped
   (``feed_entry_seen``) and the new ones go on. An entry with no link
   becomes a document from its own content, or a reject.
4. ``FetchPages``: new entries grouped by the host of their link, then each
   page fetched once (an entry found in two feeds is fetched once and gives
   a document per feed; URL dedup keeps one), as HTML for the extractor.
   When the page cannot be had, the entry's full content is the document if
   it is a real article body; else the entry is a reject that says why.

Both fetching steps run the `transforms.sources.fetch.Fetcher` of their worker
process: one asyncio loop on a thread, shared by the steps of one run
(`shared_fetcher`), so each host's minimum delay, in-flight bound and
robots.txt hold across the feed polls and the page fetches. A DoFn submits
one job per host group and drains results as they come, so hundreds of
hosts are fetched concurrently (bounded per host and overall). Grouping by
host before each step sends all the work for one host to one worker, so
politeness also holds on many workers.

Every outcome is counted (namespace ``fetch``: ``in``, ``out``,
``dropped:<reason>``, ``skipped:<kind>``, ``warning:<kind>``) and every
state change (`FeedStateUpdate`) goes out on the ``state`` output, which the
commit step writes only when the run has succeeded.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from schemas.records import (Duplicate, FeedEntry, FeedSource, FeedState, FeedStateUpdate,
                             RawDocument, Reject)
from transforms.sources.decode import charset_from_content_type
from transforms.sources.dump_formats import Skipped
from transforms.sources.feed_entries import UnreadableFeed, body_hash, parse_feed, to_feed_entry
from transforms.sources.feed_list import parse_feed_list
from transforms.sink.feed_state import load_states
from transforms.sources.fetch_policy import FetchConfig, FetchResult, host_of
from transforms.sources.fetch_worker import shared_fetcher
from transforms.extract.normalize import stable_id
from transforms.core.counters import StageCounters

_log = logging.getLogger(__name__)

STAGE = "fetch"
SOURCE_KIND = "feed"
REJECTS, DUPLICATES, SKIPPED, STATE, ENTRIES = (
    "rejects", "duplicates", "skipped", "state", "entries")
MAX_LIST_BYTES = 16 * 1024 * 1024


class FeedsContext(NamedTuple):
    """What every feed step is told: the run, where state lives, how to fetch."""
    run_id: str
    ingested_at: int
    output: str
    fetch: FetchConfig
    max_document_bytes: int


class FeedsResult(NamedTuple):
    """The outputs of `ReadFeeds`: those of `ReadDumps`, plus the state updates."""
    documents: Any
    rejects: Any
    duplicates: Any
    skipped: Any
    state: Any


class _Count(NamedTuple):
    """A counter to bump, sent from the fetch loop to the Beam thread."""
    name: str


Emit = Callable[[Optional[str], Any], None]


# ------------------------------------------------------------------ records


def _feed_reject(source: FeedSource, ctx: FeedsContext, reason: str, message: str) -> Reject:
    return Reject(None, STAGE, reason, message[:500], source.url, SOURCE_KIND, source.url,
                  "poll", ctx.run_id, ctx.ingested_at)


def _entry_reject(entry: FeedEntry, ctx: FeedsContext, reason: str, message: str) -> Reject:
    return Reject(stable_id(entry.feed_url, entry.position), STAGE, reason, message[:500],
                  entry.link, SOURCE_KIND, entry.feed_url, entry.position, ctx.run_id,
                  ctx.ingested_at)


def entry_document(entry: FeedEntry, ctx: FeedsContext, page: Optional[FetchResult],
                   fetched_at: Optional[int] = None) -> RawDocument:
    """The document of an entry: its page (HTML) when given, else its own content."""
    common = dict(
        doc_id=stable_id(entry.feed_url, entry.position), source_kind=SOURCE_KIND,
        source_uri=entry.feed_url, source_position=entry.position, run_id=ctx.run_id,
        title=entry.title, published=entry.published, authors=list(entry.authors),
        tags=list(entry.tags), source_name=entry.source_name,
        declared_language=entry.language, fetched_at=fetched_at, description=entry.summary)
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
    """Polls one feed and emits what follows: state, entries, documents, rejects, skips."""
    state = state or FeedState(url=source.url)
    emit(None, _Count("in"))
    result = await fetcher.fetch_feed(source.url, state.etag, state.last_modified)
    polled_at = _now_micros()

    def poll_update(status: str, **fields) -> FeedStateUpdate:
        return FeedStateUpdate(source.url, "poll", status, polled_at, **fields)

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
        emit(None, _Count("warning:malformed_feed"))
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
            emit(None, _Count("in"))
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
                emit(None, _Count(f"fallback:{reason}"))
                emit(None, entry_document(entry, ctx, None, fetched_at))
                emit(STATE, _update(entry, "ingested", ctx))
                continue
            emit(REJECTS, _entry_reject(entry, ctx, reason, f"{link}: {message}"))
            emit(STATE, _update(entry, "retry" if page.transient else "failed", ctx))

    await asyncio.gather(*(one(link, group) for link, group in sorted(by_link.items())))


# ------------------------------------------------------------------- DoFns


class _AsyncFetchFn(beam.DoFn):
    """Runs one async job per element on the process's fetch loop.

    `process` submits the job and passes on what finished jobs have sent so
    far; `finish_bundle` waits for the rest. Counting happens here, on the
    Beam thread, where metrics work.
    """

    def __init__(self, ctx: FeedsContext):
        self._ctx = ctx
        self._worker = None
        self._counters = StageCounters(STAGE)
        self._queue: "queue.Queue[Tuple[Optional[str], Any]]" = None
        self._pending: List[Future] = []

    def setup(self) -> None:
        self._worker = shared_fetcher(self._ctx.run_id, self._ctx.fetch)

    def start_bundle(self) -> None:
        self._queue = queue.Queue()
        self._pending = []


    async def _job(self, element, emit: Emit) -> None:
        raise NotImplementedError

    def _emit(self, tag: Optional[str], value: Any) -> None:
        self._queue.put((tag, value))

    def _drain(self, windowed: bool) -> Iterable[Any]:
        while True:
            try:
                tag, value = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(value, _Count):
                self._counters.inc(value.name)
                continue
            if isinstance(value, RawDocument):
                self._counters.inc("out")
            elif isinstance(value, Reject):
                self._counters.inc(f"dropped:{value.reason}")
            elif isinstance(value, Skipped):
                self._counters.inc(f"skipped:{value.kind}")
            if windowed:
                value = GlobalWindows.windowed_value(value)
            yield value if tag is None else beam.pvalue.TaggedOutput(tag, value)

    def _check(self, done: Iterable[Future]) -> None:
        for future in done:
            error = future.exception()
            if error is not None:  # a bug, not a bad feed: fail the bundle, loudly
                self._counters.inc(f"error:{type(error).__name__}")
                raise error

    def process(self, element) -> Iterable[Any]:
        self._pending.append(self._worker.submit(self._job(element, self._emit)))
        done = [f for f in self._pending if f.done()]
        self._check(done)
        self._pending = [f for f in self._pending if not f.done()]
        yield from self._drain(windowed=False)

    def finish_bundle(self) -> Iterable[Any]:
        while self._pending:
            done, _ = wait(self._pending, timeout=0.2, return_when=FIRST_COMPLETED)
            yield from self._drain(windowed=True)
            self._check(done)
            self._pending = [f for f in self._pending if f not in done]
        yield from self._drain(windowed=True)


class _PollFeedsFn(_AsyncFetchFn):
    """(host, [(FeedSource, FeedState or None)]) → entries, documents, rejects, ..."""

    async def _job(self, element, emit: Emit) -> None:
        _, feeds = element
        await asyncio.gather(*(poll_feed(self._worker.fetcher, source, state, self._ctx, emit)
                               for source, state in feeds))


class _FetchPagesFn(_AsyncFetchFn):
    """(host, [FeedEntry]) → documents, rejects, state updates."""

    async def _job(self, element, emit: Emit) -> None:
        _, entries = element
        await fetch_pages(self._worker.fetcher, list(entries), self._ctx, emit)


class _ReadFeedListFn(beam.DoFn):
    """A feed list file to `FeedSource`s; bad lines are rejects."""

    def __init__(self, ctx: FeedsContext):
        self._ctx = ctx
        self._counters = StageCounters("read")


    def process(self, path: str) -> Iterable[Any]:
        self._counters.inc("feed_lists")
        try:
            with FileSystems.open(path) as handle:
                data = handle.read(MAX_LIST_BYTES + 1)
        except Exception as error:  # a missing or unreadable list is a reject, not a crash
            self._counters.inc("dropped:unreadable_file")
            yield beam.pvalue.TaggedOutput(REJECTS, Reject(
                None, "read", "unreadable_file", f"{type(error).__name__}: {error}"[:500], None,
                "file", path, "byte:0", self._ctx.run_id, self._ctx.ingested_at))
            return
        if len(data) > MAX_LIST_BYTES:
            self._counters.inc("dropped:too_large")
            yield beam.pvalue.TaggedOutput(REJECTS, Reject(
                None, "read", "too_large", f"feed list over {MAX_LIST_BYTES} bytes", None,
                "file", path, "byte:0", self._ctx.run_id, self._ctx.ingested_at))
            return
        for record in parse_feed_list(data, path, self._ctx.run_id, self._ctx.ingested_at):
            if isinstance(record, FeedSource):
                self._counters.inc("feeds")
                yield record
            elif isinstance(record, Reject):
                self._counters.inc(f"dropped:{record.reason}")
                yield beam.pvalue.TaggedOutput(REJECTS, record)
            else:
                self._counters.inc(f"skipped:{record.kind}")
                yield beam.pvalue.TaggedOutput(SKIPPED, record)


def _load_state(output: str, run_id: Optional[str] = None) -> Iterable[Tuple[str, FeedState]]:
    return sorted(load_states(output, run_id).items())


class _PairWithStateFn(beam.DoFn):
    """(url, {sources, state}) → (host, (source, state)); a feed listed twice is polled once."""

    def process(self, element) -> Iterable[Any]:
        url, joined = element
        sources = sorted(joined["sources"], key=lambda s: (s.list_uri, s.list_position))
        if not sources:
            return
        states = list(joined["state"])
        for extra in sources[1:]:
            yield beam.pvalue.TaggedOutput(SKIPPED, Skipped(extra.list_uri, "feed_listed_twice"))
        yield host_of(url), (sources[0], states[0] if states else None)


def listed_feeds(pbegin, feed_lists: List[str], ctx: FeedsContext, rerun_id: Optional[str]):
    """The feeds of `feed_lists`, each once, paired with its state under ``_state/``.

    Batch and streaming read feed lists alike; the steps are applied, with
    their labels, inside the caller's transform. `rerun_id`: the run whose
    state from before its first attempt is read if it is a rerun (None: the
    latest state).

    Returns the outputs of reading the lists (``sources``, `REJECTS`,
    `SKIPPED`) and of pairing them with their state (``feeds``: (host,
    (FeedSource, FeedState or None)); `SKIPPED`: feeds listed twice).
    """
    lists = (pbegin
             | "FeedLists" >> beam.Create(feed_lists)
             | "ReadFeedLists" >> beam.ParDo(_ReadFeedListFn(ctx)).with_outputs(
                 REJECTS, SKIPPED, main="sources"))
    prior = (pbegin
             | "StateFolder" >> beam.Create([ctx.output])
             | "LoadFeedState" >> beam.FlatMap(_load_state, rerun_id))
    feeds = ({"sources": lists.sources | "KeyFeedByUrl" >> beam.Map(lambda s: (s.url, s)),
              "state": prior}
             | "JoinFeedState" >> beam.CoGroupByKey()
             | "PairWithState" >> beam.ParDo(_PairWithStateFn()).with_outputs(
                 SKIPPED, main="feeds"))
    return lists, feeds


class ReadFeeds(beam.PTransform):
    """Feed lists to raw documents: new entries' pages, fetched politely and safely.

    Args:
      feed_lists: paths of feed list files (text or OPML; local or ``gs://``).
      ctx: the run id, ingestion time, output folder (for ``_state/``), the
        fetcher's configuration and the size limit of one document.

    Returns a `FeedsResult`: ``documents`` (`RawDocument`, source kind
    ``feed``), ``rejects``, ``duplicates`` (always empty: an entry in two
    feeds gives two documents, and URL dedup keeps one), ``skipped`` and
    ``state`` (`FeedStateUpdate`s, for the commit step).
    """

    def __init__(self, feed_lists: List[str], ctx: FeedsContext):
        super().__init__()
        self._feed_lists = list(feed_lists)
        self._ctx = ctx

    def expand(self, pbegin):
        ctx = self._ctx
        lists, feeds = listed_feeds(pbegin, self._feed_lists, ctx, rerun_id=ctx.run_id)
        polled = (feeds.feeds
                  | "GroupFeedsByHost" >> beam.GroupByKey()
                  | "PollFeeds" >> beam.ParDo(_PollFeedsFn(ctx)).with_outputs(
                      ENTRIES, REJECTS, SKIPPED, STATE, main="documents"))
        pages = (polled[ENTRIES]
                 | "KeyEntryByHost" >> beam.Map(lambda e: (host_of(e.link), e))
                 | "GroupEntriesByHost" >> beam.GroupByKey()
                 | "FetchPages" >> beam.ParDo(_FetchPagesFn(ctx)).with_outputs(
                     REJECTS, STATE, main="documents"))
        return FeedsResult(
            documents=(polled.documents, pages.documents) | "FeedDocuments" >> beam.Flatten(),
            rejects=((lists[REJECTS], polled[REJECTS], pages[REJECTS])
                     | "FeedRejects" >> beam.Flatten()),
            duplicates=(pbegin | "NoFeedDuplicates" >> beam.Create([]).with_output_types(
                Duplicate)),
            skipped=((lists[SKIPPED], feeds[SKIPPED], polled[SKIPPED])
                     | "FeedSkipped" >> beam.Flatten()),
            state=(polled[STATE], pages[STATE]) | "FeedStateUpdates" >> beam.Flatten())


__all__ = ["ReadFeeds", "FeedsContext", "FeedsResult", "listed_feeds", "poll_feed",
           "fetch_pages", "entry_document"]
