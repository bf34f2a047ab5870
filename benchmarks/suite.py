"""The benchmark suite behind ``make bench``: newsbeam against its references, side by side.

Workloads (generated from ../shared/data into a temporary folder, never committed):

- W1 HTML: the ScrapingHub pages and the WARC files' HTML responses, repeated
  with variations (`workloads.write_html_warcs`) into WARC.gz files.
  newsbeam end to end (``python -m pipelines.ingest``: extraction, language,
  tags, keywords, URL/exact/near dedup, Parquet) with P local worker
  processes, against the bare loop ``trafilatura.extract(html,
  with_metadata=True)`` in P processes and datatrove's pipeline with P tasks
  (`datatrove_job.py`: WarcReader -> Trafilatura -> exact and MinHash dedup ->
  ParquetWriter). newsbeam also runs with 1 worker, for the 1 -> P scaling.
- W2 text dumps: plain-text page dumps of real sentences
  (`workloads.write_text_dumps`), newsbeam end to end in one process; run
  at a quarter of the size too, to see how time and memory grow.
- W3 feeds: `bench_feeds.py` (newsbeam's polite concurrent fetch against a
  sequential loop), its figures read from its output.
- W4 dedup only over the W2 bodies: newsbeam's signatures and clustering
  (`dedup_only.py`) against datatrove's exact and MinHash stages
  (`datatrove_job.py --jsonl`), one process each.

Every run is its own process tree, measured by `measure.run_measured`: wall
clock of the whole process (start-up and writing included) and the peak of
the summed RSS of the tree. datatrove comes from PyPI into its own
environment, ``benchmarks/.venv-datatrove``, made on first use (no
dependency of newsbeam). Run from the repository root::

    .venv/bin/python benchmarks/suite.py [--scale full|small] [--only W1,W2,W3,W4]
    make bench                # full: W1 20,000 documents, W2 100,000 articles, W3 200 feeds
    make bench SCALE=small    # W1 1,000 documents, W2 10,000 articles, W3 40 feeds

The table is printed and written to ``benchmarks/results/suite.json``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from measure import Measured, run_measured  # noqa: E402
import workloads  # noqa: E402

RESULTS = HERE / "results" / "suite.json"
DATATROVE_VENV = HERE / ".venv-datatrove"
# What the datatrove environment gets from PyPI: the release measured, its
# WARC reader's extras, its tokenizer module (imported by the dedup package)
# trafilatura with the cleaner lxml 6 needs, and xxhash 3 (xxhash 4 refuses
# the str that datatrove 0.10's MinHash hashes).
DATATROVE_PACKAGES = ("datatrove[io]==0.10.1", "trafilatura==2.3.1", "lxml_html_clean",
                      "tokenizers", "orjson", "pyarrow", "xxhash<4")
SCALES = {"full": {"w1_docs": 20_000, "w2_articles": 100_000, "w3_feeds": 200, "w3_entries": 20},
          "small": {"w1_docs": 1_000, "w2_articles": 10_000, "w3_feeds": 40, "w3_entries": 10}}
GIB = 2 ** 30

# Targets of issue 10.
W1_VS_BARE = 0.85
W1_VS_DATATROVE = 1.5
SCALING_1_TO_2 = 1.7
W2_PER_CORE = 2000
W2_MAX_BYTES = 4 * GIB


def mb(n_bytes: int) -> float:
    return round(n_bytes / 2 ** 20, 1)


def figures(measured: Measured, docs: int) -> dict:
    cpu = measured.tree_cpu_s  # every process of the tree, a forkserver's workers too
    return {"docs": docs, "wall_s": round(measured.wall_s, 2), "cpu_s": round(cpu, 2),
            "docs_per_s": round(docs / measured.wall_s, 2) if measured.wall_s else None,
            "docs_per_cpu_s": round(docs / cpu, 2) if cpu else None,
            "peak_mb": mb(measured.peak_rss_bytes)}


def checked(what: str, measured: Measured) -> Measured:
    if measured.returncode != 0:
        tail = "\n".join(measured.stderr.strip().splitlines()[-25:])
        raise SystemExit(f"{what} failed (exit code {measured.returncode}):\n{tail}")
    return measured


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- runs ----------------------------------------------------------------------------

def newsbeam_run(pattern: str, out: Path, workers: int) -> Measured:
    command = [sys.executable, "-m", "pipelines.ingest", "--input", pattern,
               "--output", str(out), "--runner", "DirectRunner", "--dedup_window_days", "0",
               "--run_id", "bench"]
    if workers > 1:
        command += ["--direct_num_workers", str(workers),
                    "--direct_running_mode", "multi_processing"]
    return checked(f"newsbeam ({workers} workers)", run_measured(command, REPO))


def manifest_totals(out: Path) -> dict:
    manifest = json.loads((out / "_runs" / "bench.json").read_text(encoding="utf-8"))
    return {**manifest["totals"], "duplicates_by_type": manifest.get("duplicates_by_type", {}),
            "rejects_by_reason": manifest.get("rejects_by_reason", {})}


def bare_loop(folder: Path, processes: int) -> Measured:
    command = [sys.executable, str(HERE / "bare_loop.py"), str(processes)] + sorted(
        str(p) for p in folder.glob("*.warc.gz"))
    return checked("the bare trafilatura loop", run_measured(command, REPO))


def ensure_datatrove() -> Optional[Path]:
    """The datatrove environment's interpreter, made with pip on first use; None
    (and a message) when PyPI cannot be reached."""
    python = DATATROVE_VENV / "bin" / "python"
    stamp = DATATROVE_VENV / ".installed"
    if stamp.is_file() and stamp.read_text().strip() == " ".join(DATATROVE_PACKAGES):
        return python
    log(f"making {DATATROVE_VENV.relative_to(REPO)} (datatrove from PyPI) ...")
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(DATATROVE_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *DATATROVE_PACKAGES],
                       check=True)
    except subprocess.CalledProcessError as error:
        log(f"datatrove could not be installed ({error}); its column stays empty")
        return None
    stamp.write_text(" ".join(DATATROVE_PACKAGES))
    return python


def datatrove_run(python: Path, source: Path, work: Path, tasks: int, jsonl: bool) -> Measured:
    command = [str(python), str(HERE / "datatrove_job.py"), str(source), str(work), str(tasks)]
    if jsonl:
        command.append("--jsonl")
    return checked("datatrove", run_measured(command, work.parent))


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


# --- workloads -----------------------------------------------------------------------

def run_w1(tmp: Path, docs: int, processes: int, datatrove: Optional[Path]) -> dict:
    inputs = tmp / "w1"
    log(f"W1: writing {docs} HTML documents as WARC.gz ...")
    made = workloads.write_html_warcs(inputs, docs, files=max(8, 2 * processes))
    pattern = str(inputs / "*.warc.gz")
    result = {"input": made, "processes": processes}
    log(f"W1: newsbeam, {processes} workers ...")
    out = tmp / "w1-out-p"
    result["newsbeam"] = figures(newsbeam_run(pattern, out, processes), docs)
    result["newsbeam"]["totals"] = manifest_totals(out)
    shutil.rmtree(out)
    if processes > 1:
        log("W1: newsbeam, 1 worker ...")
        out = tmp / "w1-out-1"
        result["newsbeam_1"] = figures(newsbeam_run(pattern, out, 1), docs)
        shutil.rmtree(out)
    log(f"W1: bare trafilatura loop, {processes} processes ...")
    result["bare"] = figures(bare_loop(inputs, processes), docs)
    if datatrove is not None:
        log(f"W1: datatrove, {processes} tasks ...")
        measured = datatrove_run(datatrove, inputs, tmp / "w1-datatrove", processes, False)
        result["datatrove"] = figures(measured, docs)
        result["datatrove"]["rows_written"] = last_json(measured.stdout).get("rows_written")
        shutil.rmtree(tmp / "w1-datatrove", ignore_errors=True)
    shutil.rmtree(inputs)
    return result


def run_w2(tmp: Path, articles: int) -> dict:
    result: dict = {"runs": {}}
    for size in (articles // 4, articles):
        inputs = tmp / f"w2-{size}"
        log(f"W2: writing {size} articles as text dumps ...")
        made = workloads.write_text_dumps(inputs, size)
        log(f"W2: newsbeam on {size} articles, 1 process ...")
        out = tmp / f"w2-out-{size}"
        measured = newsbeam_run(str(inputs / "*.txt"), out, 1)
        totals = manifest_totals(out)
        # The inputs the dump reader found (a generated article whose title
        # line reads as boilerplate stays part of the one before it).
        run = figures(measured, totals["inputs"])
        run["input"] = made
        run["totals"] = totals
        result["runs"][str(size)] = run
        shutil.rmtree(out)
        if size != articles:
            shutil.rmtree(inputs)
    result["articles"] = articles
    return result


def run_w4(tmp: Path, articles: int, datatrove: Optional[Path]) -> dict:
    dumps = tmp / f"w2-{articles}"
    bodies = tmp / "w4"
    bodies.mkdir(exist_ok=True)
    log("W4: the W2 bodies as JSONL (newsbeam's dump cleaner) ...")
    subprocess.run([sys.executable, str(HERE / "dedup_only.py"), "--bodies", str(dumps),
                    str(bodies / "bodies.jsonl")], cwd=REPO, check=True)
    count = sum(1 for _ in (bodies / "bodies.jsonl").open(encoding="utf-8"))
    log(f"W4: newsbeam dedup only on {count} bodies ...")
    measured = checked("newsbeam dedup only", run_measured(
        [sys.executable, str(HERE / "dedup_only.py"), str(bodies / "bodies.jsonl")], REPO))
    result = {"docs": count, "newsbeam": figures(measured, count)}
    result["newsbeam"]["outcome"] = last_json(measured.stdout)
    if datatrove is not None:
        log("W4: datatrove exact and MinHash dedup, 1 task ...")
        measured = datatrove_run(datatrove, bodies, tmp / "w4-datatrove", 1, True)
        result["datatrove"] = figures(measured, count)
        result["datatrove"]["rows_written"] = last_json(measured.stdout).get("rows_written")
    return result


def run_w3(feeds: int, entries: int) -> dict:
    log(f"W3: the feed benchmark, {feeds} feeds of {entries} entries ...")
    measured = checked("bench_feeds", run_measured(
        [sys.executable, str(HERE / "bench_feeds.py"), "--feeds", str(feeds),
         "--entries", str(entries)], REPO))
    text = measured.stdout
    newsbeam = re.search(r"wall time: ([\d.]+) s \((\d+) requests", text)
    sequential = re.findall(r"wall time: ([\d.]+) s", text)
    gap = re.search(r"one host \(newsbeam run\): (\d+) ms; configured minimum delay (\d+) ms "
                    r"\((\w+)\)", text)
    requests = int(newsbeam.group(2)) if newsbeam else 0
    result = {"requests": requests, "output": text.strip().splitlines()}
    if newsbeam and len(sequential) >= 2:
        result["newsbeam_s"] = float(newsbeam.group(1))
        result["sequential_s"] = float(sequential[1])
    if gap:
        result["politeness"] = gap.group(3)
    result["peak_mb"] = mb(measured.peak_rss_bytes)
    return result


# --- the table -----------------------------------------------------------------------

def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 2) if a and b else None


def verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def table(result: dict) -> str:
    rows: List[Sequence] = []
    targets: List[str] = []
    processes = result["processes"]
    w1 = result.get("W1")
    if w1:
        nb, bare, dt = w1["newsbeam"], w1["bare"], w1.get("datatrove")
        rows.append((f"W1 HTML, {nb['docs']} docs, {processes} proc", nb["docs_per_s"],
                     "bare trafilatura loop", bare["docs_per_s"],
                     ratio(nb["docs_per_s"], bare["docs_per_s"]), nb["peak_mb"],
                     bare["peak_mb"], nb["docs_per_cpu_s"], bare["docs_per_cpu_s"]))
        if dt:
            rows.append((f"  (datatrove wrote {dt.get('rows_written')} rows, newsbeam "
                         f"{nb['totals'].get('articles')})", nb["docs_per_s"], "datatrove 0.10.1",
                         dt["docs_per_s"],
                         ratio(nb["docs_per_s"], dt["docs_per_s"]), nb["peak_mb"],
                         dt["peak_mb"], nb["docs_per_cpu_s"], dt["docs_per_cpu_s"]))
        if "newsbeam_1" in w1:
            one = w1["newsbeam_1"]
            rows.append((f"W1 newsbeam {processes} vs 1 worker", nb["docs_per_s"],
                         "newsbeam 1 worker", one["docs_per_s"],
                         ratio(nb["docs_per_s"], one["docs_per_s"]), nb["peak_mb"],
                         one["peak_mb"], nb["docs_per_cpu_s"], one["docs_per_cpu_s"]))
        got = ratio(nb["docs_per_s"], bare["docs_per_s"])
        targets.append(f"W1 newsbeam >= {W1_VS_BARE}x the bare loop: {got}x -> "
                       f"{verdict(got is not None and got >= W1_VS_BARE)}")
        got = ratio(nb["docs_per_s"], dt["docs_per_s"]) if dt else None
        targets.append(f"W1 newsbeam >= {W1_VS_DATATROVE}x datatrove: "
                       + (f"{got}x -> {verdict(got >= W1_VS_DATATROVE)}" if got is not None
                          else "datatrove not run -> n/a"))
        if "newsbeam_1" in w1:
            got = ratio(nb["docs_per_s"], w1["newsbeam_1"]["docs_per_s"])
            targets.append(f"W1 1 -> {processes} local workers >= {SCALING_1_TO_2}x: {got}x -> "
                           f"{verdict(got >= SCALING_1_TO_2)}")
    w2 = result.get("W2")
    if w2:
        sizes = sorted(w2["runs"], key=int)
        for size in sizes:
            run = w2["runs"][size]
            rows.append((f"W2 text dumps, {size} articles, 1 proc", run["docs_per_s"], "-",
                         None, None, run["peak_mb"], None, run["docs_per_cpu_s"], None))
        full = w2["runs"][sizes[-1]]
        # Per core: articles per CPU second of the process tree (a busy shared
        # machine slows the wall clock, less the CPU time); the wall rate beside it.
        targets.append(f"W2 >= {W2_PER_CORE} articles/s per core end to end: "
                       f"{full['docs_per_cpu_s']} per CPU second ({full['docs_per_s']} per "
                       f"wall second) -> {verdict(full['docs_per_cpu_s'] >= W2_PER_CORE)}")
        small = w2["runs"][sizes[0]]
        growth = full["peak_mb"] / small["peak_mb"]
        size_growth = int(sizes[-1]) / int(sizes[0])
        targets.append(f"W2 peak memory at most linear: x{growth:.2f} for x{size_growth:.0f} "
                       f"the articles -> {verdict(growth <= size_growth)}")
        if int(sizes[-1]) >= 100_000:
            targets.append(f"W2 {sizes[-1]} articles under 4 GiB: {full['peak_mb']} MB -> "
                           f"{verdict(full['peak_mb'] * 2 ** 20 < W2_MAX_BYTES)}")
        else:
            targets.append(f"W2 100k articles under 4 GiB: n/a at {sizes[-1]} articles "
                           f"({full['peak_mb']} MB)")
    w3 = result.get("W3")
    if w3 and "newsbeam_s" in w3:
        nb_rate = round(w3["requests"] / w3["newsbeam_s"], 1)
        seq_rate = round(w3["requests"] / w3["sequential_s"], 1)
        rows.append((f"W3 feeds, {w3['requests']} requests", nb_rate, "sequential loop",
                     seq_rate, ratio(nb_rate, seq_rate), w3["peak_mb"], None, None, None))
        targets.append(f"W3 politeness (min delay per host): {w3.get('politeness', 'n/a')}")
    w4 = result.get("W4")
    if w4:
        nb, dt = w4["newsbeam"], w4.get("datatrove")
        rows.append((f"W4 dedup only, {w4['docs']} bodies, 1 proc", nb["docs_per_s"],
                     "datatrove exact+MinHash" if dt else "-", dt and dt["docs_per_s"],
                     ratio(nb["docs_per_s"], dt and dt["docs_per_s"]), nb["peak_mb"],
                     dt and dt["peak_mb"], nb["docs_per_cpu_s"], dt and dt["docs_per_cpu_s"]))
    header = ("workload", "newsbeam docs/s", "reference", "ref docs/s", "ratio",
              "newsbeam peak MB", "ref peak MB", "newsbeam docs/CPU-s", "ref docs/CPU-s")
    cells = [[("-" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(header)]

    def line(values):
        return "  ".join(v.ljust(w) if i in (0, 2) else v.rjust(w)
                         for i, (v, w) in enumerate(zip(values, widths)))
    lines = [f"newsbeam benchmark suite, scale {result['scale']}, {result['host']['cpus']} cores "
             f"({processes} processes for the multi-process runs), "
             f"load before {result['host']['load_before']}",
             line(header), line(["-" * w for w in widths])] + [line(r) for r in cells]
    lines += ["(docs/s: wall clock of the whole process tree, start-up included; docs/CPU-s: "
              "per CPU second of the tree, what a busy shared machine disturbs least; W3 counts "
              "requests)", "", "targets:"] + [f"  {t}" for t in targets]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--only", default="W1,W2,W3,W4",
                        help="Comma-separated workloads to run (W4 needs W2).")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="Processes of the multi-process runs (default: the cores).")
    parser.add_argument("--w1_docs", type=int, help="Override the scale's W1 documents.")
    parser.add_argument("--w2_articles", type=int, help="Override the scale's W2 articles.")
    parser.add_argument("--no_datatrove", action="store_true",
                        help="Skip the datatrove reference (no PyPI access).")
    args = parser.parse_args(argv)
    chosen = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    sizes = dict(SCALES[args.scale])
    sizes["w1_docs"] = args.w1_docs or sizes["w1_docs"]
    sizes["w2_articles"] = args.w2_articles or sizes["w2_articles"]
    missing = [p for p in (workloads.PAGES_DIR, workloads.LINGUA) if not p.exists()]
    if missing:
        print(f"suite: skipped, the shared data is not there ({', '.join(map(str, missing))})")
        return 0
    result: dict = {
        "measured_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "scale": args.scale, "sizes": sizes, "processes": args.processes,
        "host": {"python": platform.python_version(), "platform": platform.platform(),
                 "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()]},
    }
    datatrove = None if args.no_datatrove or not chosen & {"W1", "W4"} else ensure_datatrove()
    with tempfile.TemporaryDirectory(prefix="newsbeam-suite-") as name:
        tmp = Path(name)
        if "W1" in chosen:
            result["W1"] = run_w1(tmp, sizes["w1_docs"], args.processes, datatrove)
        if "W2" in chosen or "W4" in chosen:
            result["W2"] = run_w2(tmp, sizes["w2_articles"])
        if "W4" in chosen:
            result["W4"] = run_w4(tmp, sizes["w2_articles"], datatrove)
    if "W3" in chosen:
        result["W3"] = run_w3(sizes["w3_feeds"], sizes["w3_entries"])
    result["host"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    printed = table(result)
    print(printed)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({**result, "table": printed}, indent=2) + "\n",
                       encoding="utf-8")
    print(f"figures written to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
