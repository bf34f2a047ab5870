"""The command line's edges: wrong settings stop before the graph, and every
table of a run opens in the readers users have (DuckDB, pyarrow)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from pipelines import cli
from tests.conftest import REPO, SEEDS, help_text

DUMP = str(SEEDS / "rt-arabic-dump.txt")


def _ingest(*args: str) -> int:
    return cli.main(["ingest", *args, "--runner", "DirectRunner"])


@pytest.mark.parametrize("command, mistyped, suggested", [
    (["ingest", "--input", DUMP], "--min_text_char", "--min_text_chars"),
    (["stream", "--watch", DUMP, "--duration", "5"], "--window_minute", "--window_minutes"),
    (["report"], "--run", "--runs"),
])
def test_a_mistyped_option_stops_the_command_with_a_suggestion(tmp_path, capsys, command,
                                                               mistyped, suggested):
    args = [*command, "--output", str(tmp_path / "out"), mistyped, "5"]
    with pytest.raises(SystemExit) if command == ["report"] else _no_exit() as stop:
        assert cli.main(args) == 2
    if stop is not None:
        assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"unknown option {mistyped} (did you mean {suggested}?)" in err
    assert not (tmp_path / "out" / "_runs").exists()


@pytest.mark.parametrize("command, foreign, owner", [
    (["stream", "--watch", DUMP, "--duration", "5"], ["--since_last_run"], "ingest"),
    (["stream", "--watch", DUMP, "--duration", "5"], ["--slice_files", "3"], "ingest"),
    (["ingest", "--input", DUMP], ["--window_minutes", "2"], "stream"),
])
def test_the_other_commands_option_is_refused_not_ignored(tmp_path, capsys, command, foreign,
                                                          owner):
    """Each command has its own options: one of the other command's would be
    parsed by Beam and then silently ignored."""
    assert cli.main([*command, "--output", str(tmp_path / "out"), *foreign]) == 2
    err = capsys.readouterr().err
    assert f"{foreign[0]} is an option of `newsbeam {owner}`" in err
    assert not (tmp_path / "out" / "_runs").exists()


class _no_exit:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@pytest.mark.e2e
def test_an_option_nobody_knows_stops_ingest(tmp_path, capsys):
    assert _ingest("--input", DUMP, "--output", str(tmp_path), "--bogus_option", "3") == 2
    assert "unknown option --bogus_option" in capsys.readouterr().err


@pytest.mark.e2e
def test_a_clean_run_gives_every_table_to_duckdb_and_pyarrow(tmp_path):
    """No duplicates and no rejects: the three tables still open, empty, with their columns.

    Beam's own options pass through, and the manifest records every newsbeam
    option in effect, defaults included.
    """
    out = tmp_path / "out"
    assert _ingest("--input", DUMP, "--output", str(out), "--run_id", "clean",
                   "--min_text_chars", "50") == 0
    manifest = json.loads((out / "_runs" / "clean.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["duplicates"] == manifest["totals"]["rejects"] == 0
    options = manifest["options"]
    assert options["min_text_chars"] == 50 and options["runner"] == "DirectRunner"
    assert options["max_document_mb"] == 20.0 and options["near_threshold"] == 0.70
    assert options["since_last_run"] is False and options["feeds"] is None
    expected = {"articles": 2, "duplicates": 0, "rejects": 0}
    for table, rows in expected.items():
        query = (f"select * from read_parquet('{out / table}/**/*.parquet', "
                 "hive_partitioning=true)")
        result = duckdb.sql(query)
        assert len(result.fetchall()) == rows, table
        assert "dt" in result.columns and "run_id" in result.columns
        arrow = ds.dataset(str(out / table), format="parquet", partitioning="hive").to_table()
        assert arrow.num_rows == rows and "source_uri" in arrow.schema.names
    assert "lang" in duckdb.sql(f"select * from read_parquet('{out}/articles/**/*.parquet', "
                                "hive_partitioning=true)").columns
    assert sorted(manifest["files"]["duplicates"]) == [
        str(p) for p in sorted((out / "duplicates").rglob("*.parquet"))]
    # A rerun of the run id replaces the empty files as it replaces the others.
    assert _ingest("--input", DUMP, "--output", str(out), "--run_id", "clean") == 0
    assert len(list((out / "rejects").rglob("*.parquet"))) == 1


@pytest.mark.e2e
def test_an_output_that_is_a_file_stops_before_the_graph(tmp_path):
    not_a_folder = tmp_path / "out.txt"
    not_a_folder.write_text("x")
    result = subprocess.run([sys.executable, "-m", "pipelines.ingest", "--input", DUMP,
                             "--output", str(not_a_folder), "--runner", "DirectRunner"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2
    assert f"--output {not_a_folder} is a file, not a folder" in result.stderr
    assert "Traceback" not in result.stderr
    inside = tmp_path / "out.txt" / "news"
    assert _ingest("--input", DUMP, "--output", str(inside)) == 2


@pytest.mark.e2e
def test_an_output_bucket_that_cannot_be_written_stops_before_the_graph(gcs, capsys):
    assert _ingest("--input", DUMP, "--output", "gs://no-such-bucket-here/news") == 2
    assert "--output gs://no-such-bucket-here/news cannot be written" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ("", "holds no feed (only blank lines and comments)"),
    ("# only a comment\n\n", "holds no feed (only blank lines and comments)"),
    ("news.example/rss\n", "holds no feed: line:1:"),
    ("<?xml version='1.0'?><opml><body><outline", "not well-formed XML"),
])
def test_a_feed_list_with_no_feed_stops_before_the_graph(tmp_path, capsys, content, message):
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(content, encoding="utf-8")
    for command, extra in (("ingest", []), ("stream", ["--duration", "1"])):
        assert cli.main([command, "--feeds", str(feeds), "--output", str(tmp_path / "out"),
                         "--runner", "DirectRunner", *extra]) == 2
        err = capsys.readouterr().err
        assert f"newsbeam {command}: --feeds {feeds}" in err and message in err
    assert not (tmp_path / "out" / "_runs").exists()


@pytest.mark.e2e
def test_an_unreadable_feed_list_stops_before_the_graph(tmp_path, capsys):
    assert _ingest("--feeds", str(tmp_path), "--output", str(tmp_path / "out")) == 2
    assert f"--feeds {tmp_path} cannot be read" in capsys.readouterr().err


def test_stream_refuses_what_ingest_refuses(tmp_path, capsys):
    assert cli.main(["stream", "--watch", str(tmp_path / "*.txt"), "--output",
                     str(tmp_path / "out"), "--extract_timeout_s", "0", "--duration", "3"]) == 2
    assert "--extract_timeout_s must be positive" in capsys.readouterr().err


@pytest.mark.e2e
@pytest.mark.parametrize("command, expected", [
    ("ingest", ["--min_text_chars MIN_TEXT_CHARS", "(default: 100)", "(default: 0.7)",
                "(default: false)"]),
    ("stream", ["(default: 10.0)", "(default: 300.0)", "(default: 100)"]),
    ("report", ["(default: 30)"]),
])
def test_help_prints_each_default(capsys, command, expected):
    out = " ".join(help_text(capsys, command).split())
    for text in expected:
        assert text in out


@pytest.mark.parametrize("command, classes", [
    ("ingest", ("IngestOptions", "CommonOptions")),
    ("stream", ("StreamOptions", "CommonOptions")),
])
def test_help_lists_exactly_the_command_s_options(capsys, command, classes):
    """Each command's own options class and the common one, nothing of the other command."""
    from pipelines import options
    with _no_exit():
        assert cli.main([command, "--help"]) == 0
    printed = set(re.findall(r"^\s+(--[a-z_]+)", capsys.readouterr().out, re.M)) - {"--help"}
    assert printed == set(options.option_names(*(getattr(options, c) for c in classes)))
    other = {"ingest": options.StreamOptions, "stream": options.IngestOptions}[command]
    assert not printed & set(options.option_names(other))
