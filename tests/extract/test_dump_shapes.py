"""Shapes of lines that carry across sites, found by the error analysis of
`benchmarks/errors_textdumps.py` on the tune sites: a teaser whose link
repeats its headline, a photo caption with its credit, and a list of dated
items that the article introduces (tour dates, fixtures)."""
from __future__ import annotations

from tests.extract.test_line_classifier import FOOTER, HEADLINE, MENU, PARAGRAPHS, clean, page
from transforms.extract.dump_shapes import ends_the_article, is_caption, is_list_item, repeats_its_headline

DEALS = ["The best winter coat deals of the season", "Slash an extra 15% off these early sales",
         "Now half price, this kettle boils in ninety seconds", "Ten gifts for people who have everything",
         "The mattress sale that ends at midnight"]
TOUR = ["June 9 – West Palm Beach, FL @ Coral Sky Amphitheatre", "June 10 – Tampa, FL @ Credit Union Amphitheatre",
        "June 14 – Alpharetta, GA @ Ameris Bank Amphitheatre", "June 17 – Nashville, TN @ Bridgestone Arena",
        "June 19 – Charlotte, NC @ Music Pavilion", "June 20 – Raleigh, NC @ Walnut Creek Music Park"]


def test_teasers_whose_link_repeats_the_headline_stay_out_after_the_article():
    teasers = [f"{d} {d}" for d in DEALS]
    article = clean(page(MENU, HEADLINE, PARAGRAPHS, "Popular Shopping", teasers, FOOTER))
    for paragraph in PARAGRAPHS:
        assert paragraph in article.text
    assert "kettle" not in article.text and "mattress" not in article.text
    assert repeats_its_headline("the best deals of the year the best deals of the year".split())
    assert not repeats_its_headline("he said it was over and he said it again".split())
    # A sentence repeated over a whole line (a hostile or broken dump) is text, not a teaser.
    sentence = "The council met on Tuesday to discuss the budget and the bridge. "
    assert not repeats_its_headline((sentence * 3).split())
    assert not repeats_its_headline((sentence * 2 + "Residents asked about the timetable.").split())


def test_a_caption_with_its_credit_inside_the_article_is_dropped():
    captions = ["The turbines seen from the harbour wall on Tuesday. Credit: Westmere Herald",
                "Engineers lower the last of the twelve turbines (AP Photo/Jane Roe)"]
    article = clean(page(MENU, HEADLINE, PARAGRAPHS[:2], captions[0], PARAGRAPHS[2:], captions[1],
                         FOOTER))
    for paragraph in PARAGRAPHS:
        assert paragraph in article.text
    assert "harbour wall" not in article.text and "Jane Roe" not in article.text
    assert not is_caption(PARAGRAPHS[2])


def test_a_list_of_dated_items_the_article_introduces_is_kept():
    article = clean(page(MENU, HEADLINE, PARAGRAPHS, "The tour dates:", TOUR, FOOTER))
    for line in ["The tour dates:"] + TOUR:
        assert line in article.text
    assert "Privacy Policy" not in article.text
    assert is_list_item(TOUR[0]) and not is_list_item("Home") and not is_list_item(PARAGRAPHS[0])


def test_a_reporting_credit_ends_the_article_and_the_bio_after_it_stays_out():
    bio = ("Jane Roe has covered energy and the environment for the Herald since 2009, and before "
           "that she wrote about farming for a weekly paper in the north of the county.")
    article = clean(page(MENU, HEADLINE, PARAGRAPHS, "Jane Roe contributed to this report.", bio,
                         FOOTER))
    for paragraph in PARAGRAPHS:
        assert paragraph in article.text
    assert "contributed" not in article.text and "farming" not in article.text
    assert ends_the_article("(Reporting by Will Dunham; Editing by Tom Brown)")
    assert not ends_the_article(PARAGRAPHS[0])
