"""The streaming job as Dataflow would receive it, built offline with --dry_run=True.

As `tests/pipelines/test_dataflow_graph.py` does for the batch job: DataflowRunner
with ``--streaming --dry_run=True`` builds the whole job (graph, worker
environment, staged package) and stops before sending it. The feed list,
watched folder, output and temp location are gs:// paths on the local GCS
emulator; nothing is fetched and nothing is written to the output.
"""
from __future__ import annotations

import pytest

from pipelines import stream
from tests.conftest import REPO
from tests.dataflow_jobs import gcs_keys, staged_artifacts, upload_inputs

STEPS = {"Ticks", "PollFeeds", "PollSitemaps", "WatchFiles", "Process", "ReadDedupIndex",
         "CountOutcomes", "WriteArticles", "WriteDuplicates", "WriteRejects", "WriteIndex",
         "WriteStats", "CommitFeedState"}
PROCESS_STEPS = {"Process/Extract", "Process/StampArticles", "Process/DetectLanguage",
                 "Process/Deduplicate", "Process/Enrich"}


@pytest.mark.e2e
def test_stream_job_graph_is_built_offline_for_dataflow(gcs, tmp_path):
    feed_list = upload_inputs(gcs, tmp_path, "stream", "incoming")
    sitemaps = tmp_path / "sitemaps.txt"
    sitemaps.write_text("https://news.example.org/ | Example | en\n")
    sitemap_list = gcs.upload(sitemaps, "stream", "sitemaps.txt")

    result = stream.run([
        "--feeds", feed_list, "--sitemaps", sitemap_list, "--watch", gcs.url("stream", "incoming", "*"),
        "--output", gcs.url("stream", "out"), "--run_id", "live",
        "--runner", "DataflowRunner", "--streaming", "--dry_run=True",
        "--project", "newsbeam-test", "--region", "europe-west1",
        "--temp_location", gcs.url("stream", "tmp"), "--setup_file", str(REPO / "setup.py"),
        "--window_minutes", "5", "--min_poll_s", "120"])

    proto = result.job.proto_pipeline
    top_level = {t.unique_name for t in proto.components.transforms.values()
                 if "/" not in t.unique_name}
    assert STEPS <= top_level
    names = {t.unique_name for t in proto.components.transforms.values()}
    assert PROCESS_STEPS <= names
    # Unbounded: the ticks are the job's source, and the job says it streams.
    assert result.job.proto.type.name == "JOB_TYPE_STREAMING"
    # The FnApiRunner's extra shuffle before dedup is for that runner only.
    assert "Process/DedupStage" not in names
    # Nothing ran and nothing was written: the dry run only built the job.
    assert not gcs_keys(gcs, "stream/out")

    assert "workflow.tar.gz" in staged_artifacts(proto)
