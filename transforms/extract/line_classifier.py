"""Scores the lines of a plain-text page dump as article text or boilerplate.

jusText's idea (Pomikálek, 2011) on text lines, not HTML blocks: each line is
classed by its shape, lines too short to judge take their neighbours' class,
and the article is the run where article text most outweighs boilerplate.
Thresholds chosen on the "tune" half of the ScrapingHub pages only
(`benchmarks/eval_textdumps.py`). Pure functions, called by `text_dump`.

A line's own class (`initial_class`; the table in docs/text-dumps.md):
``bad`` (a boilerplate phrase, a comment-thread mark or header, a date
alone, a breadcrumb or link bar; later, a run of `MENU_RUN` menu-like
lines), ``good`` (at least `LENGTH_HIGH` characters, sentence-shaped, a
stop-word density of `STOP_HIGH` times the typical one), ``near`` (at
least `LENGTH_LOW` characters and `STOP_LOW` times it, or a short
sentence), ``short`` (under `LENGTH_LOW`: only the neighbours can tell),
else ``bad`` (long, but too few stop words to be prose).

Stop words: stopwordsiso's list for the dump's language (`guess_language`);
without one, or in a script without spaces, sentence punctuation stands in.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from itertools import groupby
from typing import Dict, FrozenSet, List, NamedTuple, Optional, Sequence, Tuple

from transforms.extract.dump_shapes import repeats_its_headline
from transforms.extract.dump_vocabulary import TYPICAL_DENSITY, VOCABULARY
from transforms.extract.normalize import key_text

GOOD, NEAR, SHORT, BAD = "good", "near", "short", "bad"

LENGTH_LOW = 70
LENGTH_HIGH = 100
# Stop-word density thresholds, as shares of the density typical of prose in the
# dump's language (`TYPICAL_DENSITY`; under `MIN_TYPICAL` it tells nothing): lists
# differ in size, languages in how they attach function words (Arabic: "and", "the").
STOP_HIGH = 0.80
STOP_LOW = 0.45
DEFAULT_TYPICAL = 0.45
MIN_TYPICAL = 0.1
# This many menu-like lines in a row are a menu; this many near lines in a row,
# prose (a list of names and charges, past a gallery's captions).
MENU_RUN = 3
NEAR_RUN = 4
# A bad line costs its length times this in the search for the article run, at least
# `BAD_MIN_COST` characters: ten links of "Home" outweigh a paragraph of 800. Chosen on
# the tune sites by a grid over both and `MENU_RUN`, `RUN_SHARE` (docs/text-dumps.md).
BAD_WEIGHT = 1.5
BAD_MIN_COST = 60
# This many bad lines in a row end a run: a block of navigation between the
# article and what follows it (teasers of other stories) is a border.
BAD_RUN_BREAK = 6
# The words of a dump sampled to guess its language.
LANGUAGE_SAMPLE_WORDS = 400

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?؟。！？…][\"'”’»)\]]*$")
_SENTENCE_INSIDE = re.compile(r"[.!?؟。！？][\"'”’»)]*\s+\S")
_DIGIT = re.compile(r"\d")  # looked for first: most short lines hold no number
_CLAUSE = re.compile(r"[,،;؛，、]")
_LINK_SEPARATORS = re.compile(r"\s[|»›>/·•]\s|\s\|\s?|^\W*[|»›]")
_SEPARATOR_CHAR = re.compile(r"[|»›>/·•]")  # a regex scans a long line faster than a set
_END_CHARS = frozenset(".!?؟。！？…")
_CLOSING_CHARS = frozenset("\"'”’»)]")
_COPYRIGHT = re.compile(r"©|\(c\)\s*\d{4}|&copy;", re.IGNORECASE)
# Scripts written without spaces between words: stop-word density means nothing.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\u0e00-\u0e7f\uac00-\ud7af]")


def words_key(line: str) -> str:
    """A line's words, case-folded, joined by one space: lighter than `key_text` (no
    NFKC, no folding of accents or Arabic letters). Word lists hold both forms."""
    return " ".join(_WORD.findall(line.casefold()))


def _both_forms(words) -> FrozenSet[str]:
    return frozenset(f for w in words for f in (words_key(w), key_text(w)) if f)


def _phrase_keys(role: str) -> Tuple[str, ...]:
    phrases = _both_forms(p for lang in VOCABULARY.values() for p in lang.get(role, ()))
    return tuple(sorted(phrases, key=len, reverse=True))


_BOILERPLATE = re.compile(r"(?:^| )(?:" + "|".join(re.escape(p) for p in _phrase_keys("boilerplate"))
                          + r")(?: |$)")
# The longest word of each of those phrases: a line holding none needs no search.
_BOILERPLATE_WORDS = frozenset(max(p.split(), key=len) for p in _phrase_keys("boilerplate"))
_COMMENT_MARKS = frozenset(_phrase_keys("comment_marks"))
# A comment's time stamp or counters, alone on a line ("3 hours ago", "12 replies").
_COMMENT_META = re.compile(
    r"^(?:updated\s+)?(?:\d+|an?|one)\s*(?:(?:s|m|h|d|w|second|minute|min|hour|hr|day|week|month"
    r"|year)s?\s+ago|likes?|repl(?:y|ies)|comments?|points?|votes?|shares?)$"
    r"|^منذ\s+\S+(?:\s+\S+)?$")
# The words a date written alone on a line is made of, besides its numbers.
_DATE_WORDS = frozenset(
    "jan january feb february mar march apr april may jun june jul july aug august sep sept "
    "september oct october nov november dec december mon monday tue tues tuesday wed wednesday "
    "thu thur thurs thursday fri friday sat saturday sun sunday am pm at on updated published "
    "posted gmt utc est edt bst cet st nd rd th".split())
# A comment's header ("Gary M on March 3, 2019 at 4:12 pm said:") holds a number,
# its time stamp: an article's "The minister said:" before a quote is none.
_COMMENT_HEADER_VERBS = frozenset("said says wrote writes".split())
# A footer's copyright notice: the article never runs past it.
_RIGHTS_RESERVED = re.compile(r"rights reserved|droits réservés|الحقوق محفوظة|derechos reservados"
                              r"|rechte vorbehalten", re.IGNORECASE)


class Classified(NamedTuple):
    """One line and its class: `initial` from the line alone, `final` in context.
    `barrier`: a line the article never crosses (a footer's copyright notice,
    a comment's header)."""
    text: str
    initial: str
    final: str
    barrier: bool = False


# ---------------------------------------------------------------- stop words

@lru_cache(maxsize=None)
def stop_words(language: Optional[str]) -> FrozenSet[str]:
    """stopwordsiso's list for `language`, in the key form of the words; empty if none."""
    if not language:
        return frozenset()
    import stopwordsiso
    if not stopwordsiso.has_lang(language):
        return frozenset()
    return _both_forms(stopwordsiso.stopwords(language))


@lru_cache(maxsize=1)
def _stop_word_index() -> Dict[str, Tuple[str, ...]]:
    """Each stop word of any language, to the languages whose list holds it."""
    import stopwordsiso
    index: Dict[str, List[str]] = {}
    for language in sorted(stopwordsiso.langs()):
        for word in stop_words(language):
            if " " not in word:
                index.setdefault(word, []).append(language)
    return {word: tuple(langs) for word, langs in index.items()}


def guess_language(text: str) -> Optional[str]:
    """The language whose stop words cover most of the first words of `text`.

    Each list is charged for its size (a list of 1,300 words meets more words
    by chance than one of 200): hits are divided by the list size to the power
    0.15, which on the lingua test sentences picks the right list among the
    Latin-script languages without favouring English's long one.
    """
    words = words_key(text[:LANGUAGE_SAMPLE_WORDS * 8]).split()[:LANGUAGE_SAMPLE_WORDS]
    if not words:
        return None
    index = _stop_word_index()
    hits: Dict[str, int] = {}
    for word, count in Counter(words).items():  # each word looked up once
        for language in index.get(word, ()):
            hits[language] = hits.get(language, 0) + count
    if not hits:
        return None
    best = max(hits, key=lambda lang: (hits[lang] / len(stop_words(lang)) ** 0.15, lang))
    return best if hits[best] >= max(2, len(words) // 20) else None


# ---------------------------------------------------------------- one line

def stop_density(line: str, stops: FrozenSet[str], words: Optional[List[str]] = None) -> float:
    """The share of the words of `line` (or of `words`, when known) that are stop words."""
    words = words if words is not None else _WORD.findall(line.casefold())
    if not words:
        return 0.0
    return sum(map(stops.__contains__, words)) / len(words)


def _ends_sentence(line: str) -> bool:
    return line[-1] in _END_CHARS or (line[-1] in _CLOSING_CHARS
                                      and _SENTENCE_END.search(line[-6:]) is not None)


def is_menu_like(line: str) -> bool:
    """Under `LENGTH_LOW` characters, not a sentence: a menu entry, a link, a listed headline."""
    return len(line) < LENGTH_LOW and not _ends_sentence(line)


def is_comment_header(line: str, words: Optional[List[str]] = None) -> bool:
    """A comment's own header line ("Name on <date> at <time> said:"): the
    article never runs across one."""
    if len(line) >= 120 or not line.endswith(":"):
        return False
    words = words if words is not None else _WORD.findall(line.casefold())
    return bool(words) and words[-1] in _COMMENT_HEADER_VERBS and any(w.isdigit() for w in words)


def strongly_bad(line: str, words: Optional[List[str]] = None) -> bool:
    """Boilerplate whatever its neighbours: cookie and newsletter notices,
    copyright lines, comment-thread marks and headers, breadcrumbs and link bars."""
    words = words if words is not None else _WORD.findall(line.casefold())
    if line.endswith(":") and is_comment_header(line, words):
        return True
    if len(line) < 40:
        key = " ".join(words)
        if key in _COMMENT_MARKS or _COMMENT_META.match(key):
            return True
        if _DIGIT.search(line) and all(w.isdigit() or w in _DATE_WORDS for w in words):
            return True  # a date alone: a dateline (read apart) or a teaser's
    if repeats_its_headline(words):  # a teaser: its link text, then its title again
        return True
    if len(line) < 300 and ("©" in line or "(c)" in line or "(C)" in line or "&copy" in line) \
            and _COPYRIGHT.search(line):
        return True
    if _SEPARATOR_CHAR.search(line) and len(_LINK_SEPARATORS.findall(line)) >= 2 \
            and not _SENTENCE_INSIDE.search(line):
        return True
    return (len(line) < 600 and not _BOILERPLATE_WORDS.isdisjoint(words)
            and _BOILERPLATE.search(" ".join(words)) is not None)


class Thresholds(NamedTuple):  # a language's stop words and the densities that judge a line
    stops: FrozenSet[str]
    high: float
    low: float


@lru_cache(maxsize=None)
def thresholds(language: Optional[str]) -> Thresholds:
    """`Thresholds` for `language`: no stop words when it has no usable list."""
    typical = TYPICAL_DENSITY.get(language or "", DEFAULT_TYPICAL)
    stops = stop_words(language) if typical >= MIN_TYPICAL else frozenset()
    return Thresholds(stops, STOP_HIGH * typical, STOP_LOW * typical)


def initial_class(line: str, limits: Thresholds) -> Tuple[str, float]:
    """The class of one line judged alone (see the module docstring), and its stop-word density."""
    words = _WORD.findall(line.casefold())
    if strongly_bad(line, words):
        return BAD, 0.0
    length = len(line)
    ended = _ends_sentence(line)
    if not limits.stops or (not line.isascii() and _UNSPACED.search(line)):
        # No usable stop list: the shape of a sentence stands in for density.
        shaped = ended or _SENTENCE_INSIDE.search(line) or _CLAUSE.search(line)
        density = limits.high if shaped else 0.0
    else:
        density = stop_density(line, limits.stops, words)
    if length < LENGTH_LOW:
        # A short sentence in the language ("He denied it.") reads as prose;
        # menu entries and headlines do not end like sentences.
        short_sentence = ended and len(words) >= 4
        return (NEAR if short_sentence and density >= limits.low else SHORT), density
    sentence = ended or _SENTENCE_INSIDE.search(line) is not None
    if length >= LENGTH_HIGH and density >= limits.high and sentence:
        return GOOD, density
    if density >= limits.low or (length >= LENGTH_HIGH and sentence):
        return NEAR, density
    return BAD, density


# ---------------------------------------------------------------- in context

def _mark_menus(lines: Sequence[Optional[str]], classes: List[str]) -> None:
    """Three or more menu-like lines in a row are a menu: all bad."""
    run: List[int] = []
    for i, line in enumerate(list(lines) + [None]):
        menu = (line is not None and classes[i] in (SHORT, BAD)
                and is_menu_like(line))
        if menu:
            run.append(i)
            continue
        if len(run) >= MENU_RUN:
            for j in run:
                classes[j] = BAD
        run = []


# A line a phrase marked ("read more", a source credit): boilerplate, no evidence on its neighbours.
MARKED = "marked"


def _nearest(classes: Sequence[str], skip: Tuple[str, ...]) -> Tuple[List[Optional[str]], List[Optional[str]]]:
    """Each line's nearest class before and after it, past `skip` and `MARKED` (None at edges)."""
    def passed(order: Sequence[str]) -> List[Optional[str]]:
        seen, last = [], None
        for cls in order:
            seen.append(last)
            last = last if cls in skip or cls == MARKED else cls
        return seen
    return passed(classes), passed(classes[::-1])[::-1]


def smooth(classes: Sequence[str]) -> List[str]:
    """Short and near lines take a class from their neighbours (jusText's context).

    A near line is good when a good line is its nearest judged neighbour on
    either side, or in a run of `NEAR_RUN`; a short line is good between good lines, bad between bad
    ones, and when its sides differ, good only if the line right after it is
    good (a subheading, or the headline above the lead).
    """
    out = list(classes)
    before, after = _nearest(classes, (SHORT, NEAR))
    for i, cls in enumerate(classes):
        if cls == NEAR:
            out[i] = GOOD if GOOD in (before[i], after[i]) else BAD
    start = 0
    for cls, group in groupby(classes):  # `NEAR_RUN` near lines in a row: prose of their own
        n = len(list(group))
        if cls == NEAR and n >= NEAR_RUN:
            out[start:start + n] = [GOOD] * n
        start += n
    settled = list(out)
    before, after = _nearest(settled, (SHORT,))
    for i, cls in enumerate(settled):
        if cls != SHORT:
            continue
        if before[i] == GOOD and after[i] == GOOD:
            out[i] = GOOD
        elif after[i] == GOOD and i + 1 < len(settled) and settled[i + 1] == GOOD:
            out[i] = GOOD
        else:
            out[i] = BAD
    return out


def _is_barrier(line: str) -> bool:
    if len(line) >= 300:
        return False
    if line.endswith(":") and is_comment_header(line):
        return True
    # Substring tests first: a regex search on every line costs more than the rest.
    return ("serv" in line or "SERV" in line or "ehalten" in line or "EHALTEN" in line
            or "محفوظة" in line) and _RIGHTS_RESERVED.search(line) is not None


def classify_lines(lines: Sequence[Optional[str]], language: Optional[str] = None,
                   known: Optional[Sequence[Classified]] = None) -> List[Classified]:
    """Classes for a segment's lines; None stands for a line known to be
    boilerplate already (a "read more" link, a source credit). `known`: the
    lines already classified (a longer run of the same lines), whose own
    classes are kept: only the context is judged again."""
    if known is None:
        limits = thresholds(language)
        initial = [MARKED if line is None else initial_class(line, limits)[0] for line in lines]
        barriers = [bool(line) and _is_barrier(line) for line in lines]
    else:
        initial = [c.initial for c in known[:len(lines)]]
        barriers = [c.barrier for c in known[:len(lines)]]
    classes = list(initial)
    _mark_menus(lines, classes)
    final = [BAD if cls == MARKED else cls for cls in smooth(classes)]
    return [Classified(line or "", initial[i], final[i], barriers[i]) for i, line in enumerate(lines)]


class Run(NamedTuple):
    """A run of lines that starts and ends on a good line; `zone`: how many
    barriers precede it (runs of one zone are between the same barriers)."""
    score: float
    first: int
    last: int
    zone: int


def article_runs(classified: Sequence[Classified], barriers: FrozenSet[int] = frozenset()) -> List[Run]:
    """Every maximal run: from a good line where the running sum of +length
    for good lines and -max(length, `BAD_MIN_COST`) for bad ones (lines a
    phrase marked count 0) starts afresh, to the line where that sum peaks.
    A barrier (a "comments" heading in `barriers`, a copyright notice) or
    `BAD_RUN_BREAK` bad lines in a row end a run."""
    runs: List[Run] = []
    best: Optional[Run] = None
    total, start, zone, bad_run = 0.0, None, 0, 0
    for i, c in enumerate(classified):
        bad_run = bad_run + 1 if c.final == BAD and c.initial != MARKED else 0
        if i in barriers or c.barrier or bad_run >= BAD_RUN_BREAK:
            runs += [best] if best else []
            best, total, start = None, 0.0, None
            zone += i in barriers or c.barrier
            continue
        if c.final == GOOD:
            if start is None or total <= 0:
                runs += [best] if best else []
                best, total, start = None, 0.0, i
            total += len(c.text)
            if best is None or total > best.score:
                best = Run(total, start, i, zone)
        elif start is not None and c.initial != MARKED:  # marked: no evidence either way
            total -= BAD_WEIGHT * max(len(c.text), BAD_MIN_COST)
    return runs + ([best] if best else [])


def main_block(classified: Sequence[Classified],
               barriers: FrozenSet[int] = frozenset()) -> Optional[Tuple[int, int]]:
    """The (first, last) indexes of the article's run of lines (the best of
    `article_runs`: where good characters most outweigh bad ones), or None."""
    runs = article_runs(classified, barriers)
    best = max(runs, key=lambda r: r.score, default=None)
    return (best.first, best.last) if best else None
