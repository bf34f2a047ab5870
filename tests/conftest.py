"""Shared fixtures and helpers: the real-world data beside the checkout, a named
runner, a feed server and a GCS emulator on 127.0.0.1, and an output table read back.

Tests name their runner: the default DirectRunner first tries to download the
Prism runner, which hangs on a network that swallows connections.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List

import pyarrow.dataset as ds
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline

from tests.gcs_emulator import gcs  # noqa: F401  (the GCS emulator fixture, for every module)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SEEDS = REPO / "seeds"
COMMITTED_AT = 1_764_374_400_000_000  # 2025-11-29T00:00:00Z: when `commit_written` runs start


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip that says why: CI has it, a user's clone may not."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-world test data not found at {SHARED_DATA} "
                    "(it ships beside the checkout in CI)")
    return SHARED_DATA


@pytest.fixture
def fnapi_pipeline():
    """A TestPipeline on the FnApiRunner."""
    return TestPipeline(runner=FnApiRunner())


@pytest.fixture
def server():
    """A feed and page server on 127.0.0.1 whose robots.txt allows every path."""
    from tests.feed_server import FeedServer, Route
    srv = FeedServer().start()
    srv.routes["/robots.txt"] = Route(b"User-agent: *\nAllow: /\n", content_type="text/plain")
    yield srv
    srv.stop()


def commit_written(output: Path, run_id: str, written: Iterable) -> List[str]:
    """Commits `WrittenFile`s as a batch run does (`plan_run_commit`, then the
    commit protocol), with no counts; returns the final paths of the run's files.

    The temporary files must be under `temp_part_path`'s folder of the run.
    """
    from transforms.sink.accounting import plan_run_commit
    from transforms.sink.commit import commit

    plan = plan_run_commit(str(output), run_id, COMMITTED_AT, {}, written, [])
    commit(str(output), plan)
    return [str(output / target) for _, target in plan["renames"]]


def temp_part_path(output: Path, run_id: str, name: str) -> Path:
    """Where a writer of the run puts a temporary part file (the commit moves it)."""
    from transforms.core.paths import temp_dir

    path = Path(temp_dir(str(output), run_id)) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def help_text(capsys, command: str) -> str:
    """What ``newsbeam COMMAND --help`` prints, checked to succeed (``report``'s
    parser exits with 0; the other commands return it)."""
    from pipelines import cli

    try:
        code = cli.main([command, "--help"])
    except SystemExit as stop:
        code = stop.code
    assert code == 0
    return capsys.readouterr().out


def read_table(out: Path, name: str) -> List[dict]:
    """Every row of one output table (Hive partitions as columns); [] if it has none."""
    folder = out / name
    if not folder.exists():
        return []
    return ds.dataset(str(folder), format="parquet", partitioning="hive").to_table().to_pylist()
