"""Time to write the run report of a 100k-article output folder (target: under 30 s).

Builds the folder directly, without running the pipeline: Parquet files of
the project's own schemas (`schemas.tables.TABLES`), named and partitioned as
the writer names them (``articles/dt=/lang=/part-<run>-<NNNNN>.parquet``,
zstd, row groups of `ROWS_PER_GROUP`), bodies of about 2 KB, and for each
run a manifest whose counts match its files, plus a feed state. By default
10 runs of 10,000 articles from 60 sources (40 feeds, 20 files) in 8
languages, with 10% duplicates and 5% rejects besides.

Then it runs ``python -m pipelines.report --output DIR`` in a subprocess and
prints its wall clock (start-up and imports included), CPU time and the peak
memory of the process, and, measured in this process, how the time splits
between reading manifests, reading Parquet, aggregating and drawing.

Run from the repository root (Linux: it reads /proc)::

    .venv/bin/python benchmarks/bench_report.py [--articles 100000] [--runs 10] [--keep DIR]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.measure import require_success, run_measured  # noqa: E402
from pipelines.report import build_report  # noqa: E402
from schemas.tables import TABLES  # noqa: E402
from transforms.sink.accounting import manifest_path  # noqa: E402
from transforms.core.paths import write_json
from transforms.sink.write import ROWS_PER_GROUP, final_name

LANGUAGES = ["en", "ar", "fr", "de", "es", "ru", "zh", "und"]
DUP_TYPES = ["url", "exact", "near"]
REJECT_REASONS = [("extract", "too_short"), ("extract", "no_article_text"),
                  ("fetch", "timeout"), ("fetch", "http_status"), ("read", "invalid_json")]
TARGET_S = 30.0


def _bodies(rng: np.random.Generator, n: int) -> pa.Array:
    """About 2 KB of text each: 300 words drawn from 3,000 made-up ones, so the
    files compress about as news does (the report never reads this column)."""
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocabulary = np.array(["".join(rng.choice(letters, rng.integers(2, 10)))
                           for _ in range(3000)])
    return pa.array([" ".join(row) for row in vocabulary[rng.integers(0, 3000, (n, 300))]],
                    pa.string())


def _write(table_name: str, output: Path, partition: str, run_id: str, columns: dict,
           n: int) -> str:
    schema = TABLES[table_name].schema
    arrays = []
    for field in schema:
        if field.name in columns:
            arrays.append(pa.array(columns[field.name], field.type)
                          if not isinstance(columns[field.name], pa.Array)
                          else columns[field.name].cast(field.type))
        elif pa.types.is_list(field.type):
            arrays.append(pa.array([[]] * n, field.type))
        else:
            arrays.append(pa.nulls(n, field.type))
    path = output / TABLES[table_name].folder / partition / final_name(run_id, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path, compression="zstd",
                   row_group_size=ROWS_PER_GROUP)
    return str(path)


def build_folder(output: Path, articles: int, runs: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    sources = ([f"https://news{i}.example/feed.xml" for i in range(40)]
               + [f"gs://dumps/site{i}/articles.jsonl" for i in range(20)])
    per_run = articles // runs
    feed_polls = {}
    for r in range(runs):
        run_id = f"2026-01-{r + 1:02d}"
        started = f"{run_id}T03:00:00+00:00"
        ingested = np.datetime64(f"{run_id}T03:00:00", "us")
        source_idx = rng.integers(0, len(sources), per_run)
        if r == runs - 1:  # one source's extractor breaks in the last run
            source_idx[source_idx == 41] = 40
        lang_idx = rng.integers(0, len(LANGUAGES), per_run)
        lengths = rng.integers(400, 6000, per_run)
        counts = defaultdict(Counter)
        files = defaultdict(list)
        bodies = _bodies(rng, per_run)
        for lang_i, lang in enumerate(LANGUAGES):
            mask = lang_idx == lang_i
            n = int(mask.sum())
            ids = [f"{run_id}-{i}" for i in np.flatnonzero(mask)]
            uris = [sources[i] for i in source_idx[mask]]
            files["articles"].append(_write("articles", output, f"dt={run_id}/lang={lang}",
                                            run_id, {
                "article_id": ids, "url": [f"https://x.example/{i}" for i in ids],
                "text": bodies.filter(pa.array(mask)), "language": [lang] * n,
                "language_score": [0.99] * n, "content_hash": ids, "cluster_id": ids,
                "text_length": lengths[mask], "source_kind": ["feed"] * n,
                "source_uri": uris, "source_position": ["entry:1"] * n,
                "extraction_method": ["trafilatura"] * n, "run_id": [run_id] * n,
                "ingested_at": pa.array(np.full(n, ingested))}, n))
            for uri in uris:
                counts[uri]["articles"] += 1
        n_dup = per_run // 10
        dup_src = [sources[i] for i in rng.integers(0, len(sources), n_dup)]
        dup_type = [DUP_TYPES[i] for i in rng.integers(0, 3, n_dup)]
        files["duplicates"].append(_write("duplicates", output, f"dt={run_id}", run_id, {
            "doc_id": [f"{run_id}-d{i}" for i in range(n_dup)], "dup_type": dup_type,
            "similarity": [1.0] * n_dup, "source_kind": ["feed"] * n_dup,
            "source_uri": dup_src, "source_position": ["entry:2"] * n_dup,
            "run_id": [run_id] * n_dup, "ingested_at": pa.array(np.full(n_dup, ingested))},
            n_dup))
        n_rej = per_run // 20
        rej_src = [sources[i] for i in rng.integers(0, len(sources), n_rej)]
        if r == runs - 1:
            rej_src += [sources[41]] * 400
        n_rej = len(rej_src)
        reasons = [REJECT_REASONS[i] for i in rng.integers(0, len(REJECT_REASONS), n_rej)]
        if r == runs - 1:
            reasons[-400:] = [("extract", "no_article_text")] * 400
        messages = [f"{reason}: detail {i % 7}" for i, (_, reason) in enumerate(reasons)]
        files["rejects"].append(_write("rejects", output, f"dt={run_id}", run_id, {
            "doc_id": [f"{run_id}-r{i}" for i in range(n_rej)],
            "stage": [s for s, _ in reasons], "reason": [x for _, x in reasons],
            "message": messages, "source_kind": ["feed"] * n_rej, "source_uri": rej_src,
            "source_position": ["entry:3"] * n_rej, "run_id": [run_id] * n_rej,
            "ingested_at": pa.array(np.full(n_rej, ingested))}, n_rej))
        for uri in dup_src:
            counts[uri]["duplicates"] += 1
        for uri in rej_src:
            counts[uri]["rejects"] += 1
        by_source = {}
        for uri in sorted(counts):
            c = counts[uri]
            c["inputs"] = c["articles"] + c["duplicates"] + c["rejects"]
            by_source[uri] = {k: c[k] for k in ("inputs", "articles", "duplicates", "rejects",
                                                "skipped")}
        totals = {k: sum(c[k] for c in by_source.values())
                  for k in ("inputs", "articles", "duplicates", "rejects", "skipped")}
        polls = {s: ("failed" if s == sources[3] and r >= runs - 3 else
                     "not_modified" if r % 2 else "fetched") for s in sources[:40]}
        feed_polls[run_id] = polls
        write_json(manifest_path(str(output), run_id), {
            "run_id": run_id, "status": "succeeded", "started_at": started,
            "finished_at": started, "wall_seconds": float(60 + rng.integers(0, 30)),
            "totals": totals, "by_source": by_source,
            "articles_by_language": dict(Counter(LANGUAGES[i] for i in lang_idx)),
            "duplicates_by_type": dict(Counter(dup_type)),
            "rejects_by_reason": dict(Counter(f"{s}/{x}" for s, x in reasons)),
            "files": {k: v for k, v in files.items()},
            "feed_state": {"feeds_polled": 40, "polls_by_status": dict(Counter(polls.values())),
                           "conditional_polls": 40 if r else 0,
                           "not_modified": sum(v == "not_modified" for v in polls.values()),
                           "poll_status_by_feed": polls}})
    states = {}
    for s in sources[:40]:
        statuses = [feed_polls[run][s] for run in sorted(feed_polls)]
        failed_tail = 0  # failed polls at the end, in a row
        while failed_tail < len(statuses) and statuses[-1 - failed_tail] == "failed":
            failed_tail += 1
        states[s] = {"last_status": statuses[-1], "last_poll": "2026-01-10T03:00:00+00:00",
                     "last_success": "2026-01-07T03:00:00+00:00" if failed_tail else
                     "2026-01-10T03:00:00+00:00", "consecutive_failures": failed_tail,
                     "poll_counts": dict(Counter(statuses), conditional=len(statuses) - 1),
                     "seen": [], "failures": {}}
    write_json(str(output / "_state" / "feeds.json"), {"version": 1, "feeds": states})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", default=None, help="build the folder here and keep it")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        started = time.perf_counter()
        build_folder(folder, args.articles, args.runs)
        size = sum(p.stat().st_size for p in folder.rglob("*.parquet"))
        print(f"output folder: {args.articles:,} articles in {args.runs} runs, "
              f"{size / 1e6:.0f} MB of Parquet, built in {time.perf_counter() - started:.1f} s")
        measured = run_measured([sys.executable, "-m", "pipelines.report", "--output",
                                 str(folder), "--runs", str(args.runs)], REPO)
        require_success("newsbeam report", measured)
        report_path = measured.stdout.strip().split("report: ", 1)[-1]
        print(f"newsbeam report (subprocess, start-up included): {measured.wall_s:.1f} s wall, "
              f"{measured.cpu_s:.1f} s CPU, peak RSS {measured.peak_rss_bytes / 2**20:.0f} MB, "
              f"page {Path(report_path).stat().st_size / 1e3:.0f} KB "
              f"(target: under {TARGET_S:.0f} s: {'met' if measured.wall_s < TARGET_S else 'MISSED'})")
        clock = time.perf_counter()
        build_report(str(folder), args.runs)
        print(f"in process, warm: build_report {time.perf_counter() - clock:.2f} s")
        if measured.wall_s >= TARGET_S:
            sys.exit(1)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
