"""Streaming sources: feeds polled on a schedule, folders watched for new dumps.

The batch sources read once; these read on every tick of a `PeriodicImpulse`
and keep in Beam state what batch keeps between runs. Everything that does
the reading is batch's own: `transforms.sources.read_feeds.poll_feed` and
`fetch_pages` on the process's shared, polite fetcher (conditional GET,
robots.txt, per-host delay and concurrency), and `transforms.sources.read_dumps`'s
file splitter for dumps.

Feeds (`PollFeedsContinuously`):

1. The feed lists are read and joined with batch's ``_state/feeds.json``
   once, at start (a bounded side input): a feed batch has polled starts with
   its ETag, Last-Modified and the entries it has already ingested.
2. On each tick the feeds go out in `POLL_SHARDS` groups, by a hash of
   their host (all feeds of a host in one group, so one worker paces the
   host); ``PollDueFeeds``, keyed by group, keeps each feed's `FeedState`
   and `FeedSchedule` in state and polls the feeds that are due
   (`transforms.sources.poll_schedule`), all at once on the shared fetcher. An entry
   is settled when its poll emits it, so a later poll never emits it again.
3. New entries are grouped by host per tick window and their pages fetched
   (``FetchPages``), as in batch.
4. The state updates of the polls go out on ``state``; the job merges them
   into ``_state/feeds.json`` once per output window (`CommitFeedState`), so
   a batch run after the stream sends the same conditional requests and
   skips the entries the stream has ingested.

Dumps (`WatchFiles`): each tick matches the globs (`FileSystems.match`, so
local folders and ``gs://`` buckets alike); ``FirstSighting``, keyed by path,
lets each path through once; the file is then split as in batch. Put files
in place whole (write, then rename or upload): a file is read when first seen.

Every output carries the event time of the tick that read it: the time
newsbeam read it. `MatchContinuously` is not used: on the FnApiRunner it
ignores its interval (DESIGN, "Beam 2.77 facts").
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

import apache_beam as beam
import xxhash
from apache_beam.coders import PickleCoder
from apache_beam.transforms import window
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from schemas.records import FeedSource, FeedState, FeedStateUpdate, Reject
from transforms.core.routing import outcome, route
from transforms.core.counters import StageCounters
from transforms.sink.state_cache import StatefulDoFn
from schemas.contexts import Skipped
from transforms.sink.feed_state import commit_feed_state, merge_states
from transforms.sources.fetch_policy import host_of
from transforms.sources.fetch_worker import shared_fetcher
from transforms.sources.poll_schedule import FeedSchedule, after_poll, is_due
from transforms.sink.stream_write import window_label
from schemas.contexts import FeedsContext, SourceOutputs
from transforms.sources.feed_jobs import (ENTRIES, REJECTS, SKIPPED, STATE, Bump, fetch_pages,
                                          poll_feed)
from transforms.sources.read_feeds import listed_feeds


STAGE = "fetch"
_log = logging.getLogger(__name__)


class Ticks(NamedTuple):
    """When a source ticks: from `start` to `stop` (seconds since the epoch), every `interval_s`."""
    start: float
    stop: float
    interval_s: float


def impulse(ticks: Ticks) -> PeriodicImpulse:
    """A `PeriodicImpulse` with an explicit start (its default is fixed at import)."""
    return PeriodicImpulse(start_timestamp=Timestamp.of(ticks.start),
                           stop_timestamp=Timestamp.of(ticks.stop),
                           fire_interval=ticks.interval_s)


# ------------------------------------------------------------------ feeds


# Groups of feeds polled together: the parallelism of polling across workers.
POLL_SHARDS = 64


def poll_shard(host: str, shards: int = POLL_SHARDS) -> str:
    """The group of a host's feeds: stable across runs and processes."""
    return f"{xxhash.xxh3_64_intdigest(host.encode('utf-8')) % shards:03d}"


def feeds_by_shard(_tick, feeds: List[Tuple[str, Tuple[FeedSource, Optional[FeedState]]]]
                   ) -> Iterable[Tuple[str, List[Tuple[FeedSource, Optional[FeedState]]]]]:
    """One element per group per tick: its feeds, with batch's state of each."""
    grouped: Dict[str, List] = {}
    for host, pair in feeds:
        grouped.setdefault(poll_shard(host), []).append(pair)
    for shard in sorted(grouped):
        yield shard, sorted(grouped[shard], key=lambda pair: pair[0].url)


class _PollDueFeedsFn(StatefulDoFn):
    """(group, feeds) at a tick → documents, entries, rejects, skips of the feeds due.

    Keyed by group of hosts: the state holds, per feed URL, its `FeedState`
    and `FeedSchedule`. The due feeds of the group are polled concurrently on
    the shared fetcher (its per-host gates pace each host) and the tick waits
    for them: the state is written once their outcome is known.
    """

    FEEDS = ReadModifyWriteStateSpec("feeds", PickleCoder())

    def __init__(self, ctx: FeedsContext, min_poll_s: float, max_poll_s: float):
        self._ctx = ctx
        self._min_s = min_poll_s
        self._max_s = max_poll_s
        self._worker = None
        self._counters = StageCounters(STAGE)

    def setup(self) -> None:
        super().setup()
        self._worker = shared_fetcher(self._ctx.run_id, self._ctx.fetch)

    def process(self, element, timestamp=beam.DoFn.TimestampParam,
                stored=beam.DoFn.StateParam(FEEDS)) -> Iterable[Any]:
        _, feeds = element
        now = timestamp.micros
        known: Dict[str, Tuple[FeedState, Optional[FeedSchedule]]] = stored.read() or {}
        due = []
        for source, initial in feeds:
            state, schedule = known.get(source.url, (initial or FeedState(url=source.url), None))
            if is_due(schedule, now, int(self._min_s * 5e5)):
                due.append((source, state, schedule))
            else:
                self._counters.inc("skipped:not_due")
        if not due:
            return
        emitted: List[Tuple[Optional[str], Any]] = []
        emit = lambda tag, value: emitted.append((tag, value))  # noqa: E731 (list.append is atomic)

        async def poll_all() -> None:
            await asyncio.gather(*(poll_feed(self._worker.fetcher, source, state, self._ctx, emit)
                                   for source, state, _ in due))

        self._worker.submit(poll_all()).result()
        updates: List[FeedStateUpdate] = []
        new_entries: Dict[str, int] = {}
        for tag, value in emitted:
            if isinstance(value, Bump):
                self._counters.inc(value.name)
            elif tag == STATE:
                updates.append(value)
            elif tag == ENTRIES:
                # Settled when emitted: the next poll must not emit it again.
                updates.append(FeedStateUpdate(value.feed_url, "entry", "ingested", now,
                                               entry_key=value.entry_key))
                new_entries[value.feed_url] = new_entries.get(value.feed_url, 0) + 1
                yield beam.pvalue.TaggedOutput(ENTRIES, value)
            elif tag is None:
                self._counters.inc("out")
                new_entries[value.source_uri] = new_entries.get(value.source_uri, 0) + 1
                yield value
            else:
                if isinstance(value, (Reject, Skipped)):
                    self._counters.inc(outcome(value).counter)
                yield beam.pvalue.TaggedOutput(tag, value)
        merged = merge_states({source.url: state for source, state, _ in due}, updates)
        polls = {u.feed_url: u for u in updates if u.kind == "poll"}
        for source, _, schedule in due:
            poll = polls.get(source.url)
            status = poll.status if poll is not None else "failed"
            declared = poll.interval_s if poll is not None else None
            following = after_poll(schedule, declared, status, new_entries.get(source.url, 0),
                                   now, self._min_s, self._max_s)
            known[source.url] = (merged[source.url], following)
            self._counters.inc(f"polled:{status}")
        stored.write(known)
        for update in updates:  # for _state/feeds.json, so a batch run can take over
            yield beam.pvalue.TaggedOutput(STATE, update)


class FetchPagesNowFn(beam.DoFn):
    """(host, entries) → documents and rejects, at the event time of their tick.

    Batch's `fetch_pages` on the shared fetcher. Each element's job runs
    while the next elements are taken (many hosts at once, each host paced by
    the fetcher); what a finished job emitted goes out with the element's own
    timestamp and window, in `process` or, for the last ones, `finish_bundle`.
    """

    def __init__(self, ctx: FeedsContext):
        self._ctx = ctx
        self._worker = None
        self._pending: List[Tuple[Any, List, Any, Any]] = []
        self._counters = StageCounters(STAGE)

    def setup(self) -> None:
        self._worker = shared_fetcher(self._ctx.run_id, self._ctx.fetch)

    def start_bundle(self) -> None:
        self._pending = []

    def process(self, element, timestamp=beam.DoFn.TimestampParam,
                win=beam.DoFn.WindowParam) -> Iterable[Any]:
        _, entries = element
        emitted: List[Tuple[Optional[str], Any]] = []
        job = self._worker.submit(fetch_pages(
            self._worker.fetcher, list(entries), self._ctx,
            lambda tag, value: emitted.append((tag, value))))
        self._pending.append((job, emitted, timestamp, win))
        yield from self._finished(wait=False)

    def finish_bundle(self) -> Iterable[Any]:
        yield from self._finished(wait=True)

    def _finished(self, wait: bool) -> Iterable[Any]:
        running = []
        for job, emitted, timestamp, win in self._pending:
            if not wait and not job.done():
                running.append((job, emitted, timestamp, win))
                continue
            job.result()  # an exception here is a bug, not a bad page: fail the bundle
            for tag, value in emitted:
                if isinstance(value, Bump):
                    self._counters.inc(value.name)
                elif tag == STATE:
                    continue  # entries were settled when polled
                else:  # a page: a document, or a reject
                    yield route(value, self._counters,
                                value=WindowedValue(value, timestamp, [win]))
        self._pending = running


class AtTime(beam.DoFn):
    """Stamps bounded, start-up records (feed-list rejects) with the job's start."""

    def __init__(self, seconds: float):
        self._seconds = seconds

    def process(self, element) -> Iterable[Any]:
        yield window.TimestampedValue(element, self._seconds)


class PollFeedsContinuously(beam.PTransform):
    """Feed lists to documents, polled on each tick of `ticks`.

    Args:
      feed_lists: feed list files (text or OPML; local or ``gs://``).
      ctx: run id, start time, output folder (batch's ``_state/`` is read from
        it), fetcher configuration, document size limit.
      ticks: the start and interval of the ticks it is applied to (`impulse`);
        a feed is polled at a tick when it is due.
      min_poll_s, max_poll_s: bounds of any feed's poll interval.

    Returns a `SourceOutputs`, each row at the event time of the tick that read it.
    """

    def __init__(self, feed_lists: List[str], ctx: FeedsContext, ticks: Ticks,
                 min_poll_s: float, max_poll_s: float):
        super().__init__()
        self._feed_lists = list(feed_lists)
        self._ctx = ctx
        self._ticks = ticks  # the tick PCollection's start and interval
        self._min_s = min_poll_s
        self._max_s = max_poll_s

    def expand(self, ticks):
        ctx = self._ctx
        pbegin = ticks.pipeline
        # A stream always polls from the latest feed state.
        lists, feeds = listed_feeds(pbegin, self._feed_lists, ctx, rerun_id=None)
        polled = (ticks
                  | "FeedsByShard" >> beam.FlatMap(
                      feeds_by_shard, beam.pvalue.AsList(feeds.feeds)).with_output_types(
                          Tuple[str, Any])
                  | "PollDueFeeds" >> beam.ParDo(_PollDueFeedsFn(
                      ctx, self._min_s, self._max_s)).with_outputs(
                          ENTRIES, REJECTS, SKIPPED, STATE, main="documents"))
        fetched = (polled[ENTRIES]
                   | "TickWindows" >> beam.WindowInto(
                       window.FixedWindows(self._ticks.interval_s),
                       timestamp_combiner=window.TimestampCombiner.OUTPUT_AT_EARLIEST)
                   | "KeyEntryByHost" >> beam.Map(lambda e: (host_of(e.link), e)
                                                  ).with_output_types(Tuple[str, Any])
                   | "GroupEntriesByHost" >> beam.GroupByKey()
                   | "FetchPages" >> beam.ParDo(FetchPagesNowFn(ctx)).with_outputs(
                       REJECTS, main="documents"))
        page_documents = fetched.documents | "PagesInGlobalWindow" >> beam.WindowInto(
            window.GlobalWindows())
        page_rejects = fetched[REJECTS] | "PageRejectsInGlobalWindow" >> beam.WindowInto(
            window.GlobalWindows())
        start = self._ticks.start
        startup_rejects = lists[REJECTS] | "ListRejectsAtStart" >> beam.ParDo(AtTime(start))
        startup_skipped = ((lists[SKIPPED], feeds[SKIPPED])
                           | "ListSkipped" >> beam.Flatten()
                           | "ListSkippedAtStart" >> beam.ParDo(AtTime(start)))
        return SourceOutputs(
            documents=(polled.documents, page_documents) | "FeedDocuments" >> beam.Flatten(),
            rejects=((startup_rejects, polled[REJECTS], page_rejects)
                     | "FeedRejects" >> beam.Flatten()),
            duplicates=None,
            skipped=(startup_skipped, polled[SKIPPED]) | "FeedSkipped" >> beam.Flatten(),
            state=polled[STATE])


class _CommitFeedStateFn(beam.DoFn):
    """All feed state updates of one window pane → merged into ``_state/feeds.json``."""

    def __init__(self, output: str, run_id: str):
        self._output = output
        self._run_id = run_id

    def process(self, updates: List[FeedStateUpdate], win=beam.DoFn.WindowParam,
                pane=beam.DoFn.PaneInfoParam) -> Iterable[str]:
        label = f"{self._run_id}-{window_label(float(win.start))}-{pane.index:05d}"
        committed = commit_feed_state(self._output, label, updates)
        if committed is not None:
            yield committed["path"]


class CommitFeedState(beam.PTransform):
    """Windowed `FeedStateUpdate`s → ``_state/feeds.json``, once per window pane.

    Panes of different windows are merged one after the other in practice
    (a window closes every ``--window_minutes``); two merging at the same
    moment could lose one's update, which costs a batch run after the stream
    a refetch, never an article (the dedup index has it).
    """

    def __init__(self, output: str, run_id: str):
        super().__init__()
        self._fn = _CommitFeedStateFn(output, run_id)

    def expand(self, updates):
        return (updates
                | "UpdatesOfPane" >> beam.combiners.ToList().without_defaults()
                | "MergeIntoStateFile" >> beam.ParDo(self._fn))


__all__ = ["PollFeedsContinuously", "CommitFeedState", "FetchPagesNowFn", "AtTime", "Ticks", "impulse", "feeds_by_shard",
           "poll_shard"]
