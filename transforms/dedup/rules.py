"""The dedup decision core: plain functions over `DedupKey`s, no Beam.

Keys (`dedup_key`, `known_key`), the order that picks the copy kept (`rank`),
URL and content groups (`split_url_group`, `split_group`, `same_article`),
near-duplicate buckets verified by signature or shingles (`bucket_edges`) and
clustered into stars (`cluster_near`), and the rows a decision becomes
(`to_duplicate`, `index_entry`). `Deduplicate` (batch) and
`StreamDeduplicate` (stream) wire these, and nothing else decides.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

import xxhash

from schemas.records import Article, Duplicate, IndexEntry
from transforms.dedup import minhash
from transforms.extract.dates import plausible_published
from transforms.extract.normalize import key_text
from transforms.dedup.urls import site_of, url_key
from schemas.dedup import Conflict, DedupDecision, DedupKey, NearEdge


DUPLICATES = "duplicates"
_NEVER = 2 ** 62
# Members of one LSH bucket compared pairwise; a larger bucket (a template
# shared by thousands of pages) compares each new member with this many.
MAX_BUCKET_COMPARISONS = 200
URL_CONFLICTS = "url_conflicts"


def source_label(article: Article) -> Optional[str]:
    """``name (host)`` of an article's source, or what of it is known."""
    host = site_of(url_key(article.url) or article.url_key)
    name = (article.source_name or "").strip()
    if name and host:
        return f"{name} ({host})"
    return name or host


def title_hash(title: Optional[str]) -> Optional[str]:
    key = key_text(title or "")
    return xxhash.xxh3_64_hexdigest(key.encode()) if key else None


_UNSIGNED = object()


def dedup_key(article: Article, source_priority: Dict[str, int],
              signature=_UNSIGNED, shingles: Optional[bytes] = None) -> DedupKey:
    """An article's keys, with its MinHash signature (computed unless given),
    its shingle hashes when given (for its index row) and what ranks it."""
    own_key = url_key(article.url)
    if signature is _UNSIGNED:
        signature = minhash.signature(key_text(article.text))
    return DedupKey(
        article.article_id, article.url_key, article.content_hash, signature,
        own_key is not None and own_key == article.url_key,
        source_priority.get(article.source_name or "", 0),
        plausible_published(article.published, article.ingested_at), article.text_length,
        False, article.article_id, article.cluster_id, title_hash(article.title),
        source_label(article), shingles)


def refused_claim(article: Article) -> Optional[Conflict]:
    """A conflict for an article whose declared address is not its URL key
    (`transforms.extract.articles.article_url_key` refused it), else None."""
    claimed = url_key(article.canonical_url)
    if claimed is None or claimed == article.url_key:
        return None
    return (URL_CONFLICTS, "", site_of(claimed) or "")


def known_key(entry: IndexEntry) -> DedupKey:
    """An index entry of an earlier run as a key; signatures (and shingles)
    of an incompatible algorithm version are dropped, never compared."""
    compatible = entry.algorithm in minhash.COMPATIBLE_VERSIONS
    signature = entry.signature if compatible else None
    shingles = entry.shingles if compatible and signature is not None else None
    return DedupKey(entry.article_id, entry.url_key, entry.content_hash, signature,
                    entry.is_canonical_address, entry.source_priority, entry.published,
                    entry.text_length, True, entry.kept_id, entry.cluster_id,
                    entry.title_hash, entry.source, shingles or None)


def sketch_of(key: DedupKey) -> Optional[bytes]:
    """A signed key's `minhash.sketch`: its signature and, when it carries
    them, its shingles (what `minhash.similarity` compares exactly)."""
    if key.signature is None:
        return None
    return minhash.with_shingles(key.signature, key.shingles)


def without_shingles(key: DedupKey) -> DedupKey:
    return key._replace(shingles=None) if key.shingles is not None else key


def rank(key: DedupKey) -> Tuple:
    """Sort key of a group's members: the first one is kept."""
    return (not key.known, not key.is_canonical_address, key.source_priority,
            key.published if key.published is not None else _NEVER,
            -key.text_length, key.article_id)


def decision_for(kept: DedupKey, dup_type: str, similarity: float) -> DedupDecision:
    """What a duplicate of `kept` is told: whom it duplicates, and the provenance."""
    return DedupDecision(kept.kept_id, dup_type, similarity, kept.cluster_id, kept.published,
                         kept.source)


def split_group(members: Iterable[DedupKey], dup_type: str
                ) -> Tuple[DedupKey, List[Tuple[str, DedupDecision]]]:
    """The kept member of a group and a decision for each new one of the others."""
    ordered = sorted(members, key=rank)
    kept = ordered[0]
    return kept, [(m.article_id, decision_for(kept, dup_type, 1.0))
                  for m in ordered[1:] if not m.known]


def same_article(a: DedupKey, b: DedupKey, threshold: float) -> bool:
    """Whether two keys sharing a URL key are one article (so a URL duplicate).

    Same body; else, when both are signed, an estimated Jaccard similarity of
    at least the near threshold; else (texts too short to sign) the same
    title, or no title to tell them apart."""
    if a.content_hash == b.content_hash:
        return True
    if a.signature is not None and b.signature is not None:
        return minhash.similarity(a.signature, b.signature) >= threshold
    if a.title_hash is not None and b.title_hash is not None:
        return a.title_hash == b.title_hash
    return True


def split_url_group(members: Iterable[DedupKey], threshold: float
                    ) -> Tuple[List[DedupKey], List[Tuple[str, DedupDecision]], int]:
    """The kept members of a URL group, a decision for each new duplicate, and
    how many new members were kept because they are another article.

    Members in `rank` order each join the first kept member they are one
    article with (`same_article`), or are kept themselves."""
    kept: List[DedupKey] = []
    decisions = []
    conflicts = 0
    for member in sorted(members, key=rank):
        head = next((k for k in kept if same_article(k, member, threshold)), None)
        if head is None:
            if kept and not member.known:
                conflicts += 1
            kept.append(member)
        elif not member.known:
            decisions.append((member.article_id, decision_for(head, "url", 1.0)))
    return kept, decisions, conflicts


def member_ref(key: DedupKey) -> str:
    """How an LSH bucket names a member: its article id, marked new or known
    (a rerun's article and its own index entry share an id)."""
    return ("k" if key.known else "n") + key.article_id


def band_refs(key: DedupKey, new_bands: Optional[Set[str]] = None,
              params: Optional[minhash.LshParameters] = None):
    """(band key, `member_ref`) pairs of a signed key; for known keys only the
    bands that a new article has. The key itself waits once, in the members
    side input: in the shuffle it would travel once per band."""
    if key.signature is None:
        return
    ref = member_ref(key)
    for band in minhash.band_keys(key.signature, params):
        if new_bands is None or band in new_bands:
            yield band, ref


def bucket_edges(members: List[DedupKey], threshold: float,
                 signature_of: Callable[[DedupKey], bytes] = sketch_of,
                 compared: Optional[Set[Tuple[str, str]]] = None) -> List[NearEdge]:
    """Verified pairs in one LSH bucket, each with at least one new member.

    `signature_of` finds a member's sketch (in the pipeline, in a side
    input; by default on the key itself, `sketch_of`); sketches that carry
    their shingles are compared exactly (`minhash.similarity`). `compared`
    holds the pairs already compared, in other buckets too, and is added to:
    copies of one page share every band, and a pair compared once a band
    was as many edges as bands (the similarity is the same in each)."""
    if not any(not m.known for m in members):
        return []
    ordered = sorted(members, key=rank)[:MAX_BUCKET_COMPARISONS]
    edges = []
    seen = compared if compared is not None else set()
    for new in (m for m in members if not m.known):
        for other in ordered:
            pair = (new.article_id, other.article_id)
            if pair[0] == pair[1] or pair in seen or (pair[1], pair[0]) in seen:
                continue
            seen.add(pair)
            estimate = minhash.similarity(signature_of(new), signature_of(other))
            if estimate >= threshold:
                edges.append(NearEdge(unsigned(new), unsigned(other), estimate))
    return edges


def unsigned(key: DedupKey) -> DedupKey:
    """A key without its signature and shingles: what a bucket and an edge need."""
    return key._replace(signature=None, shingles=None)


def cluster_near(edges: Iterable[NearEdge]) -> List[Tuple[str, DedupDecision]]:
    """Star clustering of the verified pairs, then the kept copy of each star.

    Entries of earlier runs are centres first (what is published stays, and
    its cluster keeps its id). Then the new article with the most similar
    neighbours becomes a centre and takes its unassigned neighbours, and so
    on. The most connected copy is the most central one (the original that
    every variant resembles), so a teaser similar only to a truncated copy is
    not pulled in through it: there are no chains. In each star the kept copy
    is the first by `rank`; the others duplicate it, with their estimated
    similarity to it, or to the centre when they were compared only with it.
    """
    nodes: Dict[str, DedupKey] = {}
    similar: Dict[str, Dict[str, float]] = {}
    for edge in edges:
        a, b = edge.new, edge.other
        nodes.setdefault(a.article_id, a)
        nodes.setdefault(b.article_id, b)
        for x, y in ((a, b), (b, a)):
            row = similar.setdefault(x.article_id, {})
            row[y.article_id] = max(row.get(y.article_id, 0.0), edge.similarity)
    order = sorted(nodes.values(),
                   key=lambda n: (not n.known, -len(similar[n.article_id]), rank(n)))
    centre_of: Dict[str, str] = {}
    stars: Dict[str, List[DedupKey]] = {}
    for node in order:
        if node.article_id in centre_of:
            continue
        centre_of[node.article_id] = node.article_id
        stars[node.article_id] = [node]
        for other in sorted(similar[node.article_id]):
            if other not in centre_of and not nodes[other].known:
                centre_of[other] = node.article_id
                stars[node.article_id].append(nodes[other])
    decisions = []
    for centre, members in stars.items():
        kept = min(members, key=rank)
        for member in members:
            if member is kept or member.known:
                continue
            estimate = similar[member.article_id].get(
                kept.article_id, similar[member.article_id].get(centre, 0.0))
            decisions.append((member.article_id, decision_for(kept, "near", round(estimate, 4))))
    return decisions


def lag_seconds(article: Article, decision: DedupDecision) -> Optional[float]:
    """The duplicate's publication time minus the kept copy's, when both are known."""
    published = plausible_published(article.published, article.ingested_at)
    if published is None or decision.kept_published is None:
        return None
    return (published - decision.kept_published) / 1e6


def to_duplicate(article: Article, decision: DedupDecision) -> Duplicate:
    return Duplicate(article.article_id, decision.duplicate_of, None, decision.dup_type,
                     decision.similarity, decision.cluster_id, article.url, article.title,
                     article.content_hash, article.published, article.source_kind,
                     article.source_uri, article.source_position, article.run_id,
                     article.ingested_at, article.extraction_method,
                     lag_seconds(article, decision), decision.kept_source)


def index_entry(key: DedupKey, decisions: Dict[str, DedupDecision], run_id: str,
                ingested_at: int) -> IndexEntry:
    """The index row of a new key, once its fate is known."""
    decision = decisions.get(key.article_id)
    kept_id = decision.duplicate_of if decision else key.article_id
    cluster_id = decision.cluster_id if decision else key.cluster_id
    return IndexEntry(key.article_id, kept_id, cluster_id, key.url_key, key.content_hash,
                      None if decision else key.signature, minhash.ALGORITHM_VERSION,
                      key.is_canonical_address, key.source_priority, key.published,
                      key.text_length, run_id, ingested_at, key.title_hash, key.source,
                      None if decision else key.shingles)


URL_KEY, CONTENT_HASH, BAND = "u", "c", "b"


def meeting_keys(key: DedupKey, params: Optional[minhash.LshParameters] = None
                 ) -> Iterable[str]:
    """The keys by which a key can meet another in a stage, tagged by kind:
    its URL key, its content hash, its LSH bands (computed last, lazily).

    Bands are named by `minhash.band_token_keys`, which the index reader
    computes for a whole column of signatures at once
    (`transforms.dedup.index_match`); equal bands have equal tokens,
    as they have equal `minhash.band_keys`."""
    if key.url_key is not None:
        yield URL_KEY + key.url_key
    yield CONTENT_HASH + key.content_hash
    if key.signature is not None:
        for band in minhash.band_token_keys(key.signature, params):
            yield BAND + band


SAME_URL = "same_url"
