"""Keyphrases scored against the run's document frequencies: the pure functions,
the scoring DoFn called directly, and the composite on the FnApiRunner."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that

from schemas.records import Article
from transforms.enrich.keyphrase_scores import (MIN_ARTICLES, DocumentFrequencies,
                                                document_keys, filter_keywords, is_clean_keyword,
                                                keep_row, score_keyphrases, site_words, source_of)
from transforms.enrich.keyphrase_step import (ExtractKeyphrases, _ScoreFn, article_source,
                                             site_names)
from transforms.enrich.keyphrases import breaking_words, calendar_words, candidates, spelling

NO_TABLE = DocumentFrequencies({}, {})


def _article(article_id, title, text, language="en", url="https://edition.cnn.com/a",
             site=None, source=None):
    return Article(article_id, url, None, None, title, text, None, [], None, site, source, [],
                   [], [], language, 0.99, None, None, None, "h", article_id, len(text),
                   "jsonl", "mem", "line:1", "plain_text", "run", 1)


def _keywords(title, text, language="en", table=NO_TABLE, source="", names=()):
    return score_keyphrases(candidates(title, text, language), language, source, table, names)


def test_candidates_are_word_runs_between_stop_words_weekdays_months_and_punctuation():
    found = candidates("Flood barrier gates close", "The new flood barrier opened on Monday, "
                       "in March 2026. Engineers said the flood barrier works.", "en")
    keys = set(found.counts)
    assert {"flood barrier", "flood", "barrier", "engineers", "flood barrier gates"} <= keys
    assert not {"monday", "march", "2026", "the", "on", "in", "said"} & keys
    assert not any(k.endswith((".", ",")) for k in keys)
    assert found.counts["flood barrier"] == 3 and "flood barrier" in found.title
    assert "engineers" not in found.title


def test_calendar_words_cover_every_region_of_a_language():
    arabic = calendar_words("ar")
    assert {"الجمعه", "الخميس", "يناير", "كانون", "تموز", "جانفي"} <= arabic
    assert {"monday", "january", "sunday"} <= calendar_words("en")
    assert {"lundi", "janvier"} <= calendar_words("fr")
    assert "أمام" in breaking_words("ar") or "امام" in breaking_words("ar")


def test_arabic_clitics_cut_as_the_yake_path_does_and_weekdays_behind_them_break():
    text = ("زار الوفد بغداد أمس. وقال الوفد في وبغداد إن المحادثات مستمرة والجمعة "
            "سيعود الوفد إلى بغداد.")
    keys = set(candidates(None, text, "ar").counts)
    assert "بغداد" in keys and "وبغداد" not in keys
    assert not any("الجمعه" in k for k in keys)


def test_two_word_names_are_kept_whole():
    text = ("The Security Council met on Tuesday. The Security Council voted, and the "
            "Security Council will meet again. Diplomats welcomed the vote on the ceasefire.")
    keywords = _keywords("Security Council votes on ceasefire", text)
    assert "Security Council" in keywords
    assert "Council" not in keywords and "Security" not in keywords
    arabic = ("قالت الولايات المتحدة إن الولايات المتحدة والعراق يعملان معا. "
              "وأكدت الولايات المتحدة دعم العراق.")
    keywords = _keywords(None, arabic, "ar")
    assert "الولايات المتحدة" in keywords
    assert "الولايات" not in keywords and "المتحدة" not in keywords


def test_the_body_spelling_wins_over_a_title_cased_title():
    keywords = _keywords("Harbour City Opens Tidal Plant",
                         "The tidal plant of the harbour city opened. The tidal plant runs.")
    assert "tidal plant" in keywords and "Tidal Plant" not in keywords


def test_document_keys_count_language_and_source_once_each():
    assert document_keys(["a b"], "en", "cnn.com") == [
        ("en", "", ""), ("en", "cnn.com", ""), ("en", "", "a b"), ("en", "cnn.com", "a b")]
    assert document_keys(["a"], "en", "") == [("en", "", ""), ("en", "", "a")]


def test_tables_from_rows_and_from_documents_agree():
    documents = ([("en", "s1", ["cnn", "flood", f"t{i}"]) for i in range(30)]
                 + [("en", "s1", ["cnn", "fire"])] * 20 + [("en", "s2", ["cnn", "rare"])] * 10
                 + [("en", "s3", ["cnn", "odd"])])
    direct = DocumentFrequencies.from_documents(documents)
    counts = {}
    for language, source, phrases in documents:
        for key in document_keys(phrases, language, source):
            counts[key] = counts.get(key, 0) + 1
    totals = {(k[0], k[1]): v for k, v in counts.items() if not k[2]}
    rows = DocumentFrequencies.from_rows(
        (k, v) for k, v in counts.items() if keep_row(k, v, totals))
    for table in (direct, rows):
        assert table.articles("en") == 61 and table.articles("en", "s1") == 50
        assert table.count("en", "cnn") == 61 and table.count("en", "cnn", "s1") == 50
        assert table.count("en", "fire") == 20 and table.count("en", "rare") == 1 + 9
        assert table.count("en", "t3") == 1  # one article: no row, counts 1
        assert table.count("en", "odd", "s3") == 1  # a source of one article: not read
    assert {k: v for k, v in direct.tables.items() if v} == rows.tables


def test_keep_row_bounds_the_table_by_share():
    totals = {("en", ""): 10_000, ("en", "s"): 10}
    assert keep_row(("en", "", ""), 1, totals)
    assert not keep_row(("en", "", "flood"), 150, totals)  # 1.5%: damping 0.97, left out
    assert keep_row(("en", "", "flood"), 250, totals)
    assert not keep_row(("en", "s", "flood"), 9, totals)  # below MIN_SOURCE_ARTICLES


def test_a_phrase_in_most_of_a_sources_articles_is_damped_to_nothing():
    documents = [("en", "cnn.com", ["cnn", f"topic{i}"]) for i in range(60)]
    table = DocumentFrequencies.from_documents(documents)
    assert table.damping("en", "cnn.com", "cnn") == 0.0
    assert table.damping("en", "cnn.com", "topic3") == 1.0
    # Below MIN_ARTICLES nothing is damped: two articles of one story share words.
    small = DocumentFrequencies.from_documents(documents[:MIN_ARTICLES - 1])
    assert small.damping("en", "", "cnn") == 1.0


def test_site_names_and_their_domain_label_are_not_keywords():
    assert {"cnn", "arabic cnn com"} <= site_words(("https://arabic.cnn.com/x",))
    assert "bbc" in site_words(("www.bbc.co.uk",))
    assert {"rt", "rt arabic"} <= site_words(("RT Arabic",))
    assert "westmere" not in site_words(("Westmere Herald",))
    text = "CNN reports that the dam failed. The dam failed after CNN warned of the dam."
    keywords = _keywords(None, text, names=("https://edition.cnn.com/a", "CNN"))
    assert "dam" in keywords and "CNN" not in keywords


@pytest.mark.parametrize("keyword, clean", [
    ("Lebanon", True), ("لبنان.", False), ("أمام", False), ("وذلك", False), ("الجمعة", False),
    ("Friday", False), ("January", False), ("CNN", False), ("Security Council", True),
    ("the council", False), ("2012", False), ("(CNN)", False)])
def test_is_clean_keyword(keyword, clean):
    language = "ar" if any("\u0600" <= c <= "\u06ff" for c in keyword) else "en"
    assert is_clean_keyword(keyword, language, site_words(("cnn.com",))) is clean


def test_filter_keywords_cleans_another_extractors_list():
    assert filter_keywords(["لبنان.", "لبنان", "الخميس", "CNN", "أمام"], "ar",
                           ("https://arabic.cnn.com/a",)) == ["لبنان"]


def test_source_of_prefers_the_host():
    assert source_of("CNN", "CNN Arabic", "https://www.arabic.cnn.com/a") == "arabic.cnn.com"
    assert source_of("Westmere Herald", None, None) == "westmere herald"
    assert source_of(None, None, None) == ""


def test_languages_without_spaces_and_und_get_nothing():
    assert not candidates("标题", "中文文本没有空格", "zh").counts
    assert not candidates("t", "some text here", "und").counts


def test_small_runs_is_checked():
    with pytest.raises(ValueError, match="small_runs"):
        ExtractKeyphrases(small_runs="tfidf")


def test_small_runs_by_yake_are_filtered():
    fn = _ScoreFn(MIN_ARTICLES, "yake")
    fn.setup()
    article = _article("a1", "الجمعة: لبنان يرحب بالاتفاق",
                       "(CNN) -- رحب لبنان يوم الجمعة بالاتفاق. وقال مسؤول إن لبنان مستعد.",
                       "ar", url="https://arabic.cnn.com/a")
    (out,) = fn.process(article, NO_TABLE)
    assert out.keywords and all(is_clean_keyword(k, "ar", site_words(("arabic.cnn.com",)))
                                for k in out.keywords)


TOWNS = ["Abilene", "Bakersfield", "Carlsbad", "Dayton", "Eugene", "Fresno", "Galveston",
         "Helena", "Irvine", "Joliet"]


def _cnn_run():
    towns = TOWNS
    things = ["bridge", "school", "hospital", "library", "stadium", "harbour"]
    articles = []
    for i in range(60):
        town, thing = towns[i % 10], things[i % 6]
        text = (f"(CNN) -- Officials in {town} said on Friday that the {thing} project "
                f"would start next year. The {thing} project in {town} costs millions, and "
                f"{town} residents asked for hearings on the {thing} project.")
        articles.append(_article(f"a{i}", f"{town} approves {thing} project", text,
                                 site="CNN", source="CNN"))
    articles.append(_article("de", "Brücke", "Die Brücke wurde eröffnet.", "de",
                             url="https://example.de/a"))
    articles.append(_article("und", None, "?? !!", "und", url=None))
    return articles


@pytest.mark.parametrize("staged", [False, True], ids=["held", "staged"])
def test_composite_on_the_fnapi_runner(fnapi_pipeline, tmp_path, staged):
    """The same keywords whether the articles wait for the table in memory or in files."""
    towns = TOWNS
    stage_dir = str(tmp_path / "kept") if staged else None

    def check(rows):
        by_id = {row.article_id: row.keywords for row in rows}
        assert len(by_id) == 62 and by_id["und"] == []
        for i in range(60):
            keywords = by_id[f"a{i}"]
            assert keywords, i
            lowered = {k.lower() for k in keywords}
            assert "cnn" not in lowered and "friday" not in lowered and "officials" not in lowered
            assert "project" not in lowered
            assert towns[i % 10].lower() in lowered
        assert by_id["de"] == ["Brücke"] or "Brücke" in by_id["de"]

    with fnapi_pipeline as p:
        out = p | beam.Create(_cnn_run()) | "Keyphrases" >> ExtractKeyphrases(stage_dir=stage_dir)
        assert_that(out, check)
    assert staged == any((tmp_path / "kept").glob("*.parquet"))


def _seed_run(name, language):
    from tests.conftest import SEEDS
    from transforms.extract.text_dump import clean_segment, split_page

    page = split_page((SEEDS / name).read_text(encoding="utf-8"))
    articles = [clean_segment(s.text, s.title, language) for s in page.segments]
    found = [candidates(a.title, a.text, language) for a in articles]
    table = DocumentFrequencies.from_documents(
        (language, "seed", f.counts) for f in found)
    return page.source_name, [score_keyphrases(f, language, "seed", table, (page.source_name,))
                              for f in found]


@pytest.mark.parametrize("name, language", [("rt-arabic-dump.txt", "ar"),
                                            ("en-sample-dump.txt", "en")])
def test_seed_keywords_follow_the_rules(name, language):
    source_name, keyword_lists = _seed_run(name, language)
    site = site_words((source_name,))
    for keywords in keyword_lists:
        assert len(keywords) == 10
        assert all(is_clean_keyword(k, language, site) for k in keywords), keywords
    words = {k for keywords in keyword_lists for k in keywords}
    if language == "ar":  # the first article says الولايات المتحدة twice, never apart
        assert not {"الولايات", "المتحدة"} & words
        assert "داعش" in keyword_lists[0] and "قسد" in keyword_lists[1]
    else:
        assert "Westmere Herald" not in words and "Fishing crews" in keyword_lists[1]


def test_turkish_dotted_capital_i_stays_one_word():
    keywords = _keywords("İstanbul seçimi", "İstanbul Büyükşehir Belediyesi seçimi yapıldı. "
                         "İstanbul Büyükşehir Belediyesi başkanı seçildi.", "tr")
    assert "İstanbul" in keywords and "stanbul" not in keywords


def test_a_number_may_end_a_name_but_not_start_one():
    keys = set(candidates(None, "The Falcon 9 rocket flew. The Falcon 9 landed in 2012.",
                          "en").counts)
    assert "falcon 9" in keys and "falcon 9 rocket" not in keys
    assert "9" not in keys and "2012" not in keys and not any(k.startswith("9") for k in keys)


def test_indic_words_keep_their_vowel_signs():
    keys = set(candidates("भारत की राजधानी", "भारत की राजधानी दिल्ली है। दिल्ली में बारिश हुई।",
                          "hi").counts)
    assert {"भारत", "राजधानी", "दिल्ली", "बारिश"} <= keys


def test_a_stream_scores_each_article_on_its_own_weights():
    """An unbounded input has no run-wide table (it would never be complete in the
    global window): each article is scored as a small run's are, on the
    BundleBasedDirectRunner with `TestStream`."""
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.test_stream import TestStream

    articles = _cnn_run()
    expected = {a.article_id: _keywords(a.title, a.text, a.language, NO_TABLE,
                                        article_source(a), site_names(a)) for a in articles}
    events = TestStream().advance_watermark_to(0)
    for start in range(0, len(articles), 20):
        events = events.add_elements(articles[start:start + 20]).advance_watermark_to(start + 1)
    events = events.advance_watermark_to_infinity()

    def check(rows):
        by_id = {row.article_id: row.keywords for row in rows}
        assert by_id == expected
        assert all(by_id[f"a{i}"] for i in range(60))
        assert not any({"cnn", "friday"} & {k.lower() for k in by_id[f"a{i}"]} for i in range(60))

    with TestPipeline(runner=BundleBasedDirectRunner(),
                      options=PipelineOptions(["--streaming"])) as p:
        out = p | events | "Keyphrases" >> ExtractKeyphrases()
        assert_that(out, check)


def test_the_table_can_be_asked_for_or_left_out():
    articles = _cnn_run()[:3]
    pipeline = beam.Pipeline()
    bounded = pipeline | beam.Create(articles)
    with_table = bounded | "With" >> ExtractKeyphrases()
    without = bounded | "Without" >> ExtractKeyphrases(document_frequencies=False)
    labels = {t.full_label for t in pipeline.transforms_stack[0].parts}
    assert "With" in labels and "Without" in labels
    parts = {t.full_label: {s.full_label for s in t.parts}
             for t in pipeline.transforms_stack[0].parts}
    assert "With/BuildTable" in parts["With"]
    assert parts["Without"] == {"Without/ScoreKeyphrases"}
    assert with_table.element_type is without.element_type


def test_a_keyword_is_spelt_as_a_word_of_its_own_not_a_part_of_a_longer_one():
    found = candidates("Wochenmarkt zieht auf den Rathausplatz",
                       "Der Markt der Altstadt zieht um. Die Händler hatten zu wenig Platz. "
                       "Die Stadt verspricht neue Stände.", "de")
    assert spelling(found, "platz") == "Platz"
    assert spelling(found, "stadt") == "Stadt"


def test_a_bundle_sends_a_few_summed_shards_per_group_not_a_row_per_phrase():
    """Keyed by phrase, a run of many languages and sources sent ~200 rows an
    article through the shuffle (benchmarks/bench_keyphrase_beam.py)."""
    from collections import Counter

    from apache_beam.transforms.window import GlobalWindow

    from transforms.enrich.keyphrase_counts import _SumRowsFn

    articles = _cnn_run()
    fn = _SumRowsFn()
    fn.start_bundle()
    for article in articles:
        assert not list(fn.process(article, GlobalWindow()))
    sent = [value.value for value in fn.finish_bundle()]
    expected = Counter()
    for article in articles:
        found = candidates(article.title, article.text, article.language)
        expected.update(document_keys(found.counts, article.language, article_source(article)))
    summed = Counter()
    for (language, source, _), counts in sent:
        for phrase, count in counts.items():
            summed[(language, source, phrase)] += count
    assert summed == expected  # the same sums, whatever the shard
    groups = {(language, source) for (language, source, _), _ in sent}
    assert len(sent) <= 8 * len(groups) < len(expected) / 4


def test_a_staged_run_counts_its_phrases_in_files_not_in_a_shuffle(tmp_path, monkeypatch):
    """Summed in the runner, the counts held every distinct phrase of the run
    (10.4 million (group, phrase) entries at 100,000 W2 articles), and grew
    with it. Staged, a bundle writes its sums to files per shard and sends
    their names; only a small bundle's sums (under MIN_FILE_ROWS) travel."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.transforms.window import GlobalWindow

    from transforms.enrich.keyphrase_counts import _StageCountsFn

    def outputs(min_file_rows):
        monkeypatch.setattr(_StageCountsFn, "MIN_FILE_ROWS", min_file_rows)
        fn = _StageCountsFn(str(tmp_path / f"counts-{min_file_rows}"))
        fn.start_bundle()
        out = [o for article in _cnn_run() for o in fn.process(article, GlobalWindow())]
        out += list(fn.finish_bundle())
        tags = {}
        for o in out:
            tag = o.tag if isinstance(o, beam.pvalue.TaggedOutput) else "files"
            tags.setdefault(tag, []).append(o.value if isinstance(
                o, beam.pvalue.TaggedOutput) else o)
        return tags

    large = outputs(10)
    assert set(large) == {"files", "totals"}
    assert all(isinstance(shard, int) and path.endswith(".parquet")
               for shard, path in (v.value for v in large["files"]))
    assert list((tmp_path / "counts-10").rglob("*.parquet"))
    small = outputs(10 ** 9)
    assert set(small) == {"sums", "totals"}

    p = beam.Pipeline(runner=FnApiRunner())
    _ = (p | beam.Create(_cnn_run())
         | "Keyphrases" >> ExtractKeyphrases(stage_dir=str(tmp_path / "kept")))
    components = p.to_runner_api().components
    names = [t for t in components.transforms.values()
             if t.unique_name == "Keyphrases/FileNames"]
    assert names
    for pc in names[0].outputs.values():
        found = components.coders[components.pcollections[pc].coder_id]
        parts = tuple(components.coders[c].spec.urn for c in found.component_coder_ids)
        assert (found.spec.urn, parts) == (
            "beam:coder:kv:v1", ("beam:coder:varint:v1", "beam:coder:string_utf8:v1"))


@pytest.mark.parametrize("flush_rows, min_file_rows", [(200_000, 20_000), (40, 1), (40, 60)])
def test_staged_and_held_counts_give_the_same_keywords(fnapi_pipeline, tmp_path, monkeypatch,
                                                       flush_rows, min_file_rows):
    """Summed from files shard by shard, the table is the one summed in memory."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from transforms.enrich import keyphrase_counts

    monkeypatch.setattr(keyphrase_counts._SumRowsFn, "FLUSH_ROWS", flush_rows)
    monkeypatch.setattr(keyphrase_counts._StageCountsFn, "MIN_FILE_ROWS", min_file_rows)
    articles = _cnn_run() + [
        _article(f"b{i}", f"{TOWNS[i % 10]} {TOWNS[(i + 3) % 10]} talks", f"Talks between "
                 f"{TOWNS[i % 10]} and {TOWNS[(i + 3) % 10]} went on. " * 3,
                 url=f"https://news{i % 3}.example/b{i}") for i in range(70)]
    import json

    def write(rows, path):
        path.write_text(json.dumps(sorted(rows)), "utf-8")

    for staged in (False, True):
        stage_dir = str(tmp_path / "kept") if staged else None
        with beam.Pipeline(runner=FnApiRunner()) as p:
            out = (p | beam.Create(articles)
                   | "Keyphrases" >> ExtractKeyphrases(stage_dir=stage_dir))
            _ = (out | beam.Map(lambda a: (a.article_id, a.keywords))
                 | beam.combiners.ToList()
                 | beam.Map(write, tmp_path / f"staged-{staged}.json"))
    held = json.loads((tmp_path / "staged-False.json").read_text("utf-8"))
    staged = json.loads((tmp_path / "staged-True.json").read_text("utf-8"))
    assert staged == held
    assert len(staged) == len(articles) and sum(1 for _, keywords in staged if keywords) > 120
