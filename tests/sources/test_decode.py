"""Bytes to text: declared charset, detection, clear failure."""
from __future__ import annotations

import os

import pytest

from transforms.sources.decode import (UndecodableError, charset_from_content_type, decode_text,
                               html_declared_charset)

ARABIC = "قالت السفيرة الأمريكية لدى بغداد إن التنظيم لا يزال يشكل تهديدا في العراق"


def test_utf8_and_bom():
    assert decode_text(ARABIC.encode("utf-8")) == ARABIC
    assert decode_text(b"\xef\xbb\xbfhello") == "hello"


def test_declared_charset_is_used_when_utf8_fails():
    assert decode_text(ARABIC.encode("cp1256"), "windows-1256") == ARABIC


def test_html_meta_charset_is_found():
    page = '<html><head><meta charset="windows-1252"></head><body>café</body></html>'
    data = page.encode("cp1252")
    assert html_declared_charset(data) == "windows-1252"
    assert "café" in decode_text(data)


def test_undeclared_legacy_charset_is_detected():
    text = ("Les élèves ont présenté leurs projets à la mairie, où les élus ont été "
            "très impressionnés par la qualité du travail réalisé cette année. ") * 3
    assert decode_text(text.encode("latin-1")) == text


def test_binary_garbage_is_undecodable():
    with pytest.raises(UndecodableError):
        decode_text(bytes(range(0, 32)) * 200 + os.urandom(2000).replace(b"\n", b"\x00"))


def test_content_type_charset():
    assert charset_from_content_type("text/html; charset=ISO-8859-1") == "ISO-8859-1"
    assert charset_from_content_type("text/html") is None
    assert charset_from_content_type(None) is None
