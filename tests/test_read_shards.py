"""A file read as shards gives every record exactly once, as the whole file does.

With fewer files than local worker processes, `SplitFiles` reads each file
as several shards that keep every n-th record (`file_shards`); the union of
the shards must be the file's records, rejects included, with none twice.
Plain functions, no runner.
"""
from __future__ import annotations

import gzip
import json

import apache_beam as beam
import pytest

from transforms.dump_formats import ReadContext
from transforms.read_dumps import MAX_SHARDS, _SplitFileFn, file_shards
from tests.conftest import SEEDS

CTX = ReadContext("shards", 1_700_000_000_000_000, 1 << 20)


def _outputs(element):
    found = []
    for item in _SplitFileFn(CTX).process(element):
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
        assert sorted(map(repr, parts)) == sorted(map(repr, whole)), path


def test_files_are_sharded_only_when_fewer_than_the_workers():
    assert file_shards("a", workers=2, files=8) == [("a", 0, 1)]
    assert file_shards("a", workers=2, files=2) == [("a", 0, 1)]
    assert file_shards("a", workers=2, files=1) == [("a", 0, 2), ("a", 1, 2)]
    assert len(file_shards("a", workers=5, files=2)) == 3
    assert len(file_shards("a", workers=64, files=1)) == MAX_SHARDS
