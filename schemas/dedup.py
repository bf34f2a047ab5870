"""The records dedup passes between its stages, batch and stream alike.

A `DedupKey` is what dedup keeps of an article (a few hundred bytes instead
of its body), a `DedupDecision` what it decided about one, a `NearEdge` a
verified near-duplicate pair. All three are registered with the RowCoder.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import apache_beam as beam


# A URL conflict, counted like the manifest's other facts: ("url_conflicts", "", site).
Conflict = Tuple[str, str, str]


class DedupKey(NamedTuple):
    """What dedup needs of an article: a few hundred bytes instead of its body.

    `known` marks an entry of an earlier run; `kept_id` is the article that
    stands for it in the articles table; `signature` is None for texts too
    short to shingle (exact matching only). `title_hash` tells apart short
    texts sharing a URL key; `source` ("name (host)") is what a duplicate's
    `kept_source` names. `shingles` (sorted distinct shingle hashes, from
    `minhash.sketch`) ride only where an exact Jaccard needs them: on a new
    key to its index row (left behind before the stages' shuffles), and on
    a known key of the first read of the index (one that met a new key).
    """
    article_id: str
    url_key: Optional[str]
    content_hash: str
    signature: Optional[bytes]
    is_canonical_address: bool
    source_priority: int
    published: Optional[int]
    text_length: int
    known: bool
    kept_id: str
    cluster_id: str
    title_hash: Optional[str] = None
    source: Optional[str] = None
    shingles: Optional[bytes] = None


class DedupDecision(NamedTuple):
    duplicate_of: str
    dup_type: str
    similarity: float
    cluster_id: str
    kept_published: Optional[int] = None
    kept_source: Optional[str] = None


class NearEdge(NamedTuple):
    """A verified near-duplicate pair: `new` is an article of this run."""
    new: DedupKey
    other: DedupKey
    similarity: float


for _record in (DedupKey, DedupDecision, NearEdge):
    beam.coders.registry.register_coder(_record, beam.coders.RowCoder)
