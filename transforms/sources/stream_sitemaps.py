"""Sitemaps in the streaming job: each listed sitemap read again when due.

`newsbeam stream --sitemaps LIST` reads sitemaps as it polls feeds
(`transforms.sources.stream_sources`), with batch's reader
(`read_sitemaps.read_sitemap_source`) on the process's shared, polite
fetcher, so robots.txt, the SSRF guard, the window and the rejects are
batch's own:

1. The lists are read once, at start (`read_feeds.listed_feeds`), and
   batch's ``_state/feeds.json`` is loaded once (a bounded side input):
   a urlset batch has read starts with its ETag, Last-Modified, body hash
   and the keys of the pages already ingested.
2. On each tick the listed sources go out in groups by a hash of their host;
   ``PollDueSitemaps``, keyed by group, keeps per listed source the states
   of the sitemaps it led to and its `FeedSchedule`, and reads the sources
   that are due (the same `poll_schedule` as feeds, within ``--min_poll_s``
   and ``--max_poll_s``: a sitemap that answers 304 is read less often).
   A page is settled when its entry is emitted: no later poll, and no run
   after a restart (through the state committed per window), fetches it again.
3. Pages are fetched per host and tick window, as feed pages are
   (`stream_sources.FetchPagesNowFn`), and marked ``source_kind`` ``sitemap``.
4. The state updates go out on ``state``; the job commits them with the feeds'.
"""
from __future__ import annotations

import asyncio
from collections import ChainMap
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms import window
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from schemas.contexts import FeedsContext, Skipped, SourceOutputs
from schemas.records import FeedSource, FeedState, FeedStateUpdate, Reject
from transforms.core.counters import StageCounters
from transforms.core.routing import outcome
from transforms.sink.feed_state import merge_states
from transforms.sink.state_cache import StatefulDoFn
from transforms.sources.feed_jobs import ENTRIES, REJECTS, SKIPPED, STATE, Bump
from transforms.sources.fetch_policy import host_of
from transforms.sources.fetch_worker import shared_fetcher
from transforms.sources.poll_schedule import FeedSchedule, after_poll, is_due
from transforms.sources.read_feeds import listed_feeds, prior_states
from transforms.sources.read_sitemaps import as_sitemap, read_sitemap_source
from transforms.sources.sitemaps import DEFAULT_MAX_AGE_DAYS
from transforms.sources.stream_sources import AtTime, FetchPagesNowFn, Ticks, poll_shard

STAGE = "fetch"


def sources_by_shard(_tick, sources: List[Tuple[str, Tuple[FeedSource, Any]]]
                     ) -> Iterable[Tuple[str, List[FeedSource]]]:
    """One element per group of hosts per tick: its listed sitemap sources."""
    grouped: Dict[str, List[FeedSource]] = {}
    for host, (source, _) in sources:
        grouped.setdefault(poll_shard(host), []).append(source)
    for shard in sorted(grouped):
        yield shard, sorted(grouped[shard], key=lambda s: s.url)


def source_status(updates: List[FeedStateUpdate]) -> str:
    """One status for a listed source from the polls of its sitemaps, for its schedule.

    ``fetched`` when any sitemap was read, ``failed`` when none answered, else
    ``not_modified`` (304 or an unchanged body)."""
    statuses = {u.status for u in updates if u.kind == "poll"}
    if "fetched" in statuses:
        return "fetched"
    if not statuses or statuses == {"failed"}:
        return "failed"
    return "not_modified"


def settle(states: Mapping[str, FeedState], emitted: List[Tuple[Optional[str], Any]],
           now: int) -> Tuple[Dict[str, FeedState], List[FeedStateUpdate], int]:
    """The states of the sitemaps one read of a source touched, its updates, its new entries.

    An emitted entry is recorded as ingested at once (the stream settles what
    it emits), so the next read skips it as ``sitemap_entry_seen``."""
    updates: List[FeedStateUpdate] = []
    entries = 0
    for tag, value in emitted:
        if tag == STATE:
            updates.append(value)
        elif tag == ENTRIES:
            entries += 1
            updates.append(FeedStateUpdate(value.feed_url, "entry", "ingested", now,
                                           entry_key=value.entry_key))
    touched = {u.feed_url: states[u.feed_url] for u in updates if u.feed_url in states}
    return merge_states(touched, updates), updates, entries


class _PollDueSitemapsFn(StatefulDoFn):
    """(group, sources) at a tick → entries, rejects, skips and state of the sources due.

    The state holds, per listed source URL, the `FeedState`s of the sitemaps
    read through it (keyed by sitemap URL) and the source's `FeedSchedule`.
    """

    SOURCES = ReadModifyWriteStateSpec("sitemap_sources", PickleCoder())

    def __init__(self, ctx: FeedsContext, max_age_days: float, min_poll_s: float,
                 max_poll_s: float):
        self._ctx = ctx
        self._max_age_days = max_age_days
        self._min_s = min_poll_s
        self._max_s = max_poll_s
        self._worker = None
        self._counters = StageCounters(STAGE)

    def setup(self) -> None:
        super().setup()
        self._worker = shared_fetcher(self._ctx.run_id, self._ctx.fetch)

    def process(self, element, prior: Dict[str, FeedState],
                timestamp=beam.DoFn.TimestampParam,
                stored=beam.DoFn.StateParam(SOURCES)) -> Iterable[Any]:
        _, sources = element
        now = timestamp.micros
        known: Dict[str, Tuple[Dict[str, FeedState], Optional[FeedSchedule]]] = (
            stored.read() or {})
        due = []
        for source in sources:
            own, schedule = known.get(source.url, ({}, None))
            if is_due(schedule, now, int(self._min_s * 5e5)):
                # What this source read in the stream, over batch's state at start.
                due.append((source, ChainMap(own, prior), schedule, []))
            else:
                self._counters.inc("skipped:sitemap_not_due")
        if not due:
            return

        async def read_all() -> None:
            await asyncio.gather(*(read_sitemap_source(
                self._worker.fetcher, source, states, self._ctx,
                lambda tag, value, out=emitted: out.append((tag, value)),
                self._max_age_days, now) for source, states, _, emitted in due))

        self._worker.submit(read_all()).result()
        for source, states, schedule, emitted in due:
            touched, updates, entries = settle(states, emitted, now)
            status = source_status(updates)
            known[source.url] = ({**states.maps[0], **touched},
                                 after_poll(schedule, None, status, entries, now,
                                            self._min_s, self._max_s))
            self._counters.inc(f"polled_sitemap:{status}")
            for tag, value in emitted:
                if isinstance(value, Bump):
                    self._counters.inc(value.name)
                elif tag != STATE:  # state goes out below, with the entries' updates
                    if isinstance(value, (Reject, Skipped)):
                        self._counters.inc(outcome(value).counter)
                    yield beam.pvalue.TaggedOutput(tag, value)
            for update in updates:  # for _state/feeds.json: a restart or batch run goes on
                yield beam.pvalue.TaggedOutput(STATE, update)
        stored.write(known)


class PollSitemapsContinuously(beam.PTransform):
    """Sitemap lists to documents, each listed source read again when it is due.

    Args:
      sitemap_lists: lists in the feed-list format (local or ``gs://``).
      ctx: as for `stream_sources.PollFeedsContinuously`.
      ticks: the start and interval of the ticks it is applied to.
      max_age_days: entries older than this are not followed (``--sitemap_max_age_days``).
      min_poll_s, max_poll_s: bounds of a source's poll interval.
    """

    def __init__(self, sitemap_lists: List[str], ctx: FeedsContext, ticks: Ticks,
                 min_poll_s: float, max_poll_s: float,
                 max_age_days: float = DEFAULT_MAX_AGE_DAYS):
        super().__init__()
        self._lists = list(sitemap_lists)
        self._ctx = ctx
        self._ticks = ticks
        self._min_s = min_poll_s
        self._max_s = max_poll_s
        self._max_age_days = max_age_days

    def expand(self, ticks):
        ctx = self._ctx
        pbegin = ticks.pipeline
        lists, sources = listed_feeds(pbegin, self._lists, ctx, rerun_id=None)
        prior = (pbegin
                 | "SitemapStateFolder" >> beam.Create([ctx.output])
                 | "LoadSitemapState" >> beam.FlatMap(prior_states, None))
        polled = (ticks
                  | "SitemapsByShard" >> beam.FlatMap(
                      sources_by_shard, beam.pvalue.AsList(sources.feeds)).with_output_types(
                          Tuple[str, Any])
                  | "PollDueSitemaps" >> beam.ParDo(_PollDueSitemapsFn(
                      ctx, self._max_age_days, self._min_s, self._max_s),
                      beam.pvalue.AsDict(prior)).with_outputs(
                          ENTRIES, REJECTS, SKIPPED, STATE, main="documents"))
        fetched = (polled[ENTRIES]
                   | "SitemapTickWindows" >> beam.WindowInto(
                       window.FixedWindows(self._ticks.interval_s),
                       timestamp_combiner=window.TimestampCombiner.OUTPUT_AT_EARLIEST)
                   | "KeySitemapPageByHost" >> beam.Map(lambda e: (host_of(e.link), e)
                                                        ).with_output_types(Tuple[str, Any])
                   | "GroupSitemapPagesByHost" >> beam.GroupByKey()
                   | "FetchSitemapPages" >> beam.ParDo(FetchPagesNowFn(ctx)).with_outputs(
                       REJECTS, main="documents"))
        documents = (fetched.documents
                     | "SitemapPagesInGlobalWindow" >> beam.WindowInto(window.GlobalWindows())
                     | "MarkSitemapDocuments" >> beam.Map(as_sitemap))
        page_rejects = (fetched[REJECTS]
                        | "SitemapPageRejectsInGlobalWindow" >> beam.WindowInto(
                            window.GlobalWindows())
                        | "MarkSitemapRejects" >> beam.Map(as_sitemap))
        start = self._ticks.start
        startup_rejects = lists[REJECTS] | "SitemapListRejectsAtStart" >> beam.ParDo(
            AtTime(start))
        startup_skipped = ((lists[SKIPPED], sources[SKIPPED])
                           | "SitemapListSkipped" >> beam.Flatten()
                           | "SitemapListSkippedAtStart" >> beam.ParDo(AtTime(start)))
        return SourceOutputs(
            documents=documents,
            rejects=((startup_rejects, polled[REJECTS], page_rejects)
                     | "SitemapRejects" >> beam.Flatten()),
            duplicates=None,
            skipped=(startup_skipped, polled[SKIPPED]) | "SitemapSkipped" >> beam.Flatten(),
            state=polled[STATE])


__all__ = ["PollSitemapsContinuously", "sources_by_shard", "source_status", "settle"]
