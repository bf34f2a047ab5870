"""The benchmark workloads, generated from the real text and pages in ../shared/data.

- W1 `write_html_warcs`: the 181 ScrapingHub pages and the HTML responses of
  the WARC files in ``../shared/data/warc``, repeated with variations (their
  own address, a copy tag every few words so that dedup keeps each copy)
  into WARC.gz files.
- W2 `write_text_dumps`: plain-text page dumps, the shape of
  ``seeds/rt-arabic-dump.txt``: articles built from real sentences
  (lingua-sentences, 75 languages, and the paragraphs of the seeds sample
  dumps), each with a title line, "Read more" links, a source credit and a
  keywords line, chained by "Read also:" blocks, many articles a file. About
  8% are near copies of an earlier article and 2% exact copies, so every
  dedup stage has work.

Both are deterministic for a seed, and written into the folder given
(a temporary one or ``benchmarks/results``, never committed).
"""
from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
PAGES_DIR = DATA / "html" / "scrapinghub-aeb" / "html"
WARC_DIR = DATA / "warc"
LINGUA = DATA / "langid" / "lingua-sentences"
SEED_DUMPS = (REPO / "seeds" / "rt-arabic-dump.txt", REPO / "seeds" / "en-sample-dump.txt")
SEED = 20261130

NEAR_SHARE = 0.08
EXACT_SHARE = 0.02
ARTICLES_PER_DUMP = 500
_UNSPACED = ("zh", "ja", "th")
_SOURCES = ("Westmere Herald", "Northern Wire", "Coastal Times", "The Daily Ledger",
            "Valley Post", "Harbour Courier")


# --- W2: plain-text dumps ----------------------------------------------------------------

def sentence_pools() -> Dict[str, Tuple[Optional[str], List[str]]]:
    """Name -> (language, sentences): lingua per language and the seeds' dump paragraphs."""
    pools: Dict[str, Tuple[Optional[str], List[str]]] = {}
    for path in sorted(LINGUA.glob("*.txt")):
        if re.fullmatch(r"[a-z]{2,3}", path.stem):
            lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
            pools[f"lingua-{path.stem}"] = (path.stem, list(dict.fromkeys(l for l in lines if l)))
    for path in SEED_DUMPS:
        if path.is_file():
            paragraphs = [" ".join(line.split()) for line in
                          path.read_text(encoding="utf-8").splitlines()]
            units = [p for p in paragraphs if 80 <= len(p) <= 900 and ":" not in p[:30]]
            if units:
                pools[f"seeds-{path.stem}"] = (None, list(dict.fromkeys(units)))
    return pools


def _joiner(language: Optional[str]) -> str:
    return "" if language in _UNSPACED else " "


def _title(rng: random.Random, language: Optional[str], units: List[str]) -> str:
    """A title line: a short sentence without its final stop, at most 100 characters."""
    unit = min((rng.choice(units) for _ in range(4)), key=len)
    cut = unit[:100]
    if len(unit) > 100 and _joiner(language):
        space = cut.rfind(" ", 30)
        cut = cut[:space] if space > 0 else cut
    return cut.rstrip(" .!?؟。！？:;,،")


def _body(rng: random.Random, language: Optional[str], units: List[str]) -> List[str]:
    """Two to four paragraphs of real sentences, 600-1,500 characters in all."""
    want = rng.randint(600, 1500)
    paragraphs, size = [], 0
    count = rng.randint(2, 4)
    for i in range(count):
        parts, part_size = [], 0
        goal = (want - size) // (count - i)
        while part_size < goal or not parts:
            unit = rng.choice(units)
            parts.append(unit)
            part_size += len(unit) + 1
        paragraphs.append(_joiner(language).join(parts))
        size += part_size
    return paragraphs


def _near_copy(rng: random.Random, paragraphs: List[str], language: Optional[str],
               units: List[str]) -> List[str]:
    kind = rng.choice(("edits", "appended", "dropped"))
    copy = list(paragraphs)
    if kind == "edits":  # a few words (characters, unspaced) replaced in one paragraph
        i = rng.randrange(len(copy))
        char = not _joiner(language)
        tokens = list(copy[i]) if char else copy[i].split()
        for _ in range(rng.randint(1, 3)):
            donor = rng.choice(units)
            donor_tokens = list(donor) if char else donor.split()
            tokens[rng.randrange(len(tokens))] = rng.choice(donor_tokens or ["x"])
        copy[i] = _joiner(language).join(tokens)
    elif kind == "appended":
        copy.append(rng.choice(units)[:200])
    else:
        last = copy[-1]
        copy[-1] = last[:len(last) * 2 // 3]
    return copy


def draw_articles(count: int, rng: random.Random
                  ) -> Iterator[Tuple[str, List[str], str, List[str]]]:
    """(title, paragraphs, source, tags) of `count` articles, with near and exact copies."""
    pools = sentence_pools()
    names = sorted(pools)
    originals: List[Tuple[str, str, List[str]]] = []
    for _ in range(count):
        draw = rng.random()
        if originals and draw < NEAR_SHARE + EXACT_SHARE:
            name, title, paragraphs = rng.choice(originals)
            language, units = pools[name]
            if draw < NEAR_SHARE:
                paragraphs = _near_copy(rng, paragraphs, language, units)
        else:
            name = rng.choice(names)
            language, units = pools[name]
            title, paragraphs = _title(rng, language, units), _body(rng, language, units)
            if len(originals) < 20_000:
                originals.append((name, title, paragraphs))
            else:
                originals[rng.randrange(len(originals))] = (name, title, paragraphs)
        language, units = pools[name]
        tags = sorted({w.strip(".,;:!?") for w in rng.choice(units).split()[:3]} - {""})
        yield title, paragraphs, rng.choice(_SOURCES), tags[:3]


def dump_page(articles: List[Tuple[str, List[str], str, List[str]]],
              rng: random.Random) -> str:
    """One page dump: the articles chained by "Read also:" blocks, with boilerplate lines."""
    lines: List[str] = []
    for n, (title, paragraphs, source, tags) in enumerate(articles):
        if n:
            lines += ["Read also:", "", title, ""]
        else:
            lines += [title, ""]
        for i, paragraph in enumerate(paragraphs):
            lines += [paragraph, ""]
            if i == 0 and rng.random() < 0.5:
                lines += [f"Read more: {rng.choice(paragraphs)[:60].strip()}", ""]
        lines += [f"Source: {source}", ""]
        if tags:
            lines += ["Tags: " + ", ".join(tags), ""]
    return "\n".join(lines) + "\n"


def write_text_dumps(folder: Path, articles: int, seed: int = SEED,
                     per_file: int = ARTICLES_PER_DUMP) -> dict:
    """`articles` articles as plain-text dumps of `per_file` articles each."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made = {"articles": 0, "files": 0, "megabytes": 0.0}
    batch: List[Tuple[str, List[str], str, List[str]]] = []

    def flush() -> None:
        path = folder / f"dump-{made['files']:05d}.txt"
        path.write_text(dump_page(batch, rng), encoding="utf-8")
        made["files"] += 1
        made["articles"] += len(batch)
        made["megabytes"] += path.stat().st_size / 2 ** 20
        batch.clear()

    for article in draw_articles(articles, rng):
        batch.append(article)
        if len(batch) == per_file:
            flush()
    if batch:
        flush()
    made["megabytes"] = round(made["megabytes"], 1)
    return made


# --- W1: HTML in WARC.gz -------------------------------------------------------------------

# The page's own address, which trafilatura prefers to the URL it is given.
_ADDRESS_HINTS = re.compile(
    r"\b(og:url|twitter:url|rel=[\"']?canonical|<base\b|hreflang=[\"']?x-default)",
    re.IGNORECASE)
_TEXT_RUN = re.compile(r">([^<>]{40,})<")


def html_pages() -> List[Tuple[str, bytes]]:
    """(name, HTML bytes) of the ScrapingHub pages and of the WARC files' HTML responses."""
    pages = [(p.name, p.read_bytes()) for p in sorted(PAGES_DIR.glob("*.html*"))]
    pages = [(name, gzip.decompress(body) if name.endswith(".gz") else body)
             for name, body in pages]
    from warcio.archiveiterator import ArchiveIterator

    for path in sorted(WARC_DIR.rglob("*")):
        if not path.is_file() or path.suffix == ".lz4" or "LICENSE" in path.name:
            continue
        try:
            with path.open("rb") as handle:
                for i, record in enumerate(ArchiveIterator(handle, arc2warc=True)):
                    if record.rec_type != "response" or record.http_headers is None:
                        continue
                    kind = (record.http_headers.get_header("Content-Type") or "").lower()
                    status = str(record.http_headers.get_statuscode() or "")
                    if "html" in kind and status.startswith("2"):
                        body = record.content_stream().read()
                        if len(body) > 2000:
                            pages.append((f"{path.name}-{i}", body))
        except Exception:  # a deliberately broken test file: take what it held
            continue
    seen, unique = set(), []
    for name, body in pages:
        if body not in seen:
            seen.add(body)
            unique.append((name, body))
    return unique


def vary_page(html: str, copy: int) -> str:
    """A copy of a page that dedup keeps: its address hints renamed and a copy tag
    before every sixth word of its longer text runs."""
    if copy == 0:
        return html
    html = _ADDRESS_HINTS.sub(lambda m: "x-bench-" + re.sub(r"\W", "", m.group(1)), html)

    def tag(match: "re.Match[str]") -> str:
        words = match.group(1).split(" ")
        return ">" + " ".join(f"[{copy}] {w}" if i % 6 == 0 else w
                              for i, w in enumerate(words)) + "<"
    return _TEXT_RUN.sub(tag, html)


def _warc_record(url: str, body: bytes, number: int) -> bytes:
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()) + body
    date = f"2026-11-{1 + number % 28:02d}T12:00:00Z"
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\n"
            f"WARC-Date: {date}\r\nWARC-Record-ID: <urn:uuid:bench-{number:08d}>\r\n"
            f"WARC-Identified-Payload-Type: text/html\r\n"
            f"Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(http)}\r\n\r\n").encode()
    # One gzip member a record, as crawlers write them.
    return gzip.compress(head + http + b"\r\n\r\n", compresslevel=5)


def write_html_warcs(folder: Path, docs: int, files: int = 8) -> dict:
    """`docs` HTML responses in `files` WARC.gz files: every page repeated with variations."""
    pages = html_pages()
    texts = [(name, body.decode("utf-8", "replace")) for name, body in pages]
    folder.mkdir(parents=True, exist_ok=True)
    handles = [(folder / f"w1-{i:02d}.warc.gz").open("wb") for i in range(files)]
    html_list: List[str] = []
    try:
        for n in range(docs):
            name, html = texts[n % len(texts)]
            varied = vary_page(html, n // len(texts))
            html_list.append(varied)
            handles[n % files].write(_warc_record(
                f"https://bench.example/{name}/{n // len(texts)}", varied.encode("utf-8"), n))
    finally:
        for handle in handles:
            handle.close()
    size = sum(p.stat().st_size for p in folder.glob("*.warc.gz"))
    return {"docs": docs, "files": files, "pages": len(pages), "megabytes": round(size / 2 ** 20, 1)}


def warc_html(paths: List[Path]) -> Iterator[str]:
    """The HTML of every response record of the WARC files (for the bare loop)."""
    from warcio.archiveiterator import ArchiveIterator

    for path in paths:
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "response":
                    yield record.content_stream().read().decode("utf-8", "replace")


if __name__ == "__main__":  # a quick look: python benchmarks/workloads.py DIR [articles]
    import sys

    target = Path(sys.argv[1])
    print(json.dumps(write_text_dumps(target, int(sys.argv[2]) if len(sys.argv) > 2 else 1000)))
