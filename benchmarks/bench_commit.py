"""What the commit protocol costs: seconds of the commit step of a run of N articles.

    python benchmarks/bench_commit.py                 # 10,000 articles, twice (run, rerun)
    python benchmarks/bench_commit.py --articles 2000 --files 8

Writes N distinct JSONL articles into a temporary folder and ingests them
twice into one output (a first run, then a rerun of the same id, which also
deletes the first attempt's files). For each it prints the whole run's wall
time, the lease and recovery at the start, and the commit step split into
its parts: planning (reading the earlier files, cursor and commit order),
the intent's write, the renames, the state files and order entry, the
manifest, and the removal of the intent and ``_tmp/``. Timings come from
``transforms.sink.commit.FAULT_HOOK``, which is called before every step of the
commit, and from wrapping the plan and the lease in this process (the
FnApiRunner runs the commit step in this process).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines import cli, ingest  # noqa: E402
from transforms.sink import accounting  # noqa: E402
from transforms.sink import commit as protocol  # noqa: E402

WORDS = ("council budget bridge school residents timetable officials answer weeks river "
         "market report police court minister election village museum storm harvest library "
         "tram festival hospital harbour airport football orchestra theatre bakery").split()


def write_inputs(folder: Path, articles: int, files: int) -> List[Path]:
    rand = random.Random(23)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    per_file = -(-articles // files)
    for f in range(files):
        path = folder / f"part{f:03d}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for i in range(f * per_file, min(articles, (f + 1) * per_file)):
                text = " ".join(rand.choice(WORDS) for _ in range(120)) + f" item {i}."
                handle.write(json.dumps({"url": f"https://bench.example/{i}", "text": text,
                                         "title": f"Story {i}", "language": "en"}) + "\n")
        paths.append(path)
    return paths


class Timeline:
    """Times of the commit's steps and of what the bench wraps."""

    def __init__(self) -> None:
        self.marks: List[Tuple[float, str]] = []
        self.spans: Dict[str, float] = {}

    def hook(self, _number: int, what: str) -> None:
        self.marks.append((time.perf_counter(), what))

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
                # A DoFn's process is a generator: its work happens when it is read.
                return list(result) if label == "commit step" else result
            finally:
                self.spans[label] = self.spans.get(label, 0.0) + time.perf_counter() - started
                if label == "commit step":
                    self.marks.append((time.perf_counter(), "end"))
        setattr(owner, name, timed)

    def parts(self) -> Dict[str, float]:
        kinds = {"write intent": "intent", "delete": "deletes", "rename": "renames",
                 "copy": "renames", "write manifest": "manifest", "write": "state files",
                 "create": "state files", "remove": "tidy up"}
        totals: Dict[str, float] = {}
        for (at, what), (after, _) in zip(self.marks, self.marks[1:]):
            kind = next(k for prefix, k in kinds.items() if what.startswith(prefix))
            if what.startswith("delete") and "_intents" in what:
                kind = "tidy up"
            if what.startswith(("rename", "copy")) and ".tmp-" in what:
                kind = "state files"  # a state file moved over the old one
            totals[kind] = totals.get(kind, 0.0) + after - at
        return totals


def one_run(inputs: List[Path], out: Path, run_id: str) -> Tuple[float, Dict[str, float], int]:
    timeline = Timeline()
    protocol.FAULT_HOOK = timeline.hook
    saved = (accounting.plan_run_commit, ingest.take_lease, accounting._CommitRunFn.process)
    timeline.wrap(accounting, "plan_run_commit", "plan")
    timeline.wrap(ingest, "take_lease", "lease and recovery")
    timeline.wrap(accounting._CommitRunFn, "process", "commit step")
    args = ["ingest", "--output", str(out), "--run_id", run_id, "--runner", "DirectRunner"]
    for path in inputs:
        args += ["--input", str(path)]
    started = time.perf_counter()
    try:
        code = cli.main(args)
    finally:
        protocol.FAULT_HOOK = None
        accounting.plan_run_commit, ingest.take_lease, accounting._CommitRunFn.process = saved
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"run {run_id} failed with exit code {code}")
    figures = dict(timeline.spans)
    figures.update(timeline.parts())
    steps = len([m for m in timeline.marks if m[1] != "end"])
    return wall, figures, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-commit-") as folder:
        root = Path(folder)
        inputs = write_inputs(root / "in", args.articles, args.files)
        out = root / "out"
        rows = []
        for label in ("first run", "rerun, same id"):
            wall, figures, steps = one_run(inputs, out, "bench")
            rows.append((label, wall, figures, steps))
        manifest = json.loads((out / "_runs" / "bench.json").read_text(encoding="utf-8"))
        files = sum(len(v) for v in manifest["files"].values())
    print(f"\ncommit protocol, {args.articles:,} articles in {args.files} JSONL files "
          f"({manifest['totals']['articles']:,} articles kept, {files} files committed)")
    order = ["lease and recovery", "commit step", "plan", "intent", "deletes", "renames",
             "state files", "manifest", "tidy up"]
    print(f"{'':16} {'run s':>8} {'steps':>6} " + " ".join(f"{name:>12}" for name in order))
    for label, wall, figures, steps in rows:
        print(f"{label:16} {wall:8.1f} {steps:6d} "
              + " ".join(f"{figures.get(name, 0.0):12.3f}" for name in order))
    for label, wall, figures, _ in rows:
        cost = figures.get("commit step", 0.0) + figures.get("lease and recovery", 0.0)
        print(f"{label}: commit step and lease {cost:.2f} s of a {wall:.1f} s run "
              f"({100 * cost / wall:.1f}%)")


if __name__ == "__main__":
    main()
