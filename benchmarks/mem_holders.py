"""Which allocations grow with a W2 run: tracemalloc's largest holders at the run's traced peak.

Why: peak RSS doubles with the run (issue 20) and a fix needs to know what holds it first.
Usage: python benchmarks/mem_holders.py N WORKDIR  (one worker, DirectRunner -> FnApiRunner).
"""
import shutil
import sys
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import workloads  # noqa: E402
from pipelines import ingest  # noqa: E402


def main(n, work):
    inputs = work / f"w2-{n}"
    if not inputs.exists():
        workloads.write_text_dumps(inputs, n)
    out = work / f"out-{n}"
    shutil.rmtree(out, ignore_errors=True)
    tracemalloc.start(6)
    best = {"size": 0, "snap": None, "t": 0}
    done = threading.Event()
    t0 = time.time()

    def watch():
        while not done.wait(3):
            cur, _ = tracemalloc.get_traced_memory()
            if cur > best["size"] * 1.08:
                best.update(size=cur, snap=tracemalloc.take_snapshot(), t=time.time() - t0)

    threading.Thread(target=watch, daemon=True).start()
    ingest.run(["--input", str(inputs / "*.txt"), "--output", str(out), "--runner", "DirectRunner",
                "--dedup_window_days", "0", "--run_id", "mem"])
    done.set()
    print(f"articles {n}: highest traced {best['size'] / 2**20:.0f} MB "
          f"at {best['t']:.0f} s of {time.time() - t0:.0f} s")
    snap = best["snap"].filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    for stat in snap.statistics("traceback")[:14]:
        print(f"{stat.size / 2**20:8.1f} MB {stat.count:9d} blocks")
        for line in stat.traceback.format()[-8:]:
            print("      " + line.strip())


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
