"""Peak memory and throughput of a large local run, in bounded slices.

Writes ``--docs`` short synthetic articles (default 1,000,000; 300-500
characters of English-like text each) as JSONL files of ``--docs-per-file``
articles, then runs ``python -m pipelines.ingest`` over them on the
DirectRunner (Beam's FnApiRunner) with ``--slice_files``, and prints the
wall clock, documents per second, the CPU time and the peak resident memory
of the whole process tree (sampled from /proc, see measure.py).

Every 20th article is an exact copy of an earlier one (another URL, the same
text) and every 20th, offset by 10, a near copy (two words changed), so the
dedup index has work across slices too; the rest are distinct. With
``--slice_files`` fixed, the peak memory should stay the same whatever
``--docs`` is: compare two sizes side by side, e.g.::

    python benchmarks/bench_scale.py --docs 20000 --docs 80000

Each size runs in its own output folder and process tree.

A run that was stopped (killed, or the machine needed back) is resumed the
way users resume one, with ``--since_last_run``: keep the folder with
``--work DIR`` and run again with ``--resume``; the slices that finished are
not read again (the resumed run is ``scale-resumed``; its wall clock and
memory are those of the resumed part), and the totals printed are those of
every slice of the workload::

    python benchmarks/bench_scale.py --work /tmp/scale --docs-per-file 25000
    python benchmarks/bench_scale.py --work /tmp/scale --docs-per-file 25000 --resume
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence

from measure import require_success, run_measured

REPO = Path(__file__).resolve().parents[1]

_WORDS = ("the council city school water market bridge report minister budget road train "
          "station hospital police court weather storm river harbour festival museum library "
          "farmers prices energy workers union election mayor district village coast island "
          "airport project plan vote week year month morning evening night people children "
          "teachers doctors residents officials company bank shares trade exports imports "
          "said announced reported opened closed raised cut approved rejected delayed began "
          "ended met visited promised warned expected after before during since while when "
          "new old local national regional public private small large early late first last "
          "and or but with without for from into over under about against between").split()


def article(rng: random.Random, number: int) -> dict:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(55, 85))]
    text = " ".join(words).capitalize() + "."
    return {"url": f"https://scale.example/{number}", "title": " ".join(words[:7]).title(),
            "text": text, "published": f"2026-11-{1 + number % 28:02d}T08:00:00Z",
            "source": "scale"}


def write_workload(folder: Path, docs: int, docs_per_file: int, seed: int = 7) -> int:
    """`docs` articles in JSONL files; returns the number of files."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    recent: List[dict] = []
    files = 0
    handle = None
    for number in range(docs):
        if number % docs_per_file == 0:
            if handle:
                handle.close()
            handle = (folder / f"part-{files:05d}.jsonl").open("w", encoding="utf-8")
            files += 1
        if recent and number % 20 == 0:
            row = dict(rng.choice(recent), url=f"https://scale.example/{number}")
        elif recent and number % 20 == 10:
            base = rng.choice(recent)
            words = base["text"].split()
            for _ in range(2):
                words[rng.randrange(len(words))] = rng.choice(_WORDS)
            row = dict(base, url=f"https://scale.example/{number}", text=" ".join(words))
        else:
            row = article(rng, number)
            recent = (recent + [row])[-1000:]
        handle.write(json.dumps(row) + "\n")
    if handle:
        handle.close()
    return files


def run_size(docs: int, args: argparse.Namespace, work: Path) -> dict:
    inputs, out = work / f"in-{docs}", work / f"out-{docs}"
    if args.resume:
        files = len(list(inputs.glob("*.jsonl")))
        if not files:
            raise SystemExit(f"--resume: no workload in {inputs}")
    else:
        files = write_workload(inputs, docs, args.docs_per_file)
    # Rerunning a run id replaces its files, so a resumed run is a new run id
    # that skips what the cursor says earlier runs read.
    run_id = "scale-resumed" if args.resume else "scale"
    command = [sys.executable, "-m", "pipelines.ingest", "--input", str(inputs / "*.jsonl"),
               "--output", str(out), "--run_id", run_id, "--slice_files",
               str(args.slice_files), "--runner", "DirectRunner"]
    if args.dedup_window_days is not None:  # 0: no index read, to see what it costs
        command += ["--dedup_window_days", str(args.dedup_window_days)]
    if args.resume:
        command += ["--since_last_run"]
    if args.workers > 1:
        command += ["--direct_num_workers", str(args.workers),
                    "--direct_running_mode", "multi_processing"]
    measured = run_measured(command, REPO)
    require_success("newsbeam", measured)
    manifest = json.loads((out / "_runs" / "slices" / f"{run_id}.json").read_text(encoding="utf-8"))
    # Totals of every slice of the workload, those of a stopped run included.
    totals: dict = {}
    for path in (out / "_runs").glob("scale-*.json"):
        for name, value in json.loads(path.read_text(encoding="utf-8"))["totals"].items():
            totals[name] = totals.get(name, 0) + value
    return {"docs": docs, "files": files, "slices": len(manifest["slices"]["runs"]),
            "wall_s": round(measured.wall_s, 1), "cpu_s": round(measured.cpu_s, 1),
            "docs_per_s": round(manifest["totals"]["inputs"] / measured.wall_s, 1),
            "peak_rss_mb": round(measured.peak_rss_bytes / 2**20),
            "totals": totals, "status": manifest["status"]}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, action="append",
                        help="articles to ingest; repeat to compare sizes (default 1000000)")
    parser.add_argument("--docs-per-file", type=int, default=10_000)
    parser.add_argument("--slice_files", type=int, default=2,
                        help="input files per slice (default 2, 20,000 articles)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dedup_window_days", type=int, default=None,
                        help="passed to newsbeam (0: no dedup against earlier slices)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the workload and output (kept); default a temporary one")
    parser.add_argument("--resume", action="store_true",
                        help="go on with a stopped run in --work: its workload, --since_last_run")
    args = parser.parse_args(argv)
    if args.resume and not args.work:
        parser.error("--resume needs --work, the folder of the stopped run")
    sizes = args.docs or [1_000_000]
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        args.keep = True
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    results = []
    try:
        for docs in sizes:
            result = run_size(docs, args, work)
            results.append(result)
            print(f"{result['docs']:>9} docs  {result['files']:>4} files  "
                  f"{result['slices']:>3} slices  {result['wall_s']:>8} s  "
                  f"{result['docs_per_s']:>7} docs/s  cpu {result['cpu_s']} s  "
                  f"peak RSS {result['peak_rss_mb']} MB  {result['status']}  "
                  f"{json.dumps(result['totals'])}", flush=True)
    finally:
        if not args.keep:
            import shutil
            shutil.rmtree(work, ignore_errors=True)
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(f"{last['docs'] / first['docs']:.1f}x the articles: peak RSS "
              f"{last['peak_rss_mb'] / first['peak_rss_mb']:.2f}x, "
              f"docs/s {last['docs_per_s'] / first['docs_per_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
