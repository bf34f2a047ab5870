"""The generated reference pages cover what they document.

`schemas/columns_doc.py` describes every column of every output table, and
nothing else; the CLI page that the docs hook writes names every option each
command's `--help` prints. The hook is loaded from its file, as MkDocs loads
it; MkDocs itself is not needed.
"""
from __future__ import annotations

import importlib.util
import re

from schemas.columns_doc import COLUMNS
from schemas.tables import TABLES
from tests.conftest import REPO


def load_hook():
    spec = importlib.util.spec_from_file_location(
        "reference_hook", REPO / "docs" / "hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_column_has_a_description():
    assert set(COLUMNS) == set(TABLES)
    for name, spec in TABLES.items():
        columns = set(spec.schema.names)
        described = {column for column, text in COLUMNS[name].items() if text.strip()}
        assert columns - described == set(), f"{name}: columns without a description"
        assert set(COLUMNS[name]) - columns == set(), f"{name}: descriptions of no column"


def test_the_schema_page_lists_every_column():
    page = load_hook().schema_page()
    for name, spec in TABLES.items():
        assert f"## `{name}`" in page
        for column in spec.schema.names:
            assert f"| `{column}` |" in page


def test_the_cli_page_lists_every_option_of_help():
    hook = load_hook()
    page = hook.cli_page()
    from pipelines import ingest, report, stream
    for main in (ingest.main, stream.main, report.main):
        printed = hook._printed_help(main)
        assert printed and printed in page
        for option in set(re.findall(r"^\s+(--[a-z_]+)", printed, re.M)) - {"--help"}:
            assert f"| `{option}" in page, option
