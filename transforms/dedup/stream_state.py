"""The stateful DoFns of streaming dedup: keys held in state until they expire.

`KeepFirstFn` keeps the first copy of a URL key or content hash for the
dedup window, `NearBucketFn` compares the members of one LSH bucket as they
arrive, and `DecideNearFn` clusters the verified pairs per article. Each
decision is the one `transforms.dedup.rules` gives; event-time timers fire the
decisions in order and expire the state. `StreamDeduplicate` wires them.
"""
from __future__ import annotations

from typing import Any, Iterable, List, Optional, Tuple

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (BagStateSpec, ReadModifyWriteStateSpec, TimerSpec,
                                              on_timer)
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.core.counters import StageCounters
from transforms.sink.state_cache import StatefulDoFn
from schemas.dedup import DedupKey
from transforms.dedup.rules import (DUPLICATES, MAX_BUCKET_COMPARISONS, URL_CONFLICTS, bucket_edges,
                                    cluster_near, rank, same_article, split_group)
from transforms.dedup.urls import site_of

KNOWN, NEW = "known", "new"  # which side of a stage an element comes from


def _held_key(key: DedupKey, keep_signature: bool = False) -> DedupKey:
    """A key as held in state: it ranks first, like an index entry in batch.
    The URL stage keeps its signature, to tell another article under one URL."""
    return key._replace(known=True, signature=key.signature if keep_signature else None)


def _at(value, micros: int) -> TimestampedValue:
    return TimestampedValue(value, Timestamp(micros=micros))


def wait_for(micros: int, flush_at, flush) -> None:
    """Sets the flush timer to `micros` unless it is already set earlier."""
    current = flush_at.read()
    if current is None or micros < current:
        flush_at.write(micros)
        flush.set(Timestamp(micros=micros))


def _has_items(bag) -> bool:
    """Whether articles wait for a flush. An expiry timer then leaves the state
    alone: a runner may fire timers out of event-time order (the FnApiRunner,
    whose watermark jumps to the end, does), and the flush judges each
    waiting article by its own time before it sets the next expiry."""
    return any(True for _ in bag.read())


def wait_in_order(waiting, flush_at, flush, now: int, item) -> None:
    """Puts `item`, read at event time `now`, in the `waiting` bag until the
    watermark passes `now`; the flush timer's `take_ready` then hands it back."""
    waiting.add((now, item))
    wait_for(now, flush_at, flush)


def take_ready(waiting, flush_at, flush, fired: int, order) -> List[Tuple[int, Any]]:
    """The waiting (event time, payload) items the watermark has passed, in
    event-time order (ties by `order`); the others wait for the next timer."""
    items = list(waiting.read())
    ready = sorted((item for item in items if item[0] <= fired),
                   key=lambda item: (item[0], order(item[1])))
    rest = [item for item in items if item[0] > fired]
    waiting.clear()
    flush_at.clear()
    for item in rest:
        waiting.add(item)
    if rest:
        wait_for(min(item[0] for item in rest), flush_at, flush)
    return ready


class KeepFirstFn(StatefulDoFn):
    """(URL key or content hash, (kind, payload)) → kept (article, key) or a duplicate.

    ``known`` payloads (index entries) fill the state at once; ``new`` ones,
    (`Article`, `DedupKey`), wait until the watermark passes their event time
    and are then decided in event-time order: kept, or sent to ``duplicates``
    as (article, key, `DedupDecision`).
    """

    HELD = ReadModifyWriteStateSpec("held", PickleCoder())  # (DedupKey, expires_at µs)
    WAITING = BagStateSpec("waiting", PickleCoder())  # (event time µs, (article, key))
    FLUSH_AT = ReadModifyWriteStateSpec("flush_at", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)

    def __init__(self, dup_type: str, window_micros: int, threshold: Optional[float] = None):
        self._dup_type = dup_type
        self._window = window_micros
        # Set for the URL stage: a held key is a duplicate only of the same article.
        self._threshold = threshold
        self._counters = StageCounters("dedup")
        self._conflicts = Metrics.counter("dedup", URL_CONFLICTS)

    def _hold(self, key: DedupKey) -> DedupKey:
        return _held_key(key, keep_signature=self._threshold is not None)

    def _alive(self, stored, now: int):
        return None if stored is None or stored[1] <= now else stored

    def process(self, element, timestamp=beam.DoFn.TimestampParam,
                held=beam.DoFn.StateParam(HELD), waiting=beam.DoFn.StateParam(WAITING),
                flush_at=beam.DoFn.StateParam(FLUSH_AT), expiry=beam.DoFn.TimerParam(EXPIRY),
                flush=beam.DoFn.TimerParam(FLUSH)) -> Iterable[Any]:
        _, (kind, payload) = element
        now = timestamp.micros
        if kind == NEW:
            wait_in_order(waiting, flush_at, flush, now, payload)
            return
        stored = self._alive(held.read(), now)
        until = now + self._window
        if stored is None or rank(payload) < rank(stored[0]):
            stored = (self._hold(payload), max(until, stored[1] if stored else until))
        else:
            stored = (stored[0], max(until, stored[1]))
        held.write(stored)
        expiry.set(Timestamp(micros=stored[1]))

    @on_timer(FLUSH)
    def decide(self, fired=beam.DoFn.TimestampParam, held=beam.DoFn.StateParam(HELD),
               waiting=beam.DoFn.StateParam(WAITING), flush_at=beam.DoFn.StateParam(FLUSH_AT),
               expiry=beam.DoFn.TimerParam(EXPIRY), flush=beam.DoFn.TimerParam(FLUSH)):
        ready = take_ready(waiting, flush_at, flush, fired.micros, lambda pair: rank(pair[1]))
        if not ready:
            return
        stored = held.read()
        for now, (article, key) in ready:
            stored = self._alive(stored, now)
            until = now + self._window
            if stored is None:
                stored = (self._hold(key), until)
                yield _at((article, key), now)
                continue
            if self._threshold is not None and not same_article(stored[0], key, self._threshold):
                self._conflicts.inc()  # another article under a held URL: kept
                yield _at((article, key), now)
                yield beam.pvalue.TaggedOutput(URL_CONFLICTS, _at(
                    (URL_CONFLICTS, "", site_of(key.url_key) or ""), now))
                continue
            _, decisions = split_group([stored[0], key], self._dup_type)
            stored = (stored[0], max(until, stored[1]))
            self._counters.inc(f"dropped:{self._dup_type}")
            yield beam.pvalue.TaggedOutput(DUPLICATES, _at((article, key, decisions[0][1]), now))
        held.write(stored)
        expiry.set(Timestamp(micros=stored[1]))

    @on_timer(EXPIRY)
    def expire(self, fired=beam.DoFn.TimestampParam, held=beam.DoFn.StateParam(HELD),
               waiting=beam.DoFn.StateParam(WAITING)):
        if _has_items(waiting):  # the flush decides them by their own time, then sets expiry
            return
        stored = held.read()
        if stored is not None and stored[1] <= fired.micros:
            self._counters.inc("expired")
            held.clear()


class NearBucketFn(StatefulDoFn):
    """(band key, (kind, signed key)) → (article id, verified pairs) for new keys.

    The bucket holds signed keys, each until it expires, at most
    `MAX_BUCKET_COMPARISONS` (the best ranked). Known keys join at once; new
    keys wait for the watermark, are compared in event-time order, and join
    the bucket when they match no member.
    """

    MEMBERS = ReadModifyWriteStateSpec("members", PickleCoder())  # [(DedupKey, expires_at)]
    WAITING = BagStateSpec("waiting", PickleCoder())  # (event time µs, DedupKey)
    FLUSH_AT = ReadModifyWriteStateSpec("flush_at", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)

    def __init__(self, threshold: float, window_micros: int):
        self._threshold = threshold
        self._window = window_micros

    def _keep(self, alive, members, expiry) -> None:
        alive = sorted(alive, key=lambda pair: rank(pair[0]))[:MAX_BUCKET_COMPARISONS]
        members.write(alive)
        if alive:
            expiry.set(Timestamp(micros=min(until for _, until in alive)))

    def process(self, element, timestamp=beam.DoFn.TimestampParam,
                members=beam.DoFn.StateParam(MEMBERS), waiting=beam.DoFn.StateParam(WAITING),
                flush_at=beam.DoFn.StateParam(FLUSH_AT), expiry=beam.DoFn.TimerParam(EXPIRY),
                flush=beam.DoFn.TimerParam(FLUSH)) -> Iterable[Any]:
        _, (kind, key) = element
        now = timestamp.micros
        if kind == NEW:
            wait_in_order(waiting, flush_at, flush, now, key)
            return
        alive = [(m, until) for m, until in members.read() or [] if until > now]
        if all(m.article_id != key.article_id for m, _ in alive):
            alive.append((key, now + self._window))
        self._keep(alive, members, expiry)

    @on_timer(FLUSH)
    def compare(self, fired=beam.DoFn.TimestampParam, members=beam.DoFn.StateParam(MEMBERS),
                waiting=beam.DoFn.StateParam(WAITING), flush_at=beam.DoFn.StateParam(FLUSH_AT),
                expiry=beam.DoFn.TimerParam(EXPIRY), flush=beam.DoFn.TimerParam(FLUSH)):
        ready = take_ready(waiting, flush_at, flush, fired.micros, rank)
        if not ready:
            return
        alive = list(members.read() or [])
        for now, key in ready:
            alive = [(m, until) for m, until in alive if until > now]
            edges = bucket_edges([m for m, _ in alive] + [key], self._threshold)
            yield _at((key.article_id, edges), now)
            if not edges and all(m.article_id != key.article_id for m, _ in alive):
                alive.append((key._replace(known=True), now + self._window))
        self._keep(alive, members, expiry)

    @on_timer(EXPIRY)
    def expire(self, fired=beam.DoFn.TimestampParam, members=beam.DoFn.StateParam(MEMBERS),
               waiting=beam.DoFn.StateParam(WAITING), expiry=beam.DoFn.TimerParam(EXPIRY)):
        if _has_items(waiting):  # the flush compares them by their own time, then sets expiry
            return
        alive = [(m, until) for m, until in members.read() or [] if until > fired.micros]
        if not alive:
            members.clear()
            return
        members.write(alive)
        expiry.set(Timestamp(micros=min(until for _, until in alive)))


class DecideNearFn(StatefulDoFn):
    """(article id, part) → the article kept or a near duplicate, once all parts are in.

    The parts are the article itself and one list of verified pairs per band
    (`bands` of them); the decision is batch's `cluster_near` over the pairs.
    """

    PARTS = BagStateSpec("parts", PickleCoder())

    def __init__(self, bands: int):
        self._bands = bands
        self._counters = StageCounters("dedup")

    def process(self, element, parts=beam.DoFn.StateParam(PARTS)) -> Iterable[Any]:
        article_id, part = element
        parts.add(part)
        gathered = list(parts.read())
        articles = [p[1] for p in gathered if p[0] == "article"]
        bands = [p[1] for p in gathered if p[0] == "edges"]
        if not articles or len(bands) < self._bands:
            return
        parts.clear()
        article, key = articles[0]
        decisions = dict(cluster_near(edge for edges in bands for edge in edges))
        decision = decisions.get(article_id)
        if decision is None:
            yield article, key
            return
        self._counters.inc("dropped:near")
        yield beam.pvalue.TaggedOutput(DUPLICATES, (article, key, decision))


__all__ = ["KeepFirstFn", "NearBucketFn", "DecideNearFn", "wait_for", "wait_in_order",
           "take_ready"]
