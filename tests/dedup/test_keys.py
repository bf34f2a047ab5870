"""Key normalisation, content hashes and canonical URLs."""
from __future__ import annotations

from transforms.extract.normalize import content_hash, key_text, strip_arabic_marks
from transforms.dedup.urls import canonical_url, url_key


def test_key_text_folds_what_copies_change_but_keeps_digits():
    assert key_text("Ｈｅｌｌｏ, Café!  World") == "hello cafe world"
    assert key_text("إقرأ أيضاً: الـدولـة") == "اقرا ايضا الدوله"
    assert key_text("سعر ١٢٣ اليوم") == "سعر 123 اليوم"
    assert key_text("Price 123") != key_text("Price 124")


def test_key_text_keeps_indic_vowel_signs_inside_words():
    assert key_text("नमस्ते दुनिया") == "नमस्ते दुनिया"


def test_strip_arabic_marks_removes_tashkeel_and_tatweel():
    assert strip_arabic_marks("العَرَبِيَّة الـلـغـة") == "العربية اللغة"


def test_content_hash_is_128_bits_and_ignores_layout_and_punctuation():
    a = content_hash("The library reopened.\nVisitors queued!")
    b = content_hash("the library  reopened\n\nvisitors queued")
    assert a == b and len(a) == 32
    assert content_hash("The library reopened on 3 May") != content_hash(
        "The library reopened on 4 May")


def test_url_key_removes_tracking_mirrors_and_amp():
    base = url_key("https://example.com/news/a?id=7")
    for variant in ("http://www.example.com/news/a/?utm_source=x&id=7#top",
                    "https://m.example.com/news/a?fbclid=abc&id=7",
                    "https://example.com/news/a/amp?id=7",
                    "https://EXAMPLE.com:443/news//a?id=7"):
        assert url_key(variant) == base, variant
    assert url_key("https://example.com/news/b?id=7") != base
    assert url_key("https://example.com/news/a?id=8") != base


def test_canonical_url_rejects_what_is_no_web_address():
    for bad in (None, "", "ftp://example.com/x", "javascript:alert(1)", "http://[::1", "news"):
        assert canonical_url(bad) is None
    assert canonical_url("HTTPS://Example.com/a?b=2&a=1#f") == "https://example.com/a?a=1&b=2"
