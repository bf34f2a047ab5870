"""The plain-text dump cleaner, on the user's sample and on English dumps."""
from __future__ import annotations

from tests.conftest import SEEDS
from transforms.extract.text_dump import clean_segment, infer_title, split_page, split_tags

SAMPLE = (SEEDS / "rt-arabic-dump.txt").read_text(encoding="utf-8")
BOILERPLATE_MARKERS = ("إقرأ المزيد", "المصدر:", "كلمات دلالية", "إقرأ أيضاً", "مقالات مشابهة",
                       "كندا تتوعد", "يونامي")


def _articles(text):
    page = split_page(text)
    return page, [clean_segment(s.text, s.title) for s in page.segments]


def test_sample_dump_yields_exactly_two_articles():
    page, articles = _articles(SAMPLE)
    assert len(articles) == 2
    assert page.source_name == "RT Arabic"


def test_first_article_title_is_its_lead_cut_at_a_clause():
    _, (first, _) = _articles(SAMPLE)
    assert first.title_inferred
    assert first.title == 'قالت السفيرة الأمريكية لدى بغداد ألينا رومانوفسكي، إن "داعش" لا يزال يشكل تهديدا في العراق'
    assert first.text.startswith("قالت السفيرة الأمريكية لدى بغداد ألينا رومانوفسكي")
    assert first.text.rstrip().endswith("منها مستقبل التحالف.")


def test_second_article_follows_read_also_with_its_headline_as_title():
    _, (_, second) = _articles(SAMPLE)
    assert second.title == "مسؤول أمريكي: الدولة المركزية بسوريا ستدفع واشنطن لدعم قسد"
    assert not second.title_inferred
    assert second.text.startswith("قال مساعد وزير الخارجية الأمريكية السابق")
    assert second.text.rstrip().endswith("عسكريا وسياسيا.")


def test_no_boilerplate_line_reaches_either_text():
    _, articles = _articles(SAMPLE)
    for article in articles:
        for marker in BOILERPLATE_MARKERS:
            assert marker not in article.text, marker


def test_keywords_line_becomes_the_first_articles_tags_only():
    _, (first, second) = _articles(SAMPLE)
    assert {"بغداد", "داعش", "واشنطن", "التحالف"} <= set(first.tags)
    assert second.tags == []
    assert first.source_names == ["وكالات", "RT Arabic"]


ENGLISH = """Council votes to rebuild the old bridge

The city council voted on Monday to rebuild the old stone bridge, closed since the floods of last winter damaged two of its arches beyond repair.

Read more: Floods leave the river road closed

Work is to start in the spring and last about eighteen months, during which a temporary footbridge will carry pedestrians across the river.

Source: agencies
Source: River Valley News
Tags: bridges; council; floods

Read also: Schools reopen after the storm

Most schools in the valley reopened on Wednesday after the storm, although three buildings in the lower town remain closed while their heating is repaired.

Parents were told to expect normal timetables from next week.

Related articles
  • Floods leave the river road closed
  • New bus lines for the east bank
"""


def test_english_dump_follows_the_same_rules():
    page, (first, second) = _articles(ENGLISH)
    assert page.source_name == "River Valley News"
    assert first.title == "Council votes to rebuild the old bridge"
    assert not first.title_inferred
    assert first.tags == ["bridges", "council", "floods"]
    assert "Read more" not in first.text and "Source" not in first.text
    assert first.text.endswith("across the river.")
    assert second.title == "Schools reopen after the storm"
    assert second.text.endswith("from next week.")
    assert "Related" not in second.text and "New bus lines" not in second.text


def test_inline_read_also_teaser_does_not_split_an_article():
    text = ("Opening paragraph of a long story about the harbour, with enough words to count.\n\n"
            "Read also:\nA different story entirely\n\n"
            "The harbour story goes on here, it is still the same article.\n\n"
            "Source: Harbour Times\n")
    page, articles = _articles(text)
    assert len(articles) == 1
    assert "A different story entirely" not in articles[0].text
    assert articles[0].text.endswith("still the same article.")


def test_title_inference_rules():
    assert infer_title("Short lead sentence. Then more.") == "Short lead sentence"
    long_lead = ("The minister said on Tuesday, after a long meeting with the unions that "
                 "lasted well into the night, that the reform would go ahead as planned next year.")
    assert infer_title(long_lead) == ("The minister said on Tuesday, after a long meeting with "
                                      "the unions that lasted well into the night")
    no_boundary = "word " * 60
    assert infer_title(no_boundary).endswith("…")
    assert len(infer_title(no_boundary)) <= 121


def test_split_tags_uses_separators_when_present_else_spaces():
    assert split_tags("a, b ، c؛ d | e") == ["a", "b", "c", "d", "e"]
    assert split_tags("one two  three") == ["one two", "three"]
    assert split_tags("alpha beta") == ["alpha", "beta"]
    assert split_tags("   ") == []
