"""The run report of an output folder on gs://, against a real GCS API on 127.0.0.1.

The folder is the benchmark's (Parquet of the project's schemas, manifests,
feed state), made small and uploaded; its manifests name local paths, which
the report re-roots under the gs:// output.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from apache_beam.io.filesystems import FileSystems

from pipelines import cli

gcs_emulator = pytest.importorskip("tests.gcs_emulator",
                                   reason="tests/gcs_emulator.py (the GCS emulator) is absent")
gcs = gcs_emulator.gcs  # the fixture
bench_report = pytest.importorskip("benchmarks.bench_report")


@pytest.mark.e2e
def test_report_reads_and_writes_gs(gcs, tmp_path, capsys):  # noqa: F811
    local = tmp_path / "out"
    bench_report.build_folder(local, articles=1500, runs=3)
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        gcs.upload(path, "news", path.relative_to(local).as_posix())
    output = gcs.url("news")

    assert cli.main(["report", "--output", output, "--runs", "3"]) == 0
    written = capsys.readouterr().out.strip().split("report: ", 1)[1]
    assert written == gcs.url("news", "_reports", "2026-01-03.html")
    with FileSystems.open(written) as handle:
        page = handle.read().decode("utf-8")
    latest = json.loads((local / "_runs" / "2026-01-03.json").read_text())
    assert f"<b>{latest['totals']['articles']:,}</b>" in page
    # The broken source's rejects were read from the gs:// Parquet files.
    assert "extract/no_article_text" in page and "gs://dumps/site1/articles.jsonl" in page
    assert "yield fell to" in page
    assert Path(local / "_reports").exists() is False
