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
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Iterable, List, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from schemas.records import FeedState, RawDocument, Reject
from schemas.contexts import Skipped
from transforms.sources.feed_list import parse_feed_list
from transforms.sink.feed_state import load_states
from transforms.sources.fetch_policy import host_of
from transforms.sources.fetch_worker import shared_fetcher
from transforms.core.routing import outcome, route
from transforms.core.counters import StageCounters
from schemas.contexts import FeedsContext, FeedsResult
from transforms.sources.feed_jobs import (ENTRIES, Emit, REJECTS, SKIPPED, STAGE, STATE, Bump,
                                          entry_document, fetch_pages, poll_feed)


_log = logging.getLogger(__name__)
MAX_LIST_BYTES = 16 * 1024 * 1024


# ------------------------------------------------------------------- DoFns


class AsyncFetchFn(beam.DoFn):
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
            if isinstance(value, Bump):
                self._counters.inc(value.name)
                continue
            if isinstance(value, (RawDocument, Reject, Skipped)):
                self._counters.inc(outcome(value).counter)
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


class _PollFeedsFn(AsyncFetchFn):
    """(host, [(FeedSource, FeedState or None)]) → entries, documents, rejects, ..."""

    async def _job(self, element, emit: Emit) -> None:
        _, feeds = element
        await asyncio.gather(*(poll_feed(self._worker.fetcher, source, state, self._ctx, emit)
                               for source, state in feeds))


class FetchPagesFn(AsyncFetchFn):
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
            reject = Reject(
                doc_id=None, stage="read", reason="unreadable_file",
                message=f"{type(error).__name__}: {error}"[:500], url=None, source_kind="file",
                source_uri=path, source_position="byte:0", run_id=self._ctx.run_id,
                ingested_at=self._ctx.ingested_at)
            yield beam.pvalue.TaggedOutput(REJECTS, reject)
            return
        if len(data) > MAX_LIST_BYTES:
            self._counters.inc("dropped:too_large")
            reject = Reject(
                doc_id=None, stage="read", reason="too_large",
                message=f"feed list over {MAX_LIST_BYTES} bytes", url=None, source_kind="file",
                source_uri=path, source_position="byte:0", run_id=self._ctx.run_id,
                ingested_at=self._ctx.ingested_at)
            yield beam.pvalue.TaggedOutput(REJECTS, reject)
            return
        for record in parse_feed_list(data, path, self._ctx.run_id, self._ctx.ingested_at):
            yield route(record, self._counters, main_counter="feeds")


def prior_states(output: str, run_id: Optional[str] = None) -> Iterable[Tuple[str, FeedState]]:
    """The feed (and sitemap) states kept under ``_state/``, as (url, state) pairs in URL order."""
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
             | "LoadFeedState" >> beam.FlatMap(prior_states, rerun_id))
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
    ``feed``), ``rejects``, ``skipped`` and ``state`` (`FeedStateUpdate`s, for
    the commit step). No duplicates: an entry in two feeds gives two documents,
    and URL dedup keeps one.
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
                 | "FetchPages" >> beam.ParDo(FetchPagesFn(ctx)).with_outputs(
                     REJECTS, STATE, main="documents"))
        return FeedsResult(
            documents=(polled.documents, pages.documents) | "FeedDocuments" >> beam.Flatten(),
            rejects=((lists[REJECTS], polled[REJECTS], pages[REJECTS])
                     | "FeedRejects" >> beam.Flatten()),
            skipped=((lists[SKIPPED], feeds[SKIPPED], polled[SKIPPED])
                     | "FeedSkipped" >> beam.Flatten()),
            state=(polled[STATE], pages[STATE]) | "FeedStateUpdates" >> beam.Flatten())


__all__ = ["ReadFeeds", "FeedsContext", "FeedsResult", "listed_feeds", "poll_feed",
           "fetch_pages", "entry_document", "AsyncFetchFn", "FetchPagesFn", "prior_states"]
