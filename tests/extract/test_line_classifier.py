"""The line classifier on whole pages saved as text: menus, footers, comment
threads, cookie notices and headline lists stay out of the article; the
title, byline and date are read from the lines around it."""
from __future__ import annotations

from datetime import datetime, timezone

from transforms.extract.dates import to_micros
from transforms.extract.line_classifier import (BAD, GOOD, classify_lines, guess_language,
                                        main_block, stop_words)
from transforms.extract.text_dump import clean_segment, split_page

PARAGRAPHS = [
    "The coastal city of Westmere switched on its first tidal energy plant on Tuesday, a "
    "project that engineers say could supply about a tenth of the city's electricity once all "
    "twelve turbines are running.",
    "The turbines sit on the floor of the harbour channel, where the tide moves faster than "
    "anywhere else along the coast. Each one is the size of a small bus and turns slowly "
    "enough, the operators say, for fish to pass through unharmed.",
    "\"We have talked about this for twenty years,\" the mayor told reporters at the opening. "
    "\"Today the tide finally works for us instead of against us.\"",
    "The plant cost 84 million euros, two thirds of it paid by a regional climate fund. Critics "
    "on the council had argued that the money would have gone further on rooftop solar, and "
    "they promised to watch the first year's output closely.",
]
HEADLINE = "Harbour city opens its first tidal energy plant"
MENU = ["Home", "News", "World", "Politics", "Business", "Sport", "Culture", "Weather",
        "Subscribe", "Log in"]
FOOTER = ["About us", "Contact", "Careers", "Advertise with us", "Privacy Policy",
          "Terms of Use", "© 2019 Westmere Herald Media Ltd. All rights reserved."]
COOKIES = ("We use cookies to give you the best experience on our website and to show you "
           "relevant advertising. By continuing to browse the site you agree to our use of "
           "cookies; you can change your cookie settings at any time.")
COMMENTS = ["12 Comments", "Harry Fisher says:", "March 3, 2019 at 4:12 pm",
            "I have lived in Westmere for forty years and I think this is the best thing the "
            "council has done in all that time, even if the cost was high.",
            "Reply",
            "Marta Kowalska says:", "March 3, 2019 at 6:40 pm",
            "Nobody has asked the fishermen what the turbines will do to the catch, and I would "
            "like to see the studies before anyone celebrates.",
            "Reply"]
HEADLINES = ["Storm closes the coast road for a second day",
             "Ferry timetable changes from next week",
             "Council approves new harbour budget",
             "Local school wins national robotics prize",
             "New bus lines for the east bank"]


def page(*blocks) -> str:
    """A page saved as text: one block a line, no blank lines (as browsers write it)."""
    lines = []
    for block in blocks:
        lines.extend([block] if isinstance(block, str) else block)
    return "\n".join(lines) + "\n"


def clean(text: str, **kwargs):
    segments = split_page(text).segments
    assert len(segments) == 1
    return clean_segment(segments[0].text, segments[0].title, **kwargs)


def assert_whole_article(article):
    for paragraph in PARAGRAPHS:
        assert paragraph in article.text


def test_a_menu_block_stays_out_and_the_headline_above_the_article_is_its_title():
    article = clean(page(MENU, HEADLINE, "By Jane Doe", "Published 3 March 2019", PARAGRAPHS))
    assert_whole_article(article)
    assert not set(MENU) & set(article.text.splitlines())
    assert article.title == HEADLINE and not article.title_inferred
    assert article.authors == ["Jane Doe"]
    assert article.published == to_micros(datetime(2019, 3, 3, tzinfo=timezone.utc))
    assert article.inferred == []
    assert "Jane Doe" not in article.text and "2019" not in article.text.split()


def test_a_footer_stays_out():
    article = clean(page(HEADLINE, PARAGRAPHS, FOOTER))
    assert_whole_article(article)
    assert not any(line in article.text for line in FOOTER)


def test_a_comment_thread_stays_out():
    article = clean(page(HEADLINE, PARAGRAPHS, COMMENTS))
    assert_whole_article(article)
    assert "forty years" not in article.text and "fishermen" not in article.text
    assert "Reply" not in article.text.split()


def test_comments_without_a_heading_stay_out_when_they_outweigh_a_short_article():
    # A blog's thread: no "Comments" heading, no "Reply" buttons, only a
    # header line per comment ("Name on <date> at <time> said:"), and more
    # prose in the comments than in the post above them.
    opinions = [COMMENTS[3], COMMENTS[7]]
    thread = [f"Milan Griffes on March 3, 2019 at 4:10 pm said:", " ".join(opinions * 3),
              f"Gary M on March 4, 2019 at 9:12 am said:", " ".join(opinions[::-1] * 2)]
    article = clean(page(MENU, HEADLINE, PARAGRAPHS[:2], "Posted in Energy | Permalink | 3 Comments",
                         thread))
    assert PARAGRAPHS[0] in article.text and PARAGRAPHS[1] in article.text
    assert "forty years" not in article.text and "fishermen" not in article.text
    assert "said:" not in article.text


def test_a_related_box_inside_the_article_drops_its_headlines_and_not_the_rest_of_the_article():
    article = clean(page(MENU, HEADLINE, PARAGRAPHS[:2], "Related", HEADLINES[:2], PARAGRAPHS[2:],
                         "Related articles", HEADLINES[2:], FOOTER))
    assert_whole_article(article)
    assert not any(headline in article.text for headline in HEADLINES)


TEASER_SUMMARIES = [
    "The storm that closed the coast road on Monday is expected to move north by the evening, "
    "and the council said that crews will clear the fallen trees as soon as the wind drops.",
    "The new timetable adds two evening crossings on weekdays and moves the first Sunday "
    "ferry forward by half an hour, after a survey of the people who use it every week.",
    "The budget sets aside money for the harbour wall and for a new crane, which the port "
    "authority says it has needed since the old one was damaged in the winter floods.",
    "The robotics team of the harbour school beat forty other schools with a machine that "
    "sorts plastic from the sand, and it will now travel to the European final in June.",
]


def test_a_chain_of_related_teasers_whose_summaries_read_as_prose_stays_out():
    # A blog's list of other stories: each teaser has its own "Related"
    # heading, a headline and a summary that reads as prose. One such box
    # inside an article is only a box; three in a row are the end of it.
    teasers = []
    for headline, summary in zip(HEADLINES, TEASER_SUMMARIES):
        teasers += ["Related", headline, summary]
    article = clean(page(MENU, HEADLINE, PARAGRAPHS, teasers, FOOTER))
    assert_whole_article(article)
    assert not any(summary in article.text for summary in TEASER_SUMMARIES)


def test_an_article_cut_in_two_by_a_box_of_other_headlines_keeps_both_halves():
    box = ["Most read in world news"] + HEADLINES + ["Bridge repairs start in May",
                                                     "Museum reopens after the flood"]
    article = clean(page(MENU, HEADLINE, PARAGRAPHS[:2], box, PARAGRAPHS[2:], FOOTER))
    assert_whole_article(article)
    assert not any(line in article.text for line in box)


def test_the_language_is_read_from_the_prose_not_from_a_long_menu_above_it():
    # "Local" is a Portuguese stop word, not an English one: a menu of
    # forty local sections read first made the page Portuguese, and then
    # no English line had the stop words of prose.
    menu = ["Local", "All Local"] + [f"Local {s}" for s in ("News", "Sports", "Business",
                                                              "Directory", "Features")] * 9
    article = clean(page(menu, HEADLINE, PARAGRAPHS))
    assert_whole_article(article)
    assert "Local News" not in article.text


def test_a_run_of_sparse_prose_after_a_gallery_is_article_text():
    # Names and charges: few stop words a line, so each is only "near", and
    # the gallery's captions above them are a menu-like run, not good text.
    gallery = ["1 of 4", "Harry Fisher Submitted photo", "Marta Kowalska Submitted photo",
               "Jane Roe Submitted photo"]
    charges = [f"{name}, 41, of Westmere: Possession of stolen turbine parts, resisting arrest, "
               f"held in the county jail in lieu of $12,500 bond." for name in
               ("Harry Fisher", "Marta Kowalska", "Jane Roe", "John Doe")]
    article = clean(page(MENU, HEADLINE, PARAGRAPHS, gallery, charges, FOOTER))
    assert_whole_article(article)
    assert all(line in article.text for line in charges)
    assert "Submitted photo" not in article.text


def test_a_page_that_repeats_its_article_gives_it_once():
    # A hidden copy of the body (a print version, a second layout) comes out
    # as the same lines again further down the dump.
    article = clean(page(MENU, HEADLINE, PARAGRAPHS, HEADLINES, PARAGRAPHS, FOOTER))
    assert_whole_article(article)
    assert all(article.text.count(paragraph) == 1 for paragraph in PARAGRAPHS)


def test_a_cookie_notice_stays_out_even_though_it_reads_as_prose():
    article = clean(page(COOKIES, "Accept", MENU, HEADLINE, PARAGRAPHS))
    assert_whole_article(article)
    assert "cookies" not in article.text


def test_a_list_of_other_headlines_without_a_heading_stays_out():
    article = clean(page(HEADLINE, PARAGRAPHS, "More from the coast", HEADLINES, FOOTER))
    assert_whole_article(article)
    assert not any(headline in article.text for headline in HEADLINES)


def test_a_relative_date_is_inferred_from_the_reference_time():
    saved = to_micros(datetime(2024, 4, 10, 12, 0, tzinfo=timezone.utc))
    article = clean(page(MENU, HEADLINE, "3 hours ago", PARAGRAPHS), reference_time=saved)
    assert article.published == saved - 3 * 3600 * 1_000_000
    assert article.inferred == ["published"]
    assert_whole_article(article)


ARABIC_PARAGRAPHS = [
    "قالت السفيرة الأمريكية لدى بغداد ألينا رومانوفسكي، إن تنظيم داعش لا يزال يشكل تهديدا في "
    "العراق، مضيفة أن عمل التحالف الذي تقوده واشنطن مع العراق لهزيمة التنظيم بشكل كامل لم ينته بعد.",
    "وأضافت رومانوفسكي أن عمل التحالف سيستغرق بعض الوقت لإنهائه، في إشارة إلى المحادثات بين "
    "واشنطن وبغداد التي بدأت في يناير، بشأن إنهاء وجود التحالف العسكري في البلاد.",
    "وكان مسؤولون عراقيون كبار، ومنهم رئيس الوزراء، قد قالوا مرارا إن التنظيم لم يعد يشكل تهديدا "
    "في العراق ولم تعد هناك حاجة للتحالف، حتى مع استمرار أعضاء التنظيم في تنفيذ هجمات.",
]


def test_arabic_menus_footer_byline_and_relative_date():
    menu = ["الرئيسية", "أخبار", "العالم العربي", "اقتصاد", "رياضة", "فيديو", "اتصل بنا"]
    footer = ["من نحن", "سياسة الخصوصية", "شروط الاستخدام", "جميع الحقوق محفوظة © 2024"]
    saved = to_micros(datetime(2024, 4, 10, 12, 0, tzinfo=timezone.utc))
    text = page(menu, "السفيرة الأمريكية: داعش لا يزال يشكل تهديدا في العراق",
                "بقلم: أحمد علي", "منذ 3 ساعات", ARABIC_PARAGRAPHS, footer)
    article = clean(text, reference_time=saved)
    assert guess_language(text) == "ar"
    for paragraph in ARABIC_PARAGRAPHS:
        assert paragraph in article.text
    assert not any(line in article.text for line in menu + footer)
    assert article.title == "السفيرة الأمريكية: داعش لا يزال يشكل تهديدا في العراق"
    assert article.authors == ["أحمد علي"]
    assert article.published == saved - 3 * 3600 * 1_000_000
    assert article.inferred == ["published"]


def test_any_language_with_a_stop_list_works():
    paragraphs = [
        "Die Stadt Westmere hat am Dienstag ihr erstes Gezeitenkraftwerk in Betrieb genommen, "
        "ein Projekt, das nach Angaben der Ingenieure etwa ein Zehntel des Stroms der Stadt "
        "liefern könnte, sobald alle zwölf Turbinen laufen.",
        "Die Turbinen stehen auf dem Grund des Hafenkanals, wo die Strömung schneller ist als "
        "irgendwo sonst an der Küste. Jede ist so groß wie ein kleiner Bus und dreht sich so "
        "langsam, dass Fische unversehrt hindurchschwimmen können.",
    ]
    menu = ["Startseite", "Politik", "Wirtschaft", "Sport", "Kultur", "Wetter"]
    text = page(menu, "Westmere eröffnet sein erstes Gezeitenkraftwerk", paragraphs,
                ["Impressum", "Datenschutz", "Kontakt"])
    article = clean(text)
    assert guess_language(text) == "de"
    assert article.text.splitlines() == paragraphs  # one block a line: one paragraph each
    assert article.title == "Westmere eröffnet sein erstes Gezeitenkraftwerk"


def test_neighbours_decide_short_lines_and_the_article_is_the_densest_run():
    lines = MENU + [HEADLINE] + PARAGRAPHS + ["Subheading of the story"] + PARAGRAPHS[:2] \
        + ["It ends here, he said."] + FOOTER
    classified = classify_lines(lines, "en")
    first, last = main_block(classified)
    assert lines[first] == PARAGRAPHS[0]
    assert lines[last] == "It ends here, he said."  # short, but a sentence after the article
    assert classified[lines.index("Subheading of the story")].final == GOOD  # between good lines
    assert all(c.final == BAD for c in classified[:len(MENU)])
    assert all(c.final == GOOD for c in classified[first:last + 1])


def test_the_stop_lists_come_from_stopwordsiso_with_arabic():
    assert {"the", "and", "of"} <= stop_words("en")
    assert {"في", "من", "على"} <= stop_words("ar")
    assert stop_words("xx") == frozenset()


def test_the_article_row_says_which_fields_were_inferred():
    from schemas import TABLES
    from schemas.records import RawDocument
    from transforms.extract.articles import extract_dump_segment, to_article

    saved = to_micros(datetime(2024, 4, 10, 12, 0, tzinfo=timezone.utc))
    payload = page(MENU, "By Jane Doe", "2 days ago", PARAGRAPHS).encode("utf-8")
    raw = RawDocument("id", "text_dump", "dumps/a.txt", "line:1", "run", payload, "dump")
    article = to_article(raw, extract_dump_segment(payload, None, saved), saved)
    assert article.title.startswith("The coastal city of Westmere")
    assert article.inferred_fields == ["title", "published"]
    assert article.authors == ["Jane Doe"]
    assert article.published == saved - 2 * 86400 * 1_000_000
    assert "inferred_fields" in TABLES["articles"].schema.names


def test_a_teaser_after_two_bad_lines_stays_out_of_a_short_article():
    # A bad line costs 1.5 times its length, at least 60 characters: two
    # date lines between a short article and a one-paragraph teaser of
    # another story outweigh the teaser, which then does not join the run.
    teaser = ("The ferry company said on Wednesday that it will add two evening crossings "
              "from next week, after a survey of its passengers.")
    article = clean(page(MENU, HEADLINE, PARAGRAPHS[:2], "March 4, 2019", "March 5, 2019", teaser,
                         FOOTER))
    assert PARAGRAPHS[0] in article.text and PARAGRAPHS[1] in article.text
    assert teaser not in article.text
