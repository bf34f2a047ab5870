"""How many (group, phrase) counts the keyphrase step sums, and how many it keeps.

    python benchmarks/count_phrases.py [--sizes 10000 25000 100000]

Why: summed in the runner (`keyphrase_counts.table_in_memory`), the counts of
every distinct phrase of a language or a source are held at once; the table
keeps only what `keep_row` keeps. This counts both, without Beam, over W2's
articles (`workloads.draw_articles`, labelled by fastText as
`bench_keyphrase_beam.py` labels them, seven sources), with the step's own
functions: `article_candidates`, `document_keys`, `least_count`. Prints, at
each size, the groups, the distinct (group, phrase) entries summed and the
entries kept.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_keyphrase_beam import w2_articles  # noqa: E402
from transforms.enrich.keyphrase_counts import article_candidates, article_source  # noqa: E402
from transforms.enrich.keyphrase_scores import document_keys, least_count  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 25_000, 100_000])
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    started = time.process_time()
    articles = w2_articles(sizes[-1])
    counts: Counter = Counter()
    print(f"W2 articles labelled in {time.process_time() - started:.0f} s CPU")
    print(f"{'articles':>9} {'groups':>7} {'summed entries':>15} {'kept entries':>13}")
    for n, article in enumerate(articles, 1):
        found = article_candidates(article).counts
        counts.update(document_keys(found, article.language, article_source(article)))
        if n in sizes:
            totals = {(lang, source): c for (lang, source, phrase), c in counts.items() if not phrase}
            leasts = {group: least_count(group[0], group[1], totals) for group in totals}
            kept = sum(1 for (lang, source, phrase), c in counts.items()
                       if phrase and leasts[(lang, source)] is not None
                       and c >= leasts[(lang, source)])
            print(f"{n:>9,} {len(totals):>7,} {len(counts) - len(totals):>15,} {kept:>13,}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
