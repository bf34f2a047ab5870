"""The collections that carry articles and dedup keys are row-coded, never pickled.

newsbeam's modules use ``from __future__ import annotations``, so the hints on
``DoFn.process`` are strings, which Beam reads as Any: without a declared
output type every article would be pickled at each stage boundary, and a
Flatten of typed and untyped inputs transcodes every element. The graph is
only built here (no runner runs it).
"""
from __future__ import annotations

import pytest
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines import ingest
from pipelines.options import IngestOptions
from tests.conftest import SEEDS

ROW = "beam:coder:row:v1"
TEXT = "beam:coder:string_utf8:v1"
KEYED_ROW = ("beam:coder:kv:v1", (TEXT, ROW))
# An LSH bucket's entry is (band, member reference): each article is in 20
# bands, and its key (~300 bytes) waits once, in CandidateMembers.
KEYED_TEXT = ("beam:coder:kv:v1", (TEXT, TEXT))
# Transform -> {output tag: expected coder}; None is the main output.
EXPECTED = {
    "ReadDumps/SplitRecords": {"None": ROW, "rejects": ROW, "duplicates": ROW},
    "Process/Extract/ExtractText": {"None": ROW, "rejects": ROW},
    "Process/DetectLanguage/IdentifyLanguage": {"None": ROW},
    "Process/Deduplicate/DedupKeys": {"None": ROW},
    "Process/Deduplicate/NewAndKnownKeys": {"None": ROW},
    "Process/Deduplicate/AllBands": {"None": KEYED_TEXT},
    "Process/Deduplicate/CandidateMembers": {"None": KEYED_ROW},
    # The sketches (up to 16 KB an article) wait in staged files: the side
    # input holds their names (W1, 2 workers: the runner passed every sketch
    # through its memory several times, and each worker held them twice).
    "Process/Deduplicate/CandidateSignatures": {"None": TEXT},
    "Process/Deduplicate/RouteDuplicates": {"None": ROW, "duplicates": ROW},
    "Process/Enrich/CleanTags": {"None": ROW},
    "Process/Keyphrases/ScoreKeyphrases": {"None": ROW},
}


def _coder(components, coder_id):
    coder = components.coders[coder_id]
    parts = tuple(components.coders[c].spec.urn for c in coder.component_coder_ids)
    return (coder.spec.urn, parts) if parts else coder.spec.urn


@pytest.mark.e2e
def test_articles_and_dedup_keys_are_row_coded(tmp_path):
    options = PipelineOptions(["--input", str(SEEDS / "*.txt"), "--output", str(tmp_path)])
    pipeline = beam.Pipeline(options=options)
    ingest.build(pipeline, options.view_as(IngestOptions), "coders", 0)
    components = pipeline.to_runner_api().components
    by_name = {t.unique_name: t for t in components.transforms.values()}
    for name, outputs in EXPECTED.items():
        found = {tag: _coder(components, components.pcollections[pc].coder_id)
                 for tag, pc in by_name[name].outputs.items()}
        for tag, coder in outputs.items():
            assert found[tag] == coder, (name, tag, found[tag])
