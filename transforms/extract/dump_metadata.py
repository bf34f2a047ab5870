"""Publication date and byline written near the top of a plain-text dump.

A page saved as text keeps its dateline and byline as lines of their own
around the headline: "By Jane Doe", "Published 3 March 2019", "منذ 3 ساعات",
"2019-03-03T10:00:00Z". `transforms.extract.text_dump` looks for them in the few
lines around the start of the article (`find_date`, `find_byline`) and takes
them out of the body.

A date written out in full is *found*; a relative one ("3 hours ago",
"منذ يومين") is *inferred* from the time the page was saved or read, and
marked so. Absolute dates other than Arabic ones are parsed with htmldate's
`custom_parse` (already installed with trafilatura: regular expressions,
about 0.1 ms a line, English and German month names, ISO and numeric forms);
a line goes to it only when it holds a day-level date, since htmldate reads
a bare year as a date. dateparser would cover more languages but costs
milliseconds a call, over the cleaner's whole budget for a page.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import List, NamedTuple, Optional

from transforms.extract.dates import to_micros
from transforms.extract.normalize import key_text

# A date line is short: a paragraph that mentions a date is not a dateline.
DATE_LINE_MAX_CHARS = 100
BYLINE_MAX_CHARS = 100
BYLINE_MAX_WORDS = 6

_MONTHS_EN_DE_FR_ES = (
    r"jan(?:uary|uar|vier)?|feb(?:ruary|ruar)?|f[ée]vrier|mar(?:ch|s)?|m[äa]rz|apr(?:il)?|avril"
    r"|may|mai|june?|juni|juin|july?|juli|juillet|aug(?:ust)?|ao[uû]t|sep(?:t(?:ember)?)?"
    r"|septembre|oct(?:ober)?|okt(?:ober)?|octobre|nov(?:ember)?|novembre|dec(?:ember)?"
    r"|dez(?:ember)?|d[ée]cembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto"
    r"|septiembre|octubre|noviembre|diciembre")
_DAY_LEVEL = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}[./]\d{1,2}[./]\d{4}\b"
    rf"|\b\d{{1,2}}\.?\s+(?:{_MONTHS_EN_DE_FR_ES})\.?,?\s+\d{{4}}\b"
    rf"|\b(?:{_MONTHS_EN_DE_FR_ES})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b",
    re.IGNORECASE)
# Arabic month names (Egyptian/Gulf and Levantine), in key form.
_ARABIC_MONTHS = {
    "يناير": 1, "فبراير": 2, "مارس": 3, "ابريل": 4, "مايو": 5, "يونيو": 6, "يوليو": 7,
    "اغسطس": 8, "سبتمبر": 9, "اكتوبر": 10, "نوفمبر": 11, "ديسمبر": 12,
    "كانون الثاني": 1, "شباط": 2, "اذار": 3, "نيسان": 4, "ايار": 5, "حزيران": 6, "تموز": 7,
    "اب": 8, "ايلول": 9, "تشرين الاول": 10, "تشرين الثاني": 11, "كانون الاول": 12,
}
_ARABIC_DATE = re.compile(
    r"(\d{1,2})\s+(" + "|".join(sorted(_ARABIC_MONTHS, key=len, reverse=True)) + r")\s+(\d{4})")
_UNITS_S = {"second": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400,
            "week": 7 * 86400}
_RELATIVE_EN = re.compile(r"\b(\d+|an?|one)\s+(second|minute|min|hour|hr|day|week)s?\s+ago\b")
_ARABIC_UNITS = {"ثانيه": 1, "ثواني": 1, "دقيقه": 60, "دقائق": 60, "ساعه": 3600,
                 "ساعات": 3600, "يوم": 86400, "ايام": 86400, "اسبوع": 7 * 86400,
                 "اسابيع": 7 * 86400}
_ARABIC_DUALS = {"دقيقتين": 120, "ساعتين": 7200, "يومين": 2 * 86400, "اسبوعين": 14 * 86400}
_RELATIVE_AR = re.compile(r"منذ\s+(?:(\d+)\s+(\S+)|(\S+))")

_BYLINE = re.compile(
    r"^(?:by|written by|words by|reporting by|von|par|por|di|door|av"
    r"|بقلم|كتب|كتبه|كتبت|اعداد|تقرير)\s*:?\s+(.+)$", re.IGNORECASE)
_AUTHOR_LABEL = re.compile(r"^(?:author|authors|auteur|autor|الكاتب|المؤلف)\s*:\s*(.+)$",
                           re.IGNORECASE)
_BYLINE_TAIL = re.compile(
    r"\s*(?:[|•·—–]|\s-\s|,?\s+(?:on|updated|published|posted|le|am)\b).*$", re.IGNORECASE)
_NAME_SEPARATORS = re.compile(r"\s*(?:,|&|\band\b|\bund\b|\bet\b|\by\b|\sو)\s*")


class FoundDate(NamedTuple):
    published: int  # UTC microseconds
    inferred: bool  # a relative date, resolved against the reference time


def _min_max():
    return datetime(1995, 1, 1), datetime(2100, 1, 1)


def find_date(line: str, reference: Optional[int] = None) -> Optional[FoundDate]:
    """The date a short line states, or None.

    Args:
      line: one line of the dump.
      reference: when the page was saved or read (UTC microseconds), for
        relative dates; without it they are not resolved.
    """
    if len(line) > DATE_LINE_MAX_CHARS:
        return None
    key = key_text(line)
    arabic = _ARABIC_DATE.search(key)
    if arabic:
        day, month, year = int(arabic.group(1)), _ARABIC_MONTHS[arabic.group(2)], int(arabic.group(3))
        try:
            return FoundDate(to_micros(datetime(year, month, day, tzinfo=timezone.utc)), False)
        except ValueError:
            return None
    if _DAY_LEVEL.search(line):
        from htmldate.extractors import custom_parse
        low, high = _min_max()
        parsed = custom_parse(line, "%Y-%m-%d", low, high)
        if parsed:
            return FoundDate(to_micros(datetime.strptime(parsed, "%Y-%m-%d")), False)
        return None
    if reference is None:
        return None
    seconds = _relative_seconds(key)
    if seconds is None:
        return None
    return FoundDate(reference - seconds * 1_000_000, True)


def _relative_seconds(key: str) -> Optional[int]:
    match = _RELATIVE_EN.search(key)
    if match:
        count = match.group(1)
        number = 1 if count in ("a", "an", "one") else int(count)
        return number * _UNITS_S[match.group(2)]
    match = _RELATIVE_AR.search(key)
    if match:
        if match.group(1):
            unit = _ARABIC_UNITS.get(match.group(2))
            return int(match.group(1)) * unit if unit else None
        word = match.group(3)
        if word in _ARABIC_DUALS:
            return _ARABIC_DUALS[word]
        return _ARABIC_UNITS.get(word)
    return None


def is_date_line(line: str, found: Optional[FoundDate]) -> bool:
    """A line that is only a dateline (dropped from the body), not a
    sentence that happens to hold a date."""
    return found is not None and (len(line) <= 60 or not re.search(r"[.!?؟]\s*$", line))


def find_byline(line: str) -> Optional[List[str]]:
    """The author names of a byline ("By Jane Doe and John Roe"), or None."""
    line = line.strip()
    if len(line) > BYLINE_MAX_CHARS or line.endswith((".", "!", "?", "؟")) and \
            not line.endswith(" Jr.") and len(line) > 40:
        return None
    match = _BYLINE.match(line) or _AUTHOR_LABEL.match(line)
    if not match:
        return None
    names_part = _BYLINE_TAIL.sub("", match.group(1)).strip(" :")
    names = [n.strip(" .") for n in _NAME_SEPARATORS.split(names_part) if n.strip(" .")]
    if not names or any(not _name_like(n) for n in names):
        return None
    return names


def _name_like(name: str) -> bool:
    words = name.split()
    if not 1 <= len(words) <= BYLINE_MAX_WORDS or any(ch.isdigit() for ch in name):
        return False
    if name.isascii():  # Latin names are capitalised: "by the way" is no byline
        return words[0][:1].isupper() and words[-1][:1].isupper()
    return True
