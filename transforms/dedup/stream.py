"""Streaming dedup: URL, exact and near duplicates in keyed state that expires.

The same three stages as batch (`transforms.dedup.batch`), each a stateful DoFn in
the global window, keyed by what it compares:

1. ``DedupByUrl``, keyed by URL key, and 2. ``DedupByContent``, keyed by
   content hash: the state holds the key's kept article (as a `DedupKey`)
   and when it expires. An article whose key is held is a duplicate of it
   (`transforms.dedup.batch.split_group`, the batch decision: what is held ranks
   first, like an index entry in batch); otherwise it is kept and held.
   By URL, as in batch, only when it is the same article
   (`transforms.dedup.batch.same_article`, by the held key's signature): a
   dissimilar page under a held URL key is kept and counted
   (``dedup:url_conflicts``).
3. ``NearBuckets``, keyed by LSH band key (the layout batch derives from the
   threshold, `transforms.dedup.minhash.lsh_parameters`): the state holds the signed keys
   of the bucket. A new article is compared with them
   (`transforms.dedup.batch.bucket_edges`, as in batch) and ``DecideNear``, keyed
   by article id, gathers its verified pairs from all its bands and decides
   with batch's `cluster_near`. An article that matched nothing in a bucket
   joins it.

Order: a new article waits in its key's state until the watermark passes
its event time (the time newsbeam read it); then the waiting articles are
decided in event-time order, ties by batch's `rank`. So the earliest copy is
kept whatever order the runner delivers them in, and every index row
(which has an older event time) is in the state before any article it may
match: the decisions do not depend on bundles or on the start-up race of
the index. The cost is latency: a decision waits for the watermark, which
follows the ticks.

Expiry is in event time too: a key is
held for ``--dedup_window_days`` after it was last seen (a duplicate keeps
it alive, as its index row does in batch) and a bucket member for that long
after it joined. Inside the window an article that comes back is a
duplicate; after it, it is new again. A watermark timer clears expired
state, and every decision also checks the expiry itself, so an article
that arrives before the timer has fired is still judged by its own time.

Entries of batch runs (``_index/``, `transforms.dedup.index.ReadIndex`)
enter the same state at start, at once and at the event time they were
ingested: a batch-ingested article is a duplicate when it reappears in the
stream. Each
decided article gives an `IndexEntry`, written under ``_index/`` like
batch's, so batch runs after the stream see its articles.

Differences from batch, by nature of a stream: the earliest copy is kept
(batch picks the best-ranked copy of a run; a kept row cannot be withdrawn
later). An article kept by the URL stage and later found an exact or near
duplicate stays held for its URL, so a later copy with its URL names it (a
duplicate) as ``duplicate_of``; follow ``duplicate_of`` to the kept row.
Near pairs are verified by the signature estimate (batch computes the
Jaccard similarity of two articles of one run exactly): holding every
bucket member's shingles in state would cost some 2 KB per band per article.
"""
from __future__ import annotations

from typing import Any, Iterable, List, Optional, Tuple

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (BagStateSpec, ReadModifyWriteStateSpec,
                                              TimerSpec, on_timer)
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from schemas.records import Article, IndexEntry
from transforms.dedup import minhash
from transforms.core.counters import StageCounters
from transforms.sink.state_cache import StatefulDoFn
from transforms.dedup.batch import (MAX_BUCKET_COMPARISONS, URL_CONFLICTS, DedupDecision, DedupKey,
                              bucket_edges, cluster_near, dedup_key, index_entry, known_key, rank,
                              refused_claim, same_article, split_group, to_duplicate)
from transforms.dedup.urls import site_of

KNOWN, NEW = "known", "new"
DUPLICATES = "duplicates"
DAY_MICROS = 86_400 * 1_000_000
# Keyed inputs of the stateful steps: a string key, so its coder is deterministic.
Keyed = Tuple[str, Any]


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


class _KeepFirstFn(StatefulDoFn):
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


class _NearBucketFn(StatefulDoFn):
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


class _DecideNearFn(StatefulDoFn):
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


def _new(pair: Tuple[Article, DedupKey], field: str):
    article, key = pair
    return getattr(key, field), (NEW, (article, key))


def _known(key: DedupKey, field: str):
    return getattr(key, field), (KNOWN, key)


def _known_at_ingestion(entry: IndexEntry):
    return TimestampedValue(known_key(entry), entry.ingested_at / 1e6)


def _new_bands(pair: Tuple[Article, DedupKey], params: minhash.LshParameters):
    _, key = pair
    for band in minhash.band_keys(key.signature, params):
        yield band, (NEW, key)


def _known_bands(key: DedupKey, params: minhash.LshParameters):
    for band in minhash.band_keys(key.signature, params):
        yield band, (KNOWN, key)


def _refused_claims(pair: Tuple[Article, DedupKey], counter):
    """The pair, and a conflict (tagged) when its article's claim was refused."""
    yield pair
    conflict = refused_claim(pair[0])
    if conflict is not None:
        counter.inc()
        yield beam.pvalue.TaggedOutput(URL_CONFLICTS, conflict)  # at the article's time


def _unique_row(pair, run_id: str):
    article, key = pair
    return article, index_entry(key, {}, run_id, article.ingested_at)


def _duplicate_row(triple, run_id: str):
    article, key, decision = triple
    return (to_duplicate(article, decision),
            index_entry(key, {article.article_id: decision}, run_id, article.ingested_at))


class StreamDeduplicate(beam.PTransform):
    """Articles (in the global window, at their event time) → unique, duplicates, index.

    Args:
      known: `IndexEntry` rows of earlier runs (batch or stream), or None.
      run_id: stamped on the index entries the stream adds.
      window_days: how long a key is remembered (``--dedup_window_days``; 0:
        only copies read by the same tick are duplicates).
      near_threshold: least estimated Jaccard similarity of a near pair (and
        of two pages under one URL key); the LSH layout is derived from it.
      near: whether to run the near-duplicate stage.
      source_priority: source name to priority (lower is preferred).
      separate_stages: a shuffle between the stages, for the FnApiRunner:
        there, timers that a stage sets while the stage before it fires its
        own timers in the same fused step never fire (measured: two chained
        stages gave no output); a shuffle makes each stage a step of its own.

    Returns ``(articles, duplicates, index_entries)``, each at the event time
    of its article. After it is applied, `url_conflicts` holds one
    ``("url_conflicts", "", site)`` a conflict, as batch's `Deduplicate`.
    """

    def __init__(self, known=None, run_id: str = "", window_days: float = 30,
                 near_threshold: float = minhash.DEFAULT_THRESHOLD, near: bool = True,
                 source_priority: Optional[dict] = None, separate_stages: bool = False):
        super().__init__()
        self._separate = separate_stages
        self._known = known
        self._run_id = run_id
        # 0 days: copies read by the same tick are still duplicates, nothing older.
        self._window = max(1, int(window_days * DAY_MICROS))
        self._threshold = near_threshold
        self._params = minhash.lsh_parameters(near_threshold)
        self._near = near
        self._priority = dict(source_priority or {})
        self.url_conflicts = None

    def expand(self, articles):
        keyed = articles | "DedupKeys" >> beam.Map(lambda a, p: (a, dedup_key(a, p)),
                                                   self._priority)
        known = None
        if self._known is not None:
            known = self._known | "KnownAtIngestionTime" >> beam.Map(_known_at_ingestion)

        claims = keyed | "RefusedClaims" >> beam.FlatMap(
            _refused_claims, Metrics.counter("dedup", URL_CONFLICTS)).with_outputs(
                URL_CONFLICTS, main="pairs")
        keyed = claims.pairs
        with_url = keyed | "HasUrlKey" >> beam.Filter(lambda pair: pair[1].url_key is not None)
        without_url = keyed | "NoUrlKey" >> beam.Filter(lambda pair: pair[1].url_key is None)
        by_url = self._stage("Url", "url_key", "url", with_url, known, self._threshold)
        self.url_conflicts = ((claims[URL_CONFLICTS], by_url[URL_CONFLICTS])
                              | "AllUrlConflicts" >> beam.Flatten())
        url_survivors = (self._barrier("AfterUrl", by_url.kept), without_url
                         ) | "UrlSurvivors" >> beam.Flatten()
        by_content = self._stage("Content", "content_hash", "exact", url_survivors, known)
        duplicates = [by_url[DUPLICATES], by_content[DUPLICATES]]
        kept = by_content.kept
        if self._near:
            near = self._near_stage(self._barrier("AfterContent", kept), known)
            duplicates.append(near[DUPLICATES])
            kept = near.kept

        unique = kept | "UniqueWithIndexEntry" >> beam.Map(_unique_row, self._run_id)
        dups = (duplicates
                | "AllDuplicates" >> beam.Flatten()
                | "DuplicateWithIndexEntry" >> beam.Map(_duplicate_row, self._run_id))
        entries = ((unique | "UniqueEntries" >> beam.Map(lambda pair: pair[1]),
                    dups | "DuplicateEntries" >> beam.Map(lambda pair: pair[1]))
                   | "IndexEntries" >> beam.Flatten())
        return (unique | "UniqueArticles" >> beam.Map(lambda pair: pair[0]),
                dups | "DuplicateRows" >> beam.Map(lambda pair: pair[0]),
                entries)

    def _barrier(self, name: str, pairs):
        return pairs | f"{name}Stage" >> beam.Reshuffle() if self._separate else pairs

    def _stage(self, name: str, field: str, dup_type: str, pairs, known,
               threshold: Optional[float] = None):
        inputs = [pairs | f"KeyBy{name}" >> beam.Map(_new, field).with_output_types(Keyed)]
        if known is not None:
            inputs.append(known
                          | f"Known{name}Keys" >> beam.Filter(
                              lambda k, f: getattr(k, f) is not None, field)
                          | f"KeyKnownBy{name}" >> beam.Map(_known, field).with_output_types(Keyed))
        return (inputs
                | f"New{name}AndKnown" >> beam.Flatten()
                | f"DedupBy{name}" >> beam.ParDo(
                    _KeepFirstFn(dup_type, self._window, threshold)).with_outputs(
                        DUPLICATES, URL_CONFLICTS, main="kept"))

    def _near_stage(self, pairs, known):
        signed = pairs | "Signed" >> beam.Filter(lambda pair: pair[1].signature is not None)
        unsigned = pairs | "Unsigned" >> beam.Filter(lambda pair: pair[1].signature is None)
        bands = [signed | "NewBands" >> beam.FlatMap(_new_bands, self._params
                                                     ).with_output_types(Keyed)]
        if known is not None:
            bands.append(known
                         | "KnownSigned" >> beam.Filter(lambda k: k.signature is not None)
                         | "KnownBands" >> beam.FlatMap(_known_bands, self._params
                                                        ).with_output_types(Keyed))
        edges = (bands
                 | "NewAndKnownBands" >> beam.Flatten()
                 | "NearBuckets" >> beam.ParDo(_NearBucketFn(self._threshold, self._window))
                 | "EdgesPart" >> beam.Map(lambda kv: (kv[0], ("edges", kv[1])))
                 .with_output_types(Keyed))
        articles = signed | "ArticlePart" >> beam.Map(
            lambda pair: (pair[0].article_id, ("article", pair))).with_output_types(Keyed)
        decided = ((articles, edges)
                   | "AllParts" >> beam.Flatten()
                   | "DecideNear" >> beam.ParDo(_DecideNearFn(self._params.bands)).with_outputs(
                       DUPLICATES, main="kept"))
        kept = (decided.kept, unsigned) | "NearSurvivors" >> beam.Flatten()
        return _Stage(kept, decided[DUPLICATES])


class _Stage:
    """The kept output and the ``duplicates`` output of a stage."""

    def __init__(self, kept, duplicates):
        self.kept = kept
        self._duplicates = duplicates

    def __getitem__(self, tag: str):
        if tag != DUPLICATES:
            raise KeyError(tag)
        return self._duplicates


__all__ = ["StreamDeduplicate", "DedupDecision", "KNOWN", "NEW"]
