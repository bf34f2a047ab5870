"""Deduplicate: one article per canonical URL and per normalised body within a run.

Only small key records are shuffled, never article bodies: each article is
reduced to a `DedupKey`, keys are grouped by URL key and then by content hash,
and the losers of each group come back as a side input that routes their
articles to the duplicates table. Every loser keeps its row there, with the
id of the copy that was kept and why.

The kept copy of a group is the first by `rank`: an explicit canonical address
first, then source priority, then the earliest publication time, then the
longest body, then the lowest id, so the choice never depends on input order.
"""
from __future__ import annotations

from typing import Iterable, List, NamedTuple, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.records import Article, Duplicate
from transforms.urls import url_key

DUPLICATES = "duplicates"
_NEVER = 2 ** 62


class DedupKey(NamedTuple):
    """What dedup needs of an article: a few dozen bytes instead of its body."""
    article_id: str
    url_key: Optional[str]
    content_hash: str
    is_canonical_address: bool
    source_priority: int
    published: Optional[int]
    text_length: int


class DedupDecision(NamedTuple):
    duplicate_of: str
    dup_type: str
    similarity: float


beam.coders.registry.register_coder(DedupKey, beam.coders.RowCoder)
beam.coders.registry.register_coder(DedupDecision, beam.coders.RowCoder)


def dedup_key(article: Article, source_priority: int = 0) -> DedupKey:
    own_key = url_key(article.url)
    return DedupKey(article.article_id, article.url_key, article.content_hash,
                    own_key is not None and own_key == article.url_key, source_priority,
                    article.published, article.text_length)


def rank(key: DedupKey) -> Tuple:
    """Sort key of a group's members: the first one is kept."""
    return (not key.is_canonical_address, key.source_priority,
            key.published if key.published is not None else _NEVER,
            -key.text_length, key.article_id)


def split_group(members: Iterable[DedupKey], dup_type: str
                ) -> Tuple[DedupKey, List[Tuple[str, DedupDecision]]]:
    """The kept member of a group and a decision for each of the others."""
    ordered = sorted(members, key=rank)
    kept = ordered[0]
    return kept, [(m.article_id, DedupDecision(kept.article_id, dup_type, 1.0))
                  for m in ordered[1:]]


def _decide(group: Tuple[str, Iterable[DedupKey]], dup_type: str):
    _, members = group
    kept, losers = split_group(members, dup_type)
    yield kept
    for decision in losers:
        yield beam.pvalue.TaggedOutput(DUPLICATES, decision)


def to_duplicate(article: Article, decision: DedupDecision) -> Duplicate:
    return Duplicate(article.article_id, decision.duplicate_of, None, decision.dup_type,
                     decision.similarity, decision.duplicate_of, article.url, article.title, article.content_hash,
                     article.published, article.source_kind, article.source_uri,
                     article.source_position, article.run_id, article.ingested_at)


class _RouteDuplicatesFn(beam.DoFn):
    def __init__(self):
        self._kept = Metrics.counter("dedup", "out")
        self._dropped = {}

    def process(self, article: Article, decisions) -> Iterable[Article]:
        decision = decisions.get(article.article_id)
        if decision is None:
            self._kept.inc()
            yield article
            return
        if decision.dup_type not in self._dropped:
            self._dropped[decision.dup_type] = Metrics.counter(
                "dedup", f"dropped:{decision.dup_type}")
        self._dropped[decision.dup_type].inc()
        yield beam.pvalue.TaggedOutput(DUPLICATES, to_duplicate(article, decision))


class Deduplicate(beam.PTransform):
    """Splits articles into unique ones and duplicates (by URL, then by content).

    Returns a tuple ``(articles, duplicates)``: `duplicates` holds
    `Duplicate` rows.
    """

    def expand(self, articles):
        keys = articles | "DedupKeys" >> beam.Map(dedup_key)
        with_url = keys | "HasUrlKey" >> beam.Filter(lambda k: k.url_key is not None)
        without_url = keys | "NoUrlKey" >> beam.Filter(lambda k: k.url_key is None)
        by_url = (
            with_url
            | "KeyByUrl" >> beam.Map(lambda k: (k.url_key, k))
            | "GroupByUrl" >> beam.GroupByKey()
            | "KeepFirstPerUrl" >> beam.FlatMap(_decide, "url").with_outputs(
                DUPLICATES, main="kept"))
        by_content = (
            (by_url.kept, without_url)
            | "UrlSurvivors" >> beam.Flatten()
            | "KeyByContent" >> beam.Map(lambda k: (k.content_hash, k))
            | "GroupByContent" >> beam.GroupByKey()
            | "KeepFirstPerContent" >> beam.FlatMap(_decide, "exact").with_outputs(
                DUPLICATES, main="kept"))
        decisions = ((by_url[DUPLICATES], by_content[DUPLICATES])
                     | "AllDecisions" >> beam.Flatten())
        routed = articles | "RouteDuplicates" >> beam.ParDo(
            _RouteDuplicatesFn(), beam.pvalue.AsDict(decisions)).with_outputs(
                DUPLICATES, main="unique")
        return routed.unique, routed[DUPLICATES]
