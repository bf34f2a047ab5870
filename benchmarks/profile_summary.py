"""Where the time goes: a summary of a py-spy profile of a newsbeam run.

Record a run with py-spy (``.venv/bin/pip install py-spy``; it is no
dependency of newsbeam), following the extraction child processes too, then
summarise the collapsed stacks::

    .venv/bin/py-spy record --subprocesses --format raw -r 50 -o /tmp/w1.txt -- \\
        .venv/bin/python -m pipelines.ingest --input 'W1/*.warc.gz' --output /tmp/out \\
        --runner DirectRunner --dedup_window_days 0
    .venv/bin/python benchmarks/profile_summary.py /tmp/w1.txt [--top 25]

It prints the share of samples per component (the library or newsbeam
module a sample's innermost known frame belongs to), then the functions
with the most samples of their own and the newsbeam functions with the most
samples inside them.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
# Path fragment -> component, first match wins (innermost frame first).
COMPONENTS = (
    ("trafilatura", "trafilatura"), ("justext", "trafilatura"), ("htmldate", "trafilatura"),
    ("courlan", "trafilatura"), ("lxml", "lxml (HTML parsing)"),
    ("fasttext", "language: fastText"), ("lingua", "language: lingua"),
    ("yake", "keywords: YAKE"), ("pyarrow", "Parquet (pyarrow)"),
    ("warcio", "WARC reading"), ("apache_beam/coders", "Beam coders"),
    ("apache_beam", "Beam runner"), ("grpc", "Beam runner"),
    ("transforms/extract/isolation", "extraction process hand-off"),
    ("transforms/extract/html_extract", "newsbeam HTML extraction"),
    ("transforms/dedup/minhash", "dedup: MinHash"), ("transforms/dedup", "dedup: grouping"),
    ("transforms/extract/normalize", "key text"),
    ("transforms/enrich/language", "language: newsbeam"),
    ("transforms/enrich/keyphrase", "keywords: keyphrases"),
    ("transforms/enrich", "tags: newsbeam"), ("transforms/extract/text_dump", "dump cleaner"),
    ("/transforms/", "newsbeam other"), ("/pipelines/", "newsbeam other"),
    ("importlib", "imports"), ("<frozen", "imports"),
)


def parse(line: str) -> Optional[Tuple[List[Tuple[str, str]], int]]:
    stack, _, count = line.rstrip("\n").rpartition(" ")
    if not stack or not count.isdigit():
        return None
    frames = []
    for part in stack.split(";"):
        match = _FRAME.match(part)
        if match:
            frames.append((match.group("func"), match.group("file") or ""))
    return frames, int(count)


# Python functions whose own samples are a native library's time (py-spy
# without --native shows no frame for it).
NATIVE_CALLERS = {
    "KeywordExtractor.extract": "keywords: YAKE", "LanguageDetector._settle": "language: lingua",
    "_FastText.predict": "language: fastText",
}


def component(frames: List[Tuple[str, str]]) -> str:
    if frames[-1][0] in NATIVE_CALLERS:
        return NATIVE_CALLERS[frames[-1][0]]
    for func, path in reversed(frames):
        for fragment, name in COMPONENTS:
            if fragment in path:
                return name
    return "other (interpreter, C extensions)"


def summarise(path: str, top: int) -> str:
    by_component: Counter = Counter()
    own: Counter = Counter()
    inside: Counter = Counter()
    total = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            parsed = parse(line)
            if parsed is None:
                continue
            frames, count = parsed
            if not frames:
                continue
            total += count
            by_component[component(frames)] += count
            func, file = frames[-1]
            own[f"{func} ({_short(file)})"] += count
            seen = set()
            for func, file in frames:
                ours = ("transforms/" in file or "pipelines/" in file) and \
                    "site-packages" not in file and "apache_beam" not in file
                if ours and (func, file) not in seen:
                    seen.add((func, file))
                    inside[f"{func} ({_short(file)})"] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "share by component:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in by_component.most_common()]
    lines += ["", f"top {top} functions by own samples:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", f"top {top} newsbeam functions by samples inside them:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inside.most_common(top)]
    return "\n".join(lines)


_REPO = str(Path(__file__).resolve().parents[1]) + "/"


def _short(path: str) -> str:
    """A file's path from its package or this checkout, wherever they lie."""
    for marker in ("site-packages/", _REPO, "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", help="py-spy output recorded with --format raw")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(summarise(args.profile, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
