"""Publication dates: candidates from the page and beyond (transforms.extract.date_candidates),
the rule that chooses (transforms.extract.published_date), provenance."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from transforms.extract.dates import to_micros
from transforms.extract.date_candidates import (candidate, candidates_from_page, dateline_date,
                                       from_micros_candidate, parse_with_offset, url_date)
from transforms.extract.published_date import agree, choose_published, published_for

NOW = to_micros(datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc))


def _page(json_ld=None, meta=None, body="<p>Text of the article.</p>") -> str:
    blocks = "".join(f'<script type="application/ld+json">{json.dumps(item)}</script>'
                     for item in (json_ld or []))
    metas = "".join(f'<meta property="{k}" content="{v}">' for k, v in (meta or {}).items())
    return f"<html><head>{metas}{blocks}</head><body><article>{body}</article></body></html>"


def _utc(*parts) -> int:
    return to_micros(datetime(*parts, tzinfo=timezone.utc))


def test_dates_are_parsed_in_utc_with_the_offset_kept():
    assert parse_with_offset("2019-11-19T10:05:00-05:00") == (_utc(2019, 11, 19, 15, 5), -300,
                                                              True)
    assert parse_with_offset("2019-11-19T10:05:00+0530")[1] == 330
    assert parse_with_offset("2019-11-19T10:05:00Z")[1] == 0
    assert parse_with_offset("2019-11-19 10:05") == (_utc(2019, 11, 19, 10, 5), None, True)
    assert parse_with_offset("2019-11-19") == (_utc(2019, 11, 19), None, False)
    assert parse_with_offset("Tue, 19 Nov 2019 10:05:00 +0100") == (
        _utc(2019, 11, 19, 9, 5), 60, True)
    assert parse_with_offset("yesterday") is None and parse_with_offset("2019-02-30") is None


def test_url_and_dateline_dates():
    assert url_date("https://www.nytimes.com/2019/11/19/opinion/x.html").micros == _utc(
        2019, 11, 19)
    assert url_date("https://x.example/story/2019-11-19/disney").micros == _utc(2019, 11, 19)
    assert url_date("https://x.example/a/20191119/b").micros == _utc(2019, 11, 19)
    assert url_date("https://x.example/vox/2019/11/8/20948348/air").micros == _utc(2019, 11, 8)
    assert url_date("https://x.example/article/1234567890") is None
    assert url_date("https://x.example/?d=2019/11/19") is None
    assert dateline_date("WASHINGTON, Nov. 19, 2019 -- The council").micros == _utc(
        2019, 11, 19)
    assert dateline_date("PARIS, 3 décembre -- Le conseil") is None


def test_json_ld_meta_and_url_disagree_and_the_agreeing_pair_wins():
    html = _page(
        json_ld=[{"@context": "https://schema.org", "@graph": [
            {"@type": "WebPage", "datePublished": "2015-03-01T00:00:00Z"},
            {"@type": "NewsArticle", "headline": "Bridge",
             "datePublished": "2019-11-19T10:05:00-05:00",
             "dateModified": "2019-11-19T18:00:00-05:00"}]}],
        meta={"article:published_time": "2019-11-12T08:00:00Z"})
    url = "https://news.example/2019/11/19/bridge"
    found = candidates_from_page(html, url, use_htmldate=False)
    assert sorted((c.source, c.kind) for c in found) == [
        ("jsonld", "modified"), ("jsonld", "published"), ("meta", "published"),
        ("url", "published")]  # the WebPage node's date is not the article's
    chosen = choose_published(found, NOW)
    assert chosen.published_source == "jsonld"
    assert chosen.published == _utc(2019, 11, 19, 15, 5)
    assert chosen.published_offset_minutes == -300
    assert chosen.published_confidence == round(5 / 8, 3)  # jsonld 3 + url 2 of 8
    assert chosen.modified == _utc(2019, 11, 19, 23, 0) and chosen.modified_offset_minutes == -300
    assert chosen.rejected == ()


def test_meta_and_url_against_a_lone_json_ld_date():
    html = _page(json_ld=[{"@type": "NewsArticle", "datePublished": "2019-10-02T09:00:00Z"}],
                 meta={"article:published_time": "2019-11-19T07:30:00+01:00"})
    chosen = published_for(html, "https://news.example/2019/11/19/x", None, NOW,
                           use_htmldate=False)
    assert chosen.published_source == "meta"
    assert chosen.published == _utc(2019, 11, 19, 6, 30)
    assert chosen.published_offset_minutes == 60


def test_a_future_date_is_not_used_and_the_row_says_why():
    future = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc).isoformat()
    html = _page(json_ld=[{"@type": "NewsArticle", "datePublished": future}],
                 meta={"article:published_time": "2026-12-02T21:15:00-03:00"})
    chosen = published_for(html, None, None, NOW, use_htmldate=False)
    assert chosen.published_source == "meta"
    assert chosen.published == _utc(2026, 12, 3, 0, 15)
    assert chosen.rejected == (("jsonld", "future"),)
    assert chosen.published_confidence == 1.0  # the only usable candidate, a structured one


def test_clock_skew_and_local_dates_east_of_utc():
    soon = candidate("meta", datetime.fromtimestamp(NOW / 1e6 + 600, timezone.utc).isoformat())
    later = candidate("meta", datetime.fromtimestamp(NOW / 1e6 + 3600, timezone.utc).isoformat())
    tomorrow = candidate("url", "2026-12-04")  # a date in Tokyo or Auckland already
    assert choose_published([soon], NOW).published_source == "meta"
    assert choose_published([later], NOW).rejected == (("meta", "future"),)
    assert choose_published([tomorrow], NOW).published_source == "url"
    assert choose_published([candidate("url", "2026-12-05")], NOW).rejected == (
        ("url", "future"),)


def test_an_implausibly_early_date_is_not_used():
    html = _page(meta={"article:published_time": "1970-01-01T00:00:00Z"})
    chosen = published_for(html, "https://x.example/2019/11/19/a", None, NOW,
                           use_htmldate=False)
    assert chosen.rejected == (("meta", "too_early"),)
    assert chosen.published_source == "url" and chosen.published == _utc(2019, 11, 19)
    assert chosen.published_confidence == round(2 / 3, 3)


def test_no_date_on_the_page_but_a_sitemap_date():
    sitemap = from_micros_candidate("sitemap", _utc(2026, 12, 3, 7, 0), offset_minutes=60)
    chosen = published_for(_page(), "https://x.example/news/bridge", "No date here.", NOW,
                           hints=[sitemap], use_htmldate=False)
    assert chosen.published_source == "sitemap"
    assert chosen.published == _utc(2026, 12, 3, 7, 0)
    assert chosen.published_offset_minutes == 60


def test_the_feed_date_loses_to_agreeing_page_dates_and_a_time_beats_a_bare_date():
    html = _page(json_ld=[{"@type": "Article", "datePublished": "2019-11-19"}],
                 meta={"article:published_time": "2019-11-19T22:40:00-05:00"})
    feed = from_micros_candidate("feed", _utc(2019, 11, 25, 12, 0))
    chosen = published_for(html, None, None, NOW, hints=[feed], use_htmldate=False)
    # The bare JSON-LD date is the meta time's local date: they agree, the time wins.
    assert chosen.published_source == "meta"
    assert chosen.published == _utc(2019, 11, 20, 3, 40)
    assert chosen.published_confidence == round(6 / 8, 3)


def test_a_modified_date_before_the_published_one_is_ignored():
    html = _page(meta={"article:published_time": "2019-11-19T10:00:00Z",
                       "article:modified_time": "2019-11-01T10:00:00Z"})
    chosen = published_for(html, None, None, NOW, use_htmldate=False)
    assert chosen.published_source == "meta" and chosen.modified is None


def test_htmldate_reads_a_page_without_metadata():
    html = ("<html><body><article><h1>Bridge</h1><p class='byline'>Published "
            "<time datetime='2019-11-19T10:05:00+01:00'>19 November 2019</time></p>"
            "<p>The council met.</p></article></body></html>")
    chosen = published_for(html, "https://x.example/news/bridge", None, NOW)
    assert chosen.published_source == "htmldate"
    assert chosen.published in (_utc(2019, 11, 19, 9, 5), _utc(2019, 11, 19))


def test_agreement():
    a = candidate("meta", "2019-11-19T23:30:00-05:00")
    assert agree(a, candidate("url", "2019-11-19"))  # its local date
    assert agree(a, candidate("url", "2019-11-20"))  # its UTC date
    assert not agree(a, candidate("url", "2019-11-21"))
    assert agree(a, candidate("jsonld", "2019-11-20T10:00:00Z"))
    assert not agree(a, candidate("jsonld", "2019-11-22T10:00:00Z"))


def test_related_article_cards_do_not_vote_once_each():
    cards = "".join(f'<div itemscope itemtype="https://schema.org/NewsArticle">'
                    f'<meta itemprop="datePublished" content="2019-11-{day:02d}T09:00:00">'
                    f'</div>' for day in (10, 11, 12, 13, 14, 15))
    html = _page(meta={"article:published_time": "2019-11-19T13:16+0000"},
                 body=f"<p>Story.</p><aside>{cards}</aside>")
    found = candidates_from_page(html, None, use_htmldate=False)
    assert [(c.source, c.raw) for c in found] == [("meta", "2019-11-19T13:16+0000")]
    chosen = published_for(html, "https://x.example/2019/11/19/a", None, NOW,
                           use_htmldate=False)
    assert chosen.published_source == "meta" and chosen.published_confidence == 1.0


def test_an_offset_written_by_an_agreeing_source_is_kept():
    html = _page(json_ld=[{"@type": "NewsArticle", "datePublished": "2019-11-19T02:34:30Z"}],
                 meta={"article:published_time": "2019-11-18T21:34:30-05:00"})
    chosen = published_for(html, None, None, NOW, use_htmldate=False)
    assert chosen.published_source == "jsonld"
    assert chosen.published == _utc(2019, 11, 19, 2, 34, 30)
    assert chosen.published_offset_minutes == -300  # its local date is the 18th


def test_htmldate_failures_on_hostile_pages_give_no_date_and_bugs_are_not_hidden(monkeypatch):
    import htmldate
    import pytest
    from transforms.extract.date_candidates import htmldate_candidate

    def raising(error):
        def find_date(*_args, **_kwargs):
            raise error
        return find_date
    monkeypatch.setattr(htmldate, "find_date", raising(ValueError("year 0 is out of range")))
    assert htmldate_candidate("<html><body>x</body></html>") is None
    monkeypatch.setattr(htmldate, "find_date", raising(RecursionError()))
    assert htmldate_candidate("<html></html>") is None
    monkeypatch.setattr(htmldate, "find_date", raising(KeyError("bug")))
    with pytest.raises(KeyError):
        htmldate_candidate("<html></html>")


# Page shapes from ../shared/data/html where the rule read the UTC day of a time
# serialised in UTC ("Z", "+00:00") although the page also states the local day.

def test_a_time_serialised_in_utc_agrees_with_the_local_days_around_it():
    utc = candidate("jsonld", "2019-11-19T07:03:25+00:00")
    assert agree(utc, candidate("url", "2019-11-18"))  # west of UTC: still the 18th there
    assert agree(utc, candidate("url", "2019-11-19"))
    assert not agree(utc, candidate("url", "2019-11-17"))
    assert not agree(utc, candidate("url", "2019-11-20"))  # 07:03 + 14 h is still the 19th
    known = candidate("meta", "2019-11-19T02:03:25-05:00")  # an offset written: as before
    assert not agree(known, candidate("url", "2019-11-17"))


def test_the_publishers_day_wins_over_the_utc_day_of_a_utc_serialised_time():
    html = _page(json_ld=[{"@type": "NewsArticle", "datePublished": "2019-11-19T07:03:25+00:00"}],
                 meta={"article:published_time": "2019-11-19T07:03:25+00:00"})
    chosen = published_for(html, "https://news.example/2019/11/18/story/", None, NOW,
                           use_htmldate=False)
    assert chosen.published_source == "url" and chosen.published == _utc(2019, 11, 18)
    assert chosen.published_confidence == 1.0  # all three agree: they state one moment


def test_a_utc_time_whose_utc_day_is_the_publishers_day_is_kept():
    html = _page(json_ld=[{"@type": "NewsArticle", "datePublished": "2019-11-19T13:16:00Z"}])
    chosen = published_for(html, "https://news.example/2019/11/19/story/", None, NOW,
                           use_htmldate=False)
    assert chosen.published_source == "jsonld"
    assert chosen.published == _utc(2019, 11, 19, 13, 16)


def test_the_page_states_its_own_url_and_its_date():
    html = _page(json_ld=[{"@type": "NewsArticle", "datePublished": "2019-10-11T14:59:54Z"}],
                 meta={"article:published_time": "2019-11-19T02:34:30Z"})
    html = html.replace("<head>", '<head><link rel="canonical" '
                        'href="https://news.example/2019/11/18/markets/index.html">')
    found = candidates_from_page(html, None, use_htmldate=False)
    assert ("url", _utc(2019, 11, 18)) in [(c.source, c.micros) for c in found]
    chosen = choose_published(found, NOW)  # the lone JSON-LD date is a reused page's
    assert chosen.published == _utc(2019, 11, 18) and chosen.published_source == "url"
    og_only = _page(meta={"og:url": "https://news.example/2019/11/18/a"})
    assert [c.source for c in candidates_from_page(og_only, None, use_htmldate=False)] == [
        "url"]


def test_the_sites_offset_written_on_its_modified_time_is_kept():
    html = _page(json_ld=[{"@type": "NewsArticle", "datePublished": "2019-11-19T03:05:46Z"}],
                 meta={"og:updated_time": "2019-11-18T22:15:39-05:00"})
    chosen = published_for(html, None, None, NOW, use_htmldate=False)
    assert chosen.published_source == "jsonld"
    assert chosen.published == _utc(2019, 11, 19, 3, 5, 46)
    assert chosen.published_offset_minutes == -300  # 22:05 on the 18th, where it was written


def test_a_local_time_without_offset_beside_its_utc_instant_gives_the_offset():
    html = _page(json_ld=[{"@type": "NewsArticle", "datePublished": "2019-11-19T04:58:46Z"}],
                 meta={"article:published_time": "2019-11-18 20:58:46"})
    chosen = published_for(html, None, None, NOW, use_htmldate=False)
    assert chosen.published == _utc(2019, 11, 19, 4, 58, 46)
    assert chosen.published_offset_minutes == -480
    unrelated = _page(json_ld=[{"@type": "NewsArticle", "datePublished": "2019-11-19T04:58:46Z"}],
                      meta={"article:published_time": "2019-11-18 20:41:02"})
    assert published_for(unrelated, None, None, NOW,
                         use_htmldate=False).published_offset_minutes == 0
