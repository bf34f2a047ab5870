"""The grid the run-search weights of the dump line classifier were chosen by, on the tune sites only.

    python benchmarks/tune_textdumps.py          # every point, best first (about a minute)

The pages, dumps and newsbeam path are those of `eval_textdumps.py`, read for
the ScrapingHub sites its host hash puts in the "tune" half only: the
held-out sites and goose3 are never scored here. Each point sets the
module constants of `transforms.extract.line_classifier` (`BAD_WEIGHT`,
`BAD_MIN_COST`, `MENU_RUN`) and `transforms.extract.text_dump`
(`RUN_SHARE`) and prints the tune F1; the shipped values are the best point.
Deterministic: no sampling, the same pages in the same order.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import eval_textdumps  # noqa: E402

GRID = {"BAD_WEIGHT": (1.0, 1.5, 2.0, 3.0), "BAD_MIN_COST": (40, 60, 80, 120),
        "MENU_RUN": (3, 4), "RUN_SHARE": (0.5, 0.6)}


def main() -> int:
    from transforms.extract import line_classifier, text_dump
    from transforms.extract.articles import extract_dump_segment
    from transforms.extract.html_extract import NoArticleText
    owners = {"BAD_WEIGHT": line_classifier, "BAD_MIN_COST": line_classifier,
              "MENU_RUN": line_classifier, "RUN_SHARE": text_dump}
    pages = [p for p in eval_textdumps.load_pages() if p.split == "tune"]
    dumps = {p.name: eval_textdumps.render_as_text(p.html) for p in pages}
    segments = list(eval_textdumps.newsbeam_segments(dumps, {p.name: p.site for p in pages}))
    shipped = {name: getattr(owners[name], name) for name in GRID}
    results = []
    for point in itertools.product(*GRID.values()):
        for name, value in zip(GRID, point):
            setattr(owners[name], name, value)
        texts = {name: [] for name in dumps}
        for name, payload, title in segments:
            try:
                texts[name].append(extract_dump_segment(payload.encode("utf-8"), title).text)
            except NoArticleText:
                pass
        f1 = eval_textdumps.score(pages, {k: "\n".join(v) for k, v in texts.items()})[2]
        results.append((f1, point))
    for name, value in shipped.items():
        setattr(owners[name], name, value)
    print(f"tune F1 over {len(pages)} pages; shipped: {shipped}")
    for f1, point in sorted(results, key=lambda r: -r[0]):
        print(f"  {f1:.4f}  " + "  ".join(f"{n}={v}" for n, v in zip(GRID, point)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
