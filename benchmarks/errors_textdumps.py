"""Where the text-dump cleaner loses F1: its errors, by kind, in F1 points.

    python benchmarks/errors_textdumps.py                 # tune and held-out, the table
    python benchmarks/errors_textdumps.py --pages 12      # also the 12 worst pages of each set
    python benchmarks/errors_textdumps.py --show NAME     # one page, line by line

Uses the dumps and the newsbeam path of `eval_textdumps`. Each non-blank
line of a dump is labelled article (its words appear, in order, in the
reference body) or not, and kept or not (one of newsbeam's paragraphs).
An error is a line on the wrong side, and its kind comes from where it sits
against the article's lines:

- lost: ``lead cut`` (article lines before the first one kept), ``end cut``
  (after the last one kept), ``gap`` (between), each ``short`` (under 70
  characters: subheadings, list items) or ``long``; ``page lost`` when
  nothing of the article was kept;
- kept wrongly: ``head`` (before the article's first line), ``inside`` (between
  its first and last lines: captions, boxes), ``tail short`` and ``tail long``
  (after its last line: links to other stories, an author's bio, a second
  article).

A kind's cost is how much the mean F1 would rise if only that kind were put
right (the lines added back or taken out), so it is what a perfect rule for
it could gain; the costs of several kinds do not add up exactly.
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import eval_textdumps as ev  # noqa: E402

SHORT = 70
KINDS = ("page lost", "lead cut short", "lead cut long", "gap short", "gap long",
         "end cut short", "end cut long", "head", "inside", "tail short", "tail long")


def _key(text: str) -> str:
    return " ".join(w.lower() for w in ev._WORD.findall(text))


def label_lines(dump: str, reference: str, kept_text: str) -> List[Tuple[str, bool, bool]]:
    """(line, is article, is kept) for each non-blank line of `dump`."""
    ref = " " + _key(reference) + " "
    want = ev.words(reference)
    kept = {_key(p) for p in kept_text.splitlines() if p.strip()}
    rows = []
    for raw in dump.splitlines():
        key = _key(raw)
        if not key:
            continue
        got = ev.words(raw)
        share = sum((got & want).values()) / max(sum(got.values()), 1)
        article = (" " + key + " ") in ref or (len(got) >= 8 and share >= 0.8)
        rows.append((raw, article, key in kept or _key(raw.lstrip(" •·▪●◦‣-*–")) in kept))
    return rows


def kinds_of(rows: List[Tuple[str, bool, bool]]) -> List[str]:
    """The error kind of each line (empty when it is on the right side)."""
    # The article's span: its lines of five words or more (a short line may
    # match the reference by chance: "Michigan" in a menu).
    article_at = [i for i, (line, a, _) in enumerate(rows) if a and len(line.split()) >= 5]
    kept_article = [i for i, (_, a, k) in enumerate(rows) if a and k]
    out = []
    for i, (line, article, kept) in enumerate(rows):
        size = "short" if len(line) < SHORT else "long"
        if article and not kept:
            if not kept_article:
                out.append("page lost")
            elif i < kept_article[0]:
                out.append(f"lead cut {size}")
            elif i > kept_article[-1]:
                out.append(f"end cut {size}")
            else:
                out.append(f"gap {size}")
        elif kept and not article:
            if not article_at or i > article_at[-1]:
                out.append(f"tail {size}")
            elif i < article_at[0]:
                out.append("head")
            else:
                out.append("inside")
        else:
            out.append("")
    return out


def _f1(kept_counter, want) -> float:
    overlap = sum((kept_counter & want).values())
    total = sum(kept_counter.values())
    p = overlap / total if total else 0.0
    r = overlap / sum(want.values()) if want else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def page_costs(page, dump: str, text: str) -> Tuple[float, Dict[str, float], list]:
    """The page's F1 and what putting each kind right would gain on it."""
    rows = label_lines(dump, page.reference, text)
    kinds = kinds_of(rows)
    want = ev.words(page.reference)
    now = ev.prf(text, page.reference)[2]
    costs = {}
    for kind in set(kinds) - {""}:
        fixed = ev.words(text)
        for (line, _, kept), k in zip(rows, kinds):
            if k == kind:
                fixed = fixed - ev.words(line) if kept else fixed + ev.words(line)
        costs[kind] = max(0.0, _f1(fixed, want) - now)
    return now, costs, list(zip(rows, kinds))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=0, help="also list the N worst pages of each set")
    parser.add_argument("--show", help="print one page's lines with their labels")
    args = parser.parse_args(argv)
    pages = [p for p in ev.load_pages()]
    dumps = {p.name: ev.render_as_text(p.html) for p in pages}
    texts = ev.newsbeam_texts(dumps, {p.name: p.site for p in pages})
    if args.show:
        page = next(p for p in pages if p.name.startswith(args.show))
        now, costs, lines = page_costs(page, dumps[page.name], texts[page.name])
        print(f"{page.name} {page.site} F1 {now:.3f} " + ", ".join(f"{k} {v:.3f}" for k, v in costs.items()))
        for (line, article, kept), kind in lines:
            print(f"{'A' if article else '.'}{'K' if kept else ' '} {kind:<15} {line[:150]}")
        return 0
    sets = [(s, [p for p in pages if p.split == s]) for s in ("tune", "held-out", "goose3")]
    table = {}
    for label, members in sets:
        total = collections.Counter()
        worst = []
        for page in members:
            now, costs, _ = page_costs(page, dumps[page.name], texts[page.name])
            total.update(costs)
            worst.append((now, page, costs))
        table[label] = {k: v / len(members) for k, v in total.items()}
        table[label]["_f1"] = sum(w[0] for w in worst) / len(members)
        if args.pages:
            print(f"-- {label}: the {args.pages} pages of lowest F1")
            for now, page, costs in sorted(worst, key=lambda w: w[0])[:args.pages]:
                top = sorted(costs.items(), key=lambda kv: -kv[1])[:3]
                print(f"  {now:.3f} {page.name:<40.40} {page.site:<24.24} "
                      + ", ".join(f"{k} {v:.2f}" for k, v in top))
    print("F1 points (of the mean F1) that putting one kind right would gain:")
    print(f"{'kind':<16}" + "".join(f"{label:>10}" for label, _ in sets))
    print(f"{'(mean F1)':<16}" + "".join(f"{table[label]['_f1']:>10.3f}" for label, _ in sets))
    for kind in KINDS:
        print(f"{kind:<16}" + "".join(f"{table[label].get(kind, 0.0):>10.4f}" for label, _ in sets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
