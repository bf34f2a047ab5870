"""Deduplicate: by canonical URL, by exact content, then near-duplicates, across runs.

Only small key records are shuffled, never article bodies: each article is
reduced to a `DedupKey` (ids, hashes, its MinHash signature, what ranks it),
and the decisions come back as a side input that routes the duplicate
articles to the duplicates table. Every duplicate keeps its row there, with
the article it duplicates, the type and the estimated similarity.

Three stages, each over the survivors of the one before:

1. URL: one article per URL key, among articles that are one article: a
   page sharing a key with a kept one whose body is not a near duplicate of
   it (`same_article`) is kept too, and counted as a URL conflict, as is a
   page whose claimed address was refused (`transforms.extract.articles.article_url_key`).
   Templates that declare one canonical URL on every page are why.
2. Exact: one article per content hash (normalised body).
3. Near: MinHash LSH (`transforms.dedup.minhash`, bands x rows derived from
   `near_threshold`); articles sharing a band are candidates, kept as a pair
   only if their Jaccard similarity is at least `near_threshold`: computed
   exactly on their shingles, for articles of this run and for the index
   rows that keep theirs (`minhash-v5`), estimated from the signatures
   against older rows and texts of more than `minhash.MAX_EXACT_SHINGLES`. The pairs are clustered into
   stars around the most connected copy (`cluster_near`): no chains, every
   member is directly similar to its centre.

Each duplicate row says how it relates to the copy kept: its delay after it
(`lag_seconds`) and the kept copy's source and host (`kept_source`).

Entries of earlier runs (`transforms.dedup.index`) take part in all three
stages and always rank first: an article already published stays, and its
cluster keeps its id when new members join. Only the entries that can change
a decision reach the stages (`transforms.dedup.known`).

Within a group the kept copy is the first by `rank`: an entry of an earlier
run, then an explicit canonical address, then source priority, then the
earliest trustworthy publication time, then the longest body, then the
lowest id, so the choice never depends on input order.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Set, Tuple
import functools

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.contexts import DedupResult
from schemas.records import Article, Duplicate, IndexEntry
from transforms.dedup import minhash
from transforms.dedup.buckets import GroupBandsInFiles
from transforms.core.counters import StageCounters
from transforms.extract.normalize import key_text
from transforms.core.paths import join_path
from transforms.core.staging import StageForSideInput, StageRows, read_all_staged
from transforms.dedup.known import (MEMBERS, SIGNATURES, KeysPerBundleFn, KnownBandsFn,
                                    band_keys_of, relevant_known)
from transforms.dedup.urls import site_of
from schemas.dedup import Conflict, DedupDecision, DedupKey, NearEdge
from transforms.dedup.rules import (DUPLICATES, URL_CONFLICTS, band_refs, bucket_edges,
                                    cluster_near, dedup_key, index_entry, member_ref,
                                    refused_claim, split_group, split_url_group, to_duplicate,
                                    unsigned, without_shingles)


def _decide(group: Tuple[str, Iterable[DedupKey]], dup_type: str):
    _, members = group
    kept, losers = split_group(members, dup_type)
    yield kept
    for decision in losers:
        yield beam.pvalue.TaggedOutput(DUPLICATES, decision)


class _DecideUrlGroupFn(beam.DoFn):
    """A URL group → its kept members, URL duplicates and URL conflicts (tagged)."""

    def __init__(self, threshold: float):
        self._threshold = threshold
        self._conflicts = Metrics.counter("dedup", URL_CONFLICTS)

    def process(self, group: Tuple[str, Iterable[DedupKey]]):
        url, members = group
        kept, decisions, conflicts = split_url_group(members, self._threshold)
        yield from kept
        for decision in decisions:
            yield beam.pvalue.TaggedOutput(DUPLICATES, decision)
        for _ in range(conflicts):
            self._conflicts.inc()
            yield beam.pvalue.TaggedOutput(URL_CONFLICTS, (URL_CONFLICTS, "", site_of(url) or ""))


class _RouteDuplicatesFn(beam.DoFn):
    def __init__(self):
        self._counters = StageCounters("dedup")

    def process(self, article: Article, decisions) -> Iterable[Article]:
        decision = decisions.get(article.article_id)
        if decision is None:
            self._counters.inc("out")
            yield article
            return
        self._counters.inc(f"dropped:{decision.dup_type}")
        yield beam.pvalue.TaggedOutput(DUPLICATES, to_duplicate(article, decision))


# Keys grouped by a string: typed, so that Beam encodes them with the row
# coder instead of pickling every (key, DedupKey) pair (16 a signed article).
_KEYED = Tuple[str, DedupKey]
# Decisions by article id and signatures by article id, typed for the same reason:
# a PCollection without a type (a string annotation reads as Any) pickles each
# element, and a Flatten of typed and untyped inputs transcodes every element.
_DECIDED = Tuple[str, DedupDecision]
_SIGNED = Tuple[str, bytes]
# An LSH bucket's entry: (band key, `member_ref`).
_REFERENCED = Tuple[str, str]
# A verified pair: (new `member_ref`, other `member_ref`, similarity).
_PAIR = Tuple[str, str, float]


def _cluster(group: Tuple[str, Iterable[Tuple[str, str, float]]], members: Dict[str, DedupKey]):
    """`cluster_near` over the run's verified pairs, their keys looked up by
    reference. The FnApiRunner holds a group's values decoded, and W1's
    copies of a page are pairs of one another (81,563 edges at 20,000
    documents): edges carrying both members' keys held 1.4-5 KB each in the
    runner, references about 0.2 KB; the keys wait once, in `members`."""
    return cluster_near(NearEdge(members[new], members[other], similarity)
                        for new, other, similarity in group[1])


SKETCHES = "sketches"


class _DedupKeysFn(beam.DoFn):
    """An article → its `DedupKey`; its sketch (tagged ``sketches``), for the
    near stage's exact verification; a URL conflict when its claimed address
    was refused (tagged ``url_conflicts``). The key text is normalised once."""

    def __init__(self, source_priority: Dict[str, int]):
        self._priority = source_priority
        self._conflicts = Metrics.counter("dedup", URL_CONFLICTS)

    def process(self, article: Article) -> Iterable[DedupKey]:
        signature, sketched = minhash.sketch(key_text(article.text))
        yield dedup_key(article, self._priority, signature, minhash.shingles_of(sketched))
        if sketched is not None:
            yield beam.pvalue.TaggedOutput(SKETCHES, (article.article_id, sketched))
        conflict = refused_claim(article)
        if conflict is not None:
            self._conflicts.inc()
            yield beam.pvalue.TaggedOutput(URL_CONFLICTS, conflict)


class _VerifyBucketsFn(beam.DoFn):
    """The verified pairs of LSH buckets, each pair compared once a bundle
    however many bands its members share (`bucket_edges`)."""

    def __init__(self, threshold: float):
        self._threshold = threshold
        self._counters = StageCounters("dedup")
        self._staged: Tuple[Tuple[str, ...], Dict[str, bytes]] = ((), {})

    def start_bundle(self) -> None:
        self._compared: Set[Tuple[str, str]] = set()

    def process(self, group: Tuple[str, Iterable[str]], signatures,
                members: Dict[str, DedupKey]) -> Iterable[Tuple[str, str, float]]:
        """`signatures`: a dict by article id, or the names of the staged
        files that hold them (read once a worker, kept while they are the same).
        Yields each edge as `(new ref, other ref, similarity)`, see `_cluster`."""
        if not isinstance(signatures, dict):
            signatures = self._read_staged(signatures)
        before = len(self._compared)
        edges = bucket_edges([members[ref] for ref in group[1]], self._threshold,
                             lambda key: signatures[key.article_id], self._compared)
        self._counters.inc("near_pairs_compared", len(self._compared) - before)
        self._counters.inc("near_edges", len(edges))
        return [(member_ref(e.new), member_ref(e.other), e.similarity) for e in edges]

    def _read_staged(self, names: Iterable[str]) -> Dict[str, bytes]:
        names = tuple(sorted(names))
        if self._staged[0] != names:
            self._staged = (names, dict(read_all_staged(names, _SIGNED)))
        return self._staged[1]


class Deduplicate(beam.PTransform):
    """Splits articles into unique ones and duplicates, against earlier runs too.

    Args:
      known: `IndexEntry` rows of earlier runs (see `transforms.dedup.index`),
        or a PTransform reading them from the pipeline's start (such as
        `ReadIndex`: it is applied twice, see `relevant_known`, so a slice
        holds only the entries its articles meet), or None.
      run_id, ingested_at: stamped on the index entries this run adds.
      near_threshold: the least Jaccard similarity of a near pair (and of
        two pages sharing a URL key, for them to be one article); the LSH
        layout is derived from it (`minhash.lsh_parameters`).
      near: whether to run the near-duplicate stage at all.
      source_priority: source name to priority (lower is preferred; default 0).
      stage_dir: where the articles and their keys wait for the decisions,
        as files (`transforms.core.staging`): a folder of the run's temporary
        folder. None: they wait in the runner's memory (fine when small).

    Returns a `DedupResult`: ``articles``, ``duplicates``, ``index_entries`` and
    ``url_conflicts`` (one ``("url_conflicts", "", site)`` a refused URL claim,
    counted into the run manifest).
    """

    def __init__(self, known=None, run_id: str = "", ingested_at: int = 0,
                 near_threshold: float = minhash.DEFAULT_THRESHOLD, near: bool = True,
                 source_priority: Optional[Dict[str, int]] = None,
                 stage_dir: Optional[str] = None):
        super().__init__()
        self._stage_dir = stage_dir
        self._known = known
        self._run_id = run_id
        self._ingested_at = ingested_at
        self._threshold = near_threshold
        self._params = minhash.lsh_parameters(near_threshold)
        self._near = near
        self._priority = dict(source_priority or {})

    def expand(self, articles):
        keyed = articles | "DedupKeys" >> beam.ParDo(_DedupKeysFn(self._priority)).with_output_types(
            DedupKey, **{SKETCHES: _SIGNED, URL_CONFLICTS: Conflict}).with_outputs(
                SKETCHES, URL_CONFLICTS, main="keys")
        # The shingles stay on the keys that make the index rows, not on the
        # keys that are shuffled (the sketches side input verifies with them).
        new_keys = keyed.keys | "LeaveShingles" >> beam.Map(without_shingles).with_output_types(
            DedupKey)
        stage_inputs = [new_keys]
        known_keys = None
        if self._known is not None:
            matchers = None
            if isinstance(self._known, beam.PTransform):
                again = getattr(self._known, "rereading", lambda: self._known)()
                if hasattr(self._known, "files"):
                    # An index on disk (`ReadIndex`): its files are matched
                    # against the new keys in Arrow, not entry by entry.
                    reads = (articles.pipeline | "ReadKnown" >> self._known.files(),
                             articles.pipeline | "ReadKnownAgain" >> again.files())
                    matchers = (self._known.meeting_new(self._params),
                                again.of_their_urls(self._params))
                else:
                    reads = (articles.pipeline | "ReadKnown" >> self._known,
                             articles.pipeline | "ReadKnownAgain" >> again)
            else:
                reads = (self._known, self._known)
            known_keys = relevant_known(new_keys, *reads, params=self._params,
                                        matchers=matchers)
            # Signed: the URL stage compares a known page with new ones by it.
            stage_inputs.append(known_keys)
        keys = stage_inputs | "NewAndKnownKeys" >> beam.Flatten()

        with_url = keys | "HasUrlKey" >> beam.Filter(lambda k: k.url_key is not None)
        without_url = keys | "NoUrlKey" >> beam.Filter(lambda k: k.url_key is None)
        by_url = (with_url
                  | "KeyByUrl" >> beam.Map(lambda k: (k.url_key, k)).with_output_types(_KEYED)
                  | "GroupByUrl" >> beam.GroupByKey()
                  | "KeepFirstPerUrl" >> beam.ParDo(_DecideUrlGroupFn(self._threshold))
                  .with_output_types(DedupKey, **{DUPLICATES: _DECIDED, URL_CONFLICTS: Conflict})
                  .with_outputs(DUPLICATES, URL_CONFLICTS, main="kept"))
        url_conflicts = ((keyed[URL_CONFLICTS], by_url[URL_CONFLICTS])
                         | "AllUrlConflicts" >> beam.Flatten())
        by_content = ((by_url.kept, without_url)
                      | "UrlSurvivors" >> beam.Flatten()
                      | "KeyByContent" >> beam.Map(
                          lambda k: (k.content_hash, k)).with_output_types(_KEYED)
                      | "GroupByContent" >> beam.GroupByKey()
                      | "KeepFirstPerContent" >> beam.FlatMap(_decide, "exact").with_output_types(
                          DedupKey, **{DUPLICATES: _DECIDED}).with_outputs(
                              DUPLICATES, main="kept"))
        decided = [by_url[DUPLICATES], by_content[DUPLICATES]]
        if self._near:
            decided.append(self._near_stage(by_content.kept, known_keys, keyed[SKETCHES]))
        decisions = decided | "AllDecisions" >> beam.Flatten()

        routed = self._waiting(articles, "Articles", Article) | "RouteDuplicates" >> beam.ParDo(
            _RouteDuplicatesFn(), beam.pvalue.AsDict(decisions)).with_output_types(
                Article, **{DUPLICATES: Duplicate}).with_outputs(DUPLICATES, main="unique")
        entries = self._waiting(keyed.keys, "Keys", DedupKey) | "IndexEntries" >> beam.Map(
            index_entry, beam.pvalue.AsDict(decisions), self._run_id,
            self._ingested_at).with_output_types(IndexEntry)
        return DedupResult(articles=routed.unique, duplicates=routed[DUPLICATES],
                           index_entries=entries, url_conflicts=url_conflicts)

    def _waiting(self, rows, name: str, row_type: type):
        """`rows` as they wait for the decisions: in files when staged."""
        if not self._stage_dir:
            return rows
        return rows | f"Stage{name}" >> StageRows(join_path(self._stage_dir, name.lower()), row_type)

    def _sketches(self, sketches, name: str):
        """(article id, sketch) pairs, or when staged the names of their files:
        the sketches (up to 16 KB an article) stay out of the runner."""
        if not self._stage_dir:
            return sketches
        return sketches | f"Stage{name}" >> StageForSideInput(
            join_path(self._stage_dir, name.lower()), _SIGNED)

    def _group_bands(self) -> beam.PTransform:
        """The LSH buckets: grouped in files when staged (`GroupBandsInFiles`:
        the runner held every band entry of the run, 20 an article), else by
        the runner."""
        if not self._stage_dir:
            return beam.GroupByKey()
        return GroupBandsInFiles(join_path(self._stage_dir, "bands"))

    def _near_stage(self, survivors, known_keys, sketches):
        """Near-duplicate decisions for the new survivors of the exact stages."""
        new_survivors = survivors | "NewSurvivors" >> beam.Filter(
            lambda k: not k.known and k.signature is not None).with_output_types(DedupKey)
        new_bands = new_survivors | "NewBands" >> beam.FlatMap(
            band_refs, None, self._params).with_output_types(_REFERENCED)
        band_inputs = [new_bands]
        # The buckets hold references; each member's key waits once, here.
        member_inputs = [new_survivors | "NewMembers" >> beam.Map(
            lambda key: (member_ref(key), unsigned(key))).with_output_types(_KEYED)]
        # Verified by sketches: exact Jaccard where both carry shingles (new
        # articles, v5 index rows), else estimated from the signatures.
        signature_inputs = [self._sketches(sketches, "Sketches")]
        if known_keys is not None:
            band_set = new_survivors | "NewBandKeys" >> beam.ParDo(
                KeysPerBundleFn(functools.partial(band_keys_of, params=self._params))
            ).with_output_types(List[str])
            known_bands = known_keys | "KnownBands" >> beam.ParDo(
                KnownBandsFn(self._params), beam.pvalue.AsList(band_set)).with_output_types(
                    _REFERENCED, **{SIGNATURES: _SIGNED, MEMBERS: _KEYED}
                ).with_outputs(SIGNATURES, MEMBERS, main="bands")
            band_inputs.append(known_bands.bands)
            signature_inputs.append(self._sketches(known_bands[SIGNATURES], "KnownSketches"))
            member_inputs.append(known_bands[MEMBERS])
        # Signatures are looked up in a side input, built once, rather than
        # shuffled with every band entry; staged, it holds file names.
        signatures = signature_inputs | "CandidateSignatures" >> beam.Flatten()
        as_side_input = beam.pvalue.AsList if self._stage_dir else beam.pvalue.AsDict
        members = member_inputs | "CandidateMembers" >> beam.Flatten()
        return (band_inputs
                | "AllBands" >> beam.Flatten()
                | "GroupByBand" >> self._group_bands()
                | "VerifyPairs" >> beam.ParDo(_VerifyBucketsFn(self._threshold),
                                              as_side_input(signatures),
                                              beam.pvalue.AsDict(members)
                                              ).with_output_types(_PAIR)
                # One group of every edge, for the clustering is global. A
                # group keeps the edges' plain encoding; ToList would pickle
                # them. The group holds references, not keys: see `_cluster`.
                | "KeyEdges" >> beam.Map(lambda edge: ("", edge)).with_output_types(
                    Tuple[str, _PAIR])
                | "AllEdges" >> beam.GroupByKey()
                | "ClusterNear" >> beam.FlatMap(
                    _cluster, beam.pvalue.AsDict(members)).with_output_types(_DECIDED))
