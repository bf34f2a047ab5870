"""Boilerplate vocabulary of plain-text page dumps, per language: data, not code.

A page saved as text keeps its navigation as lines: "read more" links,
"source:" credits, a keywords line, a "read also:" block that introduces a
second article, a list of related headlines. The cleaner in
`transforms.extract.text_dump` recognises them by the phrases below, compared in the
key form of `transforms.extract.normalize.key_text` (case, diacritics, hamza and
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
- ``comments``: a line that is only this phrase (perhaps after a count,
  "12 Comments") heads a comment thread: the article never runs past it.
- ``comment_marks``: a line that is only this phrase is a comment thread's
  button or label ("Reply", "Report"): boilerplate wherever it stands.
- ``boilerplate``: words that, anywhere in a line under 600 characters,
  make it boilerplate (cookie and newsletter notices, sharing bars,
  copyright lines); used by `transforms.extract.line_classifier`.
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
        "comments": ("التعليقات", "تعليقات", "أضف تعليقا", "اترك تعليقا", "أضف تعليقك"),
        "comment_marks": ("رد", "الرد", "إبلاغ", "أعجبني", "تعليق"),
        "boilerplate": ("ملفات تعريف الارتباط", "سياسة الخصوصية", "شروط الاستخدام",
                        "جميع الحقوق محفوظة", "اشترك في", "النشرة الإخبارية", "تابعونا على",
                        "شارك على", "حمل تطبيق"),
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
        "comments": ("Comments", "Comment", "Leave a comment", "Leave a reply",
                     "Join the conversation", "Add a comment", "Post a comment",
                     "Show comments", "View comments", "Reader comments", "Discussion"),
        "comment_marks": ("Reply", "Replies", "Report", "Report abuse", "Flag", "Like",
                          "Likes", "Share", "Permalink", "Load more comments",
                          "Show more replies", "View replies", "Reply to this comment",
                          "Log in to reply", "Sort by", "Newest", "Oldest", "Upvote"),
        "boilerplate": ("we use cookies", "use of cookies", "cookie policy", "cookie settings",
                        "accept cookies", "accept all cookies", "cookies to", "privacy policy",
                        "terms of use", "terms of service", "terms and conditions",
                        "all rights reserved", "subscribe to our", "sign up for our",
                        "our newsletter", "newsletter sign up", "follow us on",
                        "share this article", "share on facebook", "share on twitter",
                        "skip to content", "skip to main content", "advertisement",
                        "sponsored content", "download our app", "enable javascript",
                        "javascript is disabled", "log in to", "sign in to",
                        "create an account", "already a subscriber", "subscribe now",
                        "recommended for you", "click here to"),
    },
    "fr": {
        "read_more": ("Lire plus", "Lire la suite", "En savoir plus"),
        "read_also": ("Lire aussi", "À lire aussi", "Lire également"),
        "source": ("Source", "Sources"),
        "source_generic": ("agences", "AFP et agences"),
        "keywords": ("Mots-clés", "Tags", "Thèmes"),
        "related": ("Articles liés", "Sur le même sujet", "Les plus lus"),
        "comments": ("Commentaires", "Réagir", "Laisser un commentaire"),
        "comment_marks": ("Répondre", "Signaler"),
        "boilerplate": ("nous utilisons des cookies", "politique de confidentialité",
                        "tous droits réservés", "abonnez-vous", "inscrivez-vous à notre",
                        "partager sur", "publicité", "conditions générales d'utilisation"),
    },
}

# The median stop-word density of sentences of 60 characters or more, per
# language, with stopwordsiso's list: measured on the lingua test sentences by
# `benchmarks/calibrate_stop_density.py`. Under the classifier's `MIN_TYPICAL`
# (scripts without spaces, languages that glue words) density tells nothing.
TYPICAL_DENSITY: Dict[str, float] = {
    "af": 0.423, "ar": 0.25, "bg": 0.438, "bn": 0.368, "ca": 0.432, "cs": 0.303, "da":
    0.464, "de": 0.5, "el": 0.484, "en": 0.542, "eo": 0.37, "es": 0.528, "et": 0.143, "eu":
    0.176, "fa": 0.452, "fi": 0.263, "fr": 0.542, "ga": 0.379, "gu": 0.222, "he": 0.133,
    "hi": 0.429, "hr": 0.286, "hu": 0.375, "hy": 0.167, "id": 0.444, "it": 0.5, "ja": 0.0,
    "ko": 0.062, "la": 0.178, "lt": 0.154, "lv": 0.2, "mr": 0.18, "ms": 0.3, "nl": 0.5,
    "pl": 0.333, "pt": 0.5, "ro": 0.45, "ru": 0.417, "sk": 0.318, "sl": 0.368, "so": 0.154,
    "st": 0.385, "sv": 0.464, "sw": 0.333, "th": 0.0, "tl": 0.462, "tr": 0.188, "uk": 0.107,
    "ur": 0.227, "vi": 0.469, "yo": 0.311, "zh": 0.0, "zu": 0.077
}
