"""Partition values are sanitised; commits are deterministic and replace reruns."""
from __future__ import annotations

from types import SimpleNamespace

import pyarrow.parquet as pq

from schemas.records import WrittenFile
from tests.conftest import commit_written, temp_part_path
from transforms.extract.dates import parse_timestamp
from transforms.core.paths import valid_run_id
from transforms.sink.write import (article_partition, final_name, plan_commit,
                                   safe_date, safe_language)

import pytest

INGESTED = parse_timestamp("2026-11-29T10:00:00Z")


def _row(language, published):
    return SimpleNamespace(language=language, published=published, ingested_at=INGESTED)


def test_partition_values_cannot_become_paths():
    assert safe_language("../../etc") == "und"
    assert safe_language("a\x00b") == "und"
    assert safe_language("AR") == "ar"
    assert safe_language("x" * 500) == "und"
    assert safe_date("../2024-01-01", "2026-11-29") == "2026-11-29"
    assert safe_date("2024-02-30", "2026-11-29") == "2026-11-29"


def test_article_partition_uses_plausible_publication_dates_only():
    assert article_partition(_row("ar", parse_timestamp("2024-04-10T23:30:00-02:00"))) == \
        "dt=2024-04-11/lang=ar"
    assert article_partition(_row("en", None)) == "dt=2026-11-29/lang=en"
    assert article_partition(_row("en", parse_timestamp("2099-01-01"))) == "dt=2026-11-29/lang=en"
    assert article_partition(_row("en", parse_timestamp("1970-01-02"))) == "dt=2026-11-29/lang=en"
    assert article_partition(_row("../x", None)) == "dt=2026-11-29/lang=und"


def test_run_ids_are_safe_file_name_parts():
    assert valid_run_id("20261129T100000Z") == "20261129T100000Z"
    for bad in ("2026-11-29T10:00:00", "../x", "a b", ""):
        with pytest.raises(ValueError):
            valid_run_id(bad)
    assert ":" not in final_name("20261129T100000Z", 3)


def test_plan_commit_numbers_shards_in_a_stable_order():
    written = [WrittenFile("articles", "dt=2026-11-29/lang=en", "/t/b.parquet", 5),
               WrittenFile("articles", "dt=2026-11-29/lang=en", "/t/a.parquet", 5),
               WrittenFile("rejects", "dt=2026-11-29", "/t/c.parquet", 1),
               WrittenFile("rejects", "dt=2026-11-29", "/t/empty.parquet", 0)]
    moves = plan_commit("/out", "r1", written)
    assert moves == [
        ("/t/a.parquet", "/out/articles/dt=2026-11-29/lang=en/part-r1-00000.parquet"),
        ("/t/b.parquet", "/out/articles/dt=2026-11-29/lang=en/part-r1-00001.parquet"),
        ("/t/c.parquet", "/out/rejects/dt=2026-11-29/part-r1-00000.parquet")]
    assert plan_commit("/out", "r1", list(reversed(written))) == moves


def _temp_parquet(path, value):
    import pyarrow as pa
    pq.write_table(pa.table({"v": [value]}), path)


def test_commit_replaces_the_files_of_an_earlier_attempt(tmp_path):
    out = tmp_path / "out"
    for attempt, shards in ((1, 3), (2, 1)):
        written = []
        for shard in range(shards):
            temp = temp_part_path(out, "r1", f"tmp-{attempt}-{shard}.parquet")
            _temp_parquet(temp, attempt)
            written.append(WrittenFile("articles", "dt=2026-11-29/lang=en", str(temp), 1))
        commit_written(out, "r1", written)
    files = sorted((out / "articles").rglob("*.parquet"))
    assert [f.name for f in files] == ["part-r1-00000.parquet"]
    assert pq.read_table(files[0]).column("v").to_pylist() == [2]


def test_commit_leaves_other_runs_alone(tmp_path):
    out = tmp_path / "out"
    for run in ("r1", "r2"):
        temp = temp_part_path(out, run, f"{run}.parquet")
        _temp_parquet(temp, 0)
        commit_written(out, run, [WrittenFile("rejects", "dt=2026-11-29", str(temp), 1)])
    names = sorted(f.name for f in (out / "rejects").rglob("*.parquet"))
    assert names == ["part-r1-00000.parquet", "part-r2-00000.parquet"]


def test_a_bundle_larger_than_the_pending_budget_is_written_in_row_groups(tmp_path):
    """One bundle of 60 rows of 10 KB in two partitions, with a 100 KB budget:
    the writer flushes as it goes (memory bounded) and every row is written once."""
    from schemas.records import Article
    from transforms.sink.write import _WriteTableFn, row_bytes

    def article(number, language):
        text = f"Article {number} " + "word " * 2000
        return Article(f"a{number}", f"https://site.example/{number}", None, None, "Title",
                       text, None, [], None, None, None, [], [], [], language, 0.99, "Latn",
                       None, None, f"h{number}", f"a{number}", len(text), "jsonl", "mem",
                       f"line:{number}", "plain_text", "run-1", INGESTED)

    rows = [article(n, "en" if n % 3 else "fr") for n in range(60)]
    assert row_bytes(rows[0]) > 10_000
    fn = _WriteTableFn("articles", str(tmp_path), "run-1", rows_per_group=10_000,
                       pending_bytes=100_000)
    fn.start_bundle()
    for row in rows:
        fn.process(row)
        assert fn._pending <= 100_000
    written = [value.value for value in fn.finish_bundle()]
    assert sorted(w.partition for w in written) == sorted(
        {article_partition(r) for r in rows})
    ids, groups = [], 0
    for file in written:
        parquet = pq.ParquetFile(file.temp_path)
        groups += parquet.metadata.num_row_groups
        ids += parquet.read(columns=["article_id"]).column(0).to_pylist()
    assert sorted(ids) == sorted(r.article_id for r in rows)
    assert groups >= 60 * 10_000 // 100_000
