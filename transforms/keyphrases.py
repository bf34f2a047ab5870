"""Keyphrases scored against the run's own document frequencies: pure functions.

News keywords are the phrases that make an article different from the other
articles of its language and its source. Three steps, none of them Beam:

1. `candidates`: the stop-word-delimited word n-grams (1 to 3 words) of the
   title and the start of the body, with their weight in the article: how
   often they occur, how early, and whether the title has them. Stop words
   (newsbeam's lists, `transforms.enrich.stopwords`), weekday and month names
   (CLDR, through Babel), punctuation and single letters end a phrase, so no
   candidate is or holds one of them, and none ends in punctuation. A number
   may end a phrase ("Falcon 9", "Euro 2020") but not start one or stand
   alone. Arabic text is prepared as for YAKE today: diacritics and tatweel
   stripped, Arabic punctuation mapped, and a leading conjunction or
   preposition cut where the bare word occurs in the same text.
2. `DocumentFrequencies`: how many articles of a language (and of a source
   within it) hold each candidate. `document_keys` gives what one article
   adds to the counts; the Beam step (`transforms.keyphrase_step`) sums them.
3. `score_keyphrases`: the weight, damped by (1 - share)², share the part of
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
import math
import re
import unicodedata
from collections import Counter
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from transforms.enrich import (_ARABIC_PUNCTUATION, _QUOTES, ARABIC_CLITICS_LANGUAGES,
                               _site_keys, _strip_arabic_clitics, stopwords)
from transforms.normalize import _char_class, key_text, strip_arabic_marks
from transforms.tag_vocabulary import NO_WORD_SPACES, SINGLE_WORD_KEYWORDS

MAX_KEYPHRASES = 10
MAX_WORDS = 3
# Characters of title and body read: the lead of a news article carries its
# keywords, and the cost is linear in them.
KEYPHRASE_CHARS = 1200
# Below this many articles of a language in a run, the share of articles
# holding a phrase says little (two articles of one story share their
# words): nothing is damped, or `transforms.keyphrase_step` asks YAKE.
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
TITLE_WEIGHT = 2.0
# Position decay: an occurrence at token p weighs 1 + LEAD / (LEAD + p).
LEAD_TOKENS = 40

# A word: letters, marks and digits, with inner hyphens, dots and ampersands
# ("Timor-Leste", "U.S", "AT&T"). Anything else but white space (punctuation,
# apostrophes, symbols) is a separator and ends a phrase. Built from Unicode
# categories: ``\w`` splits Indic words at their vowel signs, and an explicit
# class is faster.
_WORD_CHARS = _char_class(lambda ch: unicodedata.category(ch)[0] in "LMN")
_TOKEN = re.compile(f"([{_WORD_CHARS}]+(?:[-.&][{_WORD_CHARS}]+)*)|[^{_WORD_CHARS}\\s]")
_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
_ARABIC_PREFIXES = ("وب", "ول", "فب", "فل", "و", "ف", "ب", "ل")
# Characters a keyword may not end or start with.
_EDGE = " \t\r\n\"'`#*•·-–—_:;,.!?()[]{}<>«»“”‘’„/\\\u060c\u061b\u061f\u06d4"


def fold(word: str) -> str:
    """The comparison form of a word: lower-cased, Arabic marks and letter variants folded."""
    word = word.replace("İ", "i").lower()
    if _ARABIC_LETTER.search(word):
        word = strip_arabic_marks(word).translate(_ARABIC_FOLD)
    return word


@functools.lru_cache(maxsize=None)
def calendar_words(language: str) -> FrozenSet[str]:
    """Weekday and month names of `language` in every CLDR region, wide forms in
    both grammatical contexts, folded; the words of two-word names too
    ("كانون الثاني" gives both words)."""
    from babel import localedata
    from babel.dates import get_day_names, get_month_names

    names = set()
    locales = [code for code in localedata.locale_identifiers()
               if code == language or code.startswith(language + "_")]
    for code in locales:
        for context in ("format", "stand-alone"):
            for table in (get_month_names("wide", context, locale=code),
                          get_day_names("wide", context, locale=code)):
                for name in table.values():
                    names.update(fold(word) for word in name.split())
    return frozenset(names)


@functools.lru_cache(maxsize=None)
def breaking_words(language: str) -> FrozenSet[str]:
    """Words that end a candidate phrase in `language`: stop words, weekdays, months."""
    return frozenset(fold(word) for word in stopwords(language)) | calendar_words(language)


def phrase_text(title: Optional[str], text: str, language: str,
                limit: int = KEYPHRASE_CHARS) -> Tuple[str, str]:
    """Title and the start of the body, each prepared as for YAKE (Arabic
    clitics cut against the words of both)."""
    title = " ".join((title or "").split())
    body = text[len(title):] if title and text.startswith(title) else text
    body = body[:limit]
    if language in SINGLE_WORD_KEYWORDS:
        title, body = (_QUOTES.sub(" ", strip_arabic_marks(part).translate(_ARABIC_PUNCTUATION))
                       for part in (title, body))
    if language in ARABIC_CLITICS_LANGUAGES:
        title, _, body = _strip_arabic_clitics(f"{title}\n{body}").partition("\n")
    return title, body


class Candidates(NamedTuple):
    """The candidate phrases of one article, by folded key (words joined by one space).

    `sample` is the text they were read from (title, newline, body) and
    `body_start` where its body starts: spellings are looked up there only
    for the phrases chosen.
    """
    counts: Dict[str, int]
    weights: Dict[str, float]
    title: FrozenSet[str]
    sample: str
    body_start: int


EMPTY = Candidates({}, {}, frozenset(), "", 0)


# 1 + LEAD / (LEAD + p) for word positions p (1.0 from far on).
_LEAD_SIZE = 4000
_LEAD = [1.0 + LEAD_TOKENS / (LEAD_TOKENS + p) for p in range(_LEAD_SIZE)]
# Per language, folded word -> `_word_kind`: a lookup instead of four
# tests, bounded by clearing it.
_KNOWN_WORDS = 200_000


@functools.lru_cache(maxsize=None)
def _content_words(language: str) -> Dict[str, bool]:
    return {}


def _fold_text(text: str, arabic: bool) -> str:
    # lower(), not casefold(): it keeps the length ("ß" stays one letter), so
    # a phrase found in the folded text has its spelling at the same place;
    # the Turkish "İ" would lower to "i" and a combining dot.
    folded = text.replace("İ", "i").lower()
    return folded.translate(_ARABIC_FOLD) if arabic else folded


def candidates(title: Optional[str], text: str, language: str,
               limit: int = KEYPHRASE_CHARS) -> Candidates:
    """The candidate phrases of an article (none for languages written without
    spaces and for ``und``): every run of 1 to `MAX_WORDS` words between
    breaking words, with how often it occurs, its weight (each occurrence
    ``1 + LEAD / (LEAD + p)`` at word position p, times `TITLE_WEIGHT` in the
    title), and whether the title has it."""
    if not language or language == "und" or language in NO_WORD_SPACES:
        return EMPTY
    title_part, body = phrase_text(title, text, language, limit)
    breaking = breaking_words(language)
    known = _content_words(language)
    if len(known) > _KNOWN_WORDS:
        known.clear()
    arabic = language in ARABIC_CLITICS_LANGUAGES or language in SINGLE_WORD_KEYWORDS
    sample = f"{title_part}\n{body}"
    folded = _fold_text(sample, arabic)
    if len(folded) != len(sample):  # a letter lowered to two: fold word by word
        title_part, body = (" ".join(fold(word) if word else "," for word in _TOKEN.findall(part))
                            for part in (title_part, body))
        sample = folded = f"{title_part}\n{body}"
    body_start = len(title_part) + 1
    phrases: List[str] = []
    weights: Dict[str, float] = {}
    get = weights.get
    lead = _LEAD
    title_phrases: FrozenSet[str] = frozenset()
    position = 0
    for part, base in ((folded[:body_start], TITLE_WEIGHT), (folded[body_start:], 1.0)):
        one = two = None
        w_one = w_two = 0.0
        for word in _TOKEN.findall(part):
            if word:
                position += 1
                content = known.get(word)
                if content is None:
                    content = known[word] = _word_kind(word, breaking, arabic)
                if content == _NUMBER:
                    # A number ends a name ("Falcon 9", "Euro 2020") but starts none.
                    if one is not None:
                        pair = f"{one} {word}"
                        phrases.append(pair)
                        weights[pair] = get(pair, 0.0) + w_one
                        if two is not None:
                            triple = f"{two} {word}"
                            phrases.append(triple)
                            weights[triple] = get(triple, 0.0) + w_two
                elif content:
                    # A phrase weighs what its first word's position gives.
                    w = base * (lead[position] if position < _LEAD_SIZE else 1.0)
                    phrases.append(word)
                    weights[word] = get(word, 0.0) + w
                    if one is not None:
                        pair = f"{one} {word}"
                        phrases.append(pair)
                        weights[pair] = get(pair, 0.0) + w_one
                        if two is not None:
                            triple = f"{two} {word}"
                            phrases.append(triple)
                            weights[triple] = get(triple, 0.0) + w_two
                        two, w_two = pair, w_one
                    else:
                        two = None
                    one, w_one = word, w
                    continue
            one = two = None
        if base == TITLE_WEIGHT:
            title_phrases = frozenset(phrases)
    return Candidates(dict(Counter(phrases)), weights, title_phrases, sample, body_start)


def spelling(found: Candidates, key: str, folded: Optional[str] = None) -> str:
    """How the article spells the phrase `key`: its first place in the body,
    else in the title (the key itself where neither holds it as one string).
    `folded`: the sample folded, when the caller has it."""
    if not found.sample:
        return key
    if folded is None:
        folded = _fold_text(found.sample, bool(_ARABIC_LETTER.search(key)))
    at = folded.find(key, found.body_start)
    if at < 0:
        at = folded.find(key)
    if at < 0:
        return key
    return found.sample[at:at + len(key)]


_NUMBER = 2


def _word_kind(word: str, breaking: FrozenSet[str], arabic: bool):
    """True for a word that may be part of a phrase, `_NUMBER` for a number
    (it may only end one), False for a breaking word."""
    if word[0].isdigit():
        return _NUMBER if word.isdigit() else False
    return not (len(word) < 2 or word in breaking
                or (arabic and _clitic_breaking(word, breaking)))


def _clitic_breaking(key: str, breaking: FrozenSet[str]) -> bool:
    """"والجمعة", "بأن": a conjunction or preposition before a stop word or a weekday."""
    for prefix in _ARABIC_PREFIXES:
        if key.startswith(prefix) and key[len(prefix):] in breaking:
            return True
    return False


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
    n = articles.get((language, source), 0)
    if n < (MIN_SOURCE_ARTICLES if source else MIN_ARTICLES):
        return False
    return count >= min_count and count >= min_share * n


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
        tables = {key: {p: c for p, c in counter.items()
                        if keep_row((key[0], key[1], p), c, articles, min_count)}
                  for key, counter in counters.items()}
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
    """Key forms of the site's own names: each name whole (`enrich._site_keys`),
    its brand word ("rt" of "RT Arabic") and the distinctive label of each
    domain ("cnn" of arabic.cnn.com)."""
    keys = set(_site_keys(site_names))
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
    if not keyword or keyword != keyword.strip(_EDGE) or not any(c.isalpha() for c in keyword):
        return False
    words = [fold(word) for word in keyword.split()]
    breaking = breaking_words(language)
    if all(word in breaking for word in words) or any(w in calendar_words(language)
                                                      for w in words):
        return False
    if words[0] in breaking or words[-1] in breaking:
        return False
    if _ARABIC_LETTER.search(keyword) and any(_clitic_breaking(w, breaking) for w in words):
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
    folded = _fold_text(found.sample, language in ARABIC_CLITICS_LANGUAGES
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
