"""Streaming dedup: URL, exact and near duplicates in keyed state that expires.

The same three stages as batch (`transforms.dedup.batch`), each a stateful DoFn in
the global window, keyed by what it compares:

1. ``DedupByUrl``, keyed by URL key, and 2. ``DedupByContent``, keyed by
   content hash: the state holds the key's kept article (as a `DedupKey`)
   and when it expires. An article whose key is held is a duplicate of it
   (`transforms.dedup.batch.split_group`, the batch decision: what is held ranks
   first, like an index entry in batch); otherwise it is kept and held.
   By URL, as in batch, only when it is the same article
   (`transforms.dedup.rules.same_article`, by the held key's signature): a
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
Jaccard similarity exactly, within a run and against index rows that keep
their shingles): a bucket's state holds each member once per band, so its
shingles would multiply the near stage's state about fivefold (docs/dedup.md).
The stream's index rows keep no shingles either: later batch runs verify
their candidates by the estimate.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import TimestampedValue

from schemas.contexts import DedupResult
from schemas.records import Article, IndexEntry
from transforms.dedup import minhash
from schemas.dedup import DedupDecision, DedupKey
from transforms.dedup.rules import (URL_CONFLICTS, dedup_key, index_entry, known_key,
                                    refused_claim, to_duplicate, without_shingles)

from transforms.dedup.stream_state import KNOWN, NEW, DecideNearFn, KeepFirstFn, NearBucketFn


DUPLICATES = "duplicates"
DAY_MICROS = 86_400 * 1_000_000
# Keyed inputs of the stateful steps: a string key, so its coder is deterministic.
Keyed = Tuple[str, Any]


def _new(pair: Tuple[Article, DedupKey], field: str):
    article, key = pair
    return getattr(key, field), (NEW, (article, key))


def _known(key: DedupKey, field: str):
    return getattr(key, field), (KNOWN, key)


def _known_at_ingestion(entry: IndexEntry):
    # Without its shingles: the state holds a bucket member once per band.
    return TimestampedValue(without_shingles(known_key(entry)), entry.ingested_at / 1e6)


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

    Returns a `DedupResult` (``articles``, ``duplicates``, ``index_entries``), each at the event time
    of its article, and ``url_conflicts``: one ``("url_conflicts", "", site)`` a
    conflict, as batch's `Deduplicate`.
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
        url_conflicts = ((claims[URL_CONFLICTS], by_url[URL_CONFLICTS])
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
        return DedupResult(articles=unique | "UniqueArticles" >> beam.Map(lambda pair: pair[0]),
                           duplicates=dups | "DuplicateRows" >> beam.Map(lambda pair: pair[0]),
                           index_entries=entries, url_conflicts=url_conflicts)

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
                    KeepFirstFn(dup_type, self._window, threshold)).with_outputs(
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
                 | "NearBuckets" >> beam.ParDo(NearBucketFn(self._threshold, self._window))
                 | "EdgesPart" >> beam.Map(lambda kv: (kv[0], ("edges", kv[1])))
                 .with_output_types(Keyed))
        articles = signed | "ArticlePart" >> beam.Map(
            lambda pair: (pair[0].article_id, ("article", pair))).with_output_types(Keyed)
        decided = ((articles, edges)
                   | "AllParts" >> beam.Flatten()
                   | "DecideNear" >> beam.ParDo(DecideNearFn(self._params.bands)).with_outputs(
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
