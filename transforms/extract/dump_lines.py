"""One line of a plain-text dump and its role: plain functions, no Beam.

`classify_line` tells a "read more" / "إقرأ المزيد" line, a "source:" line, a
keywords line, a related-headlines list and the like from article text, by the
phrases of `dump_vocabulary` compared on normalised keys (`key_text`).
`text_dump` splits and cleans pages with it; `boilerplate` learns per source
which lines repeat.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Dict, NamedTuple, Tuple

from transforms.extract.dump_vocabulary import VOCABULARY
from transforms.extract.normalize import key_text


TITLE_LINE_MAX_CHARS = 150
BOILERPLATE_LINE_MAX_CHARS = 300
_COLON = re.compile(r"[:：]")


def _phrase_keys(role: str) -> Tuple[str, ...]:
    keys = {key_text(p) for lang in VOCABULARY.values() for p in lang.get(role, ())}
    return tuple(sorted(keys, key=len, reverse=True))


PHRASE_KEYS: Dict[str, Tuple[str, ...]] = {
    role: _phrase_keys(role)
    for role in ("read_more", "read_also", "source", "source_generic", "keywords", "related",
                 "comments")
}
_COUNT = re.compile(r"^\d+\s+")
# A "read more" key is one of the phrases, alone or followed by a word.
_READ_MORE = re.compile(r"^(?:" + "|".join(re.escape(p) for p in PHRASE_KEYS["read_more"]) + r")(?: |$)")


# The longest key of any phrase above: a key longer than this matches none.
_LONGEST_KEY = max(len(k) for keys in PHRASE_KEYS.values() for k in keys)
# A long line is keyed by its head first, cut at a space at least this far in.
_HEAD_CHARS = 2 * _LONGEST_KEY + 8


def _line_key(line: str) -> Tuple[str, bool]:
    """The key of `line`, or only the key of its head when that head already
    decides every rule (returned with False).

    Most lines of a dump are paragraphs, and only their first words matter to
    the rules: a key is compared whole with phrases no longer than
    `_LONGEST_KEY`, or by its start. Cut at an ASCII space (a separator that
    no normalisation joins to its neighbours), the head's key is exactly the
    start of the line's key, so a head key longer than any phrase decides
    every comparison the whole key would.
    """
    cut = line.find(" ", _HEAD_CHARS)
    if cut < 0:
        return key_text(line), True
    head = key_text(line[:cut])
    if len(head) > _LONGEST_KEY:
        return head, False
    return key_text(line), True


# The first words of every phrase: a line whose key starts with none of them
# (after a count, "12 Comments") has no role but text.
_FIRST_WORDS = frozenset(k.split(" ", 1)[0] for keys in PHRASE_KEYS.values() for k in keys)


_FIRST_LETTERS = frozenset(k[:1] for k in _FIRST_WORDS)
_FIRST_WORD_CHAR = re.compile(r"\w")


@lru_cache(maxsize=4096)
def _folded(char: str) -> str:
    return key_text(char)[:1]


def _may_have_role(line: str) -> bool:
    """False when the first word of the line's key starts no phrase.

    The first letter decides most lines (its key form starts the line's
    key); then only the first two words are keyed: cut at an ASCII space,
    their key is the start of the line's key (see `_line_key`).
    """
    char = line[0]
    if not char.isalnum():
        found = _FIRST_WORD_CHAR.search(line)
        if found is None:
            return False
        char = found.group()
    if not char.isdigit() and _folded(char) not in _FIRST_LETTERS:
        return False
    first = line.find(" ")
    second = line.find(" ", first + 1) if first >= 0 else -1
    return _head_may_have_role(line if second < 0 else line[:second])


@lru_cache(maxsize=16384)
def _head_may_have_role(head: str) -> bool:
    """`_may_have_role` for the first two words (heads repeat: "The company", "In a")."""
    words = key_text(head).split(" ")
    if words and words[0].isdigit() and len(words) > 1:
        words = words[1:]
    return bool(words) and words[0] in _FIRST_WORDS


class Line(NamedTuple):
    number: int
    role: str  # text, blank, read_more, read_also, source, keywords, related, comments
    value: str


def classify_line(number: int, raw: str) -> Line:
    """Gives a line its role; `value` is the text after the label, or the line."""
    line = raw.strip()
    if not line:
        return Line(number, "blank", "")
    return Line(number, *_role_of(line))


# A dump's lines are classified two or three times in one worker (the page split,
# the segment cleaning, the boilerplate hashes), one dump after another: a
# memo of a few dumps' lines serves the later passes.
LINE_MEMO = 4096


@lru_cache(maxsize=LINE_MEMO)
def _role_of(line: str) -> Tuple[str, str]:
    """(role, value) of a stripped, non-blank line: see `classify_line`."""
    if not _may_have_role(line):
        return "text", line
    labelled = _COLON.split(line, 1)
    if len(labelled) == 2:
        label_key, _ = _line_key(labelled[0])  # a head key is too long to match
        for role in ("source", "keywords", "read_also"):
            if label_key in PHRASE_KEYS[role]:
                return role, labelled[1].strip()
    key, whole = _line_key(line)
    if not whole:  # longer than any phrase: only a "read more" start can match
        if len(line) <= BOILERPLATE_LINE_MAX_CHARS and _READ_MORE.match(key):
            return "read_more", ""
        return "text", line
    if key in PHRASE_KEYS["read_also"]:
        return "read_also", ""
    if key in PHRASE_KEYS["related"]:
        return "related", ""
    if key in PHRASE_KEYS["comments"] or _COUNT.sub("", key) in PHRASE_KEYS["comments"]:
        return "comments", ""
    if len(line) <= BOILERPLATE_LINE_MAX_CHARS and _READ_MORE.match(key):
        return "read_more", ""
    return "text", line
