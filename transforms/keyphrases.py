"""Keyphrases scored against the run's own document frequencies: pure functions.

News keywords are the phrases that make an article different from the other
articles of its language and its source. Three steps, none of them Beam:

1. `candidates`: the stop-word-delimited word n-grams (1 to 3 words) of the
   title and the start of the body, with their weight in the article: how
   often they occur, how early, and whether the title has them. Stop words
   (newsbeam's lists, `transforms.enrich.stopwords`), weekday and month names
   (CLDR, through Babel), punctuation, single letters and numbers end a
   phrase, so no candidate is or holds one of them, and none ends in
   punctuation. Arabic text is prepared as for YAKE today: diacritics and
   tatweel stripped, Arabic punctuation mapped, and a leading conjunction or
   preposition cut where the bare word occurs in the same text.
2. `DocumentFrequencies`: how many articles of a language (and of a source
   within it) hold each candidate. `document_keys` gives what one article
   adds to the counts; the Beam step (`transforms.keyphrase_step`) sums them.
3. `score_keyphrases`: weight x inverse document frequency, damped by the
   share of the source's own articles that hold the phrase. A dateline
   ("(CNN)--"), a site name, a byline or a recurring section title holds in
   most of a source's articles and scores near zero by construction. A word
   that occurs (almost) only inside one two-word phrase ("الولايات" of
   "الولايات المتحدة", "Council" of "Security Council") gives way to the
   phrase, so names are kept whole. The site's own names are dropped.

`filter_keywords` applies the same rules (stop word, weekday, month, site
name, trailing punctuation) to the keywords of another extractor: YAKE, the
fallback for runs with too few articles of a language to count.
"""
from __future__ import annotations

import functools
from collections import Counter
import math
import re
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from transforms.enrich import (_ARABIC_PUNCTUATION, _QUOTES, ARABIC_CLITICS_LANGUAGES,
                               _site_keys, _strip_arabic_clitics, stopwords)
from transforms.normalize import key_text, strip_arabic_marks
from transforms.tag_vocabulary import NO_WORD_SPACES, SINGLE_WORD_KEYWORDS

MAX_KEYPHRASES = 10
MAX_WORDS = 3
# Characters of title and body read: the lead of a news article carries its
# keywords, and the cost is linear in them.
KEYPHRASE_CHARS = 1500
# Below this many articles of a language in a run, document frequencies say
# little and `transforms.keyphrase_step` falls back to YAKE.
MIN_ARTICLES = 50
# A source's share of articles holding a phrase is trusted from this many on.
MIN_SOURCE_ARTICLES = 20
# A word that occurs inside one two-word phrase this share of its
# occurrences or more is part of a name: the phrase is kept, not the word.
NAME_SHARE = 0.75
TITLE_WEIGHT = 2.0
# Position decay: an occurrence at token p weighs 1 + LEAD / (LEAD + p).
LEAD_TOKENS = 40

# A word: letters, digits and marks, with inner hyphens, dots and ampersands
# ("Timor-Leste", "U.S", "AT&T"). Anything else (punctuation, apostrophes,
# symbols) is a separator group and ends a phrase.
_TOKEN = re.compile(r"(\w+(?:[-.&]\w+)*)|[^\w\s]")
_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
_ARABIC_PREFIXES = ("وب", "ول", "فب", "فل", "و", "ف", "ب", "ل")
# Characters a keyword may not end or start with.
_EDGE = " \t\r\n\"'`#*•·-–—_:;,.!?()[]{}<>«»“”‘’„/\\\u060c\u061b\u061f\u06d4"


def fold(word: str) -> str:
    """The comparison form of a word: lower-cased, Arabic marks and letter variants folded."""
    word = word.lower()
    if _ARABIC_LETTER.search(word):
        word = strip_arabic_marks(word).translate(_ARABIC_FOLD)
    return word


@functools.lru_cache(maxsize=None)
def calendar_words(language: str) -> FrozenSet[str]:
    """Weekday and month names of `language` in every CLDR region, wide forms in
    both grammatical contexts, folded; the words of two-word names too
    ("كانون الثاني" gives both words)."""
    try:
        from babel import localedata
        from babel.dates import get_day_names, get_month_names
    except ImportError:  # pragma: no cover - babel is a dependency
        return frozenset()
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

    def __len__(self) -> int:
        return len(self.counts)

    def __iter__(self):
        return iter(self.counts)


EMPTY = Candidates({}, {}, frozenset(), "", 0)


def _fold_text(text: str, arabic: bool) -> str:
    # lower(), not casefold(): it keeps the length ("ß" stays one letter), so
    # a phrase found in the folded text has its spelling at the same place.
    folded = text.lower()
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
    arabic = language in ARABIC_CLITICS_LANGUAGES or language in SINGLE_WORD_KEYWORDS
    sample = f"{title_part}\n{body}"
    folded = _fold_text(sample, arabic)
    if len(folded) != len(sample):  # "İ" lowers to two characters: fold word by word
        folded = " ".join(fold(word) if word else "," for word in _TOKEN.findall(sample))
        sample = folded
    body_start = len(title_part) + 1
    phrases: List[str] = []
    positions: List[int] = []
    title_phrases: List[str] = []
    position = 0
    for part in (folded[:body_start], folded[body_start:]):
        one = two = None
        for word in _TOKEN.findall(part):
            if word:
                position += 1
                if not (len(word) < 2 or word in breaking or word[0].isdigit()
                        or (arabic and _clitic_breaking(word, breaking))):
                    phrases.append(word)
                    positions.append(position)
                    if one is not None:
                        pair = f"{one} {word}"
                        phrases.append(pair)
                        positions.append(position - 1)
                        if two is not None:
                            phrases.append(f"{two} {word}")
                            positions.append(position - 2)
                        two = pair
                    else:
                        two = None
                    one = word
                    continue
            one = two = None
        if not title_phrases:
            title_phrases = phrases[:]
    counts = dict(Counter(phrases))
    # Weight: each occurrence 1 + LEAD / (LEAD + position), twice that in the title.
    weights: Dict[str, float] = {}
    get = weights.get
    titled = len(title_phrases)
    for i, (phrase, at) in enumerate(zip(phrases, positions)):
        weights[phrase] = get(phrase, 0.0) + (TITLE_WEIGHT if i < titled else 1.0) * (
            1.0 + LEAD_TOKENS / (LEAD_TOKENS + at))
    return Candidates(counts, weights, frozenset(title_phrases), sample, body_start)


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


def _clitic_breaking(key: str, breaking: FrozenSet[str]) -> bool:
    """"والجمعة", "بأن": a conjunction or preposition before a stop word or a weekday."""
    for prefix in _ARABIC_PREFIXES:
        if key.startswith(prefix) and key[len(prefix):] in breaking:
            return True
    return False


def document_keys(phrases: Iterable[str], language: str, source: str) -> List[Tuple]:
    """What one article adds to the document-frequency counts: one key per
    phrase for its language and for its source, and the two article counts
    (phrase ``""``)."""
    keys = [(language, "", ""), (language, source, "")]
    for phrase in phrases:
        keys.append((language, "", phrase))
        keys.append((language, source, phrase))
    return keys


class DocumentFrequencies:
    """Counts of articles holding each phrase, per language and per source.

    Built from the ``(language, source, phrase) -> count`` rows that
    `document_keys` feeds (source ``""`` for the whole language, phrase ``""``
    for the number of articles); rows of phrases held by one article only may
    be left out (they count as 1).
    """

    def __init__(self, counts: Dict[Tuple[str, str, str], int]):
        self._counts = counts

    @classmethod
    def from_documents(cls, documents: Iterable[Tuple[str, str, Iterable[str]]],
                       min_count: int = 2) -> "DocumentFrequencies":
        """From ``(language, source, phrases)`` of each article, outside Beam."""
        counts: Dict[Tuple[str, str, str], int] = {}
        for language, source, phrases in documents:
            for key in document_keys(phrases, language, source):
                counts[key] = counts.get(key, 0) + 1
        return cls({k: v for k, v in counts.items() if v >= min_count or not k[2]})

    def articles(self, language: str, source: str = "") -> int:
        return self._counts.get((language, source, ""), 0)

    def count(self, language: str, phrase: str, source: str = "") -> int:
        return self._counts.get((language, source, phrase), 1)

    def idf(self, language: str, source: str, phrase: str) -> float:
        """log((N + 1) / (df + 0.5)) over the language, times (1 - share)² where
        share is the part of the source's articles holding the phrase (from
        `MIN_SOURCE_ARTICLES` articles of the source on)."""
        return self.scorer(language, source)(phrase)

    def scorer(self, language: str, source: str = ""):
        """`idf` of one language and source, as a function of the phrase."""
        counts = self._counts
        log_n = math.log(self.articles(language) + 1)
        n_source = self.articles(language, source) if source else 0
        per_source = n_source >= MIN_SOURCE_ARTICLES

        def idf(phrase: str) -> float:
            value = log_n - math.log(counts.get((language, "", phrase), 1) + 0.5)
            if per_source:
                share = counts.get((language, source, phrase), 1) / n_source
                value *= (1.0 - min(1.0, share)) ** 2
            return value

        return idf


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


@functools.lru_cache(maxsize=4096)
def site_words(site_names: Tuple[Optional[str], ...]) -> FrozenSet[str]:
    """Folded keys of the site's own names: each name whole (`enrich._site_keys`)
    and the distinctive label of each domain ("cnn" of arabic.cnn.com)."""
    keys = set(_site_keys(site_names))
    for name in site_names:
        if not name:
            continue
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
    `DocumentFrequencies.idf`. Left out: a phrase of several words seen once
    outside the title (a chance neighbourhood of words), a word that
    `_names_absorb` gives to its two-word name, a part of a phrase already
    chosen, and the site's own names.
    """
    counts, weights, title = found.counts, found.weights, found.title
    absorbed = _names_absorb(found)
    idf = frequencies.scorer(language, source)
    scored = []
    for key, count in counts.items():
        in_title = key in title
        if key in absorbed or (count < 2 and not in_title and " " in key):
            continue
        score = weights[key] * idf(key)
        if score > 0:
            scored.append((score, key))
    scored.sort(key=lambda item: (-item[0], item[1]))
    site = site_words(tuple(site_names))
    folded = _fold_text(found.sample, language in ARABIC_CLITICS_LANGUAGES
                        or language in SINGLE_WORD_KEYWORDS)
    chosen: List[str] = []
    taken: List[str] = []
    for _, key in scored:
        if any(_contains(other, key) for other in taken):
            continue
        surface = spelling(found, key, folded)
        if site and key_text(surface) in site:
            continue
        taken.append(key)
        chosen.append(surface)
        if len(chosen) == max_keyphrases:
            break
    return chosen


def _contains(longer: str, shorter: str) -> bool:
    return len(longer) > len(shorter) and f" {shorter} " in f" {longer} "
