"""Language identification: codes, scripts, clusters, restriction, short texts."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import Article
from transforms.enrich import language, language_text
from transforms.enrich.language import DetectLanguage, LanguageDetector
from transforms.enrich.language_text import (detect_script, language_agrees, marker_choice,
                                             normalize_language_code, parse_languages,
                                             short_text_factor, supported_languages)


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def _article(article_id, title, text, declared=None):
    return Article(article_id, None, None, None, title, text, None, [], None, None, None, [],
                   [], [], "und", 0.0, None, declared, None, "h", article_id, len(text),
                   "jsonl", "mem", "line:1", "plain_text", "run", 1)


def test_declared_codes_are_normalised():
    assert normalize_language_code("en-GB") == "en"
    assert normalize_language_code("ara") == "ar"
    assert normalize_language_code("zh-Hans") == "zh"
    assert normalize_language_code("iw") == "he"
    assert normalize_language_code("pt_BR") == "pt"
    assert normalize_language_code("nob") == "nb"
    assert normalize_language_code("English") is None
    assert normalize_language_code("") is None


def test_agreement_with_the_declared_language():
    assert language_agrees("en-GB", "en") is True
    assert language_agrees("no", "nn") is True         # a macrolanguage and its member
    assert language_agrees("ms", "id") is True
    assert language_agrees("ar", "en") is False
    assert language_agrees(None, "en") is None          # nothing declared
    assert language_agrees("en", "und") is None         # nothing detected
    assert language_agrees("x-klingon", "en") is None   # not a code


def test_scripts_including_mixed_text():
    assert detect_script("The council said on Monday") == "Latn"
    # Arabic with English names and numbers in it is Arabic script.
    assert detect_script("قالت شركة Apple إن مبيعات iPhone 15 ارتفعت في الربع الأخير") == "Arab"
    assert detect_script("東京は日本の首都です") == "Jpan"
    assert detect_script("北京是中国的首都") == "Hani"
    assert detect_script("서울은 한국의 수도입니다") == "Hang"
    assert detect_script("Филм је зарадио преко 478 милиона долара") == "Cyrl"
    assert detect_script("2024 — 15:30 !!") is None


def test_very_short_texts_get_a_low_score(detector):
    assert short_text_factor("ok") == pytest.approx(2 / 15)
    assert short_text_factor("a sentence of more than twenty letters") == 1.0
    found = detector.identify(None, "Merci")
    assert found.score < 0.5
    assert detector.detect(None, "Merci", 0.5)[0] == "und"
    assert detector.detect("", "", 0.5) == ("und", 0.0)
    assert detector.detect(None, "1234 5678 !!", 0.5)[0] == "und"


def test_title_and_body_in_capitals_are_read(detector):
    language, score = detector.detect("BREAKING: THE BRIDGE REOPENS",
                                      "THE OLD STONE BRIDGE ACROSS THE RIVER REOPENED TO "
                                      "TRAFFIC ON MONDAY MORNING AFTER EIGHT MONTHS", 0.5)
    assert language == "en" and score > 0.8


def test_mixed_script_article_keeps_its_language(detector):
    text = ("أعلنت شركة Microsoft اليوم عن إطلاق نسخة جديدة من نظام Windows في الأسواق "
            "العربية، وقال المتحدث باسم الشركة إن النظام يدعم اللغة العربية بالكامل.")
    found = detector.identify(None, text)
    assert (found.language, found.script) == ("ar", "Arab") and found.score > 0.9


def test_close_languages_are_settled_by_the_second_model_and_markers(detector):
    bosnian = ("Sedmica je počela sastankom u Sarajevu, gdje je dogovorena saradnja "
               "univerziteta i opštine. Historija grada privlači hiljade posjetilaca.")
    croatian = ("Tjedan je počeo sastankom u Zagrebu, gdje je dogovorena suradnja "
                "sveučilišta i općine. Povijest grada privlači tisuće posjetitelja.")
    nynorsk = ("Eg veit ikkje kva dei skal gjere no, men me må finne ei løysing saman "
               "før vinteren kjem. Det er mykje som står att.")
    malay = ("Kerajaan negeri berkata bahawa projek itu akan bermula selepas mesyuarat "
             "kakitangan kerana pelbagai masalah wang.")
    for text, expected in ((bosnian, "bs"), (croatian, "hr"), (nynorsk, "nn"), (malay, "ms")):
        found = detector.identify(None, text)
        assert found.language == expected, (expected, found)
        assert found.second_stage


def test_marker_words_decide_only_when_they_point_one_way():
    assert marker_choice("historija je vjerovatno duža", ("bs", "hr", "sr")) == "bs"
    assert marker_choice("hiljadu ljudi", ("bs", "hr", "sr")) is None  # Bosnian and Serbian
    assert marker_choice("tisuću ljudi", ("bs", "hr", "sr")) == "hr"
    assert marker_choice("ljudi su došli", ("bs", "hr", "sr")) is None
    # Ijekavian forms rule Serbian out; between the two left, the models' likelihood.
    assert marker_choice("gdje je dijete", ("bs", "hr", "sr"), {"bs": 0.3, "hr": 0.6}) == "hr"
    assert marker_choice("gdje je dete", ("bs", "hr", "sr"), {"hr": 0.9}) == "hr"
    assert marker_choice("gde je dete bilo pre rata", ("bs", "hr", "sr"), {"hr": 0.9}) == "sr"
    assert marker_choice("eg veit ikkje kva", ("nb", "nn")) == "nn"
    assert marker_choice("jeg vet ikke hva", ("nb", "nn")) == "nb"


def test_serbian_in_latin_script_is_told_by_its_ekavian_forms(detector):
    # lingua has no Latin-script Serbian model; the yat reflex decides.
    serbian = ("Predsednik je posle sastanka rekao da je vreme za promene i da deca u celoj "
               "zemlji treba da imaju bolje uslove. Gde god da odete, videćete isto.")
    bosnian = ("Predsjednik je poslije sastanka rekao da je vrijeme za promjene i da djeca u "
               "cijeloj zemlji trebaju imati bolje uslove. Hiljade ljudi su došle.")
    assert detector.identify(None, serbian).language == "sr"
    assert detector.identify(None, bosnian).language in ("bs", "hr")


def test_when_fasttext_is_unsure_lingua_proposes_candidates_too(detector):
    # fastText's top three for this Swahili sentence are id, eo, tr; lingua,
    # asked over all its languages, brings Swahili in (it was called Luganda,
    # the only candidate of its family before).
    swahili = "Wanafunzi walikwenda sokoni kununua matunda na mboga."
    assert "sw" not in dict(detector.top(swahili, k=3))
    found = detector.identify(None, swahili)
    assert (found.language, found.second_stage) == ("sw", True) and found.score >= 0.5
    # A language fastText does not know at all is still reached that way.
    assert detector.identify(None, "Ngiyabonga kakhulu ngosizo lwakho namhlanje.").language == "zu"


def test_serbo_croatian_label_is_shared_by_its_three_standards(detector):
    # lid.176's "sh" says Serbo-Croatian, not which standard: each of bs, hr
    # and sr gets a third of it (it all went to hr, and Bosnian text with it).
    text = "Grad je poznat po starom mostu i lijepim ulicama uz rijeku."
    labels, scores = detector._model.predict(text, k=10)
    raw = {label.replace("__label__", ""): float(p) for label, p in zip(labels, scores)}
    assert raw.get("sh", 0.0) > 0.05
    merged = dict(detector.top(text))
    assert "sh" not in merged
    for code in ("bs", "hr", "sr"):
        assert merged[code] == pytest.approx(raw.get(code, 0.0) + raw["sh"] / 3, rel=1e-6)


def test_lingua_reads_whole_words():
    assert language_text.head_of("ọmọ ilẹ̀ Nàìjíríà", 7) == "ọmọ"
    assert language_text.head_of("short", 10) == "short"
    assert language_text.head_of("onewordonly", 4) == "onew"


def test_formal_indonesian_is_not_called_malay(detector):
    # Both standards share most words; lingua's Malay model takes formal
    # Indonesian for Malay, so within ms/id fastText and marker words decide.
    indonesian = ("Setiap orang berhak atas kebebasan bergerak dan berdiam di dalam batas-batas "
                  "setiap negara. Perkawinan hanya dapat dilaksanakan berdasarkan pilihan "
                  "bebas dan persetujuan penuh oleh kedua mempelai.")
    assert detector.identify(None, indonesian).language == "id"


def test_second_stage_detectors_are_bounded_and_answers_unchanged(detector, monkeypatch):
    # Dropping a candidate set's detector and building it again later gives
    # the same probabilities: the bound costs only time, never labels.
    texts = [("Tjedan je počeo sastankom u Zagrebu, gdje je dogovorena suradnja "
              "sveučilišta i općine. Povijest grada privlači tisuće posjetitelja."),
             ("Eg veit ikkje kva dei skal gjere no, men me må finne ei løysing saman "
              "før vinteren kjem. Det er mykje som står att."),
             "Uhulumeni uthe uzoqhubeka nokwakha izindlu ezintsha ezindaweni zasemakhaya."]
    expected = [detector.identify(None, text) for text in texts]
    monkeypatch.setattr(language, "SECOND_STAGE_DETECTORS", 1)
    bounded = LanguageDetector()
    for _ in range(2):
        answers = [bounded.identify(None, text) for text in texts]
        # Labels exactly; scores to 1e-12 (a rebuilt lingua model once gave
        # 0.9158386989415747 for 0.9158386989415744: summation order, not a label).
        assert [a._replace(score=0.0) for a in answers] == [e._replace(score=0.0) for e in expected]
        assert [a.score for a in answers] == pytest.approx([e.score for e in expected], rel=1e-12)
        assert len(bounded._second) == 1


def test_languages_lid176_does_not_know(detector):
    zulu = ("Uhulumeni uthe uzoqhubeka nokwakha izindlu ezintsha ezindaweni zasemakhaya "
            "ukuze abantu abaningi bathole indawo yokuhlala.")
    assert detector.identify(None, zulu).language == "zu"


def test_restriction_to_listed_languages():
    restricted = LanguageDetector(parse_languages("ms,en"))
    indonesian = ("Pemerintah mengatakan bahwa proyek itu akan dimulai setelah rapat karena "
                  "berbagai masalah keuangan yang dihadapi perusahaan.")
    found = restricted.identify(None, indonesian)
    assert found.language == "ms" and found.score > 0.5   # id's probability passes to ms
    french = ("Le conseil municipal a voté hier soir la rénovation complète de la "
              "bibliothèque, fermée depuis deux ans pour des travaux.")
    assert restricted.detect(None, french, 0.5)[0] == "und"  # not forced into en


def test_language_codes_are_parsed_and_checked():
    assert parse_languages("ar, en") == {"ar", "en"}
    assert parse_languages("no") == {"nb", "nn"}
    assert parse_languages("") is None and parse_languages(None) is None
    with pytest.raises(ValueError, match="xx"):
        parse_languages("ar,xx")
    assert {"ar", "en", "zu", "mi", "nb", "nn", "bs"} <= supported_languages()
    assert "sh" not in supported_languages() and "no" not in supported_languages()


def test_languages_option_is_validated(tmp_path):
    from pipelines.options import IngestOptions, OptionsError
    from pipelines.validation import validate

    source = tmp_path / "in.jsonl"
    source.write_text("{}\n")
    opts = IngestOptions(["--input", str(source), "--output", str(tmp_path / "out"),
                          "--languages", "ar,qq"])
    with pytest.raises(OptionsError, match="--languages"):
        validate(opts)


def test_detect_language_sets_script_and_agreement(fnapi_pipeline):
    articles = [
        _article("en", "Bridge reopens", "The old stone bridge across the river reopened to "
                 "traffic on Monday morning after eight months of repairs.", "en-GB"),
        _article("ar", None, "قالت السفيرة الأمريكية لدى بغداد إن التنظيم لا يزال يشكل تهديدا "
                 "في العراق، مضيفة أن عمل التحالف لم ينته بعد.", "fr"),
        _article("short", None, "OK", None),
    ]
    with fnapi_pipeline as p:
        out = (p | beam.Create(articles) | DetectLanguage()
               | beam.Map(lambda a: (a.article_id, a.language, a.script, a.language_agrees)))
        assert_that(out, equal_to([("en", "en", "Latn", True), ("ar", "ar", "Arab", False),
                                   ("short", "und", "Latn", None)]))


class _ScriptedModel:
    """Stands in for lid.176: answers by the length of the text it is given,
    and records every text it reads."""

    def __init__(self, short_answer, long_answer, long_from):
        self.read: list = []
        self._short, self._long, self._from = short_answer, long_answer, long_from

    def predict(self, text, k=1):
        self.read.append(text)
        answer = self._long if len(text) >= self._from else self._short
        labels = tuple(f"__label__{code}" for code, _ in answer)
        return labels, [p for _, p in answer]


_ENGLISH = ("The old stone bridge across the river reopened to traffic on Monday morning "
            "after eight months of repairs, the city council said in a statement. ") * 12


def test_a_long_article_is_read_in_a_bounded_sample(detector, monkeypatch):
    model = _ScriptedModel([("en", 0.98)], [("en", 0.99)], 10_000)
    monkeypatch.setattr(detector, "_model", model)
    found = detector.identify("Bridge reopens", _ENGLISH)
    assert (found.language, found.second_stage) == ("en", False)
    assert found.score == pytest.approx(0.98)
    assert len(model.read) == 1
    assert len(model.read[0]) <= len("Bridge reopens") + 1 + language.SAMPLE_CHARS


def test_fasttext_reads_further_when_unsure_of_the_head(detector, monkeypatch):
    # Unsure of the head (0.6), sure of the first 600 characters: no lingua.
    model = _ScriptedModel([("de", 0.6), ("en", 0.3)], [("en", 0.95)], 400)
    monkeypatch.setattr(detector, "_model", model)
    found = detector.identify(None, _ENGLISH)
    assert (found.language, found.second_stage) == ("en", False)
    assert [len(text) <= language.SAMPLE_CHARS + 1 for text in model.read] == [True, False]
    assert len(model.read[1]) <= language.ESCALATE_CHARS + 1


def test_lingua_settles_a_cluster_only_when_fasttext_margin_is_low(detector, monkeypatch):
    danish = ("Regeringen meddelte i går, at den nye bro over fjorden skal stå færdig næste år, "
              "og at trafikken indtil da fortsat vil køre over den gamle dæmning. ") * 6
    wide = _ScriptedModel([("da", 0.8), ("no", 0.15)], [("da", 0.8), ("no", 0.15)], 0)
    monkeypatch.setattr(detector, "_model", wide)
    found = detector.identify(None, danish)
    assert (found.language, found.second_stage) == ("da", False)  # lead 0.65: fastText's
    narrow = _ScriptedModel([("da", 0.72), ("no", 0.26)], [("da", 0.72), ("no", 0.26)], 0)
    monkeypatch.setattr(detector, "_model", narrow)
    found = detector.identify(None, danish)
    assert found.second_stage and found.language == "da"          # lead 0.46: lingua's too


def test_a_long_text_in_a_language_fasttext_lacks_goes_to_lingua_first(detector, monkeypatch):
    zulu = ("Uhulumeni uthe uzoqhubeka nokwakha izindlu ezintsha ezindaweni zasemakhaya "
            "ukuze abantu abaningi bathole indawo yokuhlala. ") * 8
    model = _ScriptedModel([("en", 0.2), ("tl", 0.15)], [("en", 0.2), ("tl", 0.15)], 0)
    monkeypatch.setattr(detector, "_model", model)
    found = detector.identify(None, zulu)
    assert (found.language, found.second_stage) == ("zu", True)
    assert len(model.read) == 1   # reading further would not teach fastText Zulu


def test_short_texts_are_read_as_before(detector):
    before = LanguageDetector(sample_chars=None)
    texts = ["Wanafunzi walikwenda sokoni kununua matunda na mboga.",
             "Tjedan je počeo sastankom u Zagrebu, gdje je dogovorena suradnja sveučilišta.",
             "Kerajaan negeri berkata bahawa projek itu akan bermula selepas mesyuarat.",
             "قالت السفيرة الأمريكية لدى بغداد إن التنظيم لا يزال يشكل تهديدا في العراق"]
    for text in texts:
        assert len(text) <= language.PROPOSAL_CHARS
        assert detector.identify("", text) == before.identify("", text)


def test_the_path_before_the_bounded_sample_reads_1000_characters(monkeypatch):
    before = LanguageDetector(sample_chars=None, second_stage=False)
    model = _ScriptedModel([("en", 0.99)], [("en", 0.99)], 0)
    monkeypatch.setattr(before, "_model", model)
    assert before.identify(None, _ENGLISH).language == "en"
    assert len(model.read) == 1 and len(model.read[0]) > 900


def test_a_head_without_words_is_read_as_before(detector):
    # A market table first: the bounded head holds no words, so the first
    # 1,000 characters are read, as every article was before.
    table = " ".join(f"{i},{i * 7 % 100:02d} +{i % 9}.{i % 7}%" for i in range(30))
    text = table + " " + _ENGLISH
    assert len(table) > language.SAMPLE_CHARS
    found = detector.identify(None, text)
    assert found.language == "en" and found.score > 0.5
    assert found == LanguageDetector(sample_chars=None).identify(None, text)


def test_a_long_text_restricted_to_listed_languages():
    restricted = LanguageDetector(parse_languages("ms,en"))
    indonesian = ("Pemerintah mengatakan bahwa proyek itu akan dimulai setelah rapat karena "
                  "berbagai masalah keuangan yang dihadapi perusahaan. ") * 6
    french = ("Le conseil municipal a voté hier soir la rénovation complète de la "
              "bibliothèque, fermée depuis deux ans pour des travaux. ") * 6
    assert restricted.detect(None, indonesian, 0.5)[0] == "ms"
    assert restricted.detect(None, french, 0.5)[0] == "und"
