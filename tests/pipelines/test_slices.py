"""Large local runs in bounded slices (pipelines/slices.py): same outcome, dedup across slices."""
from __future__ import annotations

import pytest
import json
import shutil
from pathlib import Path

from pipelines import cli
from pipelines.slices import plan_slices
from schemas.records import InputFile
from tests.conftest import SEEDS


def test_slices_hold_at_most_n_files_and_m_bytes_in_path_order():
    files = [InputFile(f"in/{name}", size, 0) for name, size in
             [("d", 40), ("a", 10), ("c", 100), ("b", 10), ("a", 10)]]
    assert [[f.path for f in s] for s in plan_slices(files, 2, 0)] == [
        ["in/a", "in/b"], ["in/c", "in/d"]]
    assert [[f.path for f in s] for s in plan_slices(files, 0, 50)] == [
        ["in/a", "in/b"], ["in/c"], ["in/d"]]  # a file over the bound is a slice alone
    assert plan_slices(files, 0, 0) == [sorted(set(files))]
    assert plan_slices([], 2, 0) == []


def _ingest(folder: Path, out: Path, run_id: str, *extra: str) -> dict:
    assert cli.main(["ingest", "--input", str(folder / "*"), "--output", str(out),
                     "--run_id", run_id, *extra, "--runner", "DirectRunner"]) == 0
    summary = out / "_runs" / "slices" / f"{run_id}.json"
    return json.loads((summary if summary.exists() else out / "_runs" / f"{run_id}.json")
                      .read_text(encoding="utf-8"))


@pytest.mark.e2e
def test_a_sliced_run_dedups_across_slices_like_one_run(tmp_path):
    folder = tmp_path / "dumps"
    folder.mkdir()
    shutil.copy(SEEDS / "en-sample-dump.txt", folder / "a-en.txt")
    shutil.copy(SEEDS / "rt-arabic-dump.txt", folder / "b-ar.txt")
    shutil.copy(SEEDS / "en-sample-dump.txt", folder / "c-en-again.txt")  # a later slice

    whole = _ingest(folder, tmp_path / "whole", "whole")
    sliced = _ingest(folder, tmp_path / "sliced", "big", "--slice_files", "1")

    assert sliced["slices"]["runs"] == ["big-s00000", "big-s00001", "big-s00002"]
    assert sliced["status"] == "succeeded" and sliced["invariant"]["holds"]
    assert sliced["totals"] == whole["totals"]
    assert sliced["totals"]["articles"] == 4 and sliced["totals"]["duplicates"] == 2
    # The copies in the third slice are duplicates of the first slice's articles.
    assert sliced["by_source"][str(folder / "c-en-again.txt")]["duplicates"] == 2
    # Each slice is a run with its manifest; the sum is kept apart from them.
    assert sorted(p.stem for p in (tmp_path / "sliced" / "_runs").glob("*.json")) == \
        sliced["slices"]["runs"]

    # A later sliced run with --since_last_run reads only what is new.
    shutil.copy(SEEDS / "sample-articles.jsonl", folder / "d-new.jsonl")
    later = _ingest(folder, tmp_path / "sliced", "later", "--slice_files", "1",
                    "--since_last_run")
    assert later["slices"]["runs"] == ["later-s00000"]
    assert later["slices"]["already_ingested"] == 3
    assert set(later["by_source"]) == {str(folder / "d-new.jsonl")}


@pytest.mark.e2e
def test_a_failed_slice_ends_the_run_with_its_exit_code_and_says_how_to_go_on(tmp_path, capsys):
    import datetime as dt
    folder, out = tmp_path / "dumps", tmp_path / "out"
    folder.mkdir()
    shutil.copy(SEEDS / "en-sample-dump.txt", folder / "a-en.txt")
    # A corrupt dedup index file makes the slice's job fail.
    broken = out / "_index" / f"dt={dt.datetime.now(dt.timezone.utc).date()}" / \
        "part-broken-00000.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not parquet")
    code = cli.main(["ingest", "--input", str(folder / "*"), "--output", str(out),
                     "--run_id", "big", "--slice_files", "1", "--runner", "DirectRunner"])
    assert code not in (0, 2)
    assert "--since_last_run" in capsys.readouterr().err
    assert not (out / "_runs" / "slices" / "big.json").exists()
