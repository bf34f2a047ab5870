"""What parsing an HTML page once saves the extract step, in ms per page.

`extract_html` reads a page's tags, date candidates and access signs from the
tree trafilatura extracts from. Before, the dates and access parsed the page a
second time (`page_root`). This script runs both ways on each labelled page of
``../shared/data/html`` (the ScrapingHub article-extraction benchmark and
goose3's test pages), alternating them page by page in one process, checks
that both give the same `Extracted`, and prints the mean ms per page of each.

    .venv/bin/python benchmarks/bench_page_parse.py [--repeats 3] [--limit N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from eval_dates import DATA, load_pages  # noqa: E402


def extract_reparsing(payload: bytes, url: Optional[str]):
    """The extract step as it was: trafilatura's parse, then a second parse
    (`page_root`) for the date candidates and the access verdict."""
    import trafilatura
    from trafilatura.utils import load_html

    from transforms.extract import html_extract as hx
    from transforms.extract.access import access_for
    from transforms.extract.date_candidates import candidate, candidates_from_page, page_root
    from transforms.extract.dates import parse_timestamp
    from transforms.extract.page_tags import merge_unique, page_tags
    from transforms.sources.decode import decode_text

    html = decode_text(payload, None)
    tree = load_html(html)
    if tree is None:
        raise hx.NoArticleText("no tree")
    declared_tags = page_tags(html, tree)
    document = trafilatura.bare_extraction(
        tree, url=url, fast=True, with_metadata=True, include_comments=False,
        include_tables=True, deduplicate=False,
        date_extraction_params={"original_date": True, "extensive_search": False,
                                "outputformat": "%Y-%m-%dT%H:%M:%S%z"})
    if document is None or not (document.text or "").strip():
        raise hx.NoArticleText("no text")
    declared = hx._HTML_LANG.search(payload[:8192])  # noqa: SLF001 (the old body, verbatim)
    text = document.text.strip()
    root = page_root(html)
    dates = candidates_from_page(html, url, text, use_htmldate=False, root=root)
    page_day = candidate("htmldate", (document.date or "")[:10])
    if page_day is not None:
        dates.append(page_day)
    verdict = access_for(html, text, root)
    return hx.Extracted(
        title=document.title, text=text, method="trafilatura",
        authors=hx._list_field(document.author),  # noqa: SLF001
        published=parse_timestamp(document.date), site_name=document.sitename,
        page_url=document.url, description=document.description,
        tags=merge_unique(hx._list_field(document.tags), declared_tags.tags),  # noqa: SLF001
        categories=merge_unique(hx._list_field(document.categories),  # noqa: SLF001
                                declared_tags.sections),
        declared_language=declared.group(1).decode("ascii").lower() if declared else None,
        date_candidates=dates, access=verdict.access, access_reason=verdict.reason)


def _timed(fn, *args):
    start = time.perf_counter()
    try:
        result = fn(*args)
    except ValueError as err:  # NoArticleText, UndecodableError: the same both ways
        result = type(err).__name__
    return time.perf_counter() - start, result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DATA), help="the labelled HTML pages")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each way per page")
    parser.add_argument("--limit", type=int, default=0, help="the first N pages only")
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        print(f"skipped: no labelled pages at {args.data}")
        return 0
    from transforms.extract.date_candidates import page_root
    from transforms.extract.html_extract import extract_html, warm_up

    warm_up()
    pages = load_pages(Path(args.data))[: args.limit or None]
    before, after, parse, differ = [], [], [], []
    for page in pages:
        payload = page.html.encode("utf-8")
        old_s, new_s = [], []
        for repeat in range(args.repeats):  # alternated, either first in turn
            for way in ((0, 1) if repeat % 2 else (1, 0)):
                if way:
                    seconds, new = _timed(extract_html, payload, None, page.url)
                    new_s.append(seconds)
                else:
                    seconds, old = _timed(extract_reparsing, payload, page.url)
                    old_s.append(seconds)
        if old != new:
            differ.append(page.name)
        before.append(min(old_s))
        after.append(min(new_s))
        start = time.perf_counter()
        page_root(page.html)
        parse.append(time.perf_counter() - start)
    ms = 1000.0 / len(pages)
    print(f"{len(pages)} pages, best of {args.repeats} per page")
    print(f"  parsed twice (before): {sum(before) * ms:7.2f} ms/page")
    print(f"  parsed once  (after):  {sum(after) * ms:7.2f} ms/page")
    print(f"  saved: {(sum(before) - sum(after)) * ms:.2f} ms/page "
          f"({(1 - sum(after) / sum(before)) * 100:.1f}%), median per page "
          f"{statistics.median(b - a for b, a in zip(before, after)) * 1000:.2f} ms; "
          f"one lxml parse alone: {sum(parse) * ms:.2f} ms/page")
    print(f"  pages whose Extracted differs: {len(differ)} {differ[:10]}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
