"""Throughput and peak memory of newsbeam against a bare trafilatura loop.

The workload is the 181 real article pages of the ScrapingHub article
extraction benchmark (``../shared/data/html/scrapinghub-aeb/html``, next to
the repository), repeated to ``--docs`` documents and written as JSONL files
(``url`` and ``html``) in a temporary folder. Every repeat is a distinct
document, so that newsbeam's deduplication keeps it:

* its own address: the JSONL ``url`` is ``https://bench.example/<page>/<copy>``,
  and the page's own address hints (``og:url``, ``twitter:url``,
  ``rel=canonical``, ``<base>``, ``hreflang=x-default``) are renamed, since
  trafilatura reads the publisher's URL out of the page and URL dedup would
  keep one copy;
* its own text: a copy tag ``[N]`` before every 6th word of the page text.
  One unique paragraph is not enough: trafilatura drops a paragraph put
  after ``<body>`` as boilerplate on most pages, and a few changed words
  leave the copies near-duplicates (MinHash over 5-word shingles). With a
  tag every 6 words, two copies share about 1 shingle in 6. Pages in
  languages written without spaces (the two Japanese pages here) are
  shingled by characters and still come out as near-duplicates of their
  copies, so about 1% of the documents end as duplicates.

Two measurements, one after the other, each in its own process tree:

1. newsbeam end to end (``python -m pipelines.ingest`` on the DirectRunner,
   which newsbeam runs as Beam's FnApiRunner), with ``--workers`` > 1 as
   ``--direct_num_workers W --direct_running_mode multi_processing``;
2. a bare loop in one process calling ``trafilatura.extract(html,
   with_metadata=True)`` on exactly the same HTML strings, read from the
   same JSONL files.

For each: the wall clock of the whole process (interpreter start, imports,
reading and, for newsbeam, writing Parquet included), documents in per
second, the CPU time of the process tree (less sensitive than the wall clock
to other load on the machine), and the peak of the summed resident memory
(VmRSS) of the process and all its descendants, sampled from /proc every
0.2 s. Summed RSS counts pages shared between processes once per process:
it is an upper bound.

trafilatura's default call runs its fallback extractors (readability,
jusText); newsbeam calls ``bare_extraction(fast=True)`` unless given
``--precise_extraction``. ``--bare-fast`` makes the bare loop do the same,
for a like-for-like measure of newsbeam's own overhead.

Run from the repository root (Linux only: it reads /proc)::

    python benchmarks/bench_ingest.py [--docs 3000] [--workers 1] [--bare-fast]
    make bench

It prints a table and writes the figures to
``benchmarks/results/bench_ingest.json``. It exits 0 with a message, without
measuring, when the pages are not there.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence, Tuple

from measure import Measured, require_success, run_measured

REPO = Path(__file__).resolve().parents[1]
PAGES_DIR = REPO.parent / "shared" / "data" / "html" / "scrapinghub-aeb" / "html"
RESULTS = REPO / "benchmarks" / "results" / "bench_ingest.json"
# Below this share of the expected articles, copies were collapsed by dedup.
MIN_ARTICLE_SHARE = 0.95

# The page's own address, which trafilatura prefers to the URL it is given.
_ADDRESS_HINTS = (
    (re.compile(r"\b(og|twitter):url\b", re.IGNORECASE), r"x-bench-\1-url"),
    (re.compile(r"""(\brel\s*=\s*["']?)canonical\b""", re.IGNORECASE), r"\1x-bench-canonical"),
    (re.compile(r"""(\bhreflang\s*=\s*["']?)x-default\b""", re.IGNORECASE),
     r"\1x-bench-default"),
    (re.compile(r"<base\b", re.IGNORECASE), "<x-bench-base"),
)
# Markup, scripts, styles and comments, left as they are: the rest is page text.
_NOT_TEXT = re.compile(r"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>",
                       re.IGNORECASE | re.DOTALL)
_WORD = re.compile(r"\S+")
# A copy tag before every TAG_EVERY-th word of the text: with 5-word shingles,
# two copies share about 2 in 12 shingles (Jaccard ~0.17), far below the
# near-duplicate threshold (0.70 by default).
TAG_EVERY = 6


# --- the workload ---------------------------------------------------------------------

class Page(NamedTuple):
    """A page cut where copy tags go: a copy is ``tag.join(pieces)``."""
    name: str
    pieces: List[str]


def cut_page(html: str, every: int = TAG_EVERY) -> List[str]:
    """The page without its address hints, cut before every `every`-th word of its text."""
    for pattern, replacement in _ADDRESS_HINTS:
        html = pattern.sub(replacement, html)
    cuts, words, text_start = [], 0, 0
    for markup in [*_NOT_TEXT.finditer(html), None]:
        text_end = markup.start() if markup else len(html)
        for word in _WORD.finditer(html, text_start, text_end):
            if words % every == 0:
                cuts.append(word.start())
            words += 1
        if markup:
            text_start = markup.end()
    bounds = [0, *cuts, len(html)]
    return [html[start:end] for start, end in zip(bounds, bounds[1:])]


def load_pages(folder: Path) -> List[Page]:
    """The benchmark's pages, in a stable order, ready to be copied."""
    return [Page(path.name.split(".")[0][:16],
                 cut_page(gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")))
            for path in sorted(folder.glob("*.html.gz"))]


def page_copy(page: Page, copy: int) -> Tuple[str, str]:
    """The url and HTML of one distinct copy of a page."""
    return f"https://bench.example/{page.name}/{copy}", f"[{copy}] ".join(page.pieces)


def write_workload(pages: Sequence[Page], docs: int, folder: Path, files: int) -> List[Path]:
    """`docs` documents cycling through `pages`, dealt round robin into JSONL files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"part-{i:02d}.jsonl" for i in range(files)]
    handles = [path.open("w", encoding="utf-8") for path in paths]
    try:
        for i in range(docs):
            url, html = page_copy(pages[i % len(pages)], i // len(pages))
            handles[i % files].write(json.dumps({"url": url, "html": html}) + "\n")
    finally:
        for handle in handles:
            handle.close()
    return paths


# --- measuring a process tree ---------------------------------------------------------

# --- the two contenders ---------------------------------------------------------------

def run_newsbeam(inputs: Path, output: Path, workers: int) -> Tuple[Measured, dict]:
    """newsbeam end to end on the workload: its measurement and its run manifest."""
    run_id = "bench"
    command = [sys.executable, "-m", "pipelines.ingest", "--input", str(inputs / "*.jsonl"),
               "--output", str(output), "--run_id", run_id, "--runner", "DirectRunner"]
    if workers > 1:
        command += ["--direct_num_workers", str(workers),
                    "--direct_running_mode", "multi_processing"]
    measured = run_measured(command, REPO)
    require_success("newsbeam", measured)
    manifest = json.loads((output / "_runs" / f"{run_id}.json").read_text(encoding="utf-8"))
    return measured, manifest


def bare_loop(paths: Sequence[str], fast: bool) -> dict:
    """Runs in the child: trafilatura.extract over every document of the JSONL files."""
    import logging

    import trafilatura

    # As newsbeam does: a page's complaints are no log output.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    docs, extracted, pages = 0, 0, set()
    started = time.perf_counter()
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                document = json.loads(line)
                docs += 1
                if trafilatura.extract(document["html"], with_metadata=True, fast=fast):
                    extracted += 1
                    pages.add(document["url"].split("/")[-2])
    return {"docs": docs, "extracted_docs": extracted, "extracted_pages": len(pages),
            "loop_s": time.perf_counter() - started}


def run_bare_loop(paths: Sequence[Path], fast: bool) -> Tuple[Measured, dict]:
    """The bare loop in one child process: its measurement and what it counted."""
    command = [sys.executable, str(Path(__file__).resolve()), "--bare-loop",
               *(str(path) for path in paths), *(["--bare-fast"] if fast else [])]
    measured = run_measured(command, REPO)
    require_success("the bare trafilatura loop", measured)
    return measured, json.loads(measured.stdout.strip().splitlines()[-1])


# --- reporting ------------------------------------------------------------------------

def figures(docs: int, measured: Measured) -> dict:
    return {"wall_s": round(measured.wall_s, 2),
            "docs_per_s": round(docs / measured.wall_s, 2),
            "cpu_s": round(measured.cpu_s, 2),
            "docs_per_cpu_s": round(docs / measured.cpu_s, 2),
            "peak_rss_mb": round(measured.peak_rss_bytes / 2 ** 20, 1),
            "peak_rss_mb_by_process": [[name, round(rss / 2 ** 20, 1)]
                                       for name, rss in measured.peak_processes]}


def format_table(result: dict) -> str:
    work, nb, bare = result["workload"], result["newsbeam"], result["bare_loop"]
    totals, check = nb["manifest_totals"], result["dedup_check"]
    rows = [("", "newsbeam", "bare loop"),
            ("wall s", f"{nb['wall_s']:.1f}", f"{bare['wall_s']:.1f}"),
            ("docs/s", f"{nb['docs_per_s']:.1f}", f"{bare['docs_per_s']:.1f}"),
            ("CPU s", f"{nb['cpu_s']:.1f}", f"{bare['cpu_s']:.1f}"),
            ("peak RSS MB", f"{nb['peak_rss_mb']:.0f}", f"{bare['peak_rss_mb']:.0f}")]
    lines = [f"workload: {work['docs']} docs ({work['pages']} pages x ~{work['copies']:.1f} "
             f"copies) in {work['files']} JSONL files, {work['megabytes']:.0f} MB; "
             f"workers {work['workers']}; {work['cpus']} CPUs, "
             f"load {result['host']['load_before'][0]:.2f} before; "
             f"newsbeam {result['newsbeam_commit'] or '(no git)'}"]
    lines += [f"  {a:<12}{b:>12}{c:>12}" for a, b, c in rows]
    lines.append(f"  ratio newsbeam / bare loop: {result['ratio']:.2f} in docs/s, "
                 f"{result['cpu_ratio']:.2f} in docs per CPU s")
    lines.append(f"  bare loop: {bare['call']}; {bare['loop_docs_per_s']:.1f} docs/s "
                 f"without its start-up")
    lines.append("  newsbeam at its peak: " + ", ".join(
        f"{name} {mb:.0f} MB" for name, mb in nb["peak_rss_mb_by_process"][:3]))
    lines.append(f"manifest: inputs {totals['inputs']}  articles {totals['articles']}  "
                 f"duplicates {totals['duplicates']} {nb['duplicates_by_type'] or ''}  "
                 f"rejects {totals['rejects']} {nb['rejects_by_reason'] or ''}")
    lines.append(f"dedup check: {check['articles']} articles against {check['expected']} "
                 f"documents the bare loop extracted ({check['extracted_pages']} of "
                 f"{work['pages']} pages): {'ok' if check['ok'] else 'COPIES WERE COLLAPSED'}")
    return "\n".join(lines)


def repo_state() -> Optional[str]:
    """The commit measured, marked ``+dirty`` when the work tree differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                 cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if changed.strip() else "")


def write_results(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


# --- main -----------------------------------------------------------------------------

def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="newsbeam's throughput and peak memory against a bare trafilatura loop.")
    parser.add_argument("--docs", type=int, default=3000,
                        help="Documents in the workload (the pages, repeated). Default 3000.")
    parser.add_argument("--workers", type=int, default=1,
                        help="newsbeam's --direct_num_workers (multi_processing when > 1). "
                             "Default 1, like the bare loop.")
    parser.add_argument("--files", type=int, default=8,
                        help="JSONL files the workload is split into. Default 8.")
    parser.add_argument("--bare-fast", action="store_true",
                        help="Call trafilatura.extract(..., fast=True) in the bare loop, "
                             "without its fallback extractors, as newsbeam does unless "
                             "--precise_extraction is given. Default: trafilatura's default.")
    parser.add_argument("--bare-loop", nargs="+", metavar="JSONL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.docs < 1 or args.workers < 1 or args.files < 1:
        parser.error("--docs, --workers and --files must be at least 1")
    return args


def benchmark(pages: List[Page], args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="newsbeam-bench-") as tmp:
        inputs = Path(tmp) / "input"
        print(f"writing {args.docs} documents from {len(pages)} pages to {inputs} ...",
              flush=True)
        paths = write_workload(pages, args.docs, inputs, args.files)
        megabytes = sum(path.stat().st_size for path in paths) / 2 ** 20
        load_before = os.getloadavg()
        print("running newsbeam ...", flush=True)
        nb_measured, manifest = run_newsbeam(inputs, Path(tmp) / "output", args.workers)
        print("running the bare trafilatura loop ...", flush=True)
        bare_measured, counted = run_bare_loop(paths, args.bare_fast)
        load_after = os.getloadavg()

    totals = manifest["totals"]
    bare = {"call": (f"trafilatura.extract(html, with_metadata=True"
                     f"{', fast=True' if args.bare_fast else ''})"),
            **figures(args.docs, bare_measured),
            "loop_docs_per_s": round(counted["docs"] / counted["loop_s"], 2),
            "docs_read": counted["docs"], "extracted_docs": counted["extracted_docs"]}
    newsbeam = {**figures(args.docs, nb_measured), "manifest_totals": totals,
                "rejects_by_reason": manifest.get("rejects_by_reason", {}),
                "duplicates_by_type": manifest.get("duplicates_by_type", {})}
    expected = counted["extracted_docs"]
    return {
        "measured_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "newsbeam_commit": repo_state(),
        "workload": {"docs": args.docs, "pages": len(pages), "copies": args.docs / len(pages),
                     "files": args.files, "megabytes": round(megabytes, 1),
                     "workers": args.workers, "cpus": os.cpu_count()},
        "newsbeam": newsbeam,
        "bare_loop": bare,
        "ratio": round(newsbeam["docs_per_s"] / bare["docs_per_s"], 3),
        "cpu_ratio": round(newsbeam["docs_per_cpu_s"] / bare["docs_per_cpu_s"], 3),
        "dedup_check": {"articles": totals["articles"], "expected": expected,
                        "extracted_pages": counted["extracted_pages"],
                        "ok": totals["articles"] >= MIN_ARTICLE_SHARE * expected},
        "host": {"python": platform.python_version(), "platform": platform.platform(),
                 "load_before": [round(x, 2) for x in load_before],
                 "load_after": [round(x, 2) for x in load_after]},
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.bare_loop:
        print(json.dumps(bare_loop(args.bare_loop, args.bare_fast)))
        return 0
    if not PAGES_DIR.is_dir() or not any(PAGES_DIR.glob("*.html.gz")):
        print(f"bench_ingest: skipped: the benchmark pages are not there ({PAGES_DIR} "
              f"holds no *.html.gz); they come with the shared data folder next to the "
              f"repository.")
        return 0
    pages = load_pages(PAGES_DIR)
    result = benchmark(pages, args)
    print(format_table(result))
    write_results(result, RESULTS)
    print(f"figures written to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
