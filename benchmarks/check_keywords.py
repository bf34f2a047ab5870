"""Checks the keywords of real Arabic and English articles against the rules of issue 18.

    python benchmarks/check_keywords.py [--show 3]

Articles, read as the pipeline reads them:

- the seeds: ``seeds/rt-arabic-dump.txt`` and ``seeds/en-sample-dump.txt``
  (split and cleaned by `transforms.extract.text_dump`), ``seeds/sample-articles.jsonl``;
- ``../shared/data/html/goose3/*.html`` (goose3's test pages, CNN Arabic
  among them) and ``../shared/data/html/scrapinghub-aeb/html/*.html.gz``
  (181 news pages), extracted by `extract_html` as the pipeline does.

Each article's language comes from `LanguageDetector`; the Arabic and the
English articles are kept. All of them form one run: candidates of every
article, one document-frequency table (per language, per source = host),
then `score_keyphrases` for each, as `ExtractKeyphrases` does; YAKE
(`KeywordExtractor`, the enrich step before issue 18) runs beside it for contrast.

Every keyword is checked by rules written here, apart from the code under
test: a stop word (newsbeam's stop list of the language, every word of the
keyword), a weekday or month name (CLDR through Babel, every region of the
language, also behind an Arabic conjunction or preposition), the source's own
name (site name, source name, the host's distinctive label), a first or last
character that is punctuation; and a split two-word name: a one-word keyword
whose occurrences in the article are (three quarters or more, twice or more)
inside one two-word sequence of the article that does not start with a
number ("الولايات" of "الولايات المتحدة", "Euro" of "Euro 2020").

Prints, per language and method, articles, keywords and the count of each
violation, with examples; exits 1 when the new method has any.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from transforms.enrich.keyphrase_scores import (DocumentFrequencies,  # noqa: E402
                                                score_keyphrases, source_of)
from transforms.enrich.keyphrases import KEYPHRASE_CHARS, candidates  # noqa: E402
from transforms.enrich.tags import KeywordExtractor, stopwords  # noqa: E402

DATA = REPO.parent / "shared" / "data"
LANGUAGES = ("ar", "en")
_PREFIXES = ("وب", "ول", "فب", "فل", "و", "ف", "ب", "ل")
_WORD = re.compile(r"\w+(?:[-.&]\w+)*")
# Words, and anything else between two words that is not white space (a
# separator: no pair spans it).
_PIECE = re.compile(r"\w+(?:[-.&]\w+)*|[^\w\s]+")


class Sample(NamedTuple):
    origin: str
    title: Optional[str]
    text: str
    site_name: Optional[str]
    source_name: Optional[str]
    url: Optional[str]


def seed_articles() -> List[Sample]:
    from transforms.extract.text_dump import clean_segment, split_page

    samples = []
    for name, language in (("rt-arabic-dump.txt", "ar"), ("en-sample-dump.txt", "en")):
        page = split_page((REPO / "seeds" / name).read_text(encoding="utf-8"))
        for segment in page.segments:
            article = clean_segment(segment.text, segment.title, language)
            if article.text:
                samples.append(Sample(f"seeds/{name}", article.title, article.text,
                                      None, page.source_name, None))
    for line in (REPO / "seeds" / "sample-articles.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("text"):
            samples.append(Sample("seeds/sample-articles.jsonl", record.get("title"),
                                  record["text"], None, record.get("source"), record.get("url")))
    return samples


def html_articles() -> List[Sample]:
    from transforms.extract.html_extract import extract_html

    pages: List[Tuple[str, bytes, Optional[str]]] = []
    for spec in sorted((DATA / "html" / "goose3").glob("*.json")):
        page = spec.with_suffix(".html")
        if page.exists():
            url = json.loads(spec.read_text(encoding="utf-8")).get("url")
            pages.append((f"goose3/{page.name}", page.read_bytes(), url))
    truth_path = DATA / "html" / "scrapinghub-aeb" / "ground-truth.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8")) if truth_path.exists() else {}
    for key, item in sorted(truth.items()):
        page = DATA / "html" / "scrapinghub-aeb" / "html" / f"{key}.html.gz"
        if page.exists():
            pages.append((f"scrapinghub/{key[:12]}", gzip.decompress(page.read_bytes()),
                          item.get("url")))
    samples = []
    for origin, payload, url in pages:
        try:
            extracted = extract_html(payload, None, url)
        except Exception:  # a page with no article text has no keywords to check
            continue
        samples.append(Sample(origin, extracted.title, extracted.text, extracted.site_name,
                              None, extracted.page_url or url))
    return samples


def calendar_names(language: str) -> set:
    from babel import localedata
    from babel.dates import get_day_names, get_month_names

    names = set()
    for code in localedata.locale_identifiers():
        if code == language or code.startswith(language + "_"):
            for context in ("format", "stand-alone"):
                for table in (get_month_names("wide", context, locale=code),
                              get_day_names("wide", context, locale=code)):
                    names.update(fold(n) for name in table.values() for n in name.split())
    return names


def fold(word: str) -> str:
    word = unicodedata.normalize("NFKC", word).lower()
    word = re.sub("[\u064b-\u065f\u0670\u0640]", "", word)
    return word.translate(str.maketrans("أإآٱىة", "اااايه"))


def own_names(sample: Sample) -> set:
    names = set()
    for name in (sample.site_name, sample.source_name):
        if name:
            names.add(fold(" ".join(_WORD.findall(name))))
    if sample.url:
        host = re.sub(r"^[a-z]+://", "", sample.url.lower()).split("/")[0].split(":")[0]
        labels = [x for x in host.split(".")[:-1]
                  if x not in {"www", "m", "com", "co", "org", "net", "news", "arabic"}]
        if labels:
            names.add(labels[-1])
    return names


def violations(keyword: str, sample: Sample, language: str, stop: set, calendar: set,
               text_words: List[str]) -> List[str]:
    found = []
    words = [fold(w) for w in keyword.split()]
    bare = [next((w[len(p):] for p in _PREFIXES if w.startswith(p) and w[len(p):] in stop | calendar),
                 w) if language == "ar" else w for w in words]
    if all(w in stop for w in bare) or words[0] in stop or words[-1] in stop:
        found.append("stop word")
    if any(w in calendar for w in bare):
        found.append("weekday or month")
    if fold(" ".join(_WORD.findall(keyword))) in own_names(sample):
        found.append("source's own name")
    if unicodedata.category(keyword[-1])[0] == "P" or unicodedata.category(keyword[0])[0] == "P":
        found.append("punctuation at an end")
    if len(words) == 1:
        occurrences = sum(1 for w in text_words if w == words[0])
        pairs = Counter()
        for a, b in zip(text_words, text_words[1:]):
            if ((a == words[0] or b == words[0]) and _WORD.fullmatch(a) and _WORD.fullmatch(b)
                    and not a[0].isdigit()):  # "1 goal" is no name; "Euro 2020" is
                pairs[(a, b)] += 1
        if pairs:
            (pair, count), = pairs.most_common(1)
            if count >= 2 and count >= 0.75 * occurrences and all(w not in stop for w in pair):
                found.append("split two-word name")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", type=int, default=3, help="examples per violation")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"check_keywords: skipped, no data at {DATA} "
              "(../shared/data ships beside the checkout in CI)")
        return 0
    from transforms.enrich.language import LanguageDetector

    detector = LanguageDetector()
    by_language: Dict[str, List[Sample]] = defaultdict(list)
    for sample in seed_articles() + html_articles():
        language = detector.identify(sample.title, sample.text).language
        if language in LANGUAGES:
            by_language[language].append(sample)
    yake = KeywordExtractor()
    failed = 0
    print(f"{'lang':4} {'method':6} {'articles':>8} {'keywords':>8}  violations")
    for language in LANGUAGES:
        samples = by_language[language]
        stop = {fold(w) for w in stopwords(language)}
        calendar = calendar_names(language)
        found = [candidates(s.title, s.text, language) for s in samples]
        sources = [source_of(s.source_name, s.site_name, s.url) for s in samples]
        table = DocumentFrequencies.from_documents(
            (language, source, f.counts) for source, f in zip(sources, found))
        outputs = {
            "new": [score_keyphrases(f, language, source, table,
                                     (s.site_name, s.source_name, s.url))
                    for s, f, source in zip(samples, found, sources)],
            "yake": [yake.extract(s.title, s.text, language) for s in samples],
        }
        for method, keyword_lists in outputs.items():
            counts: Counter = Counter()
            examples: Dict[str, List[str]] = defaultdict(list)
            names_whole = 0
            for sample, keywords in zip(samples, keyword_lists):
                # What the keywords were read from; a pair is two words with only
                # white space between them.
                title = sample.title or ""
                body = sample.text[len(title):] if sample.text.startswith(title) else sample.text
                text = f"{title}\n{body[:KEYPHRASE_CHARS]}"
                text_words = [fold(w) for w in _PIECE.findall(text)]
                for keyword in keywords:
                    if len(keyword.split()) == 2:
                        names_whole += 1
                    for reason in violations(keyword, sample, language, stop, calendar,
                                             text_words):
                        counts[reason] += 1
                        if len(examples[reason]) < args.show:
                            examples[reason].append(f"{keyword!r} ({sample.origin})")
            total = sum(len(k) for k in keyword_lists)
            summary = ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items())) or "none"
            print(f"{language:4} {method:6} {len(samples):8} {total:8}  {summary}"
                  f"  [two-word keywords: {names_whole}]")
            for reason, shown in sorted(examples.items()):
                print(f"{'':21}{reason}: " + "; ".join(shown))
            if method == "new":
                failed += sum(counts.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
