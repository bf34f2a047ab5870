"""Quality of the near-duplicate stage, run in memory exactly as the pipeline runs it.

The stage is composed from the pipeline's own functions, without Beam:
`transforms.extract.normalize.key_text` -> `minhash.sketch` -> `dedup.band_refs`
(`minhash.band_keys`, the layout `minhash.lsh_parameters` derives from the
threshold) -> grouping by band key (the pipeline's ``GroupByBand``) ->
`dedup.bucket_edges` per bucket, verified on the sketches (exact Jaccard, as
within a run) -> `dedup.cluster_near` over all edges. The keys are
`DedupKey`s built as `dedup.dedup_key` builds them (see `near_clusters`).
Three evaluations, each printed as a table:

a. ``../shared/data/dedup/scoop/``: 516 English news items grouped by hand into
   story clusters. Pairwise precision and recall of "same story" for pairs of
   items that end in one near cluster (an item and its centre, and members of
   one centre). That folder holds the items' titles and URLs only, not their
   bodies, so the near stage sees the titles, which are too short to sign:
   the table says so rather than pretending.

b. A synthetic set made from real article text (ScrapingHub ground-truth
   bodies, goose3 expected texts, lingua sentences joined into documents for
   each of 75 languages, the two articles of the RT Arabic sample). Each base
   article gets labelled variants: two syndicated copies wrapped in ~15% of
   another site's boilerplate (navigation and footer lines taken from the
   ScrapingHub pages), two copies with 5-20 random word edits, a truncation to
   80%, an update adding 25% new text from another article, a 60% teaser
   (must not merge) and, apart, "template-only" pages: unrelated short
   articles inside one site's long shared boilerplate (must not merge). Every
   labelled pair gets its true Jaccard similarity on the word 5-gram shingles
   of `key_text` (character 5-grams for Chinese, Japanese, Thai, as the
   pipeline shingles them).

   Each base also gets four edited copies, each a random mix of word
   substitutions, inserted and deleted sentences, a changed lead and added
   boilerplate lines, spread over true Jaccard 0.55-1.0. Precision and recall
   are given per band of true Jaccard (0.6-0.7, 0.7-0.75, 0.75-0.8, 0.8-0.9,
   0.9-1.0), within a run (exact verification) and against the index (a
   pair is found when it shares a band and verifies at or above the
   threshold against the original's index row: exactly on the shingles a
   ``minhash-v5`` row keeps, and, in the column "vs v4 index", by the
   signature estimate, as rows written before v5 are verified).

c. Distinct articles on pages that share a template and declare one URL:
   real sentences made into short articles, inside real sites' boilerplate,
   each page declaring the site's home page, a section page or one article
   URL as its rel=canonical and og:url (or og:url alone), half of them with a
   fetched URL, through the pipeline's extraction (`extract.to_article`) and
   the URL, exact and near stages. Every page is a distinct article: every
   duplicate is a merge in error.

Targets: (b) precision >= 0.98 and recall >= 0.95 on pairs with true Jaccard
>= 0.8, and no template-only pair merged; recall >= 0.98 at Jaccard >= 0.75
and >= 0.90 at 0.70-0.75 (within a run); (c) distinct articles merged <= 0.2%.

Run from the repository root::

    .venv/bin/python benchmarks/eval_dedup.py [--threshold 0.70] [--seed 20261130]

The figures are also written to ``benchmarks/results/eval_dedup.json``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import html
import json
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from transforms.dedup import minhash  # noqa: E402
from schemas.dedup import DedupKey
from transforms.dedup.rules import (band_refs, bucket_edges, cluster_near, index_entry,
                                    known_key, member_ref, sketch_of, unsigned)
from transforms.extract.html_extract import NoArticleText, extract_html  # noqa: E402
from transforms.extract.normalize import content_hash_of_key, key_text  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SCOOP = DATA / "dedup" / "scoop"
SCRAPINGHUB = DATA / "html" / "scrapinghub-aeb"
GOOSE3 = DATA / "html" / "goose3"
LINGUA = DATA / "langid" / "lingua-sentences"
ARABIC_SAMPLE = REPO / "seeds" / "rt-arabic-dump.txt"
RESULTS = REPO / "benchmarks" / "results" / "eval_dedup.json"

TARGET_PRECISION = 0.98
TARGET_RECALL = 0.95
POSITIVE_JACCARD = 0.8
MIN_LANGUAGE_SCORE = 0.5  # the pipeline's --min_language_score default
HOUR_US = 3_600_000_000
DAY0_US = 1_764_000_000 * 1_000_000  # late 2025: any plausible time will do


# --- the near-duplicate stage, as the pipeline runs it --------------------------------

class NearResult(NamedTuple):
    centre: List[int]        # per text: the index of its cluster's centre (itself if none)
    similarity: List[float]  # per text: the estimate to its centre (1.0 for a centre)
    signed: int              # texts that got a signature
    edges: int               # verified edges, duplicates across bands included
    buckets: int             # band buckets with two or more members


SKETCHES: Dict[str, bytes] = {}  # article id -> sketch (the pipeline's "sketches" output)


def dedup_keys(texts: Sequence[str],
               published: Optional[Sequence[Optional[int]]] = None) -> List[DedupKey]:
    """One `DedupKey` a text, with the fields `dedup.dedup_key` fills from an article.

    There are no URLs here (``url_key`` None, not a canonical address) and every
    source has priority 0, so the rank is: earliest publication time, then the
    longest text, then the lowest id. Each text's sketch goes to `SKETCHES`.
    """
    keys = []
    SKETCHES.clear()
    for i, text in enumerate(texts):
        key = key_text(text)
        article_id = f"doc{i:07d}"
        signature, sketched = minhash.sketch(key)
        if sketched is not None:
            SKETCHES[article_id] = sketched
        keys.append(DedupKey(
            article_id, None, content_hash_of_key(key), signature,
            False, 0, published[i] if published is not None else None, len(text),
            False, article_id, article_id))
    return keys


def index_row(key: DedupKey) -> DedupKey:
    """A kept key as a later run reads it back from the index: its row
    (`rules.index_entry`, with the shingles of its sketch) made a known key."""
    shingles = minhash.shingles_of(SKETCHES.get(key.article_id))
    return known_key(index_entry(key._replace(shingles=shingles), {}, "earlier", 0))


def cluster_keys(keys: Sequence[DedupKey], threshold: float) -> NearResult:
    """The near stage over `keys`: band buckets, verified edges, star clusters."""
    params = minhash.lsh_parameters(threshold)
    buckets: Dict[str, List[DedupKey]] = defaultdict(list)
    members = {member_ref(key): unsigned(key) for key in keys}  # "CandidateMembers"
    for key in keys:
        for band, ref in band_refs(key, None, params):  # the pipeline's "NewBands"
            buckets[band].append(members[ref])
    # "CandidateSignatures": the sketches of the run's articles (exact Jaccard).
    signatures = {key.article_id: SKETCHES.get(key.article_id, key.signature) for key in keys}
    edges = [edge for members in buckets.values()  # "GroupByBand", then "VerifyPairs"
             for edge in bucket_edges(list(members), threshold,
                                      lambda key: signatures[key.article_id])]
    decisions = dict(cluster_near(edges))  # "AllEdges" (one group), then "ClusterNear"
    index = {key.article_id: i for i, key in enumerate(keys)}
    centre, similarity = list(range(len(keys))), [1.0] * len(keys)
    for article_id, decision in decisions.items():
        i = index[article_id]
        centre[i] = index[decision.duplicate_of]
        similarity[i] = decision.similarity
    return NearResult(centre, similarity, sum(k.signature is not None for k in keys),
                      len(edges), sum(len(m) > 1 for m in buckets.values()))


def near_clusters(texts: Sequence[str], threshold: float = minhash.DEFAULT_THRESHOLD,
                  published: Optional[Sequence[Optional[int]]] = None) -> List[int]:
    """Per text, the index of the centre of the near cluster it ends in."""
    return cluster_keys(dedup_keys(texts, published), threshold).centre


def co_clustered_pairs(centre: Sequence[int]) -> Set[FrozenSet[int]]:
    """Pairs in one cluster: each member with its centre, and members of one centre."""
    clusters: Dict[int, List[int]] = defaultdict(list)
    for i, c in enumerate(centre):
        clusters[c].append(i)
    return {frozenset(pair) for members in clusters.values() if len(members) > 1
            for pair in combinations(members, 2)}


# --- true Jaccard on the shingles the pipeline uses -----------------------------------

def shingles(text: str, language: Optional[str]) -> Set:
    """Word 5-grams of the key text (character 5-grams where minhash uses them)."""
    key = key_text(text)
    if minhash.uses_character_shingles(key):
        compact = key.replace(" ", "")
        n = minhash.SHINGLE_CHARS
        return {compact[i:i + n] for i in range(len(compact) - n + 1)}
    words, n = key.split(), minhash.SHINGLE_WORDS
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: Set, b: Set) -> Optional[float]:
    if not a and not b:
        return None
    return len(a & b) / len(a | b)


def ratio(num: float, den: float) -> Optional[float]:
    return num / den if den else None


def fmt(value: Optional[float], digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def f1(p: Optional[float], r: Optional[float]) -> Optional[float]:
    if p is None or r is None or p + r == 0:
        return None
    return 2 * p * r / (p + r)


def table(header: Sequence[str], rows: Iterable[Sequence], indent: str = "  ") -> str:
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(header)]
    lines = [indent + "  ".join(str(h).ljust(w) if i == 0 else str(h).rjust(w)
                                for i, (h, w) in enumerate(zip(header, widths)))]
    lines.append(indent + "  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(indent + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                        for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


# --- a. the scoop story clusters ------------------------------------------------------

_BODY_FIELDS = ("text", "body", "content", "article", "maintext")
_DATE_IN_PATH = re.compile(r"/(\d{4})-(\d{2})-(\d{2})/")


def evaluate_scoop(threshold: float) -> Optional[dict]:
    path = SCOOP / "dedup_ground_truth_items.jsonl"
    if not path.is_file():
        print(f"a. scoop: skipped, {path} is not there.")
        return None
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    bodies = [next((item[f] for f in _BODY_FIELDS if isinstance(item.get(f), str)
                    and item[f].strip()), None) for item in items]
    with_body = sum(b is not None for b in bodies)
    texts = [b if b is not None else (item.get("title") or "") for b, item in zip(bodies, items)]
    published = []
    for item in items:  # the crawl day in the fixture path ranks earlier copies first
        m = _DATE_IN_PATH.search(item.get("file", ""))
        published.append(int(_dt.datetime(int(m[1]), int(m[2]), int(m[3]),
                                          tzinfo=_dt.timezone.utc).timestamp() * 1e6)
                         if m else None)
    keys = dedup_keys(texts, published)
    result = cluster_keys(keys, threshold)
    predicted = co_clustered_pairs(result.centre)

    stories: Dict[str, List[int]] = defaultdict(list)
    for i, item in enumerate(items):
        stories[item["story_gt_id"]].append(i)
    truth = {frozenset(p) for members in stories.values() for p in combinations(members, 2)}
    tp = len(predicted & truth)
    precision, recall = ratio(tp, len(predicted)), ratio(tp, len(truth))

    sets = [shingles(t, "en") for t in texts]
    true_j = {pair: jaccard(*(sets[i] for i in pair)) for pair in truth}
    computable = {p for p, j in true_j.items() if j is not None}
    high = {p for p in computable if true_j[p] >= POSITIVE_JACCARD}
    pred_computable = {p for p in predicted if jaccard(*(sets[i] for i in p)) is not None}
    pred_high = {p for p in pred_computable if jaccard(*(sets[i] for i in p)) >= POSITIVE_JACCARD}
    same_url = sum(1 for p in truth if len({items[i].get("normalized_canonical_url")
                                            for i in p}) == 1)
    same_key = sum(1 for p in truth if len({key_text(texts[i]) for i in p}) == 1)
    words = [len(key_text(t).split()) for t in texts]

    out = {
        "items": len(items), "stories": len(stories), "items_with_body": with_body,
        "text_used": "body" if with_body == len(items) else
                     ("title" if with_body == 0 else "body where present, else title"),
        "signed": result.signed, "key_words_median": statistics.median(words),
        "key_words_max": max(words),
        "true_pairs": len(truth), "predicted_pairs": len(predicted), "true_positives": tp,
        "precision": precision, "recall": recall, "f1": f1(precision, recall),
        "true_pairs_jaccard_computable": len(computable),
        "true_pairs_jaccard_ge_0_8": len(high),
        "predicted_pairs_jaccard_ge_0_8": len(pred_high),
        "precision_jaccard_ge_0_8": ratio(len(predicted & high), len(pred_computable)),
        "recall_jaccard_ge_0_8": ratio(len(predicted & high), len(high)),
        "true_pairs_same_canonical_url": same_url, "true_pairs_same_key_text": same_key,
    }
    print(f"a. scoop story clusters ({SCOOP.relative_to(DATA.parent)}): {len(items)} items, "
          f"{len(stories)} stories; near threshold {threshold}")
    if with_body < len(items):
        print(f"   NOTE: {len(items) - with_body} of {len(items)} items have no body in the "
              f"shared data (the folder holds titles and URLs only; the fixture files it "
              f"names are not there), so the near stage sees their titles: median "
              f"{out['key_words_median']:.0f} words, at most {out['key_words_max']}, while a "
              f"signature needs {minhash.MIN_SHINGLES} {minhash.SHINGLE_WORDS}-word shingles "
              f"({minhash.MIN_SHINGLES + minhash.SHINGLE_WORDS - 1} words). Signed: "
              f"{result.signed} of {len(items)}.")
    print(table(("same story, pairwise", "value"), [
        ("true pairs (hand-labelled)", len(truth)),
        ("predicted pairs (same near cluster)", len(predicted)),
        ("true positives", tp),
        ("precision", fmt(precision)),
        ("recall", fmt(recall)),
        ("F1", fmt(out["f1"])),
        ("true pairs with computable 5-gram Jaccard", len(computable)),
        ("  of which Jaccard >= 0.8", len(high)),
        ("precision, Jaccard >= 0.8 as truth", fmt(out["precision_jaccard_ge_0_8"])),
        ("recall on true pairs with Jaccard >= 0.8", fmt(out["recall_jaccard_ge_0_8"])),
        ("true pairs with one canonical URL (URL stage's job)", same_url),
        ("true pairs with identical key text (exact stage's)", same_key),
    ]))
    return out


# --- b. the synthetic set: real texts and labelled variants ---------------------------

class Base(NamedTuple):
    source: str
    name: str
    language: Optional[str]   # what the pipeline would pass to minhash.signature
    text: str
    pool: str                 # where update text and edit words come from


class Doc(NamedTuple):
    text: str
    language: Optional[str]   # the base's language: how true Jaccard shingles it
    group: str                # base name, or template group
    kind: str                 # base, syndicated, edit, truncation, update, teaser, template
    published: int


SHOULD_MERGE = {"syndicated": True, "edit": True, "truncation": True, "update": True,
                "edited": True, "teaser": False, "template": False}
KINDS = ("syndicated", "edit", "truncation", "update", "edited", "teaser", "template")
# The bands of true Jaccard the per-band table reports.
JACCARD_BANDS = ((0.6, 0.7), (0.7, 0.75), (0.75, 0.8), (0.8, 0.9), (0.9, 1.0001))
TARGET_BAND_RECALL = {(0.7, 0.75): 0.90, (0.75, 0.8): 0.98, (0.8, 0.9): 0.98,
                      (0.9, 1.0001): 0.98}
TARGET_DISTINCT_MERGED = 0.002


def is_char_language(language: Optional[str]) -> bool:
    """Languages written without spaces between words (how the generator joins tokens)."""
    return language in ("zh", "ja", "th", "lo", "km", "my")


def tokens(text: str, language: Optional[str]) -> List[str]:
    return list(text) if is_char_language(language) else text.split()


def join(toks: Sequence[str], language: Optional[str]) -> str:
    return "".join(toks) if is_char_language(language) else " ".join(toks)


def units(text: str, language: Optional[str]) -> int:
    """Size in what is shingled: words, or characters without spaces."""
    key = key_text(text)
    return len(key.replace(" ", "")) if is_char_language(language) else len(key.split())


_DETECTOR = None


def detect(text: str) -> Optional[str]:
    """The language the pipeline's DetectLanguage step gives a body (no title here)."""
    global _DETECTOR
    if _DETECTOR is None:
        from transforms.enrich.language import LanguageDetector
        _DETECTOR = LanguageDetector()
    return _DETECTOR.detect(None, text, MIN_LANGUAGE_SCORE)[0]


# Links, navigation and footer items, and copyright lines, in page order.
_BOILERPLATE_XPATH = ("//a|//nav//li|//footer//p|//footer//li|"
                      "//*[contains(text(), '©') or contains(text(), 'ights reserved')]")


def load_scrapinghub() -> Tuple[List[Base], Dict[str, List[str]]]:
    """The ground-truth bodies, and each page's boilerplate lines (links, footer,
    copyright) that are not part of its body, in page order."""
    import lxml.html

    truth = json.loads((SCRAPINGHUB / "ground-truth.json").read_text(encoding="utf-8"))
    bases, boilerplate = [], {}
    for key in sorted(truth):
        body = truth[key]["articleBody"]
        if len(body) < 600:
            continue
        name = f"sh-{key[:10]}"
        bases.append(Base("scrapinghub", name, detect(body), body, "scrapinghub"))
        page = SCRAPINGHUB / "html" / f"{key}.html.gz"
        if not page.is_file():
            continue
        doc = lxml.html.fromstring(gzip.decompress(page.read_bytes()).decode("utf-8", "replace"))
        for bad in doc.xpath("//script|//style|//noscript"):
            bad.drop_tree()
        lines: List[str] = []
        for element in doc.xpath(_BOILERPLATE_XPATH):
            line = " ".join(element.text_content().split())
            legal = "©" in line or "ights reserved" in line
            if (1 <= len(line.split()) <= (30 if legal else 15)
                    and line not in body and line not in lines):
                lines.append(line)
        boilerplate[name] = lines
    return bases, boilerplate


def load_goose3() -> List[Base]:
    bases = []
    for path in sorted(GOOSE3.glob("*.json")):
        expected = json.loads(path.read_text(encoding="utf-8")).get("expected", {})
        text = expected.get("cleaned_text") or ""
        if len(text) >= 600:
            bases.append(Base("goose3", f"g3-{path.stem[5:]}", detect(text), text,
                              "scrapinghub"))
    return bases


def load_lingua() -> Dict[str, List[str]]:
    sentences = {}
    for path in sorted(LINGUA.glob("*.txt")):
        if re.fullmatch(r"[a-z]{2,3}", path.stem):
            seen = dict.fromkeys(line.strip() for line in
                                 path.read_text(encoding="utf-8").splitlines() if line.strip())
            sentences[path.stem] = list(seen)
    return sentences


def load_arabic_sample() -> Tuple[List[str], List[str]]:
    """The two articles of the RT Arabic dump, and its non-article lines."""
    if not ARABIC_SAMPLE.is_file():
        return [], []
    paragraphs = [" ".join(p.split()) for p in
                  ARABIC_SAMPLE.read_text(encoding="utf-8").split("\n") if p.strip()]
    articles: List[List[str]] = [[]]
    boilerplate: List[str] = []
    state = "article"
    for p in paragraphs:
        if p.startswith("إقرأ أيضاً"):
            boilerplate.append(p)
            articles.append([])
            state = "headline"
        elif p.startswith(("إقرأ المزيد", "المصدر", "كلمات دلالية")):
            boilerplate.append(p)
        elif p.startswith("مقالات مشابهة"):
            boilerplate.append(p)
            state = "related"
        elif state == "related":
            boilerplate.append(p.lstrip("• ").strip())
        elif state == "headline":
            boilerplate.append(p)  # the second article's headline line
            state = "article"
        else:
            articles[-1].append(p)
    return ["\n\n".join(a) for a in articles if a], boilerplate


class Synthetic:
    """Builds the labelled set with one seeded generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.docs: List[Doc] = []
        self.pairs: Dict[FrozenSet[int], str] = {}
        self.boilerplate: Dict[str, List[str]] = {}
        self.donors: Dict[str, List[str]] = {}      # pool -> texts for update text
        self._vocab: Dict[Tuple[str, bool], List[str]] = {}
        self.clock = DAY0_US

    def add(self, text: str, language: Optional[str], group: str, kind: str,
            published: int) -> int:
        self.docs.append(Doc(text, language, group, kind, published))
        return len(self.docs) - 1

    # variants of a base ------------------------------------------------------------

    def wrap(self, text: str, language: Optional[str], site: str) -> str:
        """A syndicated copy: ~15% of another site's boilerplate lines around the text."""
        lines = self.boilerplate[site]
        want = max(2, round(0.15 * units(text, language)))
        top_share = self.rng.uniform(0.3, 0.7)
        half = max(1, len(lines) // 2)
        top, bottom, size = [], [], 0
        i = self.rng.randrange(half)  # header lines from the first half, in order
        while size < want * top_share and i < len(lines):
            top.append(lines[i])
            size += units(lines[i], language)
            i += 1
        j = self.rng.randrange(half, len(lines)) if len(lines) > 1 else 0
        while size < want and j < len(lines):  # footer lines from the second half
            bottom.append(lines[j])
            size += units(lines[j], language)
            j += 1
        return "\n".join(top + [text] + bottom)

    def edit(self, text: str, language: Optional[str], pool: str, count: int) -> str:
        toks = tokens(text, language)
        vocab = self.vocab(pool, language)
        for _ in range(count):
            i = self.rng.randrange(len(toks))
            op = self.rng.random()
            if op < 0.5:
                toks[i] = self.rng.choice(vocab)
            elif op < 0.75 and len(toks) > 1:
                del toks[i]
            else:
                toks.insert(i, self.rng.choice(vocab))
        return join(toks, language)

    def edited(self, base: Base) -> str:
        """An edited copy: a random mix of the edits that updates and
        republications make, strong enough to spread true Jaccard 0.55-1.0."""
        rng, lang = self.rng, base.language
        sep = "" if is_char_language(lang) else " "
        sentences = [x for x in re.split(r"(?<=[.!?。！？؟])\s*", base.text) if x.strip()]
        if len(sentences) < 4:  # text without sentence marks: cut it in ten pieces
            toks = tokens(base.text, lang)
            step = max(1, len(toks) // 10)
            sentences = [join(toks[i:i + step], lang) for i in range(0, len(toks), step)]
        n = len(sentences)
        if rng.random() < 0.5:  # a changed lead
            sentences[0] = self.new_text(lang, base.pool, base.text,
                                         max(5, units(sentences[0], lang)))
        for _ in range(rng.choice((0, 0, 1, 2))):  # deleted sentences
            if len(sentences) > 3:
                del sentences[rng.randrange(1, len(sentences))]
        for _ in range(rng.choice((0, 0, 1, 2))):  # inserted sentences
            sentences.insert(rng.randrange(1, len(sentences) + 1),
                             self.new_text(lang, base.pool, base.text,
                                           max(5, units(base.text, lang) // max(n, 1))))
        text = sep.join(sentences)
        toks = tokens(text, lang)
        vocab = self.vocab(base.pool, lang)
        step = rng.randint(12, 90)  # a word (character) substituted every `step`
        offset = rng.randrange(step)
        toks = [rng.choice(vocab) if i % step == offset else t for i, t in enumerate(toks)]
        text = join(toks, lang)
        sites = [s for s in self.boilerplate if s != base.name]
        if rng.random() < 0.4 and sites:  # boilerplate lines added
            text = self.wrap(text, lang, rng.choice(sites))
        return text

    def vocab(self, pool: str, language: Optional[str]) -> List[str]:
        """Words (characters, for character-shingled languages) for random edits."""
        mode = is_char_language(language)
        if (pool, mode) not in self._vocab:
            self._vocab[pool, mode] = [t for d in self.donors[pool] for t in tokens(d, language)
                                       if t.strip()]
        return self._vocab[pool, mode]

    def new_text(self, language: Optional[str], pool: str, exclude: str, size: int) -> str:
        """About `size` units of text from other articles of the pool."""
        donors = [d for d in self.donors[pool] if d != exclude]
        out: List[str] = []
        while size > 0:
            toks = tokens(self.rng.choice(donors), language)
            start = self.rng.randrange(max(1, len(toks) - size))
            piece = toks[start:start + size]
            out.append(join(piece, language))
            size -= units(join(piece, language), language) or len(piece)
        return ("" if is_char_language(language) else " ").join(out)

    def add_base(self, base: Base) -> None:
        rng, lang = self.rng, base.language
        self.clock += rng.randrange(1, 24) * HOUR_US
        t0 = self.clock
        b = self.add(base.text, lang, base.name, "base", t0)
        toks = tokens(base.text, lang)
        n = units(base.text, lang)
        own_sites = [s for s in self.boilerplate if s != base.name]
        if lang == "ar" and "rt-arabic" in self.boilerplate:
            sites = ["rt-arabic"] + rng.sample([s for s in own_sites if s != "rt-arabic"], 1)
        else:
            sites = rng.sample([s for s in own_sites if s != "rt-arabic"], 2)
        variants = [("syndicated", self.wrap(base.text, lang, site)) for site in sites]
        variants += [("edit", self.edit(base.text, lang, base.pool, rng.randint(5, 20)))
                     for _ in range(2)]
        variants.append(("truncation", join(toks[:round(len(toks) * 0.8)], lang)))
        variants.append(("update", base.text + "\n\n" + self.new_text(
            lang, base.pool, base.text, max(1, round(0.25 * n)))))
        variants.append(("teaser", join(toks[:round(len(toks) * 0.6)], lang)))
        variants += [("edited", self.edited(base)) for _ in range(4)]
        for hours, (kind, text) in enumerate(variants, start=1):
            v = self.add(text, lang, base.name, kind, t0 + hours * HOUR_US)
            self.pairs[frozenset((b, v))] = kind

    def add_template_group(self, site: str, articles: Sequence[Tuple[str, str]],
                           cap_words: int) -> None:
        """Short unrelated articles inside one site's long shared template."""
        lines = self.boilerplate[site]
        template, size = [], 0
        for line in lines:
            if size >= cap_words:
                break
            template.append(line)
            size += len(line.split())
        cut = max(1, len(template) * 2 // 3)  # navigation above, footer below
        members = []
        for _, article in articles:
            self.clock += self.rng.randrange(1, 24) * HOUR_US
            # As the pipeline sees such a page: an HTML page of the site's template
            # around the article, through the pipeline's own extraction.
            text = extracted_text(template_page(template[:cut], article, template[cut:]))
            if text is None:  # the pipeline would reject it: nothing to merge
                continue
            members.append(self.add(text, detect(text), f"tpl-{site}", "template", self.clock))
        for pair in combinations(members, 2):
            self.pairs[frozenset(pair)] = "template"


def template_page(header: Sequence[str], article: str, footer: Sequence[str]) -> bytes:
    """An HTML page: the template's lines as navigation and footer, the article between."""
    nav = "".join(f'<li><a href="/section/{i}">{html.escape(line)}</a></li>'
                  for i, line in enumerate(header))
    foot = "".join(f"<p>{html.escape(line)}</p>" for line in footer)
    return (f"<!doctype html><html><head><title>Site</title></head><body>"
            f"<header><nav><ul>{nav}</ul></nav></header>"
            f"<main><article><p>{html.escape(article)}</p></article></main>"
            f"<footer>{foot}</footer></body></html>").encode("utf-8")


def extracted_text(page: bytes) -> Optional[str]:
    """The article text the pipeline's HTML extraction finds, or None."""
    try:
        return extract_html(page, "utf-8", None).text
    except NoArticleText:
        return None


def distinct_bases(bases: Sequence[Base]) -> Tuple[List[Base], List[str]]:
    """Drops a base that shares 30% of its shingles with an earlier one (goose3's
    three Gizmodo pages hold one article), so that bases are unrelated."""
    owner: Dict[object, int] = {}
    kept, dropped = [], []
    for base in bases:
        own = shingles(base.text, base.language)
        shared = Counter(owner[s] for s in own if s in owner)
        if own and shared and shared.most_common(1)[0][1] >= 0.3 * len(own):
            dropped.append(base.name)
            continue
        for s in own:
            owner.setdefault(s, len(kept))
        kept.append(base)
    return kept, dropped


def build_synthetic(rng: random.Random) -> Tuple[Synthetic, Dict[str, int]]:
    syn = Synthetic(rng)
    sh_bases, boilerplate = load_scrapinghub()
    syn.boilerplate = {site: lines for site, lines in boilerplate.items()
                       if sum(len(line.split()) for line in lines) >= 60}
    g3_bases = load_goose3()
    lingua = load_lingua()
    rt_articles, rt_boilerplate = load_arabic_sample()
    if rt_boilerplate:
        syn.boilerplate["rt-arabic"] = rt_boilerplate

    # Update text and edit words come from articles in the base's own language.
    for language in {b.language for b in sh_bases}:
        texts = [b.text for b in sh_bases if b.language == language]
        if len(texts) >= 3:
            syn.donors[f"scrapinghub-{language}"] = texts
    bases: List[Base] = list(sh_bases) + list(g3_bases)
    template_articles: List[Tuple[str, str]] = []
    for language, sentences in lingua.items():
        sentences = list(sentences)
        rng.shuffle(sentences)
        lang, used = language, 0
        for d in range(4):  # four documents of 1,200-3,000 characters a language
            want, doc = rng.randint(1200, 3000), []
            while used < len(sentences) // 2 and sum(map(len, doc)) < want:
                doc.append(sentences[used])
                used += 1
            if sum(map(len, doc)) >= 600:
                bases.append(Base("lingua", f"li-{language}-{d}", lang,
                                  (" " if not is_char_language(lang) else "").join(doc),
                                  f"lingua-{language}"))
        rest = sentences[len(sentences) // 2:]
        half = len(rest) // 2
        syn.donors[f"lingua-{language}"] = rest[:half]       # update text, edit words
        if not is_char_language(lang):                      # short articles for templates
            template_articles += [(language, s) for s in rest[half:]]
    for i, text in enumerate(rt_articles):
        bases.append(Base("rt-arabic", f"rt-ar-{i}", "ar", text, "lingua-ar"))

    def pool(base: Base) -> str:
        for name in (f"scrapinghub-{base.language}", f"lingua-{base.language}"):
            if name in syn.donors:
                return name
        return "scrapinghub-en"

    bases, dropped = distinct_bases([b._replace(pool=pool(b)) for b in bases])
    for base in bases:
        syn.add_base(base)

    # Template-only: groups of four short articles (30-150 words each, made of
    # unused lingua sentences of one language) inside one site's template.
    by_language: Dict[str, List[str]] = defaultdict(list)
    for language, sentence in template_articles:
        by_language[language].append(sentence)
    languages = sorted(by_language)
    for site in sorted(s for s in syn.boilerplate if s.startswith("sh-")):
        lines = syn.boilerplate[site]
        if sum(len(line.split()) for line in lines) < 120:
            continue
        cap = rng.randint(150, 450)
        articles = []
        for _ in range(4):
            language = rng.choice(languages)
            want, words = rng.randint(30, 150), []
            while len(words) < want and by_language[language]:
                words += by_language[language].pop().split()
            if not by_language[language]:
                languages.remove(language)
            articles.append((language, " ".join(words)))
        syn.add_template_group(site, articles, cap)

    counts = Counter(base.source for base in bases)
    return syn, {"bases": dict(counts), "dropped_overlapping_bases": dropped}


def evaluate_synthetic(threshold: float, seed: int) -> dict:
    started = time.perf_counter()
    rng = random.Random(seed)
    syn, composition = build_synthetic(rng)
    docs = syn.docs
    built = time.perf_counter()
    keys = dedup_keys([d.text for d in docs], [d.published for d in docs])
    signed_at = time.perf_counter()
    result = cluster_keys(keys, threshold)
    # The same keys without publication times: the rank falls to the longest text.
    undated = cluster_keys([k._replace(published=None) for k in keys], threshold)
    clustered = time.perf_counter()

    sets = [shingles(d.text, d.language) for d in docs]
    true_j = {pair: jaccard(*(sets[i] for i in pair)) for pair in syn.pairs}
    mode_mismatch = [i for i, d in enumerate(docs)
                     if minhash.uses_character_shingles(key_text(d.text))
                     != is_char_language(d.language)]
    errors = [minhash.similarity(keys[i].signature, keys[j].signature) - (true_j[p] or 0.0)
              for p in syn.pairs for i, j in [sorted(p)]
              if keys[i].signature is not None and keys[j].signature is not None
              and i not in mode_mismatch and j not in mode_mismatch]
    groups: Dict[str, List[int]] = defaultdict(list)
    for i, d in enumerate(docs):
        if d.kind == "base" or SHOULD_MERGE.get(d.kind):
            groups[d.group].append(i)

    def score(centre: Sequence[int]) -> dict:
        predicted = co_clustered_pairs(centre)
        labelled = syn.pairs
        positives = {p for p, kind in labelled.items()
                     if kind != "template" and (true_j[p] or 0) >= POSITIVE_JACCARD}
        merged = {p for p in labelled if p in predicted}
        tp = len(merged & positives)
        precision, recall = ratio(tp, len(merged)), ratio(tp, len(positives))
        grey = sum(1 for p in merged if p not in positives and labelled[p] != "template"
                   and threshold <= (true_j[p] or 0) < POSITIVE_JACCARD)
        below = sorted(round(true_j[p] or 0, 3) for p in merged
                       if p not in positives and (true_j[p] or 0) < threshold)
        should = {p for p, kind in labelled.items() if SHOULD_MERGE[kind]}
        # Every co-clustered pair, labelled or not (variants of one base that are
        # similar only through their centre, or pairs across bases).
        other = predicted - set(labelled)
        other_j = {p: jaccard(*(sets[i] for i in p)) for p in other}
        cross = sum(1 for p in other if len({docs[i].group for i in p}) > 1)
        all_good = tp + sum(1 for p in other if (other_j[p] or 0) >= POSITIVE_JACCARD)
        # What dedup is for: copies of one story left standing. A group is a base and
        # its should-merge variants; ideally one copy of it is kept.
        standing = sum(len({centre[i] for i in members}) for members in groups.values())
        per_kind = {}
        for kind in KINDS:
            pairs = [p for p, k in labelled.items() if k == kind]
            if not pairs:
                continue
            js = sorted(true_j[p] or 0.0 for p in pairs)
            high = [p for p in pairs if (true_j[p] or 0) >= POSITIVE_JACCARD]
            n_merged = sum(1 for p in pairs if p in predicted)
            per_kind[kind] = {
                "pairs": len(pairs), "should_merge": SHOULD_MERGE[kind],
                "jaccard_min": round(js[0], 3), "jaccard_median": round(statistics.median(js), 3),
                "jaccard_max": round(js[-1], 3), "jaccard_ge_0_8": len(high),
                "merged": n_merged, "merged_share": ratio(n_merged, len(pairs)),
                "recall_jaccard_ge_0_8": ratio(sum(1 for p in high if p in predicted), len(high)),
            }
        return {
            "labelled_pairs": len(labelled), "positives": len(positives),
            "merged_labelled": len(merged), "true_positives": tp,
            "precision": precision, "recall": recall, "f1": f1(precision, recall),
            "merged_grey_zone": grey,
            "precision_without_grey_zone": ratio(tp, len(merged) - grey),
            "merged_below_threshold_jaccard": below,
            "label_precision": ratio(len(merged & should), len(merged)),
            "label_recall": ratio(len(merged & should), len(should)),
            "co_clustered_pairs": len(predicted),
            "co_clustered_unlabelled": len(other), "co_clustered_cross_base": cross,
            "co_clustered_unlabelled_jaccard_lt_0_8":
                sum(1 for p in other if (other_j[p] or 0) < POSITIVE_JACCARD),
            "precision_all_co_clustered": ratio(all_good, len(predicted)),
            "groups": len(groups), "copies_standing": standing,
            "surplus_copies": standing - len(groups),
            "template_pairs": per_kind.get("template", {}).get("pairs", 0),
            "template_merged": per_kind.get("template", {}).get("merged", 0),
            "template_merged_jaccard": sorted(round(true_j[p] or 0, 3) for p in merged
                                              if labelled[p] == "template"),
            "per_kind": per_kind,
        }

    dated, no_dates = score(result.centre), score(undated.centre)
    bands = band_table(docs, syn.pairs, true_j, sets, keys, result.centre, threshold)
    out = {
        "seed": seed, "threshold": threshold, "documents": len(docs),
        "base_articles": composition["bases"],
        "dropped_overlapping_bases": composition["dropped_overlapping_bases"],
        "signed": result.signed,
        "exact_duplicate_key_texts": len(keys) - len({k.content_hash for k in keys}),
        "shingle_mode_mismatches": len(mode_mismatch),
        "shingle_mode_mismatch_examples": [
            f"{docs[i].group}/{docs[i].kind}: {docs[i].language} shingled as "
            f"{'characters' if minhash.uses_character_shingles(key_text(docs[i].text)) else 'words'}"
            for i in mode_mismatch[:8]],
        "estimate_error_mean": round(statistics.mean(errors), 4),
        "estimate_error_sd": round(statistics.pstdev(errors), 4),
        "edges": result.edges, "buckets_with_2_plus": result.buckets,
        "seconds": {"build_and_detect": round(built - started, 2),
                    "signatures": round(signed_at - built, 2),
                    "clustering_twice": round(clustered - signed_at, 2),
                    "total": round(time.perf_counter() - started, 2)},
        "dated": dated, "undated": no_dates, "bands": bands,
    }
    # Precision against the generator's labels (a merged syndicated, edited,
    # truncated or updated copy is right; a merged teaser or template page is
    # wrong); recall over the should-merge pairs with true Jaccard >= 0.8.
    out["passes"] = {
        "precision": all((run["label_precision"] or 0) >= TARGET_PRECISION
                         for run in (dated, no_dates)),
        "recall": all((run["recall"] or 0) >= TARGET_RECALL for run in (dated, no_dates)),
        "template_merged_zero": dated["template_merged"] == 0 and no_dates["template_merged"] == 0,
        "band_recall": all(row["recall_within_run"] is not None
                           and row["recall_within_run"] >= row["target"]
                           for row in bands if row["target"] is not None),
        "band_recall_against_index": all(
            row["recall_against_index"] is not None
            and row["recall_against_index"] >= row["target"]
            for row in bands if row["target"] is not None),
    }
    print_synthetic(out)
    return out


def band_of(j: Optional[float]) -> Optional[Tuple[float, float]]:
    for low, high in JACCARD_BANDS:
        if j is not None and low <= j < high:
            return low, high
    return None


def band_table(docs: Sequence[Doc], pairs: Dict[FrozenSet[int], str],
               true_j: Dict[FrozenSet[int], Optional[float]], sets: Sequence[Set],
               keys: Sequence[DedupKey], centre: Sequence[int], threshold: float) -> List[dict]:
    """Precision and recall per band of true Jaccard.

    Recall within a run: should-merge labelled pairs that end in one cluster.
    Recall against the index: such pairs that share an LSH band and whose
    signatures estimate at least the threshold (a copy meeting its original's
    index row). Precision: of all pairs that end in one cluster with a true
    Jaccard in the band, the share that are one story (variants of one base,
    neither a teaser nor template-only pair)."""
    params = minhash.lsh_parameters(threshold)
    bands = [set(minhash.band_keys(k.signature, params)) if k.signature else set() for k in keys]
    predicted = co_clustered_pairs(centre)
    rows = []
    for low, high in JACCARD_BANDS:
        should = [p for p, kind in pairs.items() if SHOULD_MERGE[kind]
                  and band_of(true_j[p]) == (low, high)]
        within = sum(1 for p in should if p in predicted)
        against = against_v4 = 0
        for p in should:
            i, j = sorted(p)
            if not (keys[i].signature and keys[j].signature and bands[i] & bands[j]):
                continue
            # The older copy as a later run reads it back from the index, the
            # newer with its sketch, as the run computed it.
            row = index_row(keys[i])
            against += minhash.similarity(sketch_of(row), SKETCHES[keys[j].article_id]
                                          ) >= threshold
            against_v4 += minhash.similarity(keys[i].signature, keys[j].signature) >= threshold
        merged = [p for p in predicted if band_of(
            true_j[p] if p in true_j else jaccard(*(sets[i] for i in p))) == (low, high)]
        right = sum(1 for p in merged if len({docs[i].group for i in p}) == 1
                    and pairs.get(p) not in ("teaser", "template"))
        rows.append({"band": f"{low:.2f}-{min(high, 1.0):.2f}", "should_merge_pairs": len(should),
                     "found_within_run": within,
                     "recall_within_run": ratio(within, len(should)),
                     "recall_against_index": ratio(against, len(should)),
                     "recall_against_v4_index": ratio(against_v4, len(should)),
                     "merged_pairs": len(merged), "precision": ratio(right, len(merged)),
                     "target": TARGET_BAND_RECALL.get((low, high))})
    return rows


def print_bands(rows: Sequence[dict], threshold: float) -> None:
    print(f"   Per band of true Jaccard (threshold {threshold}, LSH "
          f"{'x'.join(map(str, minhash.lsh_parameters(threshold)))} of {minhash.NUM_PERM} rows):")
    print(table(("true Jaccard", "should-merge pairs", "recall (run)", "recall (vs index)",
                 "recall (vs v4 index)", "merged pairs", "precision", "target recall"),
                [(r["band"], r["should_merge_pairs"], fmt(r["recall_within_run"]),
                  fmt(r["recall_against_index"]), fmt(r["recall_against_v4_index"]),
                  r["merged_pairs"], fmt(r["precision"]),
                  fmt(r["target"], 2) if r["target"] else "-") for r in rows]))


def print_synthetic(out: dict) -> None:
    d, u = out["dated"], out["undated"]
    bases = ", ".join(f"{k} {v}" for k, v in sorted(out["base_articles"].items()))
    print(f"b. synthetic set (seed {out['seed']}, near threshold {out['threshold']}): "
          f"{out['documents']} documents from {sum(out['base_articles'].values())} base "
          f"articles ({bases}; dropped as overlapping an earlier base: "
          f"{', '.join(out['dropped_overlapping_bases']) or 'none'})")
    print(f"   {out['signed']} signed; {out['exact_duplicate_key_texts']} exact duplicate key "
          f"texts; {out['edges']} verified edges in {out['buckets_with_2_plus']} shared "
          f"buckets; MinHash estimate - true Jaccard over the labelled pairs: mean "
          f"{out['estimate_error_mean']:+.4f}, sd {out['estimate_error_sd']:.4f}")
    print(f"   documents shingled otherwise than their language suggests (the pipeline decides "
          f"by script share): {out['shingle_mode_mismatches']}"
          + (f" (e.g. {'; '.join(out['shingle_mode_mismatch_examples'][:4])})"
             if out["shingle_mode_mismatches"] else ""))
    print("   Positives: labelled pairs (not template-only) whose true word 5-gram Jaccard is "
          ">= 0.8. Predicted: both ends in one near cluster.\n"
          "   Variants are published 1-7 h after their base (the base ranks first); the "
          "'no dates' column ranks by length only.")
    rows = [
        ("labelled pairs", d["labelled_pairs"], u["labelled_pairs"]),
        ("positives (Jaccard >= 0.8)", d["positives"], u["positives"]),
        ("merged labelled pairs", d["merged_labelled"], u["merged_labelled"]),
        ("true positives", d["true_positives"], u["true_positives"]),
        ("precision", fmt(d["precision"]), fmt(u["precision"])),
        ("recall", fmt(d["recall"]), fmt(u["recall"])),
        ("F1", fmt(d["f1"]), fmt(u["f1"])),
        (f"merged with {out['threshold']} <= J < 0.8 (grey zone)", d["merged_grey_zone"],
         u["merged_grey_zone"]),
        (f"merged with J < {out['threshold']}", len(d["merged_below_threshold_jaccard"]),
         len(u["merged_below_threshold_jaccard"])),
        ("precision, grey zone left out", fmt(d["precision_without_grey_zone"]),
         fmt(u["precision_without_grey_zone"])),
        ("precision by variant label", fmt(d["label_precision"]), fmt(u["label_precision"])),
        ("recall by variant label", fmt(d["label_recall"]), fmt(u["label_recall"])),
        ("template-only pairs merged", f"{d['template_merged']} of {d['template_pairs']}",
         f"{u['template_merged']} of {u['template_pairs']}"),
        ("copies standing per story group (ideal 1)",
         fmt(d["copies_standing"] / d["groups"], 3), fmt(u["copies_standing"] / u["groups"], 3)),
        ("all co-clustered pairs", d["co_clustered_pairs"], u["co_clustered_pairs"]),
        ("  unlabelled (variant-variant, cross-base)", d["co_clustered_unlabelled"],
         u["co_clustered_unlabelled"]),
        ("  across different bases", d["co_clustered_cross_base"], u["co_clustered_cross_base"]),
        ("  unlabelled with Jaccard < 0.8", d["co_clustered_unlabelled_jaccard_lt_0_8"],
         u["co_clustered_unlabelled_jaccard_lt_0_8"]),
        ("precision over all co-clustered pairs", fmt(d["precision_all_co_clustered"]),
         fmt(u["precision_all_co_clustered"])),
    ]
    print(table(("pairs", "dated", "no dates"), rows))
    print("   Per variant type (merged = ends in one cluster with its base):")
    krows = []
    for kind, k in d["per_kind"].items():
        uk = u["per_kind"][kind]
        krows.append((kind, "yes" if k["should_merge"] else "NO", k["pairs"],
                      f"{k['jaccard_min']:.2f}/{k['jaccard_median']:.2f}/{k['jaccard_max']:.2f}",
                      k["jaccard_ge_0_8"], fmt(k["merged_share"]),
                      fmt(k["recall_jaccard_ge_0_8"]), fmt(uk["merged_share"]),
                      fmt(uk["recall_jaccard_ge_0_8"])))
    print(table(("type", "merge?", "pairs", "J min/med/max", "J>=0.8", "merged",
                 "recall J>=0.8", "merged (no dates)", "recall J>=0.8 (no dates)"), krows))
    print_bands(out["bands"], out["threshold"])
    if d["template_merged_jaccard"]:
        js = d["template_merged_jaccard"]
        print(f"   merged template-only pairs: true Jaccard {js[0]:.2f} to {js[-1]:.2f}, "
              f"median {statistics.median(js):.2f}")
    p = out["passes"]
    print(f"   precision against the generator's labels: dated {fmt(d['label_precision'])}, "
          f"no dates {fmt(u['label_precision'])} (target >= {TARGET_PRECISION}): "
          f"{'PASS' if p['precision'] else 'FAIL'}")
    print(f"     (counting every merged pair under true Jaccard 0.8 as wrong: dated "
          f"{fmt(d['precision'])}, no dates {fmt(u['precision'])})")
    print(f"   recall on should-merge pairs with true Jaccard >= 0.8: dated {fmt(d['recall'])}, "
          f"no dates {fmt(u['recall'])} (target >= {TARGET_RECALL}): "
          f"{'PASS' if p['recall'] else 'FAIL'}")
    print(f"   template-only pages (extracted as the pipeline extracts them) merged: dated "
          f"{d['template_merged']}, no dates {u['template_merged']} (target 0): "
          f"{'PASS' if p['template_merged_zero'] else 'FAIL'}")
    print(f"   recall per band within a run against its target: "
          f"{'PASS' if p['band_recall'] else 'FAIL'}")
    print(f"   recall per band against the index (v5 rows) against its target: "
          f"{'PASS' if p['band_recall_against_index'] else 'FAIL'}")


# --- c. distinct articles on pages that share a template and a declared URL ----------

DECLARED = ("home", "section", "one-article", "og-home")


def declaring_page(header: Sequence[str], title: str, article: str, footer: Sequence[str],
                   canonical: Optional[str], og_url: Optional[str]) -> bytes:
    """An HTML page of a site's template whose head declares `canonical`/`og_url`."""
    nav = "".join(f'<li><a href="/section/{i}">{html.escape(line)}</a></li>'
                  for i, line in enumerate(header))
    foot = "".join(f"<p>{html.escape(line)}</p>" for line in footer)
    head = f"<title>{html.escape(title)}</title>"
    if canonical:
        head += f'<link rel="canonical" href="{html.escape(canonical)}">'
    if og_url:
        head += f'<meta property="og:url" content="{html.escape(og_url)}">'
    return (f"<!doctype html><html><head>{head}</head><body>"
            f"<header><nav><ul>{nav}</ul></nav></header><main><article>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(article)}</p></article></main>"
            f"<footer>{foot}</footer></body></html>").encode("utf-8")


def evaluate_shared_urls(threshold: float, seed: int, per_site: int = 8) -> Optional[dict]:
    """Distinct articles on pages declaring one URL: how many the dedup merges."""
    from schemas.records import RawDocument
    from transforms.dedup.rules import dedup_key, refused_claim, split_group, split_url_group
    from transforms.extract.articles import to_article

    if not (SCRAPINGHUB / "ground-truth.json").is_file() or not LINGUA.is_dir():
        print("c. shared declared URLs: skipped, the shared data is not there.")
        return None
    started = time.perf_counter()
    rng = random.Random(seed + 1)
    _, boilerplate = load_scrapinghub()
    sites = sorted(s for s, lines in boilerplate.items()
                   if sum(len(line.split()) for line in lines) >= 120)
    lingua = load_lingua()
    languages = sorted(lang for lang in lingua if lang not in ("zh", "ja", "th"))
    pools = {lang: list(reversed(lingua[lang])) for lang in languages}  # unused by (b) last
    articles, claimed_keys, modes = [], [], Counter()
    for n, site in enumerate(sites):
        host = f"site{n}.example"
        mode = DECLARED[n % len(DECLARED)]
        modes[mode] += 1
        lines = boilerplate[site]
        cut = max(1, len(lines) * 2 // 3)
        declared = {"home": f"http://www.{host}/", "section": f"https://{host}/news/",
                    "one-article": f"https://{host}/2026/11/29/the-story-of-the-day",
                    "og-home": f"http://{host}/"}[mode]
        with_fact = n % 2 == 0
        for i in range(per_site):
            language = rng.choice(languages)
            want, words = rng.randint(60, 300), []
            while len(words) < want and pools[language]:
                words += pools[language].pop().split()
            text = " ".join(words)
            page = declaring_page(lines[:cut], " ".join(words[:8]), text, lines[cut:],
                                  None if mode == "og-home" else declared, declared)
            try:
                found = extract_html(page, "utf-8", None)
            except NoArticleText:
                continue
            fact = f"https://{host}/2026/11/{i + 1:02d}/story-{i}" if with_fact else None
            raw = RawDocument(f"{host}-{i}", "html", f"{host}.warc", f"record:{i}", "eval",
                              page, "html", url=fact)
            articles.append(to_article(raw, found, DAY0_US))
            claimed_keys.append(url_key_of(found.page_url))
    keys = [dedup_key(a, {}) for a in articles]
    conflicts = sum(1 for a in articles if refused_claim(a) is not None)
    # The URL stage (groups by URL key), then exact, then near, as the pipeline chains them.
    groups: Dict[Optional[str], List[DedupKey]] = defaultdict(list)
    for key in keys:
        groups[key.url_key].append(key)
    survivors, merged_url = [], 0
    for url, members in groups.items():
        if url is None:
            survivors += members
            continue
        kept, decisions, n_conflicts = split_url_group(members, threshold)
        survivors += kept
        merged_url += len(decisions)
        conflicts += n_conflicts
    by_hash: Dict[str, List[DedupKey]] = defaultdict(list)
    for key in survivors:
        by_hash[key.content_hash].append(key)
    near_in, merged_exact = [], 0
    for members in by_hash.values():
        kept, decisions = split_group(members, "exact")
        near_in.append(kept)
        merged_exact += len(decisions)
    texts = {a.article_id: a.text for a in articles}
    near_keys = dedup_keys([texts[k.article_id] for k in near_in])
    result = cluster_keys(near_keys, threshold)
    merged_near = sum(1 for i, c in enumerate(result.centre) if c != i)
    merged = merged_url + merged_exact + merged_near
    trusted = len(articles) - len({k for k in claimed_keys if k is not None}) \
        - sum(1 for k in claimed_keys if k is None)
    out = {"pages": len(articles), "sites": len(sites), "declared": dict(modes),
           "merged_url": merged_url, "merged_exact": merged_exact, "merged_near": merged_near,
           "merged": merged, "merged_share": ratio(merged, len(articles)),
           "url_conflicts": conflicts, "merged_if_claims_were_trusted": trusted,
           "seconds": round(time.perf_counter() - started, 1)}
    out["passes"] = (out["merged_share"] or 0) <= TARGET_DISTINCT_MERGED
    print(f"c. distinct articles on pages of {len(sites)} sites' templates, each site declaring "
          f"one URL on every page ({', '.join(f'{k} {v} sites' for k, v in sorted(modes.items()))}; "
          f"half the sites with fetched URLs): {len(articles)} pages")
    print(table(("distinct articles", "value"), [
        ("merged as url duplicates", merged_url), ("merged as exact duplicates", merged_exact),
        ("merged as near duplicates", merged_near),
        ("distinct articles merged", f"{merged} ({fmt(out['merged_share'], 4)})"),
        ("url conflicts counted", conflicts),
        ("merged if the declared URLs were trusted as keys", trusted),
        ("seconds (extraction included)", out["seconds"]),
    ]))
    print(f"   distinct articles merged: {fmt(out['merged_share'], 4)} (target <= "
          f"{TARGET_DISTINCT_MERGED}): {'PASS' if out['passes'] else 'FAIL'}")
    return out


def url_key_of(url: Optional[str]) -> Optional[str]:
    from transforms.dedup.urls import url_key
    return url_key(url)


# --- main -----------------------------------------------------------------------------

def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=minhash.DEFAULT_THRESHOLD,
                        help="The near threshold (the pipeline's --near_threshold). "
                             f"Default {minhash.DEFAULT_THRESHOLD}.")
    parser.add_argument("--seed", type=int, default=20261130,
                        help="Seed of the synthetic set. Default 20261130.")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"eval_dedup: skipped: the shared data folder is not there ({DATA}); it comes "
              f"with the shared folder next to the repository.")
        return 0
    started = time.perf_counter()
    result = {"measured_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "algorithm": minhash.ALGORITHM_VERSION}
    result["scoop"] = evaluate_scoop(args.threshold)
    print()
    missing = [p for p in (SCRAPINGHUB / "ground-truth.json", LINGUA) if not p.exists()]
    if missing:
        print(f"b. synthetic set: skipped, {', '.join(map(str, missing))} not there.")
        result["synthetic"] = None
    else:
        result["synthetic"] = evaluate_synthetic(args.threshold, args.seed)
        passed = all(result["synthetic"]["passes"].values())
        print(f"   overall: {'PASS' if passed else 'FAIL'}")
    print()
    result["shared_urls"] = evaluate_shared_urls(args.threshold, args.seed)
    result["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nran in {result['seconds']} s; figures written to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
