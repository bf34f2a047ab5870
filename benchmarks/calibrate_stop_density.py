"""The typical stop-word density of prose per language, for the line classifier.

    python benchmarks/calibrate_stop_density.py

Prints, for every language that has both a stopwordsiso list and a file in
``../shared/data/langid/lingua-sentences/``, the median share of stop words
in its sentences of 60 characters or more (the first 1,000): the table
`TYPICAL_DENSITY` of `transforms.extract.dump_vocabulary`. These are sentences of
the lingua project's test data, not news pages, so the table is not tuned
on the dumps the text-dump evaluation scores.
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from transforms.extract.line_classifier import stop_density, stop_words  # noqa: E402

SENTENCES = REPO.parent / "shared" / "data" / "langid" / "lingua-sentences"


def main() -> int:
    if not SENTENCES.is_dir():
        print(f"no sentences at {SENTENCES}")
        return 1
    table = {}
    for path in sorted(SENTENCES.glob("*.txt")):
        stops = stop_words(path.stem)
        if not stops:
            continue
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                 if len(line.strip()) >= 60][:1000]
        if len(lines) >= 50:
            table[path.stem] = round(statistics.median(stop_density(l, stops) for l in lines), 3)
    print(", ".join(f'"{code}": {value}' for code, value in table.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
