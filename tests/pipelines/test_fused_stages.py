"""What the embedded runner holds in memory, read from the job it would run.

The FnApiRunner keeps every collection that crosses a stage boundary whole in
memory until the stage after it runs. A raw document (a WARC record's whole
page) must not cross one: it is read, cleaned of its source's boilerplate and
extracted in one fused stage, so memory holds the documents of a bundle, not
of the run. Measured before the first test: W1, 8,000 WARC records, one
worker, peaked at 5.9 GB, 1.9 GB of it the documents waiting for the
boilerplate counts. What does cross (dedup's buckets and edges) crosses in
its compact encoding.
"""
from __future__ import annotations

import time

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from pipelines import ingest
from pipelines.options import IngestOptions
from tests.conftest import SEEDS

READ = "ReadDumps/SplitRecords"
ON_THE_SAME_STAGE = ("SourceBoilerplate/RemoveBoilerplate", "Process/Extract/ExtractText")


def ingest_graph(tmp_path, *args: str) -> beam.Pipeline:
    """The ingest job over the seeds, built (not run) on the FnApiRunner."""
    argv = ["--input", str(SEEDS / "*.txt"), "--output", str(tmp_path / "out"),
            "--run_id", "graph", *args]
    opts = PipelineOptions(argv).view_as(IngestOptions)
    pipeline = beam.Pipeline(runner=FnApiRunner(), options=opts)
    ingest.build(pipeline, opts, "graph", int(time.time() * 1e6))
    return pipeline


def stage_names(tmp_path, *args: str):
    """The transforms of each stage the FnApiRunner would run for the ingest job."""
    _, stages = FnApiRunner().create_stages(ingest_graph(tmp_path, *args).to_runner_api())
    return [[t.unique_name for t in stage.transforms] for stage in stages]


@pytest.mark.parametrize("args", [
    (),
    ("--direct_num_workers", "2", "--direct_running_mode", "multi_processing"),
], ids=["one worker", "two workers"])
def test_documents_are_read_cleaned_and_extracted_in_one_stage(tmp_path, args):
    stages = stage_names(tmp_path, *args)
    [reading] = [names for names in stages if any(n.startswith(READ) for n in names)]
    for step in ON_THE_SAME_STAGE:
        assert any(n.startswith(step) for n in reading), (step, reading)


def coder_urns(components, coder_id: str):
    """The urns of a coder and of its components, depth first."""
    coder = components.coders[coder_id]
    urns = [coder.spec.urn]
    for component in coder.component_coder_ids:
        urns += coder_urns(components, component)
    return urns


def test_near_duplicate_edges_reach_the_clustering_as_plain_references(tmp_path):
    # Pickled, every `DedupKey` of an edge carried its whole schema: 9.5 KB an
    # edge instead of 0.5 (W1, 8,000 documents, 2 workers: 6,590 edges, one
    # 63 MB list held by the runner and decoded by one worker). Row-coded,
    # the FnApiRunner still held the group's edges decoded, both keys each
    # (W1, 20,000 documents: 81,563 edges): the group holds (new ref, other
    # ref, similarity), and the keys wait once, in the members side input.
    components = ingest_graph(tmp_path).to_runner_api().components
    [group] = [t for t in components.transforms.values()
               if t.unique_name == "Process/Deduplicate/AllEdges"]
    [edges] = group.inputs.values()
    urns = coder_urns(components, components.pcollections[edges].coder_id)
    assert "beam:coder:row:v1" not in urns and "beam:coder:pickled_python:v1" not in urns, urns
