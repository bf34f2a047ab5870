"""MinHash signatures, LSH candidates and near-duplicate clustering."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import IndexEntry, RawDocument
from transforms.dedup import minhash
from transforms.extract.dates import parse_timestamp
from schemas.dedup import DedupKey, NearEdge
from transforms.dedup.batch import Deduplicate
from transforms.dedup.known import relevant_known
from transforms.dedup.rules import bucket_edges, cluster_near, dedup_key
from transforms.extract.articles import ExtractArticles
from transforms.extract.normalize import content_hash, key_text

INGESTED = parse_timestamp("2026-11-29T12:00:00Z")
STORY = (
    "The regional parliament approved a budget on Thursday that doubles spending on rail "
    "maintenance, after two years in which delays on the northern line became the most common "
    "complaint of commuters. The transport minister said the first contracts would be signed "
    "before the summer and that work on the worst stretches, between the river crossing and the "
    "old freight yard, would begin in the autumn. Opposition members welcomed the money but "
    "questioned whether the rail company had enough engineers to spend it, pointing to a report "
    "that found a third of maintenance posts unfilled. Commuter groups said they would judge the "
    "plan by the timetable, not the budget, and asked for monthly figures on punctuality. "
    "The budget also sets aside money for new trains on the coastal line, where the oldest "
    "carriages in service date from the nineteen eighties and break down twice as often as the "
    "rest of the fleet. Delivery of the first units is not expected before next winter, and "
    "the minister warned that the timetable would remain thin until then. Local councils along "
    "the line had asked for more frequent services at weekends, when tourism doubles the number "
    "of passengers, but the plan makes no promise on that point. A spokeswoman for the rail "
    "company said it would publish a detailed schedule of the works within a month and would "
    "run replacement buses on the affected stretches during the closures.")


def _jaccard(a: str, b: str) -> float:
    x = set(minhash.shingle_hashes(key_text(a)).tolist())
    y = set(minhash.shingle_hashes(key_text(b)).tolist())
    return len(x & y) / len(x | y)


def _edit(text: str, every: int) -> str:
    words = text.split()
    return " ".join(w.upper() + "x" if i % every == 0 else w for i, w in enumerate(words))


def test_signatures_are_pinned():
    sig = minhash.signature(key_text(STORY))
    assert len(sig) == 4 * minhash.NUM_PERM
    # A change of any hash choice changes these rows: bump ALGORITHM_VERSION then.
    assert minhash.signature(key_text(STORY)) == sig
    assert sig[:8].hex() == GOLDEN_FIRST_ROWS
    # The rows are v3's: what lets v3 index entries meet new articles by band.
    assert "minhash-v3:xxh3w5:cjk30:lin32:p128:b16r8" in minhash.COMPATIBLE_VERSIONS
    bands, rows = minhash.lsh_parameters()
    assert len(minhash.band_keys(sig)) == bands
    assert minhash.band_keys(sig)[0].startswith(f"{bands}x{rows}-00-")


def test_estimates_follow_true_jaccard():
    for variant in (_edit(STORY, 45), _edit(STORY, 10), STORY[: len(STORY) * 6 // 10],
                    STORY + " " + STORY[:300]):
        true = _jaccard(STORY, variant)
        estimate = minhash.similarity(minhash.signature(key_text(STORY)),
                                      minhash.signature(key_text(variant)))
        assert abs(estimate - true) < 0.15, (true, estimate)


def test_short_texts_get_no_signature():
    assert minhash.signature(key_text("Too short to shingle into twenty windows.")) is None
    assert minhash.signature(key_text("same words " * 50)) is None


def test_unspaced_scripts_use_character_shingles_whatever_the_language():
    text = "中国国家统计局周三公布的数据显示今年第三季度国内生产总值同比增长百分之五点二高于市场预期" * 2
    assert minhash.uses_character_shingles(key_text(text))
    assert minhash.signature(key_text(text)) is not None  # one "word", yet signed
    assert not minhash.uses_character_shingles(key_text(STORY))
    assert not minhash.uses_character_shingles(key_text("Москва и Санкт-Петербург"))


def _key(article_id, text, known=False, published=None):
    return DedupKey(article_id, None, article_id, minhash.signature(key_text(text)), False, 0,
                    published, len(text), known, article_id, f"cluster-{article_id}")


def test_bucket_edges_verify_candidates_and_need_a_new_member():
    a, b, c = _key("a", STORY), _key("b", _edit(STORY, 45)), _key("c", _edit(STORY, 2))
    edges = bucket_edges([a, b, c], 0.72)
    assert {frozenset((e.new.article_id, e.other.article_id)) for e in edges} == {
        frozenset("ab")}
    old1, old2 = _key("x", STORY, known=True), _key("y", STORY, known=True)
    assert bucket_edges([old1, old2], 0.72) == []


def _node(i, known=False, published=None, length=100):
    return DedupKey(i, None, i, None, False, 0, published, length, known, i, f"c-{i}")


def test_star_clustering_centres_on_the_most_connected_copy_without_chains():
    # The original resembles every variant; the teaser resembles only the truncation.
    original, update = _node("original", published=1), _node("update", length=200)
    truncated, teaser = _node("truncated", published=3), _node("teaser", published=4)
    decisions = dict(cluster_near([NearEdge(update, original, 0.8),
                                   NearEdge(truncated, original, 0.8),
                                   NearEdge(teaser, truncated, 0.75)]))
    assert set(decisions) == {"update", "truncated"}
    assert {d.duplicate_of for d in decisions.values()} == {"original"}
    assert all(d.dup_type == "near" and d.similarity == 0.8 for d in decisions.values())


def test_without_dates_the_longest_copy_is_kept_and_the_star_holds():
    original, update = _node("original"), _node("update", length=200)
    copy = _node("copy", length=150)
    decisions = dict(cluster_near([NearEdge(update, original, 0.8),
                                   NearEdge(copy, original, 0.9)]))
    assert set(decisions) == {"original", "copy"}
    assert decisions["original"].duplicate_of == "update"
    assert decisions["original"].similarity == 0.8
    assert decisions["copy"].duplicate_of == "update"
    assert decisions["copy"].similarity == 0.9  # compared with the centre only


def test_entries_of_earlier_runs_stay_centres_and_keep_their_cluster():
    old = _node("old", known=True)._replace(kept_id="kept-old", cluster_id="c-kept")
    a = _node("a", published=1)
    decisions = dict(cluster_near([NearEdge(a, old, 0.8)]))
    assert decisions["a"].duplicate_of == "kept-old" and decisions["a"].cluster_id == "c-kept"
    assert decisions["a"].dup_type == "near" and decisions["a"].similarity == 0.8


def _raw(doc_id, text, published):
    return RawDocument(doc_id, "jsonl", "mem.jsonl", f"line:{doc_id}", "run",
                       text.encode(), "text", published=published)


def test_deduplicate_finds_near_copies_and_leaves_teasers(fnapi_pipeline):
    day = parse_timestamp("2026-11-28T08:00:00Z")
    docs = [_raw("original", STORY, day),
            _raw("edited", _edit(STORY, 45), day + 3_600_000_000),
            _raw("teaser", STORY[: len(STORY) * 6 // 10], day + 7_200_000_000),
            _raw("other", STORY[::-1], day)]
    with fnapi_pipeline as p:
        articles, _ = p | beam.Create(docs) | ExtractArticles(ingested_at=INGESTED)
        dedup_out = articles | Deduplicate(run_id="r", ingested_at=INGESTED)
        unique = dedup_out.articles
        duplicates = dedup_out.duplicates
        entries = dedup_out.index_entries
        assert_that(unique | "Kept" >> beam.Map(lambda a: a.article_id),
                    equal_to(["original", "teaser", "other"]), label="Unique")
        assert_that(duplicates | "Dups" >> beam.Map(
            lambda d: (d.doc_id, d.duplicate_of, d.dup_type, d.similarity > 0.72, d.cluster_id)),
            equal_to([("edited", "original", "near", True, "original")]), label="Duplicates")
        assert_that(entries | "Index" >> beam.Map(
            lambda e: (e.article_id, e.kept_id, e.signature is not None)),
            equal_to([("original", "original", True), ("edited", "original", False),
                      ("teaser", "teaser", True), ("other", "other", True)]), label="Entries")


GOLDEN_FIRST_ROWS = "fb4a3201ad28ac00"


def _entry(article_id, url_key, content_hash, kept_id, published, canonical=False):
    return IndexEntry(article_id, kept_id, f"c-{kept_id}", url_key, content_hash, None,
                      minhash.ALGORITHM_VERSION, canonical, 0, published, 1000, "old", 0)


@pytest.mark.parametrize("as_reader", [False, True], ids=["pcollection", "reader"])
def test_known_entries_a_slice_never_meets_still_decide_who_survives_its_url(
        fnapi_pipeline, as_reader):
    """Only entries meeting the new article are kept from the index, plus the
    entries of their URL keys: `x` has the new article's text but lost its
    URL to `y`, so the new article duplicates `z`, as with the whole index."""
    day = parse_timestamp("2026-11-28T08:00:00Z")
    same_text = content_hash(STORY)
    known = [_entry("y", "example.com/a", "another-text", "y", day, canonical=True),
             _entry("x", "example.com/a", same_text, "y", day - 10 * 86_400_000_000),
             _entry("z", "example.com/z", same_text, "z", day - 86_400_000_000),
             _entry("far", "example.com/far", "far-text", "far", day)]
    with fnapi_pipeline as p:
        articles, _ = p | beam.Create([_raw("new", STORY, day)]) | ExtractArticles(
            ingested_at=INGESTED)
        reader = beam.Create(known)
        duplicates = (articles | Deduplicate(
            reader if as_reader else p | "Known" >> reader, "r", INGESTED)).duplicates
        assert_that(duplicates | beam.Map(lambda d: (d.doc_id, d.duplicate_of, d.dup_type,
                                                     d.cluster_id)),
                    equal_to([("new", "z", "exact", "c-z")]))


def test_only_entries_meeting_new_keys_or_their_urls_are_kept(fnapi_pipeline):
    day = parse_timestamp("2026-11-28T08:00:00Z")
    same_text = content_hash(STORY)
    known = [_entry("y", "example.com/a", "another-text", "y", day, canonical=True),
             _entry("x", "example.com/a", same_text, "y", day),
             _entry("far", "example.com/far", "far-text", "far", day),
             _entry("far2", "example.com/far2", "another-text", "far2", day)]
    with fnapi_pipeline as p:
        articles, _ = p | beam.Create([_raw("new", STORY, day)]) | ExtractArticles(
            ingested_at=INGESTED)
        new_keys = articles | beam.Map(dedup_key, {})
        kept = relevant_known(new_keys, p | "First" >> beam.Create(known),
                              p | "Again" >> beam.Create(known))
        assert_that(kept | beam.Map(lambda k: (k.article_id, k.known)),
                    equal_to([("x", True), ("y", True)]))


def _lingua_text(data, language: str, start: int, words: int = 260) -> str:
    lines = (data / "langid" / "lingua-sentences" / f"{language}.txt").read_text(
        encoding="utf-8").splitlines()
    out, i = [], start
    while len(" ".join(out).split()) < words:
        out.append(lines[i].strip())
        i += 1
    return " ".join(out)


def _edited_to(text: str, low: float, high: float, seed: int) -> str:
    """A copy with one word in every `step` replaced, the step chosen so that
    the true Jaccard falls in [low, high)."""
    import random
    rng = random.Random(seed)
    words = text.split()
    for step in range(6, 80):
        offset = rng.randrange(step)
        copy = " ".join(f"zq{i}" if i % step == offset else w for i, w in enumerate(words))
        if low <= _jaccard(text, copy) < high:
            return copy
    raise AssertionError("no edit step gives that Jaccard")


def test_lsh_layout_follows_the_threshold():
    """Failed before: 16 x 8 bands were fixed whatever the threshold."""
    for threshold in (0.5, 0.6, 0.7, 0.72, 0.8, 0.9):
        bands, rows = minhash.lsh_parameters(threshold)
        assert bands * rows <= minhash.NUM_PERM
        assert minhash.candidate_probability(threshold + 0.03, bands, rows) >= 0.99
        # not needlessly loose: pairs far below the threshold are mostly no candidates
        assert minhash.candidate_probability(max(0.0, threshold - 0.3), bands, rows) < 0.5
    assert minhash.lsh_parameters(0.6) != minhash.lsh_parameters(0.7)


def test_edited_copies_at_jaccard_0_70_to_0_76_are_found_within_a_run(fnapi_pipeline,
                                                                        shared_data):
    """Failed before: with 16 x 8 bands and the 0.72 estimate about half of
    the copies at Jaccard ~0.70 stayed articles."""
    docs, originals = [], {}
    for i, language in enumerate(("en", "de", "fr", "ar", "es", "ru", "el", "tr") * 3):
        text = _lingua_text(shared_data, language, 30 * i)
        copy = _edited_to(text, 0.70, 0.76, seed=i)
        docs += [_raw(f"o{i}", text, None), _raw(f"e{i}", copy, None)]
        originals[f"e{i}"] = f"o{i}"
    with fnapi_pipeline as p:
        articles, _ = p | beam.Create(docs) | ExtractArticles(ingested_at=INGESTED)
        duplicates = (articles | Deduplicate(run_id="r", ingested_at=INGESTED)).duplicates
        pairs = duplicates | beam.Map(lambda d: frozenset((d.doc_id, d.duplicate_of)))

        def enough(found):
            hits = sum(1 for e, o in originals.items() if frozenset((e, o)) in set(found))
            assert hits >= 0.9 * len(originals), (hits, len(originals))
            assert len(found) == hits  # nothing else merged
        assert_that(pairs, enough)


def test_index_entries_of_an_unknown_algorithm_meet_only_by_url_and_content(fnapi_pipeline):
    """Entries of a version whose signatures differ are compared by URL key
    and content hash only; v3 entries (same rows as v4) still meet by band."""
    day = parse_timestamp("2026-11-28T08:00:00Z")
    signature = minhash.signature(key_text(STORY))

    def entry(article_id, algorithm):
        return IndexEntry(article_id, article_id, f"c-{article_id}", None, f"h-{article_id}",
                          signature, algorithm, False, 0, day, len(STORY), "old", 0)
    known = [entry("v2", "minhash-v2:xxh3w5:p128:b16r8"),
             entry("v3", "minhash-v3:xxh3w5:cjk30:lin32:p128:b16r8")]
    exact = IndexEntry("exact-old", "exact-old", "c-exact-old", None, content_hash(STORY), None,
                       "minhash-v2:xxh3w5:p128:b16r8", False, 0, day, len(STORY), "old", 0)
    with fnapi_pipeline as p:
        articles, _ = p | beam.Create([_raw("near", _edit(STORY, 45), day),
                                       _raw("same", STORY, day)]) | ExtractArticles(
            ingested_at=INGESTED)
        duplicates = (articles | Deduplicate(p | "Known" >> beam.Create(known + [exact]),
                                             "r", INGESTED)).duplicates
        assert_that(duplicates | beam.Map(lambda d: (d.doc_id, d.duplicate_of, d.dup_type)),
                    equal_to([("near", "v3", "near"), ("same", "exact-old", "exact")]))


def test_duplicate_rows_say_how_late_and_after_whom_they_came(fnapi_pipeline):
    """Failed before: duplicate rows had no lag_seconds nor kept_source."""
    day = parse_timestamp("2026-11-28T08:00:00Z")
    docs = [_raw("original", STORY, day)._replace(source_name="Rail Daily",
                                                  url="https://www.raildaily.example/budget"),
            _raw("copy", _edit(STORY, 45), day + 5_400_000_000)._replace(
                source_name="Wire", url="https://wire.example/rail-budget-doubles")]
    with fnapi_pipeline as p:
        articles, _ = p | beam.Create(docs) | ExtractArticles(ingested_at=INGESTED)
        duplicates = (articles | Deduplicate(run_id="r", ingested_at=INGESTED)).duplicates
        assert_that(duplicates | beam.Map(lambda d: (d.doc_id, d.lag_seconds, d.kept_source)),
                    equal_to([("copy", 5400.0, "Rail Daily (raildaily.example)")]))
