"""MkDocs hook: writes the CLI and schema reference pages at build time.

Both pages are made from the code, so they cannot drift from it: the CLI
reference from the options classes in `pipelines.options` (the same
argparse groups `--help` prints) and the `--help` text itself; the schema
reference from `schemas.tables.TABLES` (names, Arrow types, nullability)
and the meanings in `schemas.columns_doc`. The pages exist only in the
built site (``reference/cli.md``, ``reference/schema.md``).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import itertools
from typing import Callable, Iterable, List, Tuple

CLI_PAGE = "reference/cli.md"
SCHEMA_PAGE = "reference/schema.md"


def _cell(text: str) -> str:
    """One table cell: one line, its pipes escaped, and text in angle brackets
    (``<output>``) kept as text, not read as HTML."""
    parts = " ".join(str(text).split()).replace("|", "\\|").split("`")
    return "`".join(part if inside else part.replace("<", "&lt;").replace(">", "&gt;")
                    for inside, part in zip(itertools.cycle((False, True)), parts))


def _default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    if action.default is None:
        return "none"
    if action.default is False and action.const is True:
        return "off"
    return f"`{action.default}`"


def _takes(action: argparse.Action) -> str:
    if action.const is True and action.nargs == "?":
        return "yes/no"
    kind = {int: "integer", float: "number"}.get(action.type, "text")
    return kind + (", repeatable" if isinstance(action, argparse._AppendAction) else "")


def _option_rows(actions: Iterable[argparse.Action]) -> List[str]:
    rows = ["| option | takes | default | meaning |", "| --- | --- | --- | --- |"]
    for action in actions:
        if not action.option_strings:
            continue
        rows.append(f"| `{action.option_strings[0]}` | {_takes(action)} | {_default(action)} | "
                    f"{_cell(action.help or '')} |")
    return rows


def _group_actions(options_class) -> List[argparse.Action]:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group()
    options_class._add_argparse_args(group)
    return list(group._group_actions)


def _printed_help(main: Callable[[List[str]], int]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(["--help"])
        except SystemExit:  # argparse's own --help exits
            pass
    return out.getvalue().rstrip()


def _report_actions() -> List[argparse.Action]:
    """The actions of `newsbeam report`'s parser."""
    from pipelines import report

    return [a for a in report.report_parser()._actions
            if not isinstance(a, argparse._HelpAction)]


def cli_page() -> str:
    """The CLI reference, in Markdown."""
    from pipelines import cli, ingest, report, stream
    from pipelines.options import CommonOptions, IngestOptions, StreamOptions

    lines = [
        "# Command-line reference",
        "",
        "Generated from the option classes of `pipelines/options.py` and from each "
        "command's `--help` when the docs are built. Every Beam pipeline option "
        "(`--runner`, `--project`, `--region`, `--temp_location`, "
        "`--direct_num_workers`, ...) passes through unchanged and is not listed.",
        "",
        "A yes/no option is set by its name alone, or as `--name=true` or "
        "`--name=false` (also `yes`/`no`, `on`/`off`, `1`/`0`), the form Flex Templates "
        "and schedulers pass.",
        "",
        "```text",
        cli.USAGE,
        "```",
        "",
    ]
    sections: List[Tuple[str, str, Callable, List[Tuple[str, List[argparse.Action]]]]] = [
        ("newsbeam ingest", "Batch ingestion: dumps and feeds to the tables "
         "(`pipelines/ingest.py`).", ingest.main,
         [("ingest options", _group_actions(IngestOptions)),
          ("options shared with stream", _group_actions(CommonOptions))]),
        ("newsbeam stream", "The streaming job (`pipelines/stream.py`): its own options and "
         "the common ones (`CommonOptions`).", stream.main,
         [("stream options", _group_actions(StreamOptions)),
          ("options shared with ingest", _group_actions(CommonOptions))]),
        ("newsbeam report", "The run report (`pipelines/report/cli.py`); no Beam options.",
         report.main, [("report options", _report_actions())]),
    ]
    for command, intro, main, groups in sections:
        lines += [f"## `{command}`", "", intro, ""]
        for title, actions in groups:
            lines += [f"### {title.capitalize()}", ""]
            lines += _option_rows(actions)
            lines.append("")
        lines += [f"### `{command} --help`", "", "```text", _printed_help(main), "```", ""]
    return "\n".join(lines)


def schema_page() -> str:
    """The schema reference, in Markdown."""
    from schemas.columns_doc import COLUMNS
    from schemas.tables import SCHEMA_VERSION, TABLES

    lines = [
        "# Schema reference",
        "",
        f"Schema version **{SCHEMA_VERSION}**, generated from `schemas/tables.py` "
        "(the Arrow schemas, derived from the records of `schemas/records.py`) and "
        "`schemas/columns_doc.py` (what each column means) when the docs are built. "
        "Every Parquet file carries the version in its metadata "
        "(`newsbeam.schema_version`). Timestamps are `timestamp[us, tz=UTC]`. "
        "The partition keys are folders (`dt=YYYY-MM-DD`, `lang=xx`), not columns "
        "of the files; a reader with Hive partitioning adds them as columns.",
        "",
    ]
    for spec in TABLES.values():
        doc = (spec.record.__doc__ or "").strip().split("\n\n")[0]
        partitions = "/".join(f"{key}=…" for key in spec.partition_keys)
        lines += [
            f"## `{spec.name}`", "",
            f"`{spec.folder}/{partitions}/part-<run_id>-<NNNNN>.parquet`, "
            f"rows of `schemas.records.{spec.record.__name__}`: {_cell(doc)}", "",
            "| column | type | nullable | meaning |", "| --- | --- | --- | --- |",
        ]
        meanings = COLUMNS[spec.name]
        for field in spec.schema:
            lines.append(f"| `{field.name}` | `{field.type}` | "
                         f"{'yes' if field.nullable else 'no'} | "
                         f"{_cell(meanings[field.name])} |")
        lines.append("")
    return "\n".join(lines)


def on_files(files, config):
    """Adds the generated pages to the build."""
    from mkdocs.structure.files import File

    for path, content in ((CLI_PAGE, cli_page()), (SCHEMA_PAGE, schema_page())):
        files.append(File.generated(config, path, content=content))
    return files
