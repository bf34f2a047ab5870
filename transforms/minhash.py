"""MinHash signatures and LSH band keys for near-duplicate detection.

Everything that determines a signature is pinned here, not taken from a
library: the shingle hash (xxh3-64 with seed 0 on each word, words combined
by fixed odd multipliers), the 128 permutations ((a*x + b) mod 2^32 with a
odd, a and b the xxh3 hashes of fixed names), 16 bands of 8 rows. `ALGORITHM_VERSION`
is stored with every persisted signature or band key; change it whenever any
of these choices changes, so old index rows are never compared with new ones.

Shingles are 5-word windows of the key text (`transforms.normalize.key_text`),
or 5-character windows for text mostly in Chinese, Japanese, Thai and other
scripts that do not separate words by spaces. A text with fewer than `MIN_SHINGLES` shingles gets no
signature: such short texts are matched exactly only.

Estimated Jaccard similarity is the share of equal signature rows; a pair of
texts with Jaccard J becomes a candidate with probability 1-(1-J^8)^16
(0.947 at J=0.8) and is kept only if its estimate reaches the threshold.
"""
from __future__ import annotations

import re
from typing import List, Optional

import numpy as np
import xxhash

ALGORITHM_VERSION = "minhash-v3:xxh3w5:cjk30:lin32:p128:b16r8"
NUM_PERM = 128
BANDS = 16
ROWS = NUM_PERM // BANDS
SHINGLE_WORDS = 5
SHINGLE_CHARS = 5
MIN_SHINGLES = 20
# Scripts written without spaces between words: Han, kana, Thai, Lao, Myanmar,
# Khmer. A key with at least this share of such characters is shingled by
# characters. Decided from the text itself, not from the detected language,
# so two copies of one text are always shingled alike.
_UNSPACED_SCRIPTS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff]")
CHARACTER_SHINGLE_SHARE = 0.3

_MAX32 = np.uint64(0xFFFFFFFF)
# Permutations of the 32-bit shingle hashes: h(x) = (a*x + b) mod 2^32, a odd,
# a bijection of 32-bit values. uint32 arithmetic wraps by itself: no division,
# and half the memory traffic of 64-bit hashing (1.8x faster, measured). The
# shingle hashes are already well mixed, so estimates keep the binomial error
# of 128 rows (sd about 0.037 at J = 0.8, tests/test_near_dedup.py).
# a and b come from xxh3 of fixed names, not from a random generator whose
# streams a numpy upgrade may change.
_A = np.array([xxhash.xxh3_64_intdigest(f"newsbeam-minhash-a-{i}".encode()) & 0xFFFFFFFF | 1
               for i in range(NUM_PERM)], dtype=np.uint32)
_B = np.array([xxhash.xxh3_64_intdigest(f"newsbeam-minhash-b-{i}".encode()) & 0xFFFFFFFF
               for i in range(NUM_PERM)], dtype=np.uint32)
# Shingles permuted at a time: bounds the work array to 128 x 4096 x 4 bytes,
# 2 MB, however long the document.
_CHUNK = 4096
# Odd multipliers that mix the hashes of a shingle's words by position.
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD], dtype=np.uint64)


def uses_character_shingles(key: str) -> bool:
    """Whether a key text is mostly in scripts that do not space their words."""
    if key.isascii() or not key:
        return False
    return len(_UNSPACED_SCRIPTS.findall(key)) >= CHARACTER_SHINGLE_SHARE * len(key)


def shingle_hashes(key: str) -> np.ndarray:
    """32-bit hashes of the shingles of a key text (repeats included)."""
    if uses_character_shingles(key):
        compact = key.replace(" ", "")
        grams = {compact[i:i + SHINGLE_CHARS]
                 for i in range(max(0, len(compact) - SHINGLE_CHARS + 1))}
        return np.fromiter((xxhash.xxh3_64_intdigest(g.encode()) & 0xFFFFFFFF for g in grams),
                           dtype=np.uint64, count=len(grams))
    words = key.split()
    if len(words) < SHINGLE_WORDS:
        return np.empty(0, dtype=np.uint64)
    word_hashes = np.fromiter(map(xxhash.xxh3_64_intdigest, map(str.encode, words)),
                              dtype=np.uint64, count=len(words))
    span = len(words) - SHINGLE_WORDS + 1
    mixed = np.zeros(span, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(SHINGLE_WORDS):
            mixed ^= word_hashes[offset:offset + span] * _MIX[offset]
        mixed ^= mixed >> np.uint64(29)
    # Repeated shingles are left in: they cannot change a minimum.
    return mixed & _MAX32


def signature(key: str) -> Optional[bytes]:
    """The 128-row MinHash signature (512 bytes), or None for too short a text."""
    hashes = shingle_hashes(key)
    if len(hashes) < MIN_SHINGLES or len(set(hashes.tolist())) < MIN_SHINGLES:
        return None
    hashes = hashes.astype(np.uint32)
    minimum = None
    for start in range(0, len(hashes), _CHUNK):
        permuted = np.multiply.outer(_A, hashes[start:start + _CHUNK])  # wraps mod 2^32
        permuted += _B[:, None]
        rows = permuted.min(axis=1)
        minimum = rows if minimum is None else np.minimum(minimum, rows)
    return minimum.astype("<u4", copy=False).tobytes()


def band_keys(sig: bytes) -> List[str]:
    """One LSH key per band: ``<band>-<xxh3-64 of its rows>``."""
    return [f"{band:02d}-{xxhash.xxh3_64_hexdigest(sig[band * ROWS * 4:(band + 1) * ROWS * 4])}"
            for band in range(BANDS)]


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity: the share of equal signature rows."""
    return float(np.count_nonzero(np.frombuffer(a, dtype="<u4") == np.frombuffer(b, dtype="<u4"))
                 ) / NUM_PERM
