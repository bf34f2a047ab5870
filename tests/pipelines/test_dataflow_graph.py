"""The batch job as Dataflow would receive it, built offline with --dry_run=True.

DataflowRunner with ``--dry_run=True`` builds the whole job (graph, worker
environment, staged artifacts) and stops before sending it. The inputs and
temp location are gs:// paths on the local GCS emulator, as the option
checks match --input before the graph is built.
"""
from __future__ import annotations

import tarfile
from importlib import metadata

import pytest

from pipelines import ingest
from tests.conftest import REPO
from tests.dataflow_jobs import gcs_keys, staged_artifacts, upload_inputs

STEPS = {"MatchInputs", "SkipIngestedFiles", "ReadDumps", "ReadFeeds", "Process",
         "CountOutcomes", "WriteArticles", "WriteDuplicates", "WriteRejects", "WriteDedupIndex",
         "CommitRun"}
# The shared middle, one composite (`transforms.core.process.ProcessDocuments`).
PROCESS_STEPS = {"Process/Extract", "Process/DetectLanguage", "Process/Deduplicate",
                 "Process/Enrich", "Process/Keyphrases"}


@pytest.mark.e2e
def test_dataflow_job_graph_is_built_offline_with_the_package_staged(gcs, tmp_path):
    feed_list = upload_inputs(gcs, tmp_path, "dataflow", "in")

    result, opts, run_id = ingest.launch([
        "--input", gcs.url("dataflow", "in", "*"), "--feeds", feed_list,
        "--output", gcs.url("dataflow", "out"), "--run_id", "nightly", "--since_last_run",
        "--runner", "DataflowRunner", "--dry_run=True", "--project", "newsbeam-test",
        "--region", "europe-west1", "--temp_location", gcs.url("dataflow", "tmp"),
        "--setup_file", str(REPO / "setup.py")])

    assert run_id == "nightly" and opts.since_last_run
    proto = result.job.proto_pipeline
    top_level = {t.unique_name for t in proto.components.transforms.values()
                 if "/" not in t.unique_name}
    assert STEPS <= top_level
    names = {t.unique_name for t in proto.components.transforms.values()}
    assert PROCESS_STEPS <= names
    # The dedup index is read inside Deduplicate, which keeps only the entries
    # this run's articles meet.
    assert {"Process/Deduplicate/ReadKnown", "Process/Deduplicate/ReadKnownAgain"} <= names
    # Keywords are scored against a table of the kept articles: Keyphrases reads
    # what Enrich gives, which reads what Deduplicate kept.
    by_name = {t.unique_name: t for t in proto.components.transforms.values()}
    assert {"Process/Keyphrases/BuildTable", "Process/Keyphrases/ScoreKeyphrases"} <= names
    assert set(by_name["Process/Keyphrases"].inputs.values()) <= set(
        by_name["Process/Enrich"].outputs.values())
    assert set(by_name["Process/Enrich"].inputs.values()) <= set(
        by_name["Process/Deduplicate"].outputs.values())
    # Nothing ran: the dry run only built the job.
    assert not gcs_keys(gcs, "dataflow/out")

    beam_version = metadata.version("apache-beam")
    staged = staged_artifacts(proto)
    # --setup_file: the package is built from the repository and staged as
    # workflow.tar.gz, which each worker installs.
    assert "workflow.tar.gz" in staged
    with tarfile.open(staged["workflow.tar.gz"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
        requires = sdist.extractfile(next(n for n in sdist.getnames()
                                          if n.endswith(".egg-info/requires.txt"))).read()
    assert {"setup.py", "pyproject.toml", "pipelines/ingest.py", "transforms/sink/input_cursor.py",
            "schemas/records.py"} <= names
    # The workers' Beam is the launcher's: pinned in pyproject.toml.
    assert f"apache-beam[gcp]=={beam_version}" in requires.decode().splitlines()

