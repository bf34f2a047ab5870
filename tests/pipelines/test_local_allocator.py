"""A local run gives the memory it frees back to the system, in the runner and
in its worker processes (issue 20: W1 HTML, 5,000 documents, 2 workers, the
runner kept 594 MB at its peak where ~250 MB were in use)."""
from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from pipelines import runs

_SETTINGS = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")


def _clean_environment(monkeypatch) -> None:
    for name in _SETTINGS:
        monkeypatch.delenv(name, raising=False)


def _worker_settings(_) -> tuple:
    return tuple(os.environ.get(name) for name in _SETTINGS)


def test_the_workers_of_a_local_run_start_with_the_allocator_settings(monkeypatch):
    _clean_environment(monkeypatch)
    options = PipelineOptions(["--runner", "DirectRunner", "--direct_num_workers", "2",
                               "--direct_running_mode", "multi_processing"])
    with runs.local_pipeline(options) as p:
        seen = p | beam.Create([1, 2, 3, 4]) | beam.Map(_worker_settings)
        assert_that(seen, equal_to([("2", str(128 * 1024))] * 4))


def test_a_setting_the_user_made_is_kept(monkeypatch):
    _clean_environment(monkeypatch)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    pipeline = runs.local_pipeline(PipelineOptions(["--runner", "DirectRunner"]))
    assert type(pipeline.runner).__name__ == "FnApiRunner"
    assert os.environ["MALLOC_ARENA_MAX"] == "4"
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(128 * 1024)
