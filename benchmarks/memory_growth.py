"""Peak memory of one ingest run on W1 (HTML in WARC) or W2 (text dumps), for
side-by-side figures of a run and the same run grown (issue 20).

Why: the memory targets compare a run with one four times larger, on the
same code, and a fix is shown against the code before it. Run it once per
size and per checkout (REPO: the checkout whose code runs; the workload is
written once under WORK and reused)::

    python benchmarks/memory_growth.py REPO w1|w2 DOCS WORKERS [--work DIR] [ingest options]
    python benchmarks/memory_growth.py . w1 2000 1 && python benchmarks/memory_growth.py . w1 8000 1

Prints the peak RSS of the whole process tree, CPU, wall clock, the largest
processes and the manifest's totals (which must match between checkouts).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads  # noqa: E402
from measure import run_measured  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("workload", choices=("w1", "w2"))
    parser.add_argument("docs", type=int)
    parser.add_argument("workers", type=int)
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsbeam-memory"))
    args, ingest_args = parser.parse_known_args()
    repo = args.repo.resolve()
    data = args.work / f"{args.workload}-{args.docs}"
    if not data.exists():
        write = workloads.write_html_warcs if args.workload == "w1" else workloads.write_text_dumps
        write(data, args.docs)
    pattern = str(data / ("*.warc.gz" if args.workload == "w1" else "*.txt"))
    out = args.work / f"out-{repo.name}-{args.workload}-{args.docs}-{args.workers}"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "pipelines.ingest", "--input", pattern, "--output", str(out),
               "--runner", "DirectRunner", "--dedup_window_days", "0", "--run_id", "bench",
               *ingest_args]
    if args.workers > 1:
        command += ["--direct_num_workers", str(args.workers),
                    "--direct_running_mode", "multi_processing"]
    measured = run_measured(command, repo)
    if measured.returncode:
        print(measured.stderr[-3000:])
        sys.exit(1)
    totals = json.loads((out / "_runs" / "bench.json").read_text())["totals"]
    largest = [(name[:20], round(rss / 2 ** 20)) for name, rss in measured.peak_processes[:4]]
    print(f"{repo.name} {args.workload} docs={args.docs} workers={args.workers}: "
          f"peak {measured.peak_rss_bytes / 2 ** 20:.0f} MB, cpu {measured.tree_cpu_s:.0f} s, "
          f"wall {measured.wall_s:.0f} s, largest {largest}, totals {totals}")


if __name__ == "__main__":
    main()
