"""Articles and keys wait for dedup's decisions in staged files, and come back unchanged."""
from __future__ import annotations

import pickle
import random
from typing import Tuple

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import RawDocument
from tests.dedup.test_near_dedup import INGESTED, STORY, _edit
from schemas.dedup import DedupKey
from schemas.records import Article
from transforms.core import staging
from transforms.dedup.batch import Deduplicate
from transforms.extract.articles import ExtractArticles
from transforms.extract.dates import parse_timestamp

DAY = parse_timestamp("2026-11-28T08:00:00Z")
OTHERS = 7


def _shuffled(text: str, seed: int) -> str:
    """The same words in another order: no five-word window in common."""
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


def _docs():
    """An original, an edited copy, an exact copy elsewhere, another text at its URL, others."""
    def raw(doc_id, text, url=None, hours=0):
        return RawDocument(doc_id, "jsonl", "mem.jsonl", f"line:{doc_id}", "run", text.encode(),
                           "text", url=url, published=DAY + hours * 3_600_000_000)
    others = [raw(f"other-{i}", _shuffled(STORY, i)) for i in range(OTHERS)]
    return [raw("original", STORY, "https://a.example/news/rail-budget"),
            raw("edited", _edit(STORY, 45), "https://b.example/rail", hours=1),
            raw("exact", STORY, "https://c.example/copy", hours=2),
            raw("same-url", STORY[::-1], "https://a.example/news/rail-budget", hours=3),
            *others]


def _pairs(label, held, staged):
    """(id, held row == staged row) for every id either output holds."""
    return ({"held": held | f"{label}HeldById" >> beam.Map(lambda r: (getattr(r, "article_id", None) or r.doc_id, r)),
             "staged": staged | f"{label}StagedById" >> beam.Map(lambda r: (getattr(r, "article_id", None) or r.doc_id, r))}
            | f"{label}Join" >> beam.CoGroupByKey()
            | f"{label}Same" >> beam.MapTuple(
                lambda key, rows: (key, list(rows["held"]) == list(rows["staged"]) != [])))


def test_staged_articles_are_routed_like_the_held_ones(fnapi_pipeline, tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "STAGE_ROWS", 3)  # several files, the last one short
    stage_dir = tmp_path / "staged"
    with fnapi_pipeline as p:
        articles, _ = p | beam.Create(_docs()) | ExtractArticles(ingested_at=INGESTED)
        held = articles | "Held" >> Deduplicate(run_id="r", ingested_at=INGESTED)
        staged = articles | "Staged" >> Deduplicate(run_id="r", ingested_at=INGESTED,
                                                    stage_dir=str(stage_dir))
        kept = ["original", "same-url"] + [f"other-{i}" for i in range(OTHERS)]
        assert_that(_pairs("Articles", held.articles, staged.articles),
                    equal_to([(k, True) for k in kept]), label="SameArticles")
        assert_that(_pairs("Duplicates", held.duplicates, staged.duplicates),
                    equal_to([("edited", True), ("exact", True)]), label="SameDuplicates")
    for folder, row_type in (("articles", Article), ("keys", DedupKey)):
        files = sorted((stage_dir / folder).glob("*.parquet"))
        assert len(files) >= 4  # 11 rows, at most 3 a file
        staged = [r.article_id for f in files for r in staging.read_staged(str(f), row_type)]
        assert sorted(staged) == sorted(d.doc_id for d in _docs())  # each row staged once
    # The near stage verified "edited" by the sketches it read from files.
    sketched = [article_id for f in (stage_dir / "sketches").glob("*.parquet")
                for article_id, _ in staging.read_staged(str(f), Tuple[str, bytes])]
    assert sorted(sketched) == sorted(d.doc_id for d in _docs())
    # Its buckets were grouped in files: every signed article's bands, once.
    assert list((stage_dir / "bands").glob("*.parquet"))


def test_staged_buckets_are_grouped_in_files_not_in_the_runner(tmp_path):
    """Held by the runner, the bucket entries were every signed article's 20
    bands decoded (65 MB at 10,000 W2 articles, ~330 bytes an entry), and
    nearly every bucket has one member. Staged, only (shard, row group) is
    grouped, and only buckets of two members or more come out."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from transforms.dedup import buckets

    p = beam.Pipeline(runner=FnApiRunner())
    articles, _ = p | beam.Create(_docs()) | ExtractArticles(ingested_at=INGESTED)
    _ = articles | "Dedup" >> Deduplicate(run_id="r", ingested_at=INGESTED,
                                          stage_dir=str(tmp_path / "staged"))
    components = p.to_runner_api().components
    groups = [t for t in components.transforms.values()
              if t.spec.urn == "beam:transform:group_by_key:v1"
              and t.unique_name.startswith("Dedup/GroupByBand")]
    assert len(groups) == 1
    (entries,) = groups[0].inputs.values()
    coder = components.coders[components.pcollections[entries].coder_id]
    assert components.coders[coder.component_coder_ids[0]].spec.urn == "beam:coder:varint:v1"

    one = buckets.write_entries(str(tmp_path / "b"), [("20x5-00-00aa", "n1"), ("20x5-01-00ab", "n1"),
                                                      ("20x5-00-00aa", "k2")])
    two = buckets.write_entries(str(tmp_path / "b"), [("20x5-00-00aa", "n3"), ("20x5-02-00ab", "n3")])
    by_shard = {}
    for shard, part in [*one, *two]:
        by_shard.setdefault(shard, []).append(part)
    found = [b for shard in by_shard.items() for b in buckets.buckets_of_shard(shard)]
    assert found == [("20x5-00-00aa", ["k2", "n1", "n3"])]


def test_a_staged_file_gives_back_the_rows_it_was_given(fnapi_pipeline, tmp_path):
    with fnapi_pipeline as p:
        articles, _ = p | beam.Create(_docs()[:3]) | ExtractArticles(ingested_at=INGESTED)
        _ = articles | "Collect" >> beam.combiners.ToList() | beam.Map(
            lambda rows: (tmp_path / "rows.pkl").write_bytes(pickle.dumps(rows)))
    rows = pickle.loads((tmp_path / "rows.pkl").read_bytes())
    coder = beam.coders.registry.get_coder(Article)
    path = staging.write_staged(str(tmp_path / "one"), [coder.encode(r) for r in rows])
    assert list(staging.read_staged(path, Article)) == rows
    assert any(r.published is not None for r in rows) and all(r.text for r in rows)



def test_a_pair_sharing_every_band_is_compared_once_not_once_a_band():
    """Copies of one page share all their LSH bands: the pair is verified and
    kept once, not once a band (at 35 copies a page that was 20 x 595 edges a
    page, all held in one list: W1's memory grew with the square)."""
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from transforms.dedup import minhash
    copies = [RawDocument(f"copy-{i}", "jsonl", "mem.jsonl", f"line:{i}", "run",
                          (STORY + f" Copy {i}.").encode(), "text", published=DAY + i)
              for i in range(6)]
    p = beam.Pipeline(runner=FnApiRunner())
    articles, _ = p | beam.Create(copies) | ExtractArticles(ingested_at=INGESTED)
    result = articles | Deduplicate(run_id="r", ingested_at=INGESTED)
    assert_that(result.duplicates | beam.Map(lambda d: d.dup_type), equal_to(["near"] * 5))
    finished = p.run()
    finished.wait_until_finish()

    def counter(name):
        found = finished.metrics().query(MetricsFilter().with_name(name))["counters"]
        return sum(c.committed for c in found)
    bands, _ = minhash.lsh_parameters()
    assert bands > 1 and counter("near_pairs_compared") == 15  # 6 copies: 15 pairs
    assert counter("near_edges") == 15
