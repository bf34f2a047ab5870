"""Boilerplate learned from the corpus: a line many dumps of one source share."""
from __future__ import annotations

import pytest
import random
from pathlib import Path
from typing import List

import apache_beam as beam
from apache_beam.testing.util import assert_that

from pipelines import cli
from schemas.records import RawDocument
from tests.conftest import read_table
from transforms.extract.boilerplate import (MIN_DUMPS, CountSourceBoilerplate,
                                            RemoveSourceBoilerplate, after_counts, is_boilerplate,
                                            line_hash, remove_lines, source_key)
from schemas.contexts import ReadContext
from transforms.sources.read_dumps import MatchInputs, ReadDumps

# Prose, so that the line classifier alone keeps it: only the corpus can tell.
PROMO = ("The Westmere Herald has been owned by its readers since 1871, and every story "
         "we publish is free to read for everyone in the valley.")
SHARED_BY_TWO = ("Both of these reports were written with the help of the harbour "
                 "authority, which answered our questions about the works in detail.")
_STOP = "the of and to in a is that for on with as was by at from it".split()
_CONTENT = ("harbour council turbine river bridge school storm ferry budget mayor winter "
            "engineer fishing port coast market train station museum library hospital road "
            "festival election farmer vineyard forest island village tower factory clinic "
            "teacher nurse driver baker painter sailor miner judge lawyer doctor pilot").split()


def article_lines(seed: int) -> List[str]:
    """Three paragraphs of prose no other seed shares a phrase with."""
    rng = random.Random(seed)
    paragraphs = []
    for _ in range(3):
        words = [rng.choice(_STOP if i % 2 else _CONTENT) for i in range(40)]
        paragraphs.append(" ".join(words).capitalize() + f", said source {seed}.")
    return paragraphs


def write_dumps(folder: Path, count: int, extra=lambda n: []) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        lines = [f"Headline about the {_CONTENT[n]} story"] + article_lines(n) + extra(n) + [PROMO]
        (folder / f"page-{n}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_rule_needs_enough_dumps_and_half_of_the_source():
    assert is_boilerplate(MIN_DUMPS, MIN_DUMPS)
    assert not is_boilerplate(MIN_DUMPS - 1, MIN_DUMPS - 1)  # two or three copies of a story
    assert not is_boilerplate(40, 100)  # a story told in a few of a large source's pages
    assert is_boilerplate(60, 100)


def test_line_hashes_fold_case_spacing_and_numbers():
    assert line_hash("© 2019 The Herald") == line_hash("©  2020 the herald")
    assert line_hash("12 comments") == line_hash("3 Comments")
    assert line_hash("|") is None


def test_source_is_the_jsonl_source_else_the_host_else_the_folder():
    doc = RawDocument("id", "jsonl", "dumps/a.jsonl", "line:1", "run", b"", "text",
                      url="https://www.herald.example/a", source_name="Herald")
    assert source_key(doc) == "source:herald"
    assert source_key(doc._replace(source_name=None)) == "host:herald.example"
    assert source_key(doc._replace(source_name=None, url=None, source_kind="text_dump",
                                   source_uri="dumps/herald/p1.txt")) == "folder:dumps/herald"


def test_only_text_dumps_and_jsonl_are_read_again(tmp_path):
    from transforms.extract.boilerplate import holds_dumps
    import gzip
    files = {"a.txt": b"A line of a dump\n", "b.jsonl": b'{"text": "x"}\n',
             "c.html": b"<!doctype html><html></html>", "d.warc": b"WARC/1.0\r\n",
             "e": gzip.compress(b"<html><body>page</body></html>"), "f.txt": b""}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    found = {name for name in files
             if holds_dumps(name, lambda name=name: open(tmp_path / name, "rb"))}
    assert found == {"a.txt", "b.jsonl"}


def test_phrase_lines_stay_and_a_dump_is_never_emptied():
    text = "A line\nSource: The Herald\nKeywords: a, b\n"
    shared = frozenset(h for h in map(line_hash, text.splitlines()) if h)
    cleaned, removed = remove_lines(text, shared)
    assert removed == 1 and "Source: The Herald" in cleaned and "A line" not in cleaned
    assert remove_lines("A line\n", frozenset({line_hash("A line")})) == ("A line\n", 0)


def test_a_line_repeated_across_ten_dumps_of_one_source_is_removed(tmp_path, fnapi_pipeline):
    write_dumps(tmp_path / "herald", 10,
                extra=lambda n: [SHARED_BY_TWO] if n < 2 else [])
    write_dumps(tmp_path / "other", 1)  # the same line once elsewhere: not boilerplate there
    ctx = ReadContext("run", 0, 1 << 20)
    with fnapi_pipeline as p:
        files = p | MatchInputs([str(tmp_path / "*" / "*.txt")])
        boilerplate = files | CountSourceBoilerplate(ctx)
        documents = after_counts(files, boilerplate) | ReadDumps(ctx)
        cleaned = documents.documents | RemoveSourceBoilerplate(boilerplate)

        def check(docs):
            texts = {Path(d.source_uri).parent.name + "/" + Path(d.source_uri).name:
                     d.payload.decode("utf-8") for d in docs}
            assert len(texts) == 11
            for name, text in texts.items():
                assert (PROMO in text) == name.startswith("other/"), name
                assert "said source" in text
            assert SHARED_BY_TWO in texts["herald/page-0.txt"]
            assert SHARED_BY_TWO in texts["herald/page-1.txt"]

        assert_that(cleaned, check)


@pytest.mark.e2e
def test_ingest_removes_a_source_line_from_every_article(tmp_path):
    write_dumps(tmp_path / "in" / "herald", 10)
    out = tmp_path / "out"
    assert cli.main(["ingest", "--input", str(tmp_path / "in" / "herald" / "*.txt"),
                     "--output", str(out), "--run_id", "herald",
                     "--runner", "DirectRunner"]) == 0
    articles = read_table(out, "articles")
    assert len(articles) == 10
    for article in articles:
        assert "said source" in article["text"]
        assert "owned by its readers" not in article["text"]
        assert article["title"].startswith("Headline about the")
        assert article["inferred_fields"] == []
