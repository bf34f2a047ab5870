"""The step renames that docs/guide/streaming.md gives for updating a running stream hold.

The page's JSON block is the mapping `pipelines.stream.STEP_RENAMES`; in the
streaming graph as it is built now, every new name is a step and no old name
is a top-level step any more. The graph is only built (no runner runs it).
"""
from __future__ import annotations

import json
import re
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines import stream
from pipelines.options import CommonOptions, StreamOptions
from tests.conftest import REPO, SEEDS

PAGE = REPO / "docs" / "guide" / "streaming.md"


def documented_mapping() -> dict:
    section = PAGE.read_text(encoding="utf-8").split("## Updating a running stream", 1)[1]
    (block,) = re.findall(r"^```json\n(.*?)^```", section.split("\n## ", 1)[0], re.S | re.M)
    return json.loads(block)


def test_the_documented_mapping_is_the_code_s():
    assert documented_mapping() == stream.STEP_RENAMES


def test_every_renamed_step_is_in_the_stream_graph_under_its_new_name(tmp_path):
    # The default runner (the FnApiRunner) builds DedupStage too.
    options = PipelineOptions(["--feeds", str(SEEDS / "feeds.txt"), "--watch",
                               str(tmp_path / "incoming" / "*"), "--output",
                               str(tmp_path / "out"), "--duration", "5"])
    pipeline = beam.Pipeline(options=options)
    stream.build(pipeline, options.view_as(CommonOptions), options.view_as(StreamOptions),
                 "stream-renames", time.time())
    names = {t.unique_name for t in pipeline.to_runner_api().components.transforms.values()}
    top_level = {name for name in names if "/" not in name}
    assert set(stream.STEP_RENAMES.values()) <= names
    assert not set(stream.STEP_RENAMES) & top_level
