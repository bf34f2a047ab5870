"""The cross-run index matched in Arrow gives the entries the per-entry filters give.

`transforms.dedup.index_match.match_known` and its two DoFns replace, for an
index on disk, the filters of `transforms.dedup.known.relevant_known` that look at one
`IndexEntry` at a time. Both are run here on the same index files, with
every kind of row that decides a match: URL keys, content hashes, shared
LSH bands, signatures of an incompatible algorithm, rows without a URL key,
rows of later or ignored runs, files written before a column existed.
"""
from __future__ import annotations

import random

import numpy as np
import pyarrow.parquet as pq
import pytest
from apache_beam.pvalue import TaggedOutput

from schemas.records import IndexEntry
from schemas.tables import TABLES, to_arrow
from schemas.dedup import DedupKey
from transforms.dedup import minhash
from transforms.dedup.known import MeetingKnownFn, SameUrlKnownFn
from transforms.dedup.index import DamagedIndexFile, ReadIndex, _ReadEntriesFn
from transforms.dedup.index_match import match_known, new_keys_of
from transforms.dedup.rules import known_key, meeting_keys

PARAMS = minhash.lsh_parameters()
BEFORE = 1_000_000
OLD_ALGORITHM = "minhash-v1:something-else"


def _signature(rng: random.Random, like: bytes = None, keep_bands: int = 0) -> bytes:
    rows = np.array([rng.getrandbits(32) for _ in range(minhash.NUM_PERM)], dtype="<u4")
    if like is not None and keep_bands:
        template = np.frombuffer(like, dtype="<u4")
        width = PARAMS.rows
        for band in rng.sample(range(PARAMS.bands), keep_bands):
            rows[band * width:(band + 1) * width] = template[band * width:(band + 1) * width]
    return rows.tobytes()


def _entry(i: int, url, content: str, signature, algorithm=minhash.ALGORITHM_VERSION,
           run_id="earlier", ingested_at=10) -> IndexEntry:
    # Kept articles keep their shingles (most of them: long texts do not).
    shingles = np.arange(i, i + 40 + i % 50, dtype="<u4").tobytes() if signature and i % 7 else None
    return IndexEntry(f"a{i}", f"a{i}", f"c{i}", url, content, signature, algorithm, i % 3 == 0,
                      i % 4, 5 + i, 100 + i, run_id, ingested_at, f"t{i}", "Source (example.com)",
                      shingles)


def _new_key(i: int, url, content: str, signature) -> DedupKey:
    return DedupKey(f"new{i}", url, content, signature, False, 0, None, 300, False, f"new{i}",
                    f"new{i}", None, None)


@pytest.fixture
def case(tmp_path):
    rng = random.Random(20)
    entries = []
    for i in range(3000):
        signature = _signature(rng) if i % 5 else None  # duplicates keep no signature
        url = None if i % 11 == 0 else f"example.com/{i}"
        entries.append(_entry(i, url, f"h{i}", signature,
                              algorithm=OLD_ALGORITHM if i % 13 == 0 else minhash.ALGORITHM_VERSION,
                              run_id="ignored" if i % 17 == 0 else "earlier",
                              ingested_at=BEFORE + 1 if i % 19 == 0 else 10))
    # Entries that share a URL key with ones meeting the run by content.
    entries += [_entry(5000 + i, entries[i].url_key, f"other{i}", None)
                for i in range(0, 3000, 7) if entries[i].url_key]
    new = []
    for n, i in enumerate(rng.sample(range(3000), 600)):
        old = entries[i]
        kind = n % 4
        if kind == 0:
            new.append(_new_key(n, old.url_key, f"fresh{n}", _signature(rng)))
        elif kind == 1:
            new.append(_new_key(n, f"new.example.com/{n}", old.content_hash, None))
        elif kind == 2 and old.signature is not None:
            new.append(_new_key(n, f"new.example.com/{n}", f"fresh{n}",
                                _signature(rng, old.signature, keep_bands=1 + n % 3)))
        else:
            new.append(_new_key(n, f"new.example.com/{n}", f"fresh{n}", _signature(rng)))
    folder = tmp_path / "_index" / "dt=2026-12-01"
    folder.mkdir(parents=True)
    schema = TABLES["index"].schema
    paths = []
    for shard, start in enumerate(range(0, len(entries), 1000)):
        path = folder / f"part-earlier-{shard:05d}.parquet"
        table = to_arrow(entries[start:start + 1000], schema)
        if shard == 1:  # written before schema 1.2 added these columns
            table = table.drop_columns(["title_hash", "source", "shingles"])
        if shard == 2:  # written before schema 1.4 added shingles
            table = table.drop_columns(["shingles"])
        pq.write_table(table, path, compression="zstd", row_group_size=300)
        paths.append(str(path))
    keys = [sorted({k for key in new[:300] for k in meeting_keys(key, PARAMS)}),
            sorted({k for key in new[300:] for k in meeting_keys(key, PARAMS)})]
    return paths, keys


def _split(outputs):
    main = [o for o in outputs if not isinstance(o, TaggedOutput)]
    tagged = [o.value for o in outputs if isinstance(o, TaggedOutput)]
    return main, tagged


def _per_entry(paths, keys, ignore):
    read = _ReadEntriesFn(BEFORE, "t", ignore)
    meeting, same_url = MeetingKnownFn(PARAMS), SameUrlKnownFn(PARAMS)
    meeting.setup()
    same_url.setup()
    first, urls = [], []
    for path in paths:
        for entry in read.process(path):
            found, tagged = _split(list(meeting.process(entry, keys)))
            first += found
            urls += tagged
    again = [key for path in paths for entry in read.process(path)
             for key in same_url.process(entry, keys, urls)]
    return first, sorted(set(urls)), again


def _in_arrow(paths, keys, ignore):
    reader = ReadIndex("unused", "this-run", 0, 30, before=BEFORE, ignore_runs=ignore)
    meeting, same_url = reader.meeting_new(PARAMS), reader.of_their_urls(PARAMS)
    meeting.setup()
    same_url.setup()
    first, urls = [], []
    for path in paths:
        found, tagged = _split(list(meeting.process(path, keys)))
        first += found
        urls += tagged
    again = [key for path in paths for key in same_url.process(path, keys, urls)]
    return first, sorted(set(urls)), again


def test_arrow_match_takes_the_entries_the_per_entry_filters_take(case):
    paths, keys = case
    ignore = frozenset({"ignored"})
    old_first, old_urls, old_again = _per_entry(paths, keys, ignore)
    new_first, new_urls, new_again = _in_arrow(paths, keys, ignore)
    assert sorted(new_first) == sorted(old_first)
    assert new_urls == old_urls
    assert sorted(new_again) == sorted(old_again)
    # The case exercises every way in, and the second read finds entries.
    assert len(old_first) > 300 and old_again and old_urls
    given = {k for bundle in keys for k in bundle}
    by_band_only = [k for k in old_first
                    if "u" + (k.url_key or "") not in given and "c" + k.content_hash not in given]
    assert len(by_band_only) > 50
    ids = {k.article_id for k in old_first}
    assert not any(k.article_id in ids for k in old_again)
    # Shingles ride on the first read's signed keys of files that have them, only.
    with_shingles = [k for k in new_first if k.shingles is not None]
    assert with_shingles and all(k.signature is not None for k in with_shingles)
    assert not any(k.shingles for k in new_first if 1000 <= int(k.article_id[1:]) < 3000)
    assert not any(k.shingles for k in new_again)


def test_band_tokens_of_a_column_are_those_of_each_signature():
    rng = random.Random(3)
    signatures = [_signature(rng) for _ in range(50)]
    matrix = np.frombuffer(b"".join(signatures), dtype="<u4").reshape(50, minhash.NUM_PERM)
    column = minhash.band_tokens(matrix, PARAMS)
    for row, signature in zip(column, signatures):
        assert [f"{t:016x}" for t in row.tolist()] == minhash.band_token_keys(signature, PARAMS)
    # Equal bands, equal tokens; the band number is part of the token.
    same = _signature(rng, signatures[0], keep_bands=PARAMS.bands)
    assert minhash.band_token_keys(same, PARAMS) == minhash.band_token_keys(signatures[0], PARAMS)
    assert len(set(minhash.band_token_keys(bytes(minhash.SIGNATURE_BYTES), PARAMS))) == PARAMS.bands


def test_match_counts_rows_of_later_runs_apart():
    entries = [_entry(1, "example.com/1", "h1", None),
               _entry(2, "example.com/2", "h2", None, ingested_at=BEFORE),
               _entry(3, "example.com/3", "h3", None, run_id="later")]
    table = to_arrow(entries, TABLES["index"].schema)
    new = new_keys_of([["uexample.com/2", "ch1", "ch3"]])
    match = match_known(table, new, BEFORE, frozenset({"later"}), PARAMS)
    assert match.readable.tolist() == [True, False, False]
    assert match.meeting.tolist() == [True, False, False]
    assert match.same_content.tolist() == [True, False, False]
    assert known_key(entries[0]).known


def test_a_damaged_index_file_is_named(tmp_path):
    path = tmp_path / "part-x-00000.parquet"
    path.write_bytes(b"not parquet")
    reader = ReadIndex("unused", "this-run", 0, 30, before=BEFORE)
    fn = reader.meeting_new(PARAMS)
    fn.setup()
    with pytest.raises(DamagedIndexFile, match="part-x-00000"):
        list(fn.process(str(path), [["ch"]]))
