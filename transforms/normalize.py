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
_ARABIC_LETTER_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",
                                     "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})

# Punctuation, symbols, separators and format/control characters become
# spaces. A translate table rather than ``\W``: ``\W`` also splits words at
# the combining vowel signs of Indic scripts.
_SEPARATORS = {cp: " " for cp in (*range(0x30000), *range(0xE0000, 0xE0080))
               if unicodedata.category(chr(cp))[0] in "PSZ"
               or unicodedata.category(chr(cp)) in ("Cc", "Cf")}


def strip_arabic_marks(text: str) -> str:
    """Removes Arabic diacritics and tatweel, which vary between copies."""
    return _ARABIC_DIACRITICS.sub("", text).replace(_TATWEEL, "")


_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")


def _ascii_digits(text: str) -> str:
    if text.isascii():
        return text
    return _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.digit(m.group())), text)


# Combining diacritical marks (accents of Latin, Greek, Cyrillic) only: in
# Indic and other abugidas the combining marks are vowels, not accents.
_ACCENTS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff]")


def _strip_accents(text: str) -> str:
    if text.isascii():
        return text
    return _ACCENTS.sub("", unicodedata.normalize("NFD", text))


def key_text(text: str) -> str:
    """The normalised form of a text used to build keys: words joined by one space."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = strip_arabic_marks(text).translate(_ARABIC_LETTER_FOLD)
    text = _ascii_digits(_strip_accents(text))
    return " ".join(text.translate(_SEPARATORS).split())


def content_hash(text: str) -> str:
    """128-bit hash of the key form of a body: 64-bit keys collide at archive scale."""
    return xxhash.xxh3_128_hexdigest(key_text(text).encode("utf-8"))


def stable_id(*parts: str) -> str:
    """A deterministic id from provenance parts (32 hex characters)."""
    return xxhash.xxh3_128_hexdigest("\x1f".join(parts).encode("utf-8"))
