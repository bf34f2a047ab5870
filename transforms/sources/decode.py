"""Bytes to text: the declared charset first, then detection, or a clear failure."""
from __future__ import annotations

import codecs
import re
from typing import Optional

from charset_normalizer import from_bytes

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
         (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
# Share of replacement or control characters above which a decoding is garbage.
MAX_GARBAGE_SHARE = 0.05


class UndecodableError(ValueError):
    """The bytes are no text in any charset we could find."""


def charset_from_content_type(content_type: Optional[str]) -> Optional[str]:
    """The ``charset=`` of an HTTP Content-Type header, if any."""
    if not content_type:
        return None
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None


def html_declared_charset(html: bytes) -> Optional[str]:
    """The charset an HTML page declares in a <meta> tag of its first 4 KB."""
    match = _META_CHARSET.search(html[:4096])
    return match.group(1).decode("ascii", "replace") if match else None


def _known(charset: Optional[str]) -> Optional[str]:
    if not charset:
        return None
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def _garbage_share(text: str) -> float:
    if not text:
        return 0.0
    sample = text[:20000]
    bad = sum(1 for ch in sample if ch == "\ufffd" or (ch < " " and ch not in "\n\r\t\f"))
    return bad / len(sample)


def _detect(data: bytes):
    """charset_normalizer's best guess; among equally good guesses, windows-1252,
    which HTML5 makes the default of undeclared legacy pages."""
    matches = list(from_bytes(data[:200_000]))
    if not matches:
        return None
    best = matches[0]
    for match in matches:
        if (match.encoding == "cp1252" and match.chaos == best.chaos
                and match.coherence == best.coherence):
            return match
    return best


# Bytes >= 0x80 in lines that are valid UTF-8 above which a file that is not
# valid UTF-8 as a whole is taken as UTF-8 with some lines in another charset
# (dumps concatenated from pages of several encodings). A legacy single-byte
# line is almost never valid UTF-8 by accident once it holds a few such bytes.
MIN_UTF8_EVIDENCE = 32


def _decode_mixed(data: bytes) -> Optional[str]:
    """UTF-8 lines as UTF-8, the other lines in the charset detected on them alone.

    None when the valid UTF-8 lines hold too little non-ASCII to show that the
    file is UTF-8 at all.
    """
    lines = data.splitlines(keepends=True)
    decoded, foreign, evidence = [], [], 0
    for line in lines:
        try:
            decoded.append(line.decode("utf-8"))
            evidence += sum(1 for byte in line if byte >= 0x80)
        except UnicodeDecodeError:
            decoded.append(None)
            foreign.append(line)
    if evidence < MIN_UTF8_EVIDENCE or not foreign:
        return None
    best = _detect(b"".join(foreign))
    charset = best.encoding if best is not None else "cp1252"
    return "".join(text if text is not None else line.decode(charset, errors="replace")
                   for text, line in zip(decoded, lines))


def decode_text(data: bytes, declared: Optional[str] = None) -> str:
    """Decodes with a BOM, then UTF-8, then the declared charset, then UTF-8 with
    the lines that are not decoded in their own charset, then detection.

    Raises:
      UndecodableError: when no charset gives text without a high share of
        replacement or control characters (binary data, say).
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace")
    if b"\x00" not in data[:4096]:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    for charset in (_known(declared), _known(html_declared_charset(data))):
        if charset and charset not in ("utf-8",):
            text = data.decode(charset, errors="replace")
            if _garbage_share(text) <= MAX_GARBAGE_SHARE:
                return text
    if b"\x00" not in data[:4096]:
        mixed = _decode_mixed(data)
        if mixed is not None and _garbage_share(mixed) <= MAX_GARBAGE_SHARE:
            return mixed
    best = _detect(data)
    if best is not None:
        text = data.decode(best.encoding, errors="replace")
        if _garbage_share(text) <= MAX_GARBAGE_SHARE:
            return text
    text = data.decode("utf-8", errors="replace")
    if _garbage_share(text) <= MAX_GARBAGE_SHARE:
        return text
    raise UndecodableError("no charset decodes these bytes to text "
                           f"(declared: {declared or 'none'})")
