"""Boilerplate vocabulary of plain-text page dumps, per language: data, not code.

A page saved as text keeps its navigation as lines: "read more" links,
"source:" credits, a keywords line, a "read also:" block that introduces a
second article, a list of related headlines. The cleaner in
`transforms.text_dump` recognises them by the phrases below, compared in the
key form of `transforms.normalize.key_text` (case, diacritics, hamza and
tanween folded), so each spelling variant need not be listed.

Adding a language is adding an entry here. The roles:

- ``read_more``: a line starting with it is a link to another page; dropped.
- ``read_also``: a line that is only this phrase (and a colon, perhaps with a
  headline after it) introduces a second article; the next line is its title.
- ``source``: ``<phrase>: <name>`` credits the source; dropped from the text,
  the last non-generic name becomes the article's source name.
- ``source_generic``: source values that credit no publisher ("agencies").
- ``keywords``: ``<phrase>: <tags>`` lists the editor's tags.
- ``related``: a line that is only this phrase starts a list of related
  headlines, which runs to the next "read also" block or the end of the page.
"""
from __future__ import annotations

from typing import Dict, Tuple

VOCABULARY: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "ar": {
        "read_more": ("إقرأ المزيد", "اقرأ أكثر", "للمزيد", "شاهد المزيد", "تابع القراءة"),
        "read_also": ("إقرأ أيضاً", "اقرأ أيضا", "اقرأ كذلك", "شاهد أيضا"),
        "source": ("المصدر", "المصادر"),
        "source_generic": ("وكالات", "وكالات الأنباء", "مواقع", "متابعات"),
        "keywords": ("كلمات دلالية", "الكلمات الدلالية", "الكلمات المفتاحية", "وسوم", "الوسوم"),
        "related": ("مقالات مشابهة", "مقالات ذات صلة", "أخبار ذات صلة", "مواضيع ذات صلة",
                    "الأكثر قراءة"),
    },
    "en": {
        "read_more": ("Read more", "Continue reading", "Click here to read more",
                      "See more", "Watch more"),
        "read_also": ("Read also", "Also read", "See also", "Read next"),
        "source": ("Source", "Sources"),
        "source_generic": ("agencies", "news agencies", "wires", "wire services", "staff"),
        "keywords": ("Tags", "Keywords", "Topics"),
        "related": ("Related articles", "Related stories", "Related news", "Related",
                    "More stories", "You may also like", "Most read"),
    },
    "fr": {
        "read_more": ("Lire plus", "Lire la suite", "En savoir plus"),
        "read_also": ("Lire aussi", "À lire aussi", "Lire également"),
        "source": ("Source", "Sources"),
        "source_generic": ("agences", "AFP et agences"),
        "keywords": ("Mots-clés", "Tags", "Thèmes"),
        "related": ("Articles liés", "Sur le même sujet", "Les plus lus"),
    },
}
