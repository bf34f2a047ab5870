"""Where a local run's memory goes, stage by stage: the process tree's peak RSS
during each FnApiRunner stage, and the bytes the runner holds between stages.

Why: peak RSS alone does not say what to fix. A stage that hands a large
collection to the next one shows in the runner's buffers (rows held between
stages); a stage whose processes grow while the buffers stay small holds its
memory in the workers (decoded side inputs, groups, caches, freed memory the
allocator keeps). Issue 20's fixes were found this way: the raw documents
that waited for the boilerplate counts, and the pickled near-duplicate edges.

Usage (runs `pipelines.ingest` in this process, DirectRunner -> FnApiRunner)::

    python benchmarks/stage_memory.py 'DUMPS_GLOB' OUT_DIR [ingest options]
    python benchmarks/stage_memory.py '/tmp/w1/*.warc.gz' /tmp/out \\
        --direct_num_workers 2 --direct_running_mode multi_processing

Workloads: ``python -c "import workloads; workloads.write_html_warcs(Path(D), N)"``
(W1) or ``write_text_dumps`` (W2), from this folder. Prints one line a stage
with a peak at least --min_mb above the run's first: seconds since start,
tree peak during the stage, the largest processes, the runner's buffered MB
after it (list buffers; groups keep their values decoded and show in the
peak), and the stage's first transforms.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from apache_beam.runners.portability.fn_api_runner import execution, fn_runner  # noqa: E402

from pipelines import ingest  # noqa: E402

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def tree_rss() -> Dict[int, float]:
    """MB resident of this process and of every descendant, by pid."""
    parents: Dict[int, Tuple[int, float]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat, open(f"/proc/{name}/statm") as statm:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                parents[int(name)] = (ppid, int(statm.read().split()[1]) * _PAGE_MB)
        except (OSError, IndexError, ValueError):
            continue
    tree, todo = {}, [os.getpid()]
    while todo:
        pid = todo.pop()
        tree[pid] = parents.get(pid, (0, 0.0))[1]
        todo += [child for child, (ppid, _) in parents.items() if ppid == pid]
    return tree


def buffered_mb(context) -> float:
    """MB of encoded elements the runner holds between stages, in its list
    buffers. A group's buffer is not counted: it keeps its values decoded, as
    Python objects, and shows in the tree's peak instead."""
    total = 0
    for buffer in context.pcoll_buffers.values():
        if isinstance(buffer, execution.ListBuffer):
            total += sum(map(len, buffer._inputs))
    return total / 2 ** 20


class StageWatch:
    """Samples the tree every 0.2 s and closes a stage's row when the next starts."""

    def __init__(self):
        self.rows: List[Tuple[float, Dict[int, float], float, str]] = []
        self._peak: Dict[int, float] = {}
        self._buffered = 0.0
        self._stage = "start"
        self._start = time.time()
        self._lock = threading.Lock()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            sizes = tree_rss()
            with self._lock:
                for pid, mb in sizes.items():
                    self._peak[pid] = max(self._peak.get(pid, 0.0), mb)
            time.sleep(0.2)

    def next_stage(self, name: str) -> None:
        with self._lock:
            self.rows.append((time.time() - self._start, self._peak, self._buffered, self._stage))
            self._peak, self._stage = {}, name

    def after_bundle(self, context) -> None:
        self._buffered = buffered_mb(context)


def short_name(stage: str) -> str:
    parts = [p for p in re.split(r"[+()]", stage)
             if p.strip() and not p.startswith("ref_PCollection")]
    names = [p.replace("ref_AppliedPTransform_", "").rsplit("_", 1)[0] for p in parts]
    return " ".join(dict.fromkeys(names))[:110]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs")
    parser.add_argument("output")
    parser.add_argument("--min_mb", type=float, default=20.0)
    args, ingest_args = parser.parse_known_args()
    watch = StageWatch()

    class StageStarts(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("Running bundle for stage") and record.args:
                watch.next_stage(short_name(str(record.args[0])))

    log = logging.getLogger("apache_beam.runners.portability.fn_api_runner.fn_runner.run_bundle")
    log.addHandler(StageStarts())
    log.setLevel(logging.DEBUG)
    log.propagate = False
    execute = fn_runner.FnApiRunner._execute_bundle

    def watched(runner, context, *rest):
        result = execute(runner, context, *rest)
        watch.after_bundle(context)
        return result

    fn_runner.FnApiRunner._execute_bundle = watched
    ingest.run(["--input", args.inputs, "--output", args.output, "--runner", "DirectRunner",
                "--dedup_window_days", "0", "--run_id", "stage-memory", *ingest_args])
    watch.next_stage("end")
    first = sum(watch.rows[1][1].values()) if len(watch.rows) > 1 else 0.0
    highest = max((sum(peak.values()), stage) for _, peak, _, stage in watch.rows)
    print(f"{'s':>6} {'tree MB':>8}  {'largest processes (pid:MB)':34} {'held MB':>7}  stage")
    for seconds, peak, held, stage in watch.rows:
        total = sum(peak.values())
        if total - first < args.min_mb:
            continue
        largest = " ".join(f"{pid}:{mb:.0f}"
                           for pid, mb in sorted(peak.items(), key=lambda kv: -kv[1])[:3])
        print(f"{seconds:6.1f} {total:8.0f}  {largest:34} {held:7.1f}  {stage}")
    print(f"highest tree peak {highest[0]:.0f} MB, during: {highest[1]}")


if __name__ == "__main__":
    main()
