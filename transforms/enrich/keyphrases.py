"""Keyphrase candidates of one article: pure functions, no Beam.

The first of the three steps of keywords scored against a run's document
frequencies (`transforms.enrich.keyphrase_scores` scores them,
`transforms.enrich.keyphrase_step` is the Beam composite):

`candidates` gives the stop-word-delimited word n-grams (1 to 3 words) of the
title and the start of the body, with their weight in the article: how often
they occur, how early, and whether the title has them. Stop words (newsbeam's
lists, `transforms.enrich.tags.stopwords`), weekday and month names (CLDR,
through Babel), punctuation and single letters end a phrase, so no candidate
is or holds one of them, and none ends in punctuation. A number may end a
phrase ("Falcon 9", "Euro 2020") but not start one or stand alone. Arabic
text is prepared as for YAKE: diacritics and tatweel stripped, Arabic
punctuation mapped, and a leading conjunction or preposition cut where the
bare word occurs in the same text. Languages written without spaces and
``und`` have no candidates.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from typing import Dict, FrozenSet, List, NamedTuple, Optional, Tuple

from transforms.enrich.tag_vocabulary import NO_WORD_SPACES, SINGLE_WORD_KEYWORDS
from transforms.enrich.tags import (ARABIC_CLITICS_LANGUAGES, ARABIC_PUNCTUATION, QUOTES,
                                    stopwords, strip_arabic_clitics)
from transforms.extract.normalize import char_class, strip_arabic_marks

MAX_WORDS = 3
# Characters of title and body read: the lead of a news article carries its
# keywords, and the cost is linear in them.
KEYPHRASE_CHARS = 1200
TITLE_WEIGHT = 2.0
# Position decay: an occurrence at token p weighs 1 + LEAD / (LEAD + p).
LEAD_TOKENS = 40

# A word: letters, marks and digits, with inner hyphens, dots and ampersands
# ("Timor-Leste", "U.S", "AT&T"). Anything else but white space (punctuation,
# apostrophes, symbols) is a separator and ends a phrase. Built from Unicode
# categories: ``\w`` splits Indic words at their vowel signs, and an explicit
# class is faster.
_WORD_CHARS = char_class(lambda ch: unicodedata.category(ch)[0] in "LMN")
_TOKEN = re.compile(f"([{_WORD_CHARS}]+(?:[-.&][{_WORD_CHARS}]+)*)|[^{_WORD_CHARS}\\s]")
_WORD_CHAR = re.compile(f"[{_WORD_CHARS}]")
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
_ARABIC_PREFIXES = ("وب", "ول", "فب", "فل", "و", "ف", "ب", "ل")
# Characters a keyword may not end or start with.
KEYWORD_EDGE = " \t\r\n\"'`#*•·-–—_:;,.!?()[]{}<>«»“”‘’„/\\\u060c\u061b\u061f\u06d4"


def fold(word: str) -> str:
    """The comparison form of a word: lower-cased, Arabic marks and letter variants folded."""
    word = word.replace("İ", "i").lower()
    if ARABIC_LETTER.search(word):
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
        title, body = (QUOTES.sub(" ", strip_arabic_marks(part).translate(ARABIC_PUNCTUATION))
                       for part in (title, body))
    if language in ARABIC_CLITICS_LANGUAGES:
        title, _, body = strip_arabic_clitics(f"{title}\n{body}").partition("\n")
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


def fold_text(text: str, arabic: bool) -> str:
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
    folded = fold_text(sample, arabic)
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
        folded = fold_text(found.sample, bool(ARABIC_LETTER.search(key)))
    at = _find_phrase(folded, key, found.body_start)
    if at < 0:
        at = _find_phrase(folded, key, 0)
    if at < 0:
        return key
    return found.sample[at:at + len(key)]


def _find_phrase(folded: str, key: str, start: int) -> int:
    """Where `key` first stands as whole words in `folded` from `start` (not
    "platz" inside "Rathausplatz"), or -1."""
    at = folded.find(key, start)
    while at >= 0:
        end = at + len(key)
        if ((at == 0 or not _WORD_CHAR.match(folded, at - 1))
                and (end == len(folded) or not _WORD_CHAR.match(folded, end))):
            return at
        at = folded.find(key, at + 1)
    return -1


_NUMBER = 2


def _word_kind(word: str, breaking: FrozenSet[str], arabic: bool):
    """True for a word that may be part of a phrase, `_NUMBER` for a number
    (it may only end one), False for a breaking word."""
    if word[0].isdigit():
        return _NUMBER if word.isdigit() else False
    return not (len(word) < 2 or word in breaking
                or (arabic and clitic_breaking(word, breaking)))


def clitic_breaking(key: str, breaking: FrozenSet[str]) -> bool:
    """"والجمعة", "بأن": a conjunction or preposition before a stop word or a weekday."""
    for prefix in _ARABIC_PREFIXES:
        if key.startswith(prefix) and key[len(prefix):] in breaking:
            return True
    return False
