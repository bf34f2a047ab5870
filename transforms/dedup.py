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
   page whose claimed address was refused (`transforms.extract.article_url_key`).
   Templates that declare one canonical URL on every page are why.
2. Exact: one article per content hash (normalised body).
3. Near: MinHash LSH (`transforms.minhash`, bands x rows derived from
   `near_threshold`); articles sharing a band are candidates, kept as a pair
   only if their Jaccard similarity is at least `near_threshold`: computed
   exactly on their shingles when both are articles of this run, estimated
   from the signatures against the index. The pairs are clustered into
   stars around the most connected copy (`cluster_near`): no chains, every
   member is directly similar to its centre.

Each duplicate row says how it relates to the copy kept: its delay after it
(`lag_seconds`) and the kept copy's source and host (`kept_source`).

Entries of earlier runs (`transforms.dedup_index`) take part in all three
stages and always rank first: an article already published stays, and its
cluster keeps its id when new members join. They are first joined against
the run's own keys while they stream past (`relevant_known`): only entries
sharing a URL key, a content hash or an LSH band with a new article, and the
entries whose URL key one of those shares, reach the stages (and only their
signatures the side input), so the memory grows with the run, not with the
index. The decisions are the ones all entries would give (see
`relevant_known`).

Within a group the kept copy is the first by `rank`: an entry of an earlier
run, then an explicit canonical address, then source priority, then the
earliest trustworthy publication time, then the longest body, then the
lowest id, so the choice never depends on input order.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

import functools

import apache_beam as beam
import xxhash
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from schemas.records import Article, Duplicate, IndexEntry
from transforms import minhash
from transforms.counters import StageCounters
from transforms.dates import plausible_published
from transforms.normalize import key_text
from transforms.urls import site_of, url_key

DUPLICATES = "duplicates"
_NEVER = 2 ** 62
# Members of one LSH bucket compared pairwise; a larger bucket (a template
# shared by thousands of pages) compares each new member with this many.
MAX_BUCKET_COMPARISONS = 200
URL_CONFLICTS = "url_conflicts"
# A URL conflict, counted like the manifest's other facts: ("url_conflicts", "", site).
Conflict = Tuple[str, str, str]


class DedupKey(NamedTuple):
    """What dedup needs of an article: a few hundred bytes instead of its body.

    `known` marks an entry of an earlier run; `kept_id` is the article that
    stands for it in the articles table; `signature` is None for texts too
    short to shingle (exact matching only). `title_hash` tells apart short
    texts sharing a URL key; `source` ("name (host)") is what a duplicate's
    `kept_source` names.
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
              signature=_UNSIGNED) -> DedupKey:
    """An article's keys, with its MinHash signature (computed unless given)
    and what ranks it."""
    own_key = url_key(article.url)
    if signature is _UNSIGNED:
        signature = minhash.signature(key_text(article.text))
    return DedupKey(
        article.article_id, article.url_key, article.content_hash, signature,
        own_key is not None and own_key == article.url_key,
        source_priority.get(article.source_name or "", 0),
        plausible_published(article.published, article.ingested_at), article.text_length,
        False, article.article_id, article.cluster_id, title_hash(article.title),
        source_label(article))


def refused_claim(article: Article) -> Optional[Conflict]:
    """A conflict for an article whose declared address is not its URL key
    (`transforms.extract.article_url_key` refused it), else None."""
    claimed = url_key(article.canonical_url)
    if claimed is None or claimed == article.url_key:
        return None
    return (URL_CONFLICTS, "", site_of(claimed) or "")


def known_key(entry: IndexEntry) -> DedupKey:
    """An index entry of an earlier run as a key; signatures of an
    incompatible algorithm version are dropped, never compared."""
    signature = entry.signature if entry.algorithm in minhash.COMPATIBLE_VERSIONS else None
    return DedupKey(entry.article_id, entry.url_key, entry.content_hash, signature,
                    entry.is_canonical_address, entry.source_priority, entry.published,
                    entry.text_length, True, entry.kept_id, entry.cluster_id,
                    entry.title_hash, entry.source)


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


def band_entries(key: DedupKey, new_bands: Optional[Set[str]] = None,
                 params: Optional[minhash.LshParameters] = None):
    """(band key, key without its signature) pairs of a signed key; for known
    keys only the bands that a new article has. The signature stays out of
    the shuffle: it would travel once per band."""
    if key.signature is None:
        return
    unsigned = _unsigned(key)
    for band in minhash.band_keys(key.signature, params):
        if new_bands is None or band in new_bands:
            yield band, unsigned


def bucket_edges(members: List[DedupKey], threshold: float,
                 signature_of: Callable[[DedupKey], bytes] = lambda key: key.signature
                 ) -> List[NearEdge]:
    """Verified pairs in one LSH bucket, each with at least one new member.

    `signature_of` finds a member's signature (in the pipeline, in a side
    input; by default on the key itself); signatures that carry their
    shingles are compared exactly (`minhash.similarity`)."""
    if not any(not m.known for m in members):
        return []
    ordered = sorted(members, key=rank)[:MAX_BUCKET_COMPARISONS]
    edges = []
    seen = set()
    for new in (m for m in members if not m.known):
        for other in ordered:
            if other.article_id == new.article_id or (other.article_id, new.article_id) in seen:
                continue
            seen.add((new.article_id, other.article_id))
            estimate = minhash.similarity(signature_of(new), signature_of(other))
            if estimate >= threshold:
                edges.append(NearEdge(_unsigned(new), _unsigned(other), estimate))
    return edges


def _unsigned(key: DedupKey) -> DedupKey:
    return key._replace(signature=None)


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
                      key.text_length, run_id, ingested_at, key.title_hash, key.source)


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


SIGNATURES = "signatures"
# Keys grouped by a string: typed, so that Beam encodes them with the row
# coder instead of pickling every (key, DedupKey) pair (16 a signed article).
_KEYED = Tuple[str, DedupKey]
# Decisions by article id and signatures by article id, typed for the same reason:
# a PCollection without a type (a string annotation reads as Any) pickles each
# element, and a Flatten of typed and untyped inputs transcodes every element.
_DECIDED = Tuple[str, DedupDecision]
_SIGNED = Tuple[str, bytes]


class _KeysPerBundleFn(beam.DoFn):
    """The keys of a bundle's elements (`keys_of` each), as one list a bundle.

    The filters of the known index only ask whether a key is one of the
    run's: a side input of a few lists spares the runner one element per
    key, 18 an article (URL key, content hash, 16 bands)."""

    def __init__(self, keys_of: Callable[[DedupKey], Iterable[str]]):
        self._keys_of = keys_of
        self._keys: Set[str] = set()

    def start_bundle(self) -> None:
        self._keys = set()

    def process(self, key: DedupKey) -> None:
        self._keys.update(self._keys_of(key))

    def finish_bundle(self):
        if self._keys:
            yield GlobalWindows.windowed_value(list(self._keys))


def _key_set(lists: Iterable[List[str]]) -> Set[str]:
    return set().union(*lists)


def _band_keys(key: DedupKey, params: minhash.LshParameters) -> List[str]:
    return minhash.band_keys(key.signature, params)


class _KnownBandsFn(beam.DoFn):
    """Band entries of known keys, for the bands some new article has, and
    the signatures of the keys that have any (tagged ``signatures``)."""

    def __init__(self, params: minhash.LshParameters):
        self._params = params

    def setup(self) -> None:
        self._source: Optional[List[str]] = None
        self._bands: Set[str] = set()

    def process(self, key: DedupKey, new_bands: List[List[str]]):
        if self._source is not new_bands:  # the side input, made a set once per bundle
            self._source, self._bands = new_bands, _key_set(new_bands)
        entries = list(band_entries(key, self._bands, self._params))
        if entries:
            yield beam.pvalue.TaggedOutput(SIGNATURES, (key.article_id, key.signature))
        yield from entries


URL_KEY, CONTENT_HASH, BAND = "u", "c", "b"


def meeting_keys(key: DedupKey, params: Optional[minhash.LshParameters] = None
                 ) -> Iterable[str]:
    """The keys by which a key can meet another in a stage, tagged by kind:
    its URL key, its content hash, its LSH bands (computed last, lazily).

    Bands are named by `minhash.band_token_keys`, which the index reader
    computes for a whole column of signatures at once
    (`transforms.dedup_index.match_known`); equal bands have equal tokens,
    as they have equal `minhash.band_keys`."""
    if key.url_key is not None:
        yield URL_KEY + key.url_key
    yield CONTENT_HASH + key.content_hash
    if key.signature is not None:
        for band in minhash.band_token_keys(key.signature, params):
            yield BAND + band


SAME_URL = "same_url"


class _MeetingKnownFn(beam.DoFn):
    """Known entries sharing a key with a new article (first read), and the
    URL keys of those sharing a content hash (tagged ``same_url``)."""

    def __init__(self, params: Optional[minhash.LshParameters] = None):
        self._params = params

    def setup(self) -> None:
        self._source: Optional[List[str]] = None
        self._keys: Set[str] = set()

    def process(self, entry: IndexEntry, new_keys: List[List[str]]) -> Iterable[DedupKey]:
        if self._source is not new_keys:  # the side input, made a set once per bundle
            self._source, self._keys = new_keys, _key_set(new_keys)
        key = known_key(entry)
        if not any(k in self._keys for k in meeting_keys(key, self._params)):
            return
        yield key
        if key.url_key is not None and f"c{key.content_hash}" in self._keys:
            yield beam.pvalue.TaggedOutput(SAME_URL, key.url_key)


class _SameUrlKnownFn(beam.DoFn):
    """Known entries of the second read that the first did not take and
    whose URL key a taken entry with a new article's content hash has."""

    def __init__(self, params: Optional[minhash.LshParameters] = None):
        self._params = params

    def setup(self) -> None:
        self._sources: Tuple = (None, None)
        self._keys: Set[str] = set()
        self._urls: Set[str] = set()

    def process(self, entry: IndexEntry, new_keys: List[List[str]],
                urls: List[str]) -> Iterable[DedupKey]:
        if self._sources[0] is not new_keys or self._sources[1] is not urls:
            self._sources, self._urls = (new_keys, urls), set(urls)
            self._keys = _key_set(new_keys)
        if entry.url_key is None or entry.url_key not in self._urls:
            return
        key = known_key(entry)
        if not any(k in self._keys for k in meeting_keys(key, self._params)):
            yield key


def relevant_known(new_keys, read_first, read_again,
                   params: Optional[minhash.LshParameters] = None, matchers=None):
    """The known entries that can change a decision about a new article.

    A URL group decides a new article by its best known member: all known
    entries with a new URL key are taken. A content group does so by its
    best known member among the URL-stage survivors: all known entries with
    a new content hash are taken, and with them every known entry of their
    URL keys, which decides whether they survive (new articles never do:
    known ones rank first). The near stage meets known entries by band. The
    others meet no new article, in groups that decide nothing.

    `read_first` and `read_again` are the known entries (two reads of the
    index, so that none is held between them), `new_keys` the run's keys,
    `params` the LSH layout. `matchers`, when given, are the two DoFns that
    take their place (`ReadIndex.meeting_new`, `ReadIndex.of_their_urls`):
    the reads are then index files, matched in Arrow a batch of rows at a time.
    """
    params = params or minhash.lsh_parameters()
    meeting_fn, same_url_fn = matchers or (_MeetingKnownFn(params), _SameUrlKnownFn(params))
    keys = beam.pvalue.AsList(new_keys | "MeetingKeys" >> beam.ParDo(
        _KeysPerBundleFn(functools.partial(meeting_keys, params=params))
    ).with_output_types(List[str]))
    first = read_first | "KnownMeetingNew" >> beam.ParDo(
        meeting_fn, keys).with_output_types(DedupKey, **{SAME_URL: str}).with_outputs(
            SAME_URL, main="known")
    same_url = read_again | "KnownOfTheirUrls" >> beam.ParDo(
        same_url_fn, keys, beam.pvalue.AsList(first[SAME_URL])).with_output_types(DedupKey)
    return (first.known, same_url) | "RelevantKnown" >> beam.Flatten()


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
        yield dedup_key(article, self._priority, signature)
        if sketched is not None:
            yield beam.pvalue.TaggedOutput(SKETCHES, (article.article_id, sketched))
        conflict = refused_claim(article)
        if conflict is not None:
            self._conflicts.inc()
            yield beam.pvalue.TaggedOutput(URL_CONFLICTS, conflict)


def _verify_bucket(group: Tuple[str, Iterable[DedupKey]], threshold: float,
                   signatures: Dict[str, bytes]) -> List[NearEdge]:
    return bucket_edges(list(group[1]), threshold, lambda key: signatures[key.article_id])


class Deduplicate(beam.PTransform):
    """Splits articles into unique ones and duplicates, against earlier runs too.

    Args:
      known: `IndexEntry` rows of earlier runs (see `transforms.dedup_index`),
        or a PTransform reading them from the pipeline's start (such as
        `ReadIndex`: it is applied twice, see `relevant_known`, so a slice
        holds only the entries its articles meet), or None.
      run_id, ingested_at: stamped on the index entries this run adds.
      near_threshold: the least Jaccard similarity of a near pair (and of
        two pages sharing a URL key, for them to be one article); the LSH
        layout is derived from it (`minhash.lsh_parameters`).
      near: whether to run the near-duplicate stage at all.
      source_priority: source name to priority (lower is preferred; default 0).

    Returns a tuple ``(articles, duplicates, index_entries)``. After it is
    applied, `url_conflicts` holds one ``("url_conflicts", "", site)`` a
    conflict, counted into the run manifest.
    """

    def __init__(self, known=None, run_id: str = "", ingested_at: int = 0,
                 near_threshold: float = minhash.DEFAULT_THRESHOLD, near: bool = True,
                 source_priority: Optional[Dict[str, int]] = None):
        super().__init__()
        self._known = known
        self._run_id = run_id
        self._ingested_at = ingested_at
        self._threshold = near_threshold
        self._params = minhash.lsh_parameters(near_threshold)
        self._near = near
        self._priority = dict(source_priority or {})
        self.url_conflicts = None

    def expand(self, articles):
        keyed = articles | "DedupKeys" >> beam.ParDo(_DedupKeysFn(self._priority)).with_output_types(
            DedupKey, **{SKETCHES: _SIGNED, URL_CONFLICTS: Conflict}).with_outputs(
                SKETCHES, URL_CONFLICTS, main="keys")
        new_keys = keyed.keys
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
        self.url_conflicts = ((keyed[URL_CONFLICTS], by_url[URL_CONFLICTS])
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

        routed = articles | "RouteDuplicates" >> beam.ParDo(
            _RouteDuplicatesFn(), beam.pvalue.AsDict(decisions)).with_output_types(
                Article, **{DUPLICATES: Duplicate}).with_outputs(DUPLICATES, main="unique")
        entries = new_keys | "IndexEntries" >> beam.Map(
            index_entry, beam.pvalue.AsDict(decisions), self._run_id,
            self._ingested_at).with_output_types(IndexEntry)
        return routed.unique, routed[DUPLICATES], entries

    def _near_stage(self, survivors, known_keys, sketches):
        """Near-duplicate decisions for the new survivors of the exact stages."""
        new_survivors = survivors | "NewSurvivors" >> beam.Filter(
            lambda k: not k.known and k.signature is not None).with_output_types(DedupKey)
        new_bands = new_survivors | "NewBands" >> beam.FlatMap(
            band_entries, None, self._params).with_output_types(_KEYED)
        band_inputs = [new_bands]
        # New articles are verified by their sketches (exact Jaccard), known ones
        # by their signatures (estimated).
        signature_inputs = [sketches]
        if known_keys is not None:
            band_set = new_survivors | "NewBandKeys" >> beam.ParDo(
                _KeysPerBundleFn(functools.partial(_band_keys, params=self._params))
            ).with_output_types(List[str])
            known_bands = known_keys | "KnownBands" >> beam.ParDo(
                _KnownBandsFn(self._params), beam.pvalue.AsList(band_set)).with_output_types(
                    _KEYED, **{SIGNATURES: _SIGNED}).with_outputs(SIGNATURES, main="bands")
            band_inputs.append(known_bands.bands)
            signature_inputs.append(known_bands[SIGNATURES])
        # Signatures are looked up in a side input, built once, rather than
        # shuffled with every band entry.
        signatures = signature_inputs | "CandidateSignatures" >> beam.Flatten()
        return (band_inputs
                | "AllBands" >> beam.Flatten()
                | "GroupByBand" >> beam.GroupByKey()
                | "VerifyPairs" >> beam.FlatMap(_verify_bucket, self._threshold,
                                                beam.pvalue.AsDict(signatures)
                                                ).with_output_types(NearEdge)
                | "AllEdges" >> beam.combiners.ToList()
                | "ClusterNear" >> beam.FlatMap(cluster_near).with_output_types(_DECIDED))
