"""Decompression bounds shared by the dump reader and the HTTP fetcher.

A few kilobytes of gzip, deflate or brotli can expand to gigabytes. Both
readers decompress in bounded steps and ask `decompression_refusal` after
each: the output may not pass an absolute size, nor outgrow the compressed
input by more than a ratio (``--max_decompression_ratio``). The ratio is
judged only past `RATIO_FLOOR_BYTES` of output, since the first block of a
small file of repeated markup may legitimately compress 200:1.
"""
from __future__ import annotations

from typing import Optional

from schemas.contexts import DEFAULT_MAX_RATIO

RATIO_FLOOR_BYTES = 1024 * 1024


class DecompressionBomb(ValueError):
    """A compressed input expands beyond the ratio or size it may have."""


def decompression_refusal(compressed: int, decompressed: int, max_ratio: float,
                          max_bytes: int = 0) -> Optional[str]:
    """Why `decompressed` bytes out of `compressed` in is too much, or None.

    A zero `max_ratio` or `max_bytes` means no bound of that kind.
    """
    if max_bytes and decompressed > max_bytes:
        return f"decompressed {decompressed} bytes, over the limit of {max_bytes}"
    if max_ratio and decompressed > RATIO_FLOOR_BYTES \
            and decompressed > max_ratio * max(compressed, 1):
        return (f"{compressed} compressed bytes expanded to {decompressed} "
                f"(ratio over {max_ratio:g})")
    return None


__all__ = ["DecompressionBomb", "decompression_refusal", "RATIO_FLOOR_BYTES",
           "DEFAULT_MAX_RATIO"]
