"""The example of docs/guide/transforms.md runs as written.

The page's one Python block is taken out of the Markdown and run, unchanged,
in a temporary folder holding a small `dumps/` (the seeds' JSONL sample and
a copy of one of its articles under another URL), on the FnApiRunner it
names. Run twice, the second run finds every article in the index the first
one left.
"""
from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.conftest import REPO, SEEDS, read_table

PAGE = REPO / "docs" / "guide" / "transforms.md"


def example_code() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(encoding="utf-8"),
                        re.S | re.M)
    assert len(blocks) == 1, "the page should hold exactly one Python example"
    return blocks[0]


def run_example(code: str) -> None:
    exec(compile(code, str(PAGE), "exec"), {"__name__": "docs_example"})


@pytest.fixture
def dumps(tmp_path, monkeypatch):
    folder = tmp_path / "dumps"
    folder.mkdir()
    shutil.copy(SEEDS / "sample-articles.jsonl", folder / "sample.jsonl")
    first = json.loads((SEEDS / "sample-articles.jsonl").read_text("utf-8").splitlines()[0])
    first["url"] = "https://copy.example/syndicated"
    (folder / "copy.jsonl").write_text(json.dumps(first) + "\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.e2e
def test_the_example_writes_the_tables(dumps):
    inputs = sum(1 for path in (dumps / "dumps").iterdir()
                 for line in path.read_text("utf-8").splitlines() if line.strip())
    code = example_code()
    run_example(code)

    out = dumps / "out"
    articles = read_table(out, "articles")
    duplicates = read_table(out, "duplicates")
    rejects = read_table(out, "rejects")
    assert articles and duplicates
    assert len(articles) + len(duplicates) + len(rejects) == inputs
    assert "exact" in {d["dup_type"] for d in duplicates}  # the copy under another URL
    assert all(a["language"] != "und" and a["run_id"] == "example-1" for a in articles)
    assert not (out / "_tmp" / "example-1").exists()

    # A second run into the same output: its articles are already in the index.
    for path in out.rglob("part-example-1-*.parquet"):
        if "_index" not in path.parts:
            path.unlink()
    run_example(code.replace('RUN_ID = "example-1"', 'RUN_ID = "example-2"'))
    assert read_table(out, "articles") == []
    assert len(read_table(out, "duplicates")) == inputs - len(rejects)


@pytest.mark.e2e
def test_the_example_commits_by_the_runs_protocol(dumps):
    """The page teaches the commit a run of the command makes: a manifest that
    checks every input ended in one table, and a commit that a crash half-way
    through leaves finished by whoever takes the output next."""
    from transforms.sink import commit as protocol

    inputs = sum(1 for path in (dumps / "dumps").iterdir()
                 for line in path.read_text("utf-8").splitlines() if line.strip())
    code = example_code()

    def stop_at_first_rename(number, what):
        if what.startswith("rename"):
            raise RuntimeError("stopped half-way through the commit")

    protocol.FAULT_HOOK = stop_at_first_rename
    try:
        with pytest.raises(Exception, match="stopped half-way"):
            run_example(code)
    finally:
        protocol.FAULT_HOOK = None
    out = dumps / "out"
    assert list((out / "_runs" / "_intents").glob("*.json")), "the intent was written first"
    assert not (out / "_runs" / "_lease").exists(), "the example gives its lease back"

    protocol.recover(str(out))
    manifest = json.loads((out / "_runs" / "example-1.json").read_text("utf-8"))
    assert manifest["status"] == "succeeded"
    assert manifest["invariant"]["holds"]
    rows = sum(len(read_table(out, table)) for table in ("articles", "duplicates", "rejects"))
    assert rows == inputs
    assert not (out / "_tmp" / "example-1").exists()
