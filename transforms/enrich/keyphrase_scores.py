"""Keyphrases scored against the run's own document frequencies: pure functions, no Beam.

News keywords are the phrases that make an article different from the other
articles of its language and its source. After `transforms.enrich.keyphrases`
has found each article's candidates:

- `DocumentFrequencies`: how many articles of a language (and of a source
  within it) hold each candidate. `document_keys` gives what one article adds
  to the counts; the Beam step (`transforms.enrich.keyphrase_step`) sums them,
  and `keep_row` keeps the phrases common enough to matter.
- `score_keyphrases`: the weight, damped by (1 - share)², share the part of
  the language's articles (from `MIN_ARTICLES` on) or of the source's (from
  `MIN_SOURCE_ARTICLES` on) that hold the phrase, whichever is larger. A
  dateline ("(CNN)--"), a site name, a byline or a recurring section title
  holds in most of a source's articles and scores near zero by construction;
  a phrase of a few articles keeps its weight. (A full inverse document
  frequency, log N/df, was measured too: on the public keyphrase sets it
  ranks the topic words shared by a few articles of the day below chance
  words, and cost 0.01-0.02 F1@10; see benchmarks/eval_keywords.py.) A word
  that occurs (almost) only inside one two-word phrase ("الولايات" of
  "الولايات المتحدة", "Council" of "Security Council") gives way to the
  phrase, so names are kept whole. The site's own names are dropped.

Below `MIN_ARTICLES` articles of a language (and `MIN_SOURCE_ARTICLES` of a
source) nothing is damped: a small run is scored on the weights in the
article alone, which `benchmarks/eval_keywords.py` measured above YAKE on
both public sets even for runs of one article. `filter_keywords` applies the
same rules (stop word, weekday, month, site name, punctuation at an end) to
another extractor's keywords: YAKE's, where a run asks for it on small runs.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from transforms.enrich.keyphrases import (ARABIC_LETTER, KEYWORD_EDGE, Candidates,
                                          breaking_words, calendar_words, clitic_breaking,
                                          fold, fold_text, spelling)
from transforms.enrich.tag_vocabulary import SINGLE_WORD_KEYWORDS
from transforms.enrich.tags import ARABIC_CLITICS_LANGUAGES, site_keys
from transforms.extract.normalize import key_text

MAX_KEYPHRASES = 10
# Below this many articles of a language in a run, the share of articles
# holding a phrase says little (two articles of one story share their
# words): nothing is damped, or `transforms.enrich.keyphrase_step` asks YAKE.
MIN_ARTICLES = 50
# A source's share of articles holding a phrase is trusted from this many on.
MIN_SOURCE_ARTICLES = 20
# A phrase enters the table when it is held by this share of its language's
# (or source's) articles: below it the damping, (1 - share)², is 0.96 or
# more, and the table of a run of any size stays a few thousand phrases per
# language and source.
MIN_SHARE = 0.02
# A word that occurs inside one two-word phrase this share of its
# occurrences or more is part of a name: the phrase is kept, not the word.
NAME_SHARE = 0.75


def document_keys(phrases: Iterable[str], language: str, source: str) -> List[Tuple]:
    """What one article adds to the document-frequency counts: one key per
    phrase for its language and for its source (none for source ``""``),
    and the article counts (phrase ``""``)."""
    if not source:
        return [(language, "", "")] + [(language, "", phrase) for phrase in phrases]
    keys = [(language, "", ""), (language, source, "")]
    for phrase in phrases:
        keys.append((language, "", phrase))
        keys.append((language, source, phrase))
    return keys


def keep_row(key: Tuple[str, str, str], count: int, articles: Dict[Tuple[str, str], int],
             min_count: int = 2, min_share: float = MIN_SHARE) -> bool:
    """Whether a summed `document_keys` row belongs in the table: an article
    count always; a phrase held by `min_count` articles and `min_share` of its
    group, in a group large enough to be read (`MIN_ARTICLES` articles of a
    language, `MIN_SOURCE_ARTICLES` of a source)."""
    language, source, phrase = key
    if not phrase:
        return True
    least = least_count(language, source, articles, min_count, min_share)
    return least is not None and count >= least


def least_count(language: str, source: str, articles: Dict[Tuple[str, str], int],
                min_count: int = 2, min_share: float = MIN_SHARE) -> Optional[float]:
    """The articles a phrase of this group must be held by to enter the table
    (`keep_row`), None for a group too small to be read."""
    n = articles.get((language, source), 0)
    if n < (MIN_SOURCE_ARTICLES if source else MIN_ARTICLES):
        return None
    return max(min_count, min_share * n)


class DocumentFrequencies:
    """Counts of articles holding each phrase, per language and per source.

    `tables` maps ``(language, source)`` to ``{phrase: articles}`` (source
    ``""``: the whole language) and `articles` the same keys to the number of
    articles. Only the phrases `keep_row` keeps are there: the others are
    not damped.
    """

    def __init__(self, tables: Dict[Tuple[str, str], Dict[str, int]],
                 articles: Dict[Tuple[str, str], int]):
        self.tables = tables
        self.articles_by = articles

    @classmethod
    def from_rows(cls, rows: Iterable[Tuple[Tuple[str, str, str], int]]
                  ) -> "DocumentFrequencies":
        """From summed `document_keys` rows, ``((language, source, phrase), count)``,
        that `keep_row` kept."""
        tables: Dict[Tuple[str, str], Dict[str, int]] = {}
        articles: Dict[Tuple[str, str], int] = {}
        for (language, source, phrase), count in rows:
            if not phrase:
                articles[(language, source)] = articles.get((language, source), 0) + count
            else:
                table = tables.setdefault((language, source), {})
                table[phrase] = table.get(phrase, 0) + count
        return cls(tables, articles)

    @classmethod
    def from_documents(cls, documents: Iterable[Tuple[str, str, Iterable[str]]],
                       min_count: int = 2) -> "DocumentFrequencies":
        """From ``(language, source, phrases)`` of each article, outside Beam."""
        counters: Dict[Tuple[str, str], Counter] = {}
        articles: Dict[Tuple[str, str], int] = {}
        for language, source, phrases in documents:
            phrases = list(phrases)
            for key in {(language, ""), (language, source)}:
                counters.setdefault(key, Counter()).update(phrases)
                articles[key] = articles.get(key, 0) + 1
        tables = {}
        for key, counter in counters.items():  # `keep_row`'s bound, once per group
            least = least_count(key[0], key[1], articles, min_count)
            tables[key] = {} if least is None else {p: c for p, c in counter.items() if c >= least}
        return cls(tables, articles)

    def articles(self, language: str, source: str = "") -> int:
        return self.articles_by.get((language, source), 0)

    def count(self, language: str, phrase: str, source: str = "") -> int:
        return self.tables.get((language, source), {}).get(phrase, 1)

    def damping(self, language: str, source: str, phrase: str) -> float:
        """What a phrase's weight is multiplied by: (1 - share)², share the larger
        of its share of the language's articles (from `MIN_ARTICLES` articles
        on) and of the source's (from `MIN_SOURCE_ARTICLES` on); 1 below both."""
        table, n, source_table, n_source = self.lookup(language, source)
        share = 0.0
        if table is not None and phrase in table:  # held by more than one article
            share = table[phrase] / n
        if source_table is not None and phrase in source_table:
            share = max(share, source_table[phrase] / n_source)
        return (1.0 - min(1.0, share)) ** 2

    def lookup(self, language: str, source: str = ""):
        """What `damping` reads for one language and source: the language's
        table and article count, the source's table and article count; a table
        is None below its threshold."""
        n = self.articles(language)
        n_source = self.articles(language, source) if source else 0
        return (self.tables.get((language, ""), {}) if n >= MIN_ARTICLES else None, n,
                self.tables.get((language, source), {}) if n_source >= MIN_SOURCE_ARTICLES
                else None, n_source)


def source_of(source_name: Optional[str], site_name: Optional[str],
              url: Optional[str]) -> str:
    """The source an article is counted under: its URL's host (without
    ``www.``), else its site or source name, else ``""``."""
    if url:
        match = re.match(r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?([^/:?#]+)", url.strip().lower())
        if match and "." in match.group(1):
            return match.group(1)
    return key_text(site_name or source_name or "")


_GENERIC_LABELS = frozenset("www m com org net co gov ac edu news info arabic english".split())
# Words that name a site's edition, not the site: "RT Arabic" is RT, "BBC
# News" is BBC ("Westmere Herald" stays whole: Westmere is a town).
_EDITION_WORDS = frozenset("""arabic english french spanish german russian turkish persian
    news online daily world international edition global live tv عربي العربية عربية""".split())


@functools.lru_cache(maxsize=4096)
def site_words(site_names: Tuple[Optional[str], ...]) -> FrozenSet[str]:
    """Key forms of the site's own names: each name whole (`tags.site_keys`),
    its brand word ("rt" of "RT Arabic") and the distinctive label of each
    domain ("cnn" of arabic.cnn.com)."""
    keys = set(site_keys(site_names))
    for name in site_names:
        if not name:
            continue
        words = key_text(name).split()
        brand = [word for word in words if word not in _EDITION_WORDS]
        if len(brand) == 1 and len(words) > 1:
            keys.add(brand[0])
        match = re.match(r"^(?:[a-z][a-z0-9+.-]*://)?([^/:?#\s]+\.[a-z]{2,})(?:[/:?#]|$)",
                         name.strip().lower())
        if match:
            labels = [label for label in match.group(1).split(".")[:-1]
                      if label not in _GENERIC_LABELS]
            if labels:
                keys.add(key_text(labels[-1]))
    keys.discard("")
    return frozenset(keys)


def is_clean_keyword(keyword: str, language: str, site: FrozenSet[str]) -> bool:
    """False for a stop word, a weekday or month name, the site's own name, a
    keyword that ends or starts in punctuation, or one without a letter."""
    if (not keyword or keyword != keyword.strip(KEYWORD_EDGE)
            or not any(c.isalpha() for c in keyword)):
        return False
    words = [fold(word) for word in keyword.split()]
    breaking = breaking_words(language)
    if all(word in breaking for word in words) or any(w in calendar_words(language)
                                                      for w in words):
        return False
    if words[0] in breaking or words[-1] in breaking:
        return False
    if ARABIC_LETTER.search(keyword) and any(clitic_breaking(w, breaking) for w in words):
        return False  # "وذلك": a conjunction before a stop word
    return key_text(keyword) not in site


def filter_keywords(keywords: Iterable[str], language: str,
                    site_names: Sequence[Optional[str]] = ()) -> List[str]:
    """`keywords` (another extractor's, best first) without those `is_clean_keyword` refuses."""
    site = site_words(tuple(site_names))
    return [k for k in keywords if is_clean_keyword(k, language, site)]


def _names_absorb(found: Candidates) -> Dict[str, str]:
    """Words that belong to one two-word phrase: word key -> phrase key. A word
    seen at least twice inside the phrase, in `NAME_SHARE` of its occurrences."""
    counts = found.counts
    absorbed: Dict[str, str] = {}
    for key, count in counts.items():
        if count < 2 or key.count(" ") != 1:
            continue
        for word in key.split(" "):
            if count >= NAME_SHARE * counts.get(word, 0):
                best = absorbed.get(word)
                if best is None or counts[best] < count:
                    absorbed[word] = key
    return absorbed


def score_keyphrases(found: Candidates, language: str, source: str,
                     frequencies: "DocumentFrequencies",
                     site_names: Sequence[Optional[str]] = (),
                     max_keyphrases: int = MAX_KEYPHRASES) -> List[str]:
    """The best `max_keyphrases` candidates of one article, best first, as spelt there.

    Score: the candidate's weight in the article times
    `DocumentFrequencies.damping`. Left out: a phrase of several words seen once
    (a chance neighbourhood of words, in the title too), a word that
    `_names_absorb` gives to its two-word name, a part of a phrase already
    chosen, and the site's own names.
    """
    counts, weights = found.counts, found.weights
    absorbed = _names_absorb(found)
    table, n, source_table, n_source = frequencies.lookup(language, source)
    scored = []
    for key, weight in weights.items():
        if key in absorbed:
            continue
        if " " in key and counts[key] < 2:
            continue
        share = 0.0
        if table is not None:
            df = table.get(key)
            if df is not None:  # held by more than one article of the language
                share = df / n
        if source_table is not None and key in source_table:
            share = max(share, source_table[key] / n_source)
        if share:
            weight *= (1.0 - min(1.0, share)) ** 2
        if weight > 0:
            scored.append((weight, key))
    scored.sort(reverse=True)
    site = site_words(tuple(site_names))
    folded = fold_text(found.sample, language in ARABIC_CLITICS_LANGUAGES
                        or language in SINGLE_WORD_KEYWORDS)
    chosen: List[str] = []
    covered = set()  # the parts of the phrases chosen
    for _, key in scored:
        if key in covered:
            continue
        surface = spelling(found, key, folded)
        if site and key_text(surface) in site:
            continue
        chosen.append(surface)
        if len(chosen) == max_keyphrases:
            break
        words = key.split(" ")
        for n in range(1, len(words)):
            for i in range(len(words) - n + 1):
                covered.add(" ".join(words[i:i + n]))
    return chosen
