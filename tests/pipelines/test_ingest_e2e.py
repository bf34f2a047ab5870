"""End to end: the ingest command into a temp folder, read back with pyarrow."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import cli
from tests.conftest import REPO, SEEDS, help_text, read_table


def _manifest(out: Path, run_id: str) -> dict:
    return json.loads((out / "_runs" / f"{run_id}.json").read_text(encoding="utf-8"))


def _ingest(*args: str) -> int:
    return cli.main(["ingest", *args, "--runner", "DirectRunner"])


@pytest.mark.e2e
def test_seed_dump_gives_the_two_arabic_articles(tmp_path):
    out = tmp_path / "out"
    assert _ingest("--input", str(SEEDS / "rt-arabic-dump.txt"), "--output", str(out),
                   "--run_id", "seed") == 0
    articles = sorted(read_table(out, "articles"), key=lambda a: a["source_position"])
    assert [a["lang"] for a in articles] == ["ar", "ar"]
    assert [a["language"] for a in articles] == ["ar", "ar"]
    assert all(a["language_score"] > 0.9 for a in articles)
    first, second = articles
    assert first["title"].startswith("قالت السفيرة الأمريكية لدى بغداد")
    assert second["title"] == "مسؤول أمريكي: الدولة المركزية بسوريا ستدفع واشنطن لدعم قسد"
    assert {"بغداد", "داعش", "واشنطن"} <= set(first["tags"])
    assert all(a["source_name"] == "RT Arabic" for a in articles)
    for article in articles:
        for marker in ("إقرأ المزيد", "المصدر", "كلمات دلالية", "مقالات مشابهة"):
            assert marker not in article["text"]
        assert article["source_uri"].endswith("rt-arabic-dump.txt")
        assert article["run_id"] == "seed"
        assert article["extraction_method"] == "text_dump"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    # No duplicates and no rejects: their tables get one empty file each, with the schema.
    assert files == [f"_index/dt={first['dt']}/part-seed-00000.parquet",
                     f"articles/dt={first['dt']}/lang=ar/part-seed-00000.parquet",
                     f"duplicates/dt={first['dt']}/part-seed-00000.parquet",
                     f"rejects/dt={first['dt']}/part-seed-00000.parquet"]
    manifest = _manifest(out, "seed")
    assert manifest["status"] == "succeeded" and manifest["invariant"]["holds"]
    assert manifest["totals"] == {"inputs": 2, "articles": 2, "duplicates": 0, "rejects": 0,
                                  "skipped": 0}
    assert not (out / "_tmp").exists() or not any((out / "_tmp").rglob("*.parquet"))


@pytest.mark.e2e
def test_rerunning_a_run_id_replaces_its_rows(tmp_path):
    out = tmp_path / "out"
    inputs = ["--input", str(SEEDS / "*-dump.txt"), "--input", str(SEEDS / "*.jsonl")]
    for _ in range(2):
        assert _ingest(*inputs, "--output", str(out), "--run_id", "nightly") == 0
    articles, duplicates = read_table(out, "articles"), read_table(out, "duplicates")
    manifest = _manifest(out, "nightly")
    # The seed's "(updated)" library story shares its URL with the first one but
    # not its text (Jaccard 0.41): another article and a URL conflict since issue 16.
    assert len(articles) == manifest["totals"]["articles"] == 7
    assert len(duplicates) == manifest["totals"]["duplicates"] == 1
    assert {d["dup_type"] for d in duplicates} == {"exact"}
    assert manifest["url_conflicts"] == {"total": 1, "by_site": {"news.example.org": 1}}
    kept = {a["article_id"] for a in articles}
    assert all(d["duplicate_of"] in kept for d in duplicates)


def _write_scrapinghub_inputs(data: Path, folder: Path) -> int:
    pages = sorted((data / "html" / "scrapinghub-aeb" / "html").glob("*.html.gz"))
    (folder / "html").mkdir(parents=True)
    with open(folder / "pages.jsonl", "w", encoding="utf-8") as jsonl:
        for page in pages:
            html = gzip.decompress(page.read_bytes())
            name = page.name[: -len(".gz")]
            (folder / "html" / name).write_bytes(html)
            jsonl.write(json.dumps({"url": f"https://aeb.example/{name}",
                                    "html": html.decode("utf-8", errors="replace")}) + "\n")
    return len(pages)


@pytest.mark.e2e
def test_real_pages_and_warc_files_are_all_accounted_for(tmp_path, shared_data):
    n_pages = _write_scrapinghub_inputs(shared_data, tmp_path / "in")
    assert n_pages == 181
    out = tmp_path / "out"
    warc = shared_data / "warc"
    assert _ingest("--input", str(tmp_path / "in" / "html" / "*.html"),
                   "--input", str(tmp_path / "in" / "pages.jsonl"),
                   "--input", str(warc / "resiliparse" / "*"),
                   "--input", str(warc / "warcio" / "data" / "*"),
                   "--output", str(out), "--run_id", "real",
                   "--direct_num_workers", "2") == 0
    manifest = _manifest(out, "real")
    totals = manifest["totals"]
    assert manifest["invariant"]["holds"]
    articles, duplicates, rejects = (read_table(out, t) for t in ("articles", "duplicates", "rejects"))
    assert (len(articles), len(duplicates), len(rejects)) == (
        totals["articles"], totals["duplicates"], totals["rejects"])
    assert totals["articles"] + totals["duplicates"] + totals["rejects"] == totals["inputs"]
    # Each page came twice (file and JSONL line): one copy kept, one an exact duplicate.
    from_pages = [a for a in articles if a["source_kind"] in ("html", "jsonl")]
    assert len(from_pages) >= 170
    page_dups = [d for d in duplicates if d["source_kind"] in ("html", "jsonl")]
    assert len(page_dups) >= 170 and all(d["dup_type"] in ("exact", "url") for d in page_dups)
    # Every broken WARC file has its reject row, with the stage and where it broke.
    rejected = {(Path(r["source_uri"]).name, r["reason"]) for r in rejects}
    for name in ("example-bad-non-chunked.warc.gz", "example-bad.warc.gz.bad",
                 "example-wrong-chunks.warc.gz"):
        assert (name, "corrupt_warc") in rejected
    for name in ("block-sized-records.warc.lz4", "warcfile.warc.lz4"):
        assert (name, "unsupported_compression") in rejected
    assert all(r["stage"] in ("read", "extract") and r["source_position"] for r in rejects)
    assert manifest["duplicates_by_type"]["revisit"] == 2
    assert manifest["skipped_by_kind"]["warc_request"] > 0
    assert set(manifest["by_source"]) >= {str(warc / "resiliparse" / "warcfile.warc.gz")}
    warc_articles = [a for a in articles if a["source_kind"] == "warc"]
    assert warc_articles and all(a["url"].startswith("http") for a in warc_articles)
    assert all(a["source_position"].startswith("byte:") for a in warc_articles)


@pytest.mark.e2e
def test_module_entry_point_and_clear_option_errors(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pipelines.ingest", "--input",
                             str(tmp_path / "nothing-*.txt"), "--output", str(tmp_path)],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2
    assert "no file matches --input" in result.stderr
    assert cli.main(["ingest", "--output", str(tmp_path)]) == 2
    assert cli.main(["nonsense"]) == 2


@pytest.mark.e2e
def test_help_lists_the_ingest_options(capsys):
    out = help_text(capsys, "ingest")
    assert out.startswith("usage: newsbeam ingest")
    for option in ("--input INPUT", "--feeds FEEDS", "--output OUTPUT", "--slice_files",
                   "--max_decompression_ratio", "--source_priority"):
        assert option in out
    assert "Beam's options" in out


@pytest.mark.e2e
@pytest.mark.parametrize("bad_run_id", ["2026-11-29T10:00:00", "../escape"])
def test_unsafe_run_ids_are_refused(tmp_path, bad_run_id):
    assert _ingest("--input", str(SEEDS / "rt-arabic-dump.txt"), "--output", str(tmp_path),
                   "--run_id", bad_run_id) == 2


def _ground_truth_bodies(data: Path, n: int):
    truth = json.loads((data / "html" / "scrapinghub-aeb" / "ground-truth.json").read_text())
    bodies = [v["articleBody"] for _, v in sorted(truth.items()) if len(v["articleBody"]) > 1500]
    return bodies[:n]


def _write_jsonl(path: Path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.e2e
def test_second_run_adds_exactly_the_new_articles(tmp_path, shared_data):
    bodies = _ground_truth_bodies(shared_data, 22)
    old = [{"url": f"https://old.example/{i}", "text": b} for i, b in enumerate(bodies[:18])]
    new = [{"url": f"https://new.example/{i}", "text": b} for i, b in enumerate(bodies[18:20])]
    words = bodies[0].split()
    syndicated = {"url": "https://syndicate.example/copy",  # the first story, lightly edited
                  "text": " ".join(w if i % 60 else "EDITED" for i, w in enumerate(words))}
    # An update of the second story: a word changed in every 35, Jaccard ~0.75.
    second = bodies[1].split()
    edited = {"url": "https://update.example/story",
              "text": " ".join(f"{w}X" if i % 35 == 17 else w for i, w in enumerate(second))}
    out = tmp_path / "out"
    _write_jsonl(tmp_path / "day1.jsonl", old)
    assert _ingest("--input", str(tmp_path / "day1.jsonl"), "--output", str(out),
                   "--run_id", "day1") == 0
    day1_ids = {a["article_id"] for a in read_table(out, "articles")}
    assert len(day1_ids) == 18

    _write_jsonl(tmp_path / "day2.jsonl", old + new + [syndicated, edited])
    assert _ingest("--input", str(tmp_path / "day2.jsonl"), "--output", str(out),
                   "--run_id", "day2") == 0
    manifest = _manifest(out, "day2")
    assert manifest["totals"]["articles"] == 2 and manifest["invariant"]["holds"]
    added = [a for a in read_table(out, "articles") if a["run_id"] == "day2"]
    assert sorted(a["url"] for a in added) == sorted(r["url"] for r in new)
    day2_dups = [d for d in read_table(out, "duplicates") if d["run_id"] == "day2"]
    assert len(day2_dups) == 20
    assert all(d["duplicate_of"] in day1_ids for d in day2_dups)
    near = [d for d in day2_dups if d["url"] == syndicated["url"]]
    assert len(near) == 1 and near[0]["dup_type"] == "near" and near[0]["similarity"] >= 0.72
    assert near[0]["cluster_id"] in day1_ids
    update = [d for d in day2_dups if d["url"] == edited["url"]]
    assert len(update) == 1 and update[0]["dup_type"] == "near"
    assert update[0]["kept_source"] == "old.example"

    # Rerunning day1 now replaces day1's rows, and day2's entries do not swallow them.
    assert _ingest("--input", str(tmp_path / "day1.jsonl"), "--output", str(out),
                   "--run_id", "day1") == 0
    assert {a["article_id"] for a in read_table(out, "articles") if a["run_id"] == "day1"} == day1_ids
