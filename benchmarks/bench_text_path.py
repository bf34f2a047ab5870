"""W2 end to end: articles per CPU second of `newsbeam ingest`, before and after, side by side.

    python benchmarks/bench_text_path.py [--articles 3000] [--small 100] [--before main] [--profile]

Writes the W2 text dumps (`workloads.write_text_dumps`: real sentences in 75
languages, 600-1,500 characters an article, 5% exact and 5% near copies) and
runs ``python -m pipelines.ingest`` on them (DirectRunner, one process, no
cross-run window: what ``make bench`` runs for W2) twice per size, as
revision `--before` has it (its tracked files written to a temporary folder
with ``git archive``, run with this interpreter) and as this checkout has
it. Prints for each: the CPU seconds of the process tree
(`measure.run_measured`), articles per CPU second, and, from a second run on
`--small` articles, the fixed cost (interpreter, imports, models, graph)
and the cost of one more article; then whether the two wrote the same
article rows (id, language, keywords, tags).

``--profile after`` (or ``both``) also runs this checkout (or each) once under cProfile and prints its own time
by component (the modules `profile_summary.COMPONENTS` names: Beam runner,
Beam coders, Parquet, dedup, language, keywords ...), as shares of the
profiled run (cProfile slows Python code, so shares, not seconds, carry over).
"""
from __future__ import annotations

import argparse
import pstats
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import before  # noqa: E402
import workloads  # noqa: E402
from measure import run_measured  # noqa: E402
from profile_summary import COMPONENTS  # noqa: E402


def ingest(root: Path, dumps: Path, out: Path, profile: Path = None) -> List[str]:
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    return command + ["-m", "pipelines.ingest", "--input", str(dumps / "*.txt"),
                      "--output", str(out), "--runner", "DirectRunner",
                      "--dedup_window_days", "0", "--run_id", "bench"]


def cpu_of(root: Path, dumps: Path, out: Path) -> float:
    measured = run_measured(ingest(root, dumps, out), root)
    if measured.returncode != 0:
        raise SystemExit(f"ingest failed in {root}:\n{measured.stderr[-3000:]}")
    return measured.tree_cpu_s


def article_rows(out: Path) -> Dict[str, Tuple]:
    import pyarrow.parquet as pq

    rows: Dict[str, Tuple] = {}
    for path in sorted((out / "articles").rglob("*.parquet")):
        table = pq.read_table(path, columns=["article_id", "language", "keywords", "tags"])
        for row in table.to_pylist():
            rows[row["article_id"]] = (row["language"], tuple(row["keywords"] or ()),
                                       tuple(row["tags"] or ()))
    return rows


# Before `profile_summary.COMPONENTS`: the text dump reader's modules.
TEXT_COMPONENTS = (("transforms/extract/line_classifier", "dump cleaner"),
                   ("transforms/extract/boilerplate", "dump cleaner"),
                   ("transforms/io/", "dump reading"), ("transforms/write", "Parquet (newsbeam)"),
                   ("/runners/portability/fn_api_runner/", "Beam runner (FnApiRunner)"),
                   ("/runners/worker/", "Beam runner (SDK worker)"), ("babel", "babel (calendar names)"))


def component_of(path: str, function: str) -> str:
    for fragment, label in TEXT_COMPONENTS + COMPONENTS:
        if fragment in path:
            return label
    return "language: fastText" if "predict" in function else "other (interpreter)"


def components(profile: Path) -> Counter:
    """Own time by component of a cProfile output file. A built-in function's
    time goes to its callers' components, in the shares their calls took."""
    spent: Counter = Counter()
    for (path, _, function), (_, _, own, _, callers) in pstats.Stats(str(profile)).stats.items():
        if path != "~" or not callers:
            spent[component_of(path, function)] += own
            continue
        by_caller = sum(figures[2] for figures in callers.values()) or 1.0
        for (caller_path, _, caller), figures in callers.items():
            spent[component_of(caller_path, caller)] += own * figures[2] / by_caller
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--small", type=int, default=100,
                        help="articles of the run that measures the fixed cost")
    parser.add_argument("--before", default="main", help="git revision to compare with")
    parser.add_argument("--profile", choices=("after", "both"),
                        help="also profile this checkout's run (or both: the before run "
                             "is slow under cProfile)")
    args = parser.parse_args()
    if not workloads.LINGUA.is_dir():
        print(f"bench_text_path: skipped, no sentences at {workloads.LINGUA}")
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-text-path-"))
    try:
        roots = {f"before ({args.before})": before.checkout(args.before, work / "before"),
                 "after": REPO}
        sizes = (args.small, args.articles)
        cpu: Dict[Tuple[str, int], float] = {}
        rows: Dict[str, Dict[str, Tuple]] = {}
        for size in sizes:
            dumps = work / f"w2-{size}"
            workloads.write_text_dumps(dumps, size)
            for name, root in roots.items():  # one after the other, for each size
                out = work / f"out-{size}-{len(rows)}-{name.split()[0]}"
                cpu[(name, size)] = cpu_of(root, dumps, out)
                if size == args.articles:
                    rows[name] = article_rows(out)
                shutil.rmtree(out)
        n, small = args.articles, args.small
        print(f"W2 end to end, `newsbeam ingest` on the DirectRunner, one process "
              f"({n} and {small} articles):")
        print(f"  {'':16} {'CPU s':>7} {'articles/CPU s':>15} {'fixed CPU s':>12} "
              f"{'ms an article':>14} {'marginal articles/CPU s':>24}")
        for name in roots:
            total, fixed = cpu[(name, n)], cpu[(name, small)]
            each = (total - fixed) / (n - small)
            print(f"  {name:16} {total:7.1f} {n / total:15.1f} {fixed - small * each:12.1f} "
                  f"{1000 * each:14.2f} {1 / each if each > 0 else float('inf'):24.1f}")
        first, second = rows.values()
        same = first == second
        print(f"  same article rows (id, language, keywords, tags): {same} "
              f"({len(first)} and {len(second)} articles)")
        if args.profile:
            dumps = work / f"w2-{n}"
            shares = {}
            for name, root in roots.items():
                if args.profile == "after" and name != "after":
                    continue
                profile = work / f"{name.split()[0]}.prof"
                measured = run_measured(ingest(root, dumps, work / f"prof-{name.split()[0]}",
                                               profile), root)
                if measured.returncode != 0:
                    raise SystemExit(f"profiled ingest failed:\n{measured.stderr[-3000:]}")
                spent = components(profile)
                total = sum(spent.values())
                shares[name] = {label: own / total for label, own in spent.items()}
            labels = sorted({label for s in shares.values() for label in s},
                            key=lambda label: -max(s.get(label, 0) for s in shares.values()))
            print(f"\nwhere the CPU goes (cProfile own time by component, share of the run; "
                  f"x CPU s above = seconds):")
            print(f"  {'component':36} " + " ".join(f"{name:>16}" for name in shares))
            for label in labels:
                cells = []
                for name, share in shares.items():
                    part = share.get(label, 0.0)
                    cells.append(f"{100 * part:6.1f}% {part * cpu[(name, n)]:6.1f}s")
                print(f"  {label:36} " + " ".join(f"{cell:>16}" for cell in cells))
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
