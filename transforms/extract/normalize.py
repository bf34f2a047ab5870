"""Text normalisation for keys (dedup hashes, vocabulary matching), never for display.

The key form folds what differs between copies of one text but not in its
meaning: Unicode compatibility forms, case, accents, Arabic diacritics,
tatweel and letter variants, digit scripts, punctuation and spacing. Digits
are kept: a daily market report differs from yesterday's mostly in them.
"""
from __future__ import annotations

import re
import unicodedata

import xxhash

# Arabic harakat, tanween, shadda, sukun, superscript alef and Quranic marks.
_ARABIC_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
_ARABIC_VARIANTS = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و",
                    "ئ": "ي"}
_ARABIC_VARIANT = re.compile(f"[{''.join(_ARABIC_VARIANTS)}]")
# Combining diacritical marks (accents of Latin, Greek, Cyrillic) only: in
# Indic and other abugidas the combining marks are vowels, not accents.
_ACCENTS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff]")
_ASCII_SEPARATORS = re.compile(r"[^a-z0-9]+")


def char_class(predicate) -> str:
    """A regex character class of the BMP code points `predicate` accepts.

    BMP only: sre turns such a class into a bitmap, one lookup a character;
    a class with astral ranges is tested range by range, ten times slower.
    """
    ranges, start, previous = [], None, None
    for cp in range(0x10000):
        if not predicate(chr(cp)):
            continue
        if start is None or cp != previous + 1:
            if start is not None:
                ranges.append((start, previous))
            start = cp
        previous = cp
    ranges.append((start, previous))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                   for a, b in ranges)


# Punctuation, symbols, separators and format/control characters become
# spaces. Built from Unicode categories rather than ``\W``, which also splits
# words at the combining vowel signs of Indic scripts.
_SEPARATORS = re.compile("[_" + char_class(
    lambda ch: unicodedata.category(ch)[0] in "PSZ" or unicodedata.category(ch) in ("Cc", "Cf"))
    + "]+")
_NON_ASCII_DIGIT = re.compile(
    "[" + char_class(lambda ch: unicodedata.category(ch) == "Nd" and not ch.isascii()) + "]")


def strip_arabic_marks(text: str) -> str:
    """Removes Arabic diacritics and tatweel, which vary between copies."""
    return _ARABIC_DIACRITICS.sub("", text).replace(_TATWEEL, "")


def _fold_arabic_variants(text: str) -> str:
    return _ARABIC_VARIANT.sub(lambda m: _ARABIC_VARIANTS[m.group()], text)


def _ascii_digits(text: str) -> str:
    return _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.digit(m.group())), text)


def _strip_accents(text: str) -> str:
    return _ACCENTS.sub("", unicodedata.normalize("NFD", text))


# The last body keyed and its key. Beam runs the fused steps of one element
# one after the other in the same thread: extraction keys a body for its
# content hash, and dedup keys the same string object again for its MinHash
# signature a moment later. One slot (swapped whole, so threads never see a
# torn pair) makes that second normalisation a lookup.
_LAST_BODY: tuple = ("", "")
_REMEMBER_CHARS = 256


def key_text(text: str) -> str:
    """The normalised form of a text used to build keys: words joined by one space."""
    global _LAST_BODY
    last = _LAST_BODY
    if last[0] is text:
        return last[1]
    key = _key_text(text)
    if len(text) >= _REMEMBER_CHARS:  # bodies, not the many short lines of a dump
        _LAST_BODY = (text, key)
    return key


def _key_text(text: str) -> str:
    if text.isascii():
        return _ASCII_SEPARATORS.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _fold_arabic_variants(strip_arabic_marks(text))
    text = _ascii_digits(_strip_accents(text))
    return _SEPARATORS.sub(" ", text).strip()


def content_hash_of_key(key: str) -> str:
    """128-bit hash of a key text: 64-bit keys collide at archive scale."""
    return xxhash.xxh3_128_hexdigest(key.encode("utf-8"))


def content_hash(text: str) -> str:
    """128-bit hash of the key form of a body."""
    return content_hash_of_key(key_text(text))


def stable_id(*parts: str) -> str:
    """A deterministic id from provenance parts (32 hex characters)."""
    return xxhash.xxh3_128_hexdigest("\x1f".join(parts).encode("utf-8"))
