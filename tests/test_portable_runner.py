"""The batch job through Beam's portable job API, as Flink and Spark run it from Python.

`--runner PortableRunner` submits the job to a job service over gRPC, which
hands its stages to SDK workers. Here the job service is Beam's own
(`apache_beam.runners.portability.local_job_service_main`), started on
127.0.0.1 by the test, and ``--environment_type LOOPBACK`` makes this test
process the SDK worker: the path of a Flink or Spark job server, without a
JVM. The same small input is run on the FnApiRunner; both must write the same
rows and count the same outcomes in their manifests. Each runs it twice into
one output, so the second run reads the first one's dedup index (matched in
Arrow by the workers) and finds every input again as a duplicate.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import ingest
from tests.conftest import SEEDS, read_table

# Differ between two runs of the same input by nature: when each was read.
RUN_TIME_COLUMNS = {"ingested_at"}
MANIFEST_COUNTS = ("totals", "inputs_by_kind", "articles_by_language", "duplicates_by_type",
                   "rejects_by_reason", "skipped_by_kind", "by_source", "invariant")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def job_service(tmp_path_factory):
    """Beam's local job service in a child process; yields its endpoint."""
    folder = tmp_path_factory.mktemp("job-service")
    port = _free_port()
    log = (folder / "job-service.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
         "--port", str(port), "--staging_dir", str(folder / "staging")],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the job service exited: {(folder / 'job-service.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the job service did not listen within 60 s")
                time.sleep(0.2)
        yield f"localhost:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _run(out: Path, run_id: str, runner_flags) -> dict:
    manifest = ingest.run(["--input", str(SEEDS / "*-dump.txt"), "--input", str(SEEDS / "*.jsonl"),
                           "--output", str(out), "--run_id", run_id, *runner_flags])
    assert manifest, "the job left no manifest"
    return manifest


def _runs(out: Path, runner_flags):
    return [_run(out, run_id, runner_flags) for run_id in ("first", "again")]


def _rows(out: Path, table: str):
    rows = [{k: v for k, v in row.items() if k not in RUN_TIME_COLUMNS}
            for row in read_table(out, table)]
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in rows)


def test_batch_job_on_the_portable_runner_writes_what_the_fnapi_runner_writes(
        job_service, tmp_path):
    fnapi = _runs(tmp_path / "fnapi", ["--runner", "FnApiRunner"])
    portable = _runs(tmp_path / "portable", [
        "--runner", "PortableRunner", "--job_endpoint", job_service,
        "--environment_type", "LOOPBACK"])

    first, again = portable
    assert all(m["status"] == "succeeded" and m["invariant"]["holds"] for m in portable)
    assert first["totals"]["articles"] > 0 and first["totals"]["duplicates"] > 0
    # The second run met every article of the first through the index.
    assert again["totals"]["articles"] == 0
    assert again["totals"]["duplicates"] == first["totals"]["inputs"] - first["totals"]["rejects"]
    for on_portable, on_fnapi in zip(portable, fnapi):
        for key in MANIFEST_COUNTS:
            assert on_portable.get(key) == on_fnapi.get(key), key
    for table in ("articles", "duplicates", "rejects", "_index"):
        assert _rows(tmp_path / "portable", table) == _rows(tmp_path / "fnapi", table), table
    # The committed files have the same deterministic names.
    names = {p.relative_to(tmp_path / "fnapi").as_posix()
             for p in (tmp_path / "fnapi").glob("[a-z]*/**/*.parquet")}
    assert names == {p.relative_to(tmp_path / "portable").as_posix()
                     for p in (tmp_path / "portable").glob("[a-z]*/**/*.parquet")}
