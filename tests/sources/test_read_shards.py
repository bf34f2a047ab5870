"""A file read as shards gives every record exactly once, as the whole file does.

With fewer files than local worker processes, `ReadDumps` reads each file
as several shards that keep every n-th record (`file_shards`); the union of
the shards must be the file's records, rejects included, with none twice,
and a file that fails in any shard must leave one reject, never none.
"""
from __future__ import annotations

import gzip
import json

import apache_beam as beam
import pytest

from apache_beam.testing.util import assert_that, equal_to

from schemas.records import InputFile
from schemas.contexts import ReadContext
from transforms.sources.read_dumps import (MAX_SHARDS, REJECTS, UNREADABLE_FILE, ReadDumps,
                                   SplitFileFn, file_shards, one_reject_per_input, reject_key)
from tests.conftest import SEEDS

CTX = ReadContext("shards", 1_700_000_000_000_000, 1 << 20)


def _outputs(element):
    found = []
    for item in SplitFileFn(CTX).process(element):
        if isinstance(item, beam.pvalue.TaggedOutput):
            found.append((item.tag, item.value))
        else:
            found.append(("documents", item))
    return found


def _inputs(tmp_path):
    lines = [json.dumps({"url": f"https://example.org/{i}", "title": f"Story {i}",
                         "text": f"Body of story number {i}. " * 5}) for i in range(7)]
    lines.insert(3, "{not json")
    jsonl = tmp_path / "articles.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    packed = tmp_path / "articles.jsonl.gz"
    packed.write_bytes(gzip.compress(jsonl.read_bytes()))
    many = "\n".join(json.dumps({"url": f"https://example.org/m{i}", "text": f"Item {i} " * 40})
                     for i in range(300)).encode("utf-8")
    broken = tmp_path / "broken.jsonl.gz"  # records, then a cut in the gzip stream
    broken.write_bytes(gzip.compress(many)[:-40])
    return [str(jsonl), str(packed), str(broken), str(SEEDS / "en-sample-dump.txt"),
            str(tmp_path / "missing.jsonl")]


@pytest.mark.parametrize("shards", [2, 3, 5])
def test_shards_of_a_file_give_each_record_once(tmp_path, shards):
    for path in _inputs(tmp_path):
        whole = _outputs(path)
        assert whole, path
        parts = [record for shard in range(shards) for record in _outputs((path, shard, shards))]
        told = {}  # each shard that failed said so; ReadDumps keeps one per input
        for tag, value in parts:
            if tag == REJECTS:
                told.setdefault(reject_key(value), []).append(value)
        parts = [(tag, value) for tag, value in parts if tag != REJECTS]
        parts += [(REJECTS, one_reject_per_input(same)) for same in told.values()]
        assert sorted(map(repr, parts)) == sorted(map(repr, whole)), path


@pytest.mark.parametrize("shards", [2, 3, 5])
def test_every_shard_tells_the_reject_that_ends_the_file(tmp_path, shards):
    """A gzip cut half-way: whichever shard owns the last record, each shard
    stops there, so each says why."""
    broken = _inputs(tmp_path)[2]
    ending = _outputs(broken)[-1]
    assert ending[0] == REJECTS and ending[1].reason == "corrupt_gzip"
    for shard in range(shards):
        assert _outputs((broken, shard, shards))[-1] == ending


def test_a_shard_that_fails_alone_leaves_a_reject(tmp_path):
    """The file is gone when the second shard opens it: its records are not
    lost without a word."""
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(json.dumps({"url": f"https://example.org/{i}", "text": "x " * 50})
                              for i in range(6)) + "\n", encoding="utf-8")
    first = _outputs((str(path), 0, 2))
    assert [tag for tag, _ in first] == ["documents"] * 3
    path.unlink()
    second = _outputs((str(path), 1, 2))
    assert [(tag, value.reason) for tag, value in second] == [(REJECTS, UNREADABLE_FILE)]


def test_split_files_writes_one_reject_per_unreadable_file(tmp_path, fnapi_pipeline):
    """Six workers, two files: each read as three shards, rejects as from one reader."""
    inputs = _inputs(tmp_path)
    broken, missing = inputs[2], inputs[4]
    whole = [(tag, value) for path in (broken, missing) for tag, value in _outputs(path)]
    files = [InputFile(path, 0, 0) for path in (broken, missing)]
    with fnapi_pipeline as p:
        result = p | beam.Create(files) | ReadDumps(CTX, workers=6)
        assert_that(result.documents | "Ids" >> beam.Map(lambda d: d.doc_id),
                    equal_to([d.doc_id for tag, d in whole if tag == "documents"]),
                    label="documents")
        assert_that(result.rejects | "Files" >> beam.Map(lambda r: (r.source_uri, r.reason)),
                    equal_to([(r.source_uri, r.reason) for tag, r in whole if tag == REJECTS]),
                    label="rejects")


def test_files_are_sharded_only_when_fewer_than_the_workers():
    assert file_shards("a", workers=2, files=8) == [("a", 0, 1)]
    assert file_shards("a", workers=2, files=2) == [("a", 0, 1)]
    assert file_shards("a", workers=2, files=1) == [("a", 0, 2), ("a", 1, 2)]
    assert len(file_shards("a", workers=5, files=2)) == 3
    assert len(file_shards("a", workers=64, files=1)) == MAX_SHARDS
