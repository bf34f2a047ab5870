"""Shared fixtures: the real-world data beside the checkout, and a named runner.

Tests name their runner: the default DirectRunner first tries to download the
Prism runner, which hangs on a network that swallows connections.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SEEDS = REPO / "seeds"


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
