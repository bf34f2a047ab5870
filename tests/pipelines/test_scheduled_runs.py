"""Scheduled runs: one run id per run, reruns replace, --since_last_run reads only new files.

The cursor of ingested files (`transforms.sink.input_cursor`) is tested as plain
functions, then end to end: two runs over a folder that gains a file between
them, a rerun of the second, and a failed run that leaves the cursor as it was.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from pipelines import cli
from schemas.records import InputFile
from tests.conftest import SEEDS
from transforms.sink.input_cursor import (CursorError, already_ingested, commit_cursor, cursor_path,
                                     load_cursor, merge_cursor)


def test_cursor_knows_a_file_by_path_size_and_time_and_not_by_this_run(tmp_path):
    entry = {"size": 10, "mtime_us": 5, "run_id": "monday"}
    same = InputFile("in/a.txt", 10, 5)
    assert already_ingested(same, entry, "tuesday")
    assert not already_ingested(same, None, "tuesday")
    assert not already_ingested(InputFile("in/a.txt", 11, 5), entry, "tuesday")  # grew
    assert not already_ingested(InputFile("in/a.txt", 10, 6), entry, "tuesday")  # rewritten
    assert not already_ingested(same, entry, "monday")  # a rerun reads its files again

    old = {"in/a.txt": entry, "in/b.txt": {"size": 1, "mtime_us": 1, "run_id": "tuesday"}}
    merged = merge_cursor(old, "tuesday", [InputFile("in/c.txt", 3, 3)])
    assert merged == {"in/a.txt": entry,
                      "in/c.txt": {"size": 3, "mtime_us": 3, "run_id": "tuesday"}}

    out = str(tmp_path / "out")
    assert load_cursor(out) == {}
    summary = commit_cursor(out, "monday", [same, same], skipped=0)
    assert summary["read"] == 1 and summary["files_known"] == 1
    assert load_cursor(out) == {"in/a.txt": entry}
    assert [p.name for p in (tmp_path / "out" / "_state").iterdir()] == ["inputs.json"]
    Path(cursor_path(out)).write_text("{not json")
    with pytest.raises(CursorError, match="move it aside"):
        load_cursor(out)


def _ingest(folder: Path, out: Path, run_id: str, *extra: str) -> dict:
    assert cli.main(["ingest", "--input", str(folder / "*"), "--output", str(out),
                     "--run_id", run_id, "--since_last_run", *extra,
                     "--runner", "DirectRunner"]) == 0
    return json.loads((out / "_runs" / f"{run_id}.json").read_text(encoding="utf-8"))


def _rows(out: Path, table: str) -> int:
    return ds.dataset(str(out / table), format="parquet", partitioning="hive").count_rows()


@pytest.mark.e2e
def test_second_scheduled_run_reads_only_the_new_files(tmp_path):
    folder, out = tmp_path / "dumps", tmp_path / "out"
    folder.mkdir()
    for name in ("rt-arabic-dump.txt", "en-sample-dump.txt"):
        shutil.copy(SEEDS / name, folder / name)

    monday = _ingest(folder, out, "monday")
    assert set(monday["by_source"]) == {str(folder / "rt-arabic-dump.txt"),
                                        str(folder / "en-sample-dump.txt")}
    assert monday["input_files"]["read"] == 2 and monday["input_files"]["already_ingested"] == 0
    assert monday["totals"]["articles"] == 4

    shutil.copy(SEEDS / "sample-articles.jsonl", folder / "sample-articles.jsonl")
    # A failed run (here: a corrupt file in the dedup index) leaves the cursor as it was.
    cursor = Path(cursor_path(str(out)))
    before = cursor.read_bytes()
    broken = out / "_index" / f"dt={dt.datetime.now(dt.timezone.utc).date()}" / \
        "part-broken-00000.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(Exception):
        _ingest(folder, out, "tuesday")
    assert cursor.read_bytes() == before
    assert not (out / "_runs" / "tuesday.json").exists()
    broken.unlink()

    tuesday = _ingest(folder, out, "tuesday")
    assert set(tuesday["by_source"]) == {str(folder / "sample-articles.jsonl")}
    assert tuesday["by_source"][str(folder / "sample-articles.jsonl")]["inputs"] == 4
    assert tuesday["input_files"]["read"] == 1
    assert tuesday["input_files"]["already_ingested"] == 2
    # The seed's "(updated)" library story shares its URL with the first one but
    # not its text (Jaccard 0.41): another article and a URL conflict since issue 16.
    assert tuesday["totals"] == {"inputs": 4, "articles": 3, "duplicates": 1, "rejects": 0,
                                 "skipped": 0}
    assert (_rows(out, "articles"), _rows(out, "duplicates")) == (7, 1)

    # Rerunning Tuesday's run id reads Tuesday's file again and replaces its rows.
    again = _ingest(folder, out, "tuesday")
    assert set(again["by_source"]) == set(tuesday["by_source"])
    assert again["totals"] == tuesday["totals"]
    assert (_rows(out, "articles"), _rows(out, "duplicates")) == (7, 1)

    # Nothing new: Wednesday reads no file and writes no row.
    wednesday = _ingest(folder, out, "wednesday")
    assert wednesday["input_files"]["read"] == 0
    assert wednesday["input_files"]["already_ingested"] == 3
    assert wednesday["totals"]["inputs"] == 0 and wednesday["status"] == "succeeded"
    assert load_cursor(str(out)).keys() == {str(p) for p in folder.iterdir()}


@pytest.mark.e2e
def test_rerunning_a_run_id_with_feeds_fetches_its_entries_again(tmp_path):
    from tests.feed_server import FeedServer, Route, article_html

    server = FeedServer().start()
    try:
        for n in (1, 2):
            server.routes[f"/story/{n}"] = Route(article_html(f"Harbour story {n}"))
        server.routes["/feed.xml"] = Route(
            ("<?xml version='1.0'?><rss version='2.0'><channel><title>Local</title>"
             + "".join(f"<item><title>Story {n}</title><link>{server.url(f'/story/{n}')}"
                       f"</link></item>" for n in (1, 2))
             + "</channel></rss>").encode(), content_type="application/rss+xml")
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(server.url("/feed.xml") + "\n")
        out = tmp_path / "out"

        def ingest(run_id: str) -> dict:
            assert cli.main(["ingest", "--feeds", str(feeds), "--output", str(out),
                             "--run_id", run_id, "--allow_hosts", "127.0.0.1",
                             "--min_host_delay_s", "0", "--runner", "DirectRunner"]) == 0
            return json.loads((out / "_runs" / f"{run_id}.json").read_text(encoding="utf-8"))

        assert ingest("night")["totals"]["articles"] == 2
        # The rerun replaces the night's files: it must fetch its two entries again.
        assert ingest("night")["totals"]["articles"] == 2
        assert _rows(out, "articles") == 2
        assert (out / "_state" / "feeds-before" / "night.json").exists()
        # The next run finds both entries settled.
        assert ingest("next")["totals"]["articles"] == 0
        assert _rows(out, "articles") == 2
    finally:
        server.stop()
