"""Keywords against annotators' keyphrases: YAKE as newsbeam runs it, and keyphrases
scored against the run's document frequencies, side by side.

    python benchmarks/eval_keywords.py [--rounds 3] [--chunks 10,25,50]

Reads every set under ``../shared/data/keywords/`` (LIAAD's format:
``docsutf8/<id>.txt``, first non-empty line the title where the source has one,
``keys/<id>.key`` one keyphrase a line, ``lan.txt`` the language) and prints,
per set and method, F1@10, precision@10, recall@10 and CPU milliseconds per
article:

- ``yake``: `transforms.enrich.tags.KeywordExtractor` as the enrich step
  configured it before issue 18 (yake-rust, newsbeam's stop lists, 2-grams,
  1,000 characters of title and body);
- ``df``: the keyphrase step (`transforms.enrich.keyphrases`,
  `transforms.enrich.keyphrase_scores`): candidates of every article counted
  into document frequencies over the whole set (the set is the run), then each
  article scored against them. Its time includes the counting, amortised.

The matching rule, one for all sets and methods (`match_key`): a phrase is
lower-cased (NFKC, case-folded), split into words at anything that is not a
letter or a digit, each word reduced by the Snowball stemmer of the set's
language, and the stems joined by one space; a keyword matches a keyphrase
when the two keys are equal. Per article, precision = matches / keywords
given (at most 10), recall = matches / distinct gold keys, F1 their harmonic
mean (0 when nothing matches); the figures are means over the articles.

``--chunks`` also scores the ``df`` method on runs of that many articles (the
set cut into consecutive pieces, document frequencies counted per piece):
what a small run gets, which decides below how many articles a language
falls back to YAKE.

``--beam N`` also runs `ExtractKeyphrases` on the FnApiRunner over N
articles (the sets' documents repeated, seven sources) and prints the CPU
milliseconds per article it adds to a pipeline that only copies them: the
pure functions plus Beam's own cost (the carried candidates are encoded
where the scoring waits for the table, and the rows are combined per key).
"""
from __future__ import annotations

import argparse
import re
import sys
import time
import unicodedata
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from transforms.enrich.keyphrase_scores import (DocumentFrequencies,  # noqa: E402
                                                score_keyphrases)
from transforms.enrich.keyphrases import candidates  # noqa: E402
from transforms.enrich.tags import KeywordExtractor  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "keywords"
TOP = 10
_SNOWBALL = {"fr": "french", "pt": "portuguese", "en": "english", "es": "spanish",
             "de": "german", "it": "italian", "ar": "arabic", "ru": "russian"}
_WORD = re.compile(r"\w+")


class Document(NamedTuple):
    title: str
    text: str
    gold: List[str]


def load_set(folder: Path) -> Tuple[str, List[Document]]:
    language = (folder / "lan.txt").read_text(encoding="utf-8").strip().split("-")[0].lower()
    documents = []
    for path in sorted((folder / "docsutf8").glob("*.txt")):
        keys = folder / "keys" / (path.stem + ".key")
        if not keys.exists():
            continue
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        lines = [line for line in lines if line]
        # Wikinews repeats the title as the first line of the body: keep one.
        title = lines[0] if len(lines) > 1 and len(lines[0]) < 200 else ""
        body = lines[1:] if title else lines
        if body and body[0] == title:
            body = body[1:]
        gold = [g.strip() for g in keys.read_text(encoding="utf-8").splitlines() if g.strip()]
        documents.append(Document(title, "\n".join(body), gold))
    return language, documents


def stemmer_for(language: str) -> Callable[[str], str]:
    import snowballstemmer

    stemmer = snowballstemmer.stemmer(_SNOWBALL.get(language, "english"))
    return stemmer.stemWord


def match_key(phrase: str, stem: Callable[[str], str]) -> str:
    """The matching rule: lower-cased words, each stemmed, joined by one space."""
    words = _WORD.findall(unicodedata.normalize("NFKC", phrase).casefold())
    return " ".join(stem(word) for word in words)


def score(predicted: Sequence[Sequence[str]], documents: Sequence[Document],
          stem) -> Tuple[float, float, float]:
    f1s, ps, rs = [], [], []
    for keywords, doc in zip(predicted, documents):
        gold = {match_key(g, stem) for g in doc.gold} - {""}
        got = []
        for k in keywords[:TOP]:
            key = match_key(k, stem)
            if key and key not in got:
                got.append(key)
        hits = len(gold.intersection(got))
        p = hits / len(got) if got else 0.0
        r = hits / len(gold) if gold else 0.0
        ps.append(p)
        rs.append(r)
        f1s.append(2 * p * r / (p + r) if hits else 0.0)
    n = len(documents)
    return sum(f1s) / n, sum(ps) / n, sum(rs) / n


def run_yake(documents, language) -> List[List[str]]:
    extractor = KeywordExtractor()
    return [extractor.extract(d.title, d.text, language) for d in documents]


def run_df(documents, language, source: str = "set") -> List[List[str]]:
    """The two passes of `transforms.enrich.keyphrase_step`, without Beam."""
    found = [candidates(d.title, d.text, language) for d in documents]
    frequencies = DocumentFrequencies.from_documents(
        (language, source, f.counts) for f in found)
    return [score_keyphrases(f, language, source, frequencies) for f in found]


def run_df_chunks(documents, language, size: int) -> List[List[str]]:
    out: List[List[str]] = []
    for start in range(0, len(documents), size):
        out.extend(run_df(documents[start:start + size], language))
    return out


def timed(method, documents, language, rounds: int) -> Tuple[List[List[str]], float]:
    method(documents[:5], language)  # warm-up: stop lists, calendar names, YAKE
    best, result = None, None
    for _ in range(rounds):
        started = time.process_time()
        result = method(documents, language)
        spent = time.process_time() - started
        best = spent if best is None else min(best, spent)
    return result, 1000 * best / len(documents)


def beam_cost(documents: Sequence[Tuple[str, Document]], count: int) -> Tuple[float, float]:
    """CPU seconds of an identity pipeline and of `ExtractKeyphrases`, `count` articles."""
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from schemas.records import Article
    from transforms.enrich.keyphrase_step import ExtractKeyphrases

    def make(i: int) -> Article:
        language, doc = documents[i % len(documents)]
        aid = f"a{i}"
        return Article(aid, f"https://s{i % 7}.example/{aid}", None, None, doc.title, doc.text,
                       None, [], None, None, None, [], [], [], language, 0.99, None, None, None,
                       "h", aid, len(doc.text), "jsonl", "mem", "line:1", "plain_text", "run", 1)

    def run(step) -> float:
        started = time.process_time()
        with beam.Pipeline(runner=FnApiRunner()) as p:
            _ = (p | beam.Create(list(range(count)), reshuffle=False) | beam.Map(make)
                 | step | beam.Map(lambda article: None))
        return time.process_time() - started

    return (run(beam.Map(lambda article: article._replace(keywords=[]))),
            run(ExtractKeyphrases()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--chunks", default="10,25,50")
    parser.add_argument("--beam", type=int, default=0, metavar="N",
                        help="also time ExtractKeyphrases on the FnApiRunner over N articles")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"eval_keywords: skipped, no keyphrase sets at {DATA} "
              "(../shared/data ships beside the checkout in CI)")
        return 0
    try:
        import snowballstemmer  # noqa: F401
    except ImportError:
        print("eval_keywords: skipped, the matching rule needs snowballstemmer "
              "(pip install -e '.[bench]')")
        return 0
    sizes = [int(s) for s in args.chunks.split(",") if s]
    print(f"{'set':16} {'lang':4} {'docs':>4} {'method':10} {'F1@10':>6} {'P@10':>6} "
          f"{'R@10':>6} {'ms/article':>10}")
    every: List[Tuple[str, Document]] = []
    for folder in sorted(p for p in DATA.iterdir() if (p / "docsutf8").is_dir()):
        language, documents = load_set(folder)
        every.extend((language, d) for d in documents)
        stem = stemmer_for(language)
        rows: List[Tuple[str, List[List[str]], float]] = []
        for name, method in (("yake", run_yake), ("df", run_df)):
            predicted, ms = timed(method, documents, language, args.rounds)
            rows.append((name, predicted, ms))
        for size in sizes:
            if size < len(documents):
                predicted, ms = timed(lambda d, l: run_df_chunks(d, l, size), documents,
                                      language, args.rounds)
                rows.append((f"df/{size}", predicted, ms))
        for name, predicted, ms in rows:
            f1, p, r = score(predicted, documents, stem)
            print(f"{folder.name:16} {language:4} {len(documents):4} {name:10} {f1:6.3f} "
                  f"{p:6.3f} {r:6.3f} {ms:10.3f}")
    if args.beam and every:
        base, steps = beam_cost(every, args.beam)
        print(f"ExtractKeyphrases on the FnApiRunner, {args.beam} articles: "
              f"{1000 * (steps - base) / args.beam:.3f} ms CPU an article over a copying step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
