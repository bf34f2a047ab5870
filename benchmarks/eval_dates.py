"""How often `published` is the right day, beside htmldate alone and trafilatura's date.

    python benchmarks/eval_dates.py             # every labelled page
    python benchmarks/eval_dates.py --verbose   # and each page newsbeam gets wrong

The pages are the labelled HTML pages in ``../shared/data/html/`` (beside
the checkout; the script says so and stops if they are absent): ScrapingHub's
article-extraction benchmark (``scrapinghub-aeb``: ``ground-truth.json`` and
``html/*.html.gz``) and goose3's test pages (``goose3``: ``test_*.html`` with
a JSON sidecar each).

Labels. A page is scored against its ground truth's date when it carries
one (any field named like ``date`` or ``publish``); the script first counts
those. When none does (true of both sets as shipped: their ground truth is
the article body, url and metadata without a date), it falls back to a
silver label that it says it uses: the calendar date written in the page's
URL (``/2019/11/19/``, ``2019-11-19``), which publishers set at publication.
With silver labels the URL is withheld from every method (newsbeam gets no
URL candidate, htmldate and trafilatura no URL), so what is scored is how
well each reads the date from the page itself.

Methods, each counted right when the calendar date it gives (in the offset
it read, when it read one, else in UTC) is the label's:

- ``newsbeam``: `transforms.extract.published_date.published_for` on the page and
  the text trafilatura extracts from it (for the dateline), no feed or
  sitemap hint, htmldate included as one candidate;
- ``newsbeam, no htmldate``: the same without htmldate (structured data,
  dateline only): what the rule gets without the extra parse;
- ``newsbeam, extract step``: what the pipeline does, through
  `transforms.extract.html_extract.extract_html` (trafilatura's own date as
  the htmldate candidate, htmldate not run again) and `choose_published`;
  its ms/page includes the whole extraction;
- ``htmldate``: ``find_date(original_date=True, extensive_search=True)``;
- ``trafilatura``: ``extract_metadata(...).date`` (htmldate inside it, with
  trafilatura's own settings).

Printed: pages, pages labelled, then per method the share right among all
labelled pages, the share with any date, the share right among those, and
milliseconds per page; then newsbeam's ``published_source`` counts and the
mean ``published_confidence`` of right and wrong answers. htmldate's
memo caches are cleared before each timed call.
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data" / "html"
_DATE_KEY = re.compile(r"date|publish", re.IGNORECASE)


class Page(NamedTuple):
    name: str
    url: Optional[str]
    html: str
    gold: Optional[date]  # from the ground truth, when it has a date


def _gold_date(record: dict) -> Optional[date]:
    from transforms.extract.date_candidates import parse_with_offset
    for key, value in record.items():
        if _DATE_KEY.search(key) and isinstance(value, str):
            parsed = parse_with_offset(value)
            if parsed:
                return _calendar_date(parsed[0], parsed[1])
    return None


def _calendar_date(micros: int, offset_minutes: Optional[int]) -> date:
    moment = datetime.fromtimestamp(micros / 1e6, tz=timezone.utc)
    return (moment + timedelta(minutes=offset_minutes or 0)).date()


def load_pages(root: Path) -> List[Page]:
    pages: List[Page] = []
    aeb = root / "scrapinghub-aeb"
    if (aeb / "ground-truth.json").is_file():
        truth = json.loads((aeb / "ground-truth.json").read_text(encoding="utf-8"))
        for key, record in sorted(truth.items()):
            path = aeb / "html" / f"{key}.html.gz"
            if path.is_file():
                html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
                pages.append(Page(f"aeb/{key[:12]}", record.get("url"), html,
                                  _gold_date(record)))
    for sidecar in sorted((root / "goose3").glob("test_*.json")):
        html_path = sidecar.with_suffix(".html")
        if not html_path.is_file():
            continue
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        pages.append(Page(f"goose3/{sidecar.stem}", record.get("url"),
                          html_path.read_text(encoding="utf-8", errors="replace"),
                          _gold_date({**record, **(record.get("expected") or {})})))
    return pages


def _from_text(value: Optional[str]) -> Optional[date]:
    from transforms.extract.date_candidates import parse_with_offset
    parsed = parse_with_offset(value)
    return _calendar_date(parsed[0], parsed[1]) if parsed else None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DATA), help="the labelled HTML pages")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    root = Path(args.data)
    if not root.is_dir():
        print(f"skipped: no labelled pages at {root} (../shared/data/html beside the "
              "checkout)")
        return 0
    import logging
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    logging.getLogger("htmldate").setLevel(logging.CRITICAL)
    import trafilatura
    from htmldate import find_date
    from transforms.extract.dates import to_micros
    from transforms.extract.date_candidates import url_date
    from transforms.extract.published_date import published_for

    pages = load_pages(root)
    gold = [p for p in pages if p.gold is not None]
    print(f"pages: {len(pages)}; whose ground truth carries a date: {len(gold)}")
    silver = not gold
    labelled = []
    if gold:
        labelled = [(p, p.gold) for p in gold]
    else:
        for page in pages:
            found = url_date(page.url)
            if found is not None:
                labelled.append((page, _calendar_date(found.micros, None)))
        print(f"no ground-truth date: silver labels from the URL's date, the URL withheld "
              f"from every method: {len(labelled)} pages")
    now = to_micros(datetime.now(timezone.utc))
    extracted = {}
    for page, _ in labelled:
        try:
            extracted[page.name] = trafilatura.extract(page.html, fast=True, deduplicate=False)
        except Exception:
            extracted[page.name] = None
    if not labelled:
        print("no labelled page: nothing to score")
        return 0
    # One untimed pass: htmldate loads dateparser's language data on the first page
    # that needs it (about 2 s), a cost of the process, not of a page.
    for page, _ in labelled:
        find_date(page.html, original_date=True, extensive_search=True)
    published_for("<html></html>", None, None, now)
    runs = [("pages as they are", False)]
    if silver:  # the page's own URL is in its canonical link, og:url, share links...
        runs.append(("the page's URL scrubbed from its HTML", True))
    for title, scrub in runs:
        pages_now = [(page._replace(html=scrub_url(page.html, page.url)) if scrub else page,
                      label) for page, label in labelled]
        score(title, pages_now, extracted, now, silver, args.verbose, trafilatura, find_date,
              published_for)
    return 0


def scrub_url(html: str, url: Optional[str]) -> str:
    """The page without its own URL path (plain or percent-encoded): with silver
    labels, no method may read the label from the page's links to itself."""
    from urllib.parse import quote, urlsplit
    path = urlsplit(url or "").path.rstrip("/")
    if len(path) < 5:
        return html
    for variant in {path, quote(path, safe=""), quote(path, safe="").lower()}:
        html = html.replace(variant, "/scrubbed")
    return html


def clear_htmldate_caches() -> None:
    """htmldate memoises its date parsing: without this, the method timed first on a
    page pays for the others (newsbeam and trafilatura call htmldate too)."""
    import importlib
    import pkgutil

    import htmldate
    for info in pkgutil.iter_modules(htmldate.__path__):
        module = importlib.import_module(f"htmldate.{info.name}")
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def score(title, labelled, extracted, now, silver, verbose, trafilatura, find_date,
          published_for) -> None:
    """Runs every method on the labelled pages and prints one table."""
    def newsbeam(use_htmldate: bool) -> Callable:
        def run(page: Page, text: Optional[str]):
            chosen = published_for(page.html, None if silver else page.url, text, now,
                                   use_htmldate=use_htmldate)
            if chosen.published is None:
                return None, chosen
            return _calendar_date(chosen.published, chosen.published_offset_minutes), chosen
        return run

    def htmldate_alone(page: Page, _text):
        try:
            return _from_text(find_date(page.html, original_date=True, extensive_search=True,
                                        url=None if silver else page.url)), None
        except Exception:
            return None, None

    def trafilatura_date(page: Page, _text):
        try:
            document = trafilatura.extract_metadata(page.html,
                                                    default_url=None if silver else page.url)
        except Exception:
            return None, None
        return _from_text(document.date if document is not None else None), None

    def extract_step(page: Page, _text):
        from transforms.extract.html_extract import extract_html
        from transforms.extract.published_date import choose_published
        try:
            found = extract_html(page.html.encode("utf-8"), "utf-8",
                                 None if silver else page.url)
        except Exception:  # no article text: no date either, as in the pipeline
            return None, None
        chosen = choose_published(found.date_candidates, now)
        if chosen.published is None:
            return None, chosen
        return _calendar_date(chosen.published, chosen.published_offset_minutes), chosen

    methods: Dict[str, Callable] = {"newsbeam": newsbeam(True),
                                    "newsbeam, no htmldate": newsbeam(False),
                                    "newsbeam, extract step": extract_step,
                                    "htmldate": htmldate_alone,
                                    "trafilatura": trafilatura_date}
    scores = {name: collections.Counter() for name in methods}
    seconds = collections.Counter()
    sources = collections.Counter()
    confidence = {True: [], False: []}
    rejected = collections.Counter()
    for page, label in labelled:
        for name, method in methods.items():
            clear_htmldate_caches()
            started = time.perf_counter()
            answer, chosen = method(page, extracted[page.name])
            seconds[name] += time.perf_counter() - started
            scores[name]["given"] += answer is not None
            scores[name]["right"] += answer == label
            scores[name]["near"] += answer is not None and abs((answer - label).days) <= 1
            if name == "newsbeam":
                sources[chosen.published_source or "none"] += 1
                rejected.update(reason for _, reason in chosen.rejected)
                if answer is not None:
                    confidence[answer == label].append(chosen.published_confidence)
                if verbose and answer != label:
                    print(f"  wrong: {page.name} label {label} got {answer} "
                          f"({chosen.published_source}, {chosen.published_confidence})")
    n = len(labelled)
    print(f"\n{title} ({n} pages)")
    print(f"{'method':<24}{'same day':>9}{'±1 day':>8}{'dated':>8}{'same|dated':>12}"
          f"{'ms/page':>9}")
    for name in methods:
        right, given, near = (scores[name][k] for k in ("right", "given", "near"))
        print(f"{name:<24}{right / n:>9.1%}{near / n:>8.1%}{given / n:>8.1%}"
              f"{(right / given if given else 0):>12.1%}{1000 * seconds[name] / n:>9.1f}")
    print(f"newsbeam published_source: {dict(sources.most_common())}")
    if rejected:
        print(f"newsbeam candidates not used: {dict(rejected)}")
    for right in (True, False):
        values = confidence[right]
        if values:
            print(f"mean published_confidence when {'right' if right else 'wrong'}: "
                  f"{sum(values) / len(values):.2f} ({len(values)} pages)")


if __name__ == "__main__":
    sys.exit(main())
