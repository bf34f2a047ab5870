"""Reading and matching the cross-run dedup index: entry by entry, and in Arrow.

    python benchmarks/bench_index_read.py                      # 1,000,000 entries, 10,000 new
    python benchmarks/bench_index_read.py --entries 200000 --new 2000
    python benchmarks/bench_index_read.py --keep DIR           # build the index once, reuse it
    python benchmarks/bench_index_read.py --no_shingles        # rows as v4 wrote them

Builds an index of earlier runs under ``DIR/_index/`` with newsbeam's own
writer and commit (`transforms.sink.write`: the rows go through the table writer
into ``_tmp/`` and are renamed to ``part-<run>-<NNNNN>.parquet``), one run a
day over ten days, 80% of the entries signed (kept articles) and 20% not
(duplicates, each another version of the page before it: same URL key). A
signed row keeps its shingle hashes as `minhash-v5` rows do (about one a
6 characters of its text, random 32-bit values: they compress no better
than real ones), unless ``--no_shingles``. Then a run of N new articles, some sharing a URL key, a
content hash or a few LSH bands with an entry, the rest new, is matched
against it both ways, in this process, without a runner:

- per entry (what `Deduplicate` did before): `_ReadEntriesFn` makes a record
  of every row, `MeetingKnownFn` and, on the second read, `SameUrlKnownFn`
  test each one against the run's keys, with the band keys
  (`minhash.band_keys`) the code used then;
- in Arrow (what it does now): `ReadIndex.meeting_new` and
  `ReadIndex.of_their_urls` over the same files.

It prints the seconds of each (reading and matching, both reads), side by
side, and checks that both found the same entries. Under a runner the
per-entry way also paid for moving every entry between steps; the figure
here leaves that out, so it is a lower bound of the old cost.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.pvalue import TaggedOutput  # noqa: E402

from schemas.dedup import DedupKey  # noqa: E402
from schemas.records import IndexEntry  # noqa: E402
from transforms.dedup import known, minhash  # noqa: E402
from transforms.dedup.index import (ReadIndex, _ReadEntriesFn, first_day,  # noqa: E402
                                    in_window, index_glob, read_entries)
from transforms.dedup.rules import meeting_keys  # noqa: E402
from transforms.sink.accounting import plan_run_commit  # noqa: E402
from transforms.sink.commit import commit  # noqa: E402
from transforms.sink.write import _WriteTableFn  # noqa: E402

DAY_US = 86_400_000_000
NOW_US = 1_796_000_000_000_000  # early December 2026
RUNS = 10
TARGET_S = 10.0


def _shingles(rand: random.Random, text_length: int) -> bytes:
    hashes = np.unique(np.frombuffer(rand.randbytes(4 * (text_length // 6)), dtype="<u4"))
    return hashes.astype("<u4").tobytes()


def build_index(output: str, entries: int, seed: int = 20, shingles: bool = True
                ) -> List[IndexEntry]:
    """`entries` index rows of RUNS earlier runs, written and committed as a run does.

    Returns a sample of the signed rows (one in 50) for the new run to meet."""
    rand = random.Random(seed)
    per_run = -(-entries // RUNS)
    sample = []
    made = 0
    for run in range(RUNS):
        run_id = f"earlier-{run:02d}"
        ingested_at = NOW_US - (RUNS - run) * DAY_US
        writer = _WriteTableFn("index", output, run_id, rows_per_group=10_000)
        writer.start_bundle()
        for i in range(made, min(entries, made + per_run)):
            signed = i % 5 != 0
            page = i if signed else i - 1  # a duplicate is another version of the page before
            entry = IndexEntry(
                f"a{i:08d}", f"a{i:08d}" if signed else f"a{i - 1:08d}", f"c{i:08d}",
                f"news{page % 997}.example.com/story/{page}",
                f"{rand.getrandbits(128):032x}",
                os.urandom(minhash.SIGNATURE_BYTES) if signed else None,
                minhash.ALGORITHM_VERSION, i % 3 == 0, 0, ingested_at - 3_600_000_000,
                1500 + i % 2000, run_id, ingested_at, f"{rand.getrandbits(64):016x}",
                f"News {i % 997} (news{i % 997}.example.com)",
                _shingles(rand, 1500 + i % 2000) if signed and shingles else None)
            writer.process(entry)
            if i % 50 == 4:  # signed, and the next row is a version of its page
                sample.append(entry)
        written = list(writer.finish_bundle())
        commit(output, plan_run_commit(output, run_id, ingested_at, {},  # as a run commits
                                       [w.value for w in written], []))
        made += per_run
    return sample


def new_keys(sample: List[IndexEntry], count: int, seed: int = 21) -> List[DedupKey]:
    """The run's keys: a tenth meet the index by URL, content or bands, the rest are new."""
    rand = random.Random(seed)
    keys = []
    width = minhash.lsh_parameters().rows
    for n in range(count):
        old = rand.choice(sample)
        url, content, signature = f"new.example.org/{n}", f"{rand.getrandbits(128):032x}", \
            os.urandom(minhash.SIGNATURE_BYTES)
        kind = n % 30
        if kind == 0:
            url = old.url_key
        elif kind == 1:
            content = old.content_hash
        elif kind == 2 and old.signature is not None:
            start = rand.randrange(minhash.lsh_parameters().bands) * width * 4
            signature = (signature[:start] + old.signature[start:start + width * 4]
                         + signature[start + width * 4:])
        keys.append(DedupKey(f"new{n}", url, content, signature, False, 0, None, 2000, False,
                             f"new{n}", f"new{n}", None, None))
    return keys


def _old_meeting_keys(key: DedupKey, params=None) -> Iterable[str]:
    """`meeting_keys` as it was: bands named by `minhash.band_keys` (xxh3 per band)."""
    if key.url_key is not None:
        yield "u" + key.url_key
    yield f"c{key.content_hash}"
    if key.signature is not None:
        for band in minhash.band_keys(key.signature, params):
            yield "b" + band


def side_input(keys: List[DedupKey], keys_of, bundle: int = 1000) -> List[List[str]]:
    """The run's keys as `KeysPerBundleFn` hands them over: one list a bundle."""
    return [sorted({k for key in keys[i:i + bundle] for k in keys_of(key)})
            for i in range(0, len(keys), bundle)]


def _split(outputs) -> Tuple[list, list]:
    return ([o for o in outputs if not isinstance(o, TaggedOutput)],
            [o.value for o in outputs if isinstance(o, TaggedOutput)])


def per_entry(files: List[str], keys: List[DedupKey], params) -> Tuple[float, list, list]:
    """The old way; returns its seconds (side input excluded) and what it found."""
    known.meeting_keys = _old_meeting_keys
    try:
        lists = side_input(keys, lambda k: _old_meeting_keys(k, params))
        read = _ReadEntriesFn(NOW_US, "bench")
        first_fn, again_fn = known.MeetingKnownFn(params), known.SameUrlKnownFn(params)
        first_fn.setup()
        again_fn.setup()
        started = time.perf_counter()
        first, urls = [], []
        for path in files:
            for entry in read.process(path):
                found, tagged = _split(list(first_fn.process(entry, lists)))
                first += found
                urls += tagged
        again = [key for path in files for entry in read.process(path)
                 for key in again_fn.process(entry, lists, urls)]
        return time.perf_counter() - started, first, again
    finally:
        known.meeting_keys = meeting_keys


def in_arrow(files: List[str], keys: List[DedupKey], params) -> Tuple[float, list, list]:
    """The new way; returns its seconds (side input excluded) and what it found."""
    lists = side_input(keys, lambda k: meeting_keys(k, params))
    reader = ReadIndex("unused", "this-run", NOW_US, 30, before=NOW_US)
    first_fn, again_fn = reader.meeting_new(params), reader.of_their_urls(params)
    first_fn.setup()
    again_fn.setup()
    started = time.perf_counter()
    first, urls = [], []
    for path in files:
        found, tagged = _split(list(first_fn.process(path, lists)))
        first += found
        urls += tagged
    again = [key for path in files for key in again_fn.process(path, lists, urls)]
    return time.perf_counter() - started, first, again


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--keep", help="Build the index here, or reuse the one built there.")
    parser.add_argument("--skip_old", action="store_true", help="Time the Arrow way only.")
    parser.add_argument("--no_shingles", action="store_true",
                        help="Rows without shingles, as minhash-v4 wrote them.")
    args = parser.parse_args(argv)
    work = args.keep or tempfile.mkdtemp(prefix="newsbeam-index-")
    params = minhash.lsh_parameters()
    try:
        started = time.perf_counter()
        marker = Path(work) / f"sample-{args.entries}.txt"
        sample = (build_index(work, args.entries, shingles=not args.no_shingles)
                  if not marker.exists() else None)
        if sample is None:  # reused: the sample is one row in 50, read back
            sample = [e for path in sorted(m.path for m in FileSystems.match(
                [index_glob(work)])[0].metadata_list)
                for e in list(read_entries(path))[4::50]]
        elif args.keep:
            marker.write_text("built\n")
        print(f"index: {args.entries:,} entries in {RUNS} runs, "
              f"{time.perf_counter() - started:.1f} s to build or find", flush=True)
        window = first_day(NOW_US, 30)
        files = sorted(m.path for m in FileSystems.match([index_glob(work)])[0].metadata_list
                       if in_window(m.path, "this-run", window))
        size = sum(os.path.getsize(f) for f in files) / 2 ** 20
        print(f"  {len(files)} files, {size:.0f} MB "
              f"({'without' if args.no_shingles else 'with'} shingles)", flush=True)
        keys = new_keys(sample, args.new)
        new_s, new_first, new_again = in_arrow(files, keys, params)
        print(f"in Arrow:  {new_s:7.2f} s  ({len(new_first)} entries meet the run, "
              f"{sum(k.shingles is not None for k in new_first)} of them with shingles, "
              f"{len(new_again)} more by their URL keys)", flush=True)
        if args.skip_old:
            return 0 if new_s < TARGET_S else 1
        old_s, old_first, old_again = per_entry(files, keys, params)
        print(f"per entry: {old_s:7.2f} s  ({len(old_first)} entries meet the run, "
              f"{len(old_again)} more by their URL keys)", flush=True)
        same = (sorted(k.article_id for k in old_first) == sorted(k.article_id for k in new_first)
                and sorted(old_again) == sorted(new_again))
        print()
        print(f"| {args.new:,} new articles against {args.entries:,} index entries "
              "| seconds reading and matching the index |")
        print("| --- | --- |")
        print(f"| per entry (before) | {old_s:.2f} |")
        print(f"| in Arrow (now) | {new_s:.2f} |")
        print(f"speed-up x{old_s / new_s:.1f}; same entries found both ways: {same}; "
              f"target under {TARGET_S:.0f} s: {'PASS' if new_s < TARGET_S else 'FAIL'}")
        return 0 if same and new_s < TARGET_S else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
