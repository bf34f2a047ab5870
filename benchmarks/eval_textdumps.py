"""How well newsbeam cleans pages saved as plain text, against labelled article bodies.

    python benchmarks/eval_textdumps.py              # every set, every method
    python benchmarks/eval_textdumps.py --no-justext # without the jusText column
    python benchmarks/eval_textdumps.py --write DIR  # also write the dumps, one folder a site
    python benchmarks/eval_textdumps.py --profile    # also a cProfile of the cleaning

The dumps are made from the labelled HTML pages in ``../shared/data/html/``:
ScrapingHub's article-extraction benchmark (181 pages, ``ground-truth.json``)
and goose3's test pages (the few whose expected text is a whole body: most
of goose3's fixtures hold only the first sentence, which no F1 can be
scored against). Each page is rendered the way a browser's "save page as
text" writes it: the text of every block element (paragraph, heading, list
item, table row, div, ...) on a line of its own, scripts and styles left
out, nothing else removed.

What is scored, bag-of-words precision, recall and F1 (words lowercased,
counted with their multiplicity, averaged over pages), against the
reference body:

- ``whole dump``: every line kept;
- ``newsbeam``: the dumps through the functions `newsbeam ingest` runs on a
  dump file: `transforms.sources.dump_formats.read_records` (which splits the page),
  the corpus boilerplate counts of `transforms.extract.boilerplate` over the dumps
  of each site, and `transforms.extract.articles.extract_dump_segment`;
- ``jusText``: jusText 3 over the same lines, each line wrapped as a
  ``<p>``, with the stop list of the page's language (install it with
  ``pip install justext``, or ``pip install -e '.[bench]'``);
- ``trafilatura/text``: the same trafilatura extraction over the dump's
  lines, each wrapped as a ``<p>``: an HTML extractor given exactly what
  the dump holds (the block boundaries and their text, no tags, links or
  classes);
- ``trafilatura/tags``: the same over the original page with every
  attribute taken off (tags kept: what the class names and ids carry);
- ``trafilatura/HTML``: newsbeam's own HTML extraction
  (`transforms.extract.html_extract.extract_html`, trafilatura) on the original page.

Tuning and evaluation are kept apart: the classifier's thresholds were
chosen looking only at the ScrapingHub pages whose site falls in the
``tune`` half (a hash of the host name, `split_of`); no threshold was chosen
on the ``held-out`` half or on goose3. Every set is printed; the figure to
quote is the held-out one. No page of a site outside ``../shared/data``
was available offline: held out means sites not looked at while tuning.

Then the line-level bound (`line_choice_bound`: how far a perfect choice of
whole lines would go, so what is lost to the classifier and what to the
lines themselves) and the cost of cleaning: the milliseconds per 5 KB of
dump that the line classifier and the page split take, over every dump.
"""
from __future__ import annotations

import argparse
import collections
import gzip
import io
import json
import re
import sys
import time
import zlib
from pathlib import Path
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import lxml.html  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "html"
SCRAPINGHUB = DATA / "scrapinghub-aeb"
GOOSE3 = DATA / "goose3"
# A goose3 fixture whose expected text is shorter than this is only a lead.
GOOSE3_MIN_REFERENCE_CHARS = 1000

_SKIPPED_TAGS = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object",
                 "select", "option", "canvas", "map"}
_BLOCK_TAGS = {"address", "article", "aside", "blockquote", "body", "br", "caption", "center",
               "dd", "details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure",
               "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html",
               "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary",
               "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "button", "label"}
_WORD = re.compile(r"\w+", re.UNICODE)
COST_ROUNDS = 9  # the least of several rounds: other jobs on the shared cores only add time


class Page(NamedTuple):
    name: str
    site: str
    language: str
    html: bytes
    reference: str
    split: str  # tune, held-out, goose3


def split_of(host: str) -> str:
    """The half of the ScrapingHub sites a host falls in, by a stable hash."""
    return "tune" if zlib.crc32(host.encode("utf-8")) % 2 == 0 else "held-out"


def load_pages() -> List[Page]:
    pages: List[Page] = []
    truth = json.loads((SCRAPINGHUB / "ground-truth.json").read_text(encoding="utf-8"))
    for key, item in sorted(truth.items()):
        path = SCRAPINGHUB / "html" / f"{key}.html.gz"
        if not path.exists():
            continue
        host = (urlsplit(item.get("url") or "").hostname or key).removeprefix("www.")
        pages.append(Page(key, host, "en", gzip.decompress(path.read_bytes()),
                          item.get("articleBody") or "", split_of(host)))
    for sidecar in sorted(GOOSE3.glob("*.json")):
        expected = json.loads(sidecar.read_text(encoding="utf-8")).get("expected") or {}
        reference = expected.get("cleaned_text") or ""
        html_path = sidecar.with_suffix(".html")
        if len(reference) < GOOSE3_MIN_REFERENCE_CHARS or not html_path.exists():
            continue
        host = (expected.get("domain") or sidecar.stem).removeprefix("www.")
        pages.append(Page(sidecar.stem, host, expected.get("meta_lang") or "", html_path.read_bytes(),
                          reference, "goose3"))
    return pages


def render_as_text(html: bytes) -> str:
    """The page as a browser's "save as text" writes it: one block a line."""
    from transforms.sources.decode import UndecodableError, decode_text, html_declared_charset
    try:  # decoded as newsbeam decodes pages: the declared charset, else detected
        text = decode_text(html, html_declared_charset(html))
        text = re.sub(r"^\s*<\?xml[^>]*>", "", text)  # lxml refuses a str with an encoding
        root = lxml.html.document_fromstring(text)
    except (ValueError, UndecodableError, lxml.etree.ParserError):
        return ""
    lines: List[str] = []
    current: List[str] = []

    def flush() -> None:
        line = " ".join("".join(current).split())
        if line:
            lines.append(line)
        current.clear()

    def walk(element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag.lower() in _SKIPPED_TAGS or not isinstance(element.tag, str):
            if element.tail:
                current.append(element.tail)
            return
        block = tag.lower() in _BLOCK_TAGS
        if block:
            flush()
        if element.text:
            current.append(element.text)
        for child in element:
            walk(child)
        if block:
            flush()
        else:
            current.append(" ")
        if element.tail:
            current.append(element.tail)

    body = root.find("body")
    walk(body if body is not None else root)
    flush()
    return "\n".join(lines) + "\n"


def words(text: str) -> collections.Counter:
    return collections.Counter(w.lower() for w in _WORD.findall(text or ""))


def prf(predicted: str, reference: str) -> tuple:
    got, want = words(predicted), words(reference)
    overlap = sum((got & want).values())
    p = overlap / sum(got.values()) if got else 0.0
    r = overlap / sum(want.values()) if want else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def line_choice_bound(dump: str, reference: str) -> float:
    """The F1 of a good choice of whole lines, knowing the reference: lines
    taken in order of their share of reference words, each kept if the F1
    does not fall. What any line classifier could reach at best (a greedy
    choice, so a lower estimate of the true optimum, which is close to it
    when most lines are wholly in or out)."""
    want = words(reference)
    total = sum(want.values())
    lines = []
    for line in dump.splitlines():
        got = words(line)
        size = sum(got.values())
        if size:
            lines.append((sum((got & want).values()) / size, size, got))
    lines.sort(key=lambda item: (-item[0], -item[1]))
    kept: collections.Counter = collections.Counter()
    best = 0.0
    for _, _, got in lines:
        trial = kept + got
        overlap = sum((trial & want).values())
        p, r = overlap / sum(trial.values()), (overlap / total if total else 0.0)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 >= best:
            best, kept = f1, trial
    return best


# --- the methods -----------------------------------------------------------------------

def newsbeam_segments(dumps: Dict[str, str], sites: Dict[str, str]):
    """Each dump's segments as `newsbeam ingest` hands them to the cleaner:
    (name, payload text, title), after the split into records and the corpus
    boilerplate of each site (the rule of `transforms.extract.boilerplate`)."""
    from schemas.records import RawDocument
    from transforms.extract.boilerplate import (file_line_hashes, is_boilerplate, remove_lines,
                                        source_key)
    from schemas.contexts import ReadContext
    from transforms.sources.dump_formats import read_records
    ctx = ReadContext("eval", 0, 50 * 1024 * 1024)
    paths = {name: f"{sites[name]}/{name}.txt" for name in dumps}

    def opener(name):
        return lambda: io.BytesIO(dumps[name].encode("utf-8"))

    totals: collections.Counter = collections.Counter()  # the step's two CombinePerKey
    counts: collections.Counter = collections.Counter()
    for name, path in paths.items():
        for source, hashes in file_line_hashes(path, opener(name), ctx):
            totals[source] += 1
            counts.update((source, h) for h in hashes)
    boilerplate: Dict[str, set] = collections.defaultdict(set)
    for (source, digest), count in counts.items():
        if is_boilerplate(count, totals[source]):
            boilerplate[source].add(digest)
    for name, path in paths.items():
        for record in read_records(path, opener(name), ctx):
            if not isinstance(record, RawDocument):  # an empty dump: a reject, no text
                continue
            payload = record.payload.decode("utf-8")
            hashes = boilerplate.get(source_key(record))
            if hashes:
                payload = remove_lines(payload, frozenset(hashes))[0]
            yield name, payload, record.title


def newsbeam_texts(dumps: Dict[str, str], sites: Dict[str, str]) -> Dict[str, str]:
    """Each dump's article text(s), by the functions `newsbeam ingest` runs on
    dump files: `newsbeam_segments`, then the segment cleaner."""
    from transforms.extract.articles import extract_dump_segment
    from transforms.extract.html_extract import NoArticleText
    texts: Dict[str, List[str]] = {name: [] for name in dumps}
    for name, payload, title in newsbeam_segments(dumps, sites):
        try:
            texts[name].append(extract_dump_segment(payload.encode("utf-8"), title).text)
        except NoArticleText:
            pass
    return {name: "\n".join(parts) for name, parts in texts.items()}


_JUSTEXT_LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish",
                      "ar": "Arabic", "ko": "Korean", "zh": "Chinese", "it": "Italian"}


def lines_as_html(dump: str) -> bytes:
    """The dump as an HTML extractor can read it: each line a ``<p>``. What
    the dump holds and nothing more (no tags, links or classes)."""
    from html import escape
    return ("<html><body>" + "".join(f"<p>{escape(line)}</p>" for line in dump.splitlines()
                                     if line.strip()) + "</body></html>").encode("utf-8")


def justext_text(dump: str, language: str) -> str:
    import justext
    name = _JUSTEXT_LANGUAGES.get(language, "English")
    try:
        stoplist = justext.get_stoplist(name)
    except ValueError:
        stoplist = frozenset()
    paragraphs = justext.justext(lines_as_html(dump), stoplist, encoding="utf-8")
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def without_attributes(html: bytes) -> bytes:
    """The page with its tags kept but every attribute (class, id, href, ...)
    taken off: how much of trafilatura's figure the attributes carry."""
    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return html
    for element in root.iter():
        if isinstance(element.tag, str):
            element.attrib.clear()
    return lxml.html.tostring(root, encoding="utf-8")


def trafilatura_text(html: bytes) -> str:
    from transforms.extract.html_extract import NoArticleText, extract_html
    try:
        return extract_html(html, None, None, False).text
    except NoArticleText:
        return ""


def score(pages: List[Page], texts: Dict[str, str]) -> tuple:
    rows = [prf(texts.get(page.name, ""), page.reference) for page in pages]
    n = max(len(rows), 1)
    return tuple(sum(r[i] for r in rows) / n for i in range(3))


def cost_per_5kb(dumps: Iterable[str]) -> float:
    """Milliseconds of cleaning per 5 KB of dump: the page split, the line
    classifier and the segment cleaning, as `newsbeam ingest` runs them."""
    from transforms.extract import dump_lines
    from transforms.extract.text_dump import clean_segment, split_page
    dumps = [d for d in dumps if d.strip()]
    size = sum(len(d.encode("utf-8")) for d in dumps)
    best = float("inf")
    for _ in range(COST_ROUNDS):  # the least CPU time of a few rounds: others share the cores
        dump_lines._head_may_have_role.cache_clear()  # no round profits from another's cache
        dump_lines._folded.cache_clear()
        dump_lines._role_of.cache_clear()
        started = time.process_time()
        for dump in dumps:
            for segment in split_page(dump).segments:
                clean_segment(segment.text, segment.title)
        best = min(best, time.process_time() - started)
    return best * 1000 / (size / 5120)


def profile_cleaning(dumps: Iterable[str], top: int = 15) -> None:
    """cProfile of the page split and `clean_segment` over every dump: where the time goes."""
    import cProfile
    import pstats
    from transforms.extract.text_dump import clean_segment, split_page
    profiler = cProfile.Profile()
    profiler.enable()
    for dump in dumps:
        for segment in split_page(dump).segments:
            clean_segment(segment.text, segment.title)
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-justext", action="store_true")
    parser.add_argument("--no-trafilatura", action="store_true")
    parser.add_argument("--write", help="also write the dumps here, one folder a site")
    parser.add_argument("--only", choices=("tune", "held-out", "goose3"))
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of the cleaning, by own time")
    args = parser.parse_args(argv)
    if not SCRAPINGHUB.is_dir():
        print(f"no labelled pages at {DATA}: nothing to evaluate")
        return 1
    pages = load_pages()
    if args.only:
        pages = [p for p in pages if p.split == args.only]
    dumps = {p.name: render_as_text(p.html) for p in pages}
    if args.write:
        for page in pages:
            folder = Path(args.write) / page.site
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{page.name}.txt").write_text(dumps[page.name], encoding="utf-8")
    methods: Dict[str, Callable[[], Dict[str, str]]] = {
        "whole dump": lambda: dumps,
        "newsbeam": lambda: newsbeam_texts(dumps, {p.name: p.site for p in pages}),
    }
    if not args.no_justext:
        try:
            import justext  # noqa: F401
            methods["jusText"] = lambda: {p.name: justext_text(dumps[p.name], p.language)
                                          for p in pages}
        except ImportError:
            print("jusText is not installed (pip install justext): its column is left out")
    if not args.no_trafilatura:
        methods["trafilatura/text"] = lambda: {p.name: trafilatura_text(lines_as_html(dumps[p.name]))
                                               for p in pages}
        methods["trafilatura/tags"] = lambda: {p.name: trafilatura_text(without_attributes(p.html))
                                               for p in pages}
        methods["trafilatura/HTML"] = lambda: {p.name: trafilatura_text(p.html) for p in pages}
    results = {name: make() for name, make in methods.items()}
    sets = [("tune", [p for p in pages if p.split == "tune"]),
            ("held-out", [p for p in pages if p.split == "held-out"]),
            ("all scrapinghub", [p for p in pages if p.split != "goose3"]),
            ("goose3 (held out)", [p for p in pages if p.split == "goose3"])]
    print(f"{'set':<20}{'pages':>6}  " + "".join(f"{m:>26}" for m in results))
    print(f"{'':<28}" + "".join(f"{'P     R     F1':>26}" for _ in results))
    for label, members in sets:
        if not members:
            continue
        cells = "".join("{:>26}".format("{:.3f} {:.3f} {:.3f}".format(*score(members, t)))
                        for t in results.values())
        print(f"{label:<20}{len(members):>6}  {cells}")
    print("line-level bound (the best choice of whole lines, knowing the reference), F1:")
    for label, members in sets:
        if members:
            bound = sum(line_choice_bound(dumps[p.name], p.reference) for p in members) / len(members)
            print(f"  {label:<20}{len(members):>6}  {bound:.3f}")
    if args.profile:
        profile_cleaning(dumps.values())
    print(f"cleaning cost: {cost_per_5kb(dumps.values()):.3f} ms per 5 KB of dump "
          f"({len(dumps)} dumps, {sum(len(d) for d in dumps.values()) / len(dumps) / 1024:.1f} "
          "KB on average)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
