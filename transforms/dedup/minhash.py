"""MinHash signatures and LSH band keys for near-duplicate detection.

Everything that determines a signature is pinned here, not taken from a
library: the shingle hash (xxh3-64 with seed 0 on each word, words combined
by fixed odd multipliers), the 128 permutations ((a*x + b) mod 2^32 with a
odd, a and b the xxh3 hashes of fixed names). `ALGORITHM_VERSION` is stored with
every persisted signature; change it whenever any of these choices changes,
so old index rows are never compared with new ones (`COMPATIBLE_VERSIONS`
lists earlier versions whose signatures are the same rows).

The LSH layout (bands x rows) is not fixed: `lsh_parameters` derives it from
the near threshold, so that a pair at the threshold + `CANDIDATE_MARGIN` is a
candidate with probability at least `CANDIDATE_RECALL`. Band keys are computed
from stored signatures when they are needed, never stored, so a run with
another threshold reads the same index.

Shingles are 5-word windows of the key text (`transforms.extract.normalize.key_text`),
or 5-character windows for text mostly in Chinese, Japanese, Thai and other
scripts that do not separate words by spaces. A text with fewer than `MIN_SHINGLES` shingles gets no
signature: such short texts are matched exactly only.

Estimated Jaccard similarity is the share of equal signature rows; a pair of
texts with Jaccard J becomes a candidate with probability 1-(1-J^r)^b
(`candidate_probability`; 0.997 at J=0.73 for the 20 x 5 of threshold 0.70).
"""
from __future__ import annotations

import functools
import re
from typing import List, NamedTuple, Optional, Tuple

import numpy as np
import xxhash

ALGORITHM_VERSION = "minhash-v5:xxh3w5:cjk30:lin32:p128:sk4096"
# v5 index rows carry the kept article's shingle hashes (at most
# MAX_EXACT_SHINGLES of them, else none); its shingles and permutations are
# v4's and v3's (v3 named its fixed band layout, 16 x 8), so their signatures
# are v5 signatures, row for row (tests/dedup/test_near_dedup.py pins the
# rows): old entries keep meeting new articles by band, and are verified by
# the signature estimate, having no shingles. Entries of any other version
# are compared by URL key and content hash only.
COMPATIBLE_VERSIONS = frozenset({ALGORITHM_VERSION, "minhash-v4:xxh3w5:cjk30:lin32:p128",
                                 "minhash-v3:xxh3w5:cjk30:lin32:p128:b16r8"})
NUM_PERM = 128
DEFAULT_THRESHOLD = 0.70
# A pair this far above the threshold must be a candidate with this probability.
CANDIDATE_MARGIN = 0.03
CANDIDATE_RECALL = 0.99
SHINGLE_WORDS = 5
SHINGLE_CHARS = 5
MIN_SHINGLES = 20
SIGNATURE_BYTES = 4 * NUM_PERM
# Longer texts are compared by their signature only: bounds a sketch to 16 KB.
MAX_EXACT_SHINGLES = 4096
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
# of 128 rows (sd about 0.037 at J = 0.8, tests/dedup/test_near_dedup.py).
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


def _rows(hashes: np.ndarray) -> Optional[bytes]:
    """The signature of distinct uint32 shingle hashes (a minimum over a set
    is the minimum over the multiset: repeats change nothing)."""
    if len(hashes) < MIN_SHINGLES:
        return None
    minimum = None
    for start in range(0, len(hashes), _CHUNK):
        permuted = np.multiply.outer(_A, hashes[start:start + _CHUNK])  # wraps mod 2^32
        permuted += _B[:, None]
        rows = permuted.min(axis=1)
        minimum = rows if minimum is None else np.minimum(minimum, rows)
    return minimum.astype("<u4", copy=False).tobytes()


def _distinct(key: str) -> np.ndarray:
    return np.unique(shingle_hashes(key).astype(np.uint32))


def signature(key: str) -> Optional[bytes]:
    """The 128-row MinHash signature (512 bytes), or None for too short a text."""
    return _rows(_distinct(key))


def sketch(key: str) -> Tuple[Optional[bytes], Optional[bytes]]:
    """(signature, signature followed by the sorted distinct shingle hashes).

    The second is what a run compares its own articles by: their Jaccard
    similarity computed exactly (`similarity`), where 128 rows estimate it
    with a standard deviation of about 0.04 near the threshold, enough to
    lose one edited copy in five at J = 0.75 against 0.72. Texts of more
    than `MAX_EXACT_SHINGLES` shingles carry their signature alone."""
    distinct = _distinct(key)
    rows = _rows(distinct)
    if rows is None:
        return None, None
    if len(distinct) > MAX_EXACT_SHINGLES:
        return rows, rows
    return rows, rows + distinct.astype("<u4", copy=False).tobytes()


class LshParameters(NamedTuple):
    bands: int
    rows: int


def candidate_probability(jaccard, bands: int, rows: int):
    """Probability that a pair of this Jaccard similarity shares a band."""
    return 1.0 - (1.0 - np.power(jaccard, rows)) ** bands


@functools.lru_cache(maxsize=None)
def lsh_parameters(threshold: float = DEFAULT_THRESHOLD, num_perm: int = NUM_PERM
                   ) -> LshParameters:
    """Bands x rows for a near threshold.

    Among the layouts of at most `num_perm` rows whose candidate probability
    at ``threshold + CANDIDATE_MARGIN`` is at least `CANDIDATE_RECALL`, the
    one with the least area of false candidates (below the threshold) plus
    missed pairs (above it), both integrated over Jaccard similarity, as
    datasketch weighs them. False candidates only cost a comparison (every
    candidate is verified), but they are the cost: the constraint, not the
    weights, is what keeps recall.
    """
    grid = np.linspace(0.0, 1.0, 1001)
    below, above = grid[grid <= threshold], grid[grid >= threshold]
    target = min(1.0, threshold + CANDIDATE_MARGIN)
    best, best_cost = None, None
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            if candidate_probability(target, bands, rows) < CANDIDATE_RECALL:
                continue
            cost = (np.trapezoid(candidate_probability(below, bands, rows), below)
                    + np.trapezoid(1.0 - candidate_probability(above, bands, rows), above))
            if best_cost is None or cost < best_cost - 1e-12:
                best, best_cost = LshParameters(bands, rows), cost
    if best is None:  # a threshold so low that no layout reaches the target
        best = LshParameters(num_perm, 1)
    return best


def band_keys(sig: bytes, params: Optional[LshParameters] = None) -> List[str]:
    """One LSH key per band: ``<bands>x<rows>-<band>-<xxh3-64 of its rows>``.

    The layout is in the key: buckets of different layouts never mix."""
    bands, rows = params or lsh_parameters()
    width = rows * 4
    return [f"{bands}x{rows}-{band:02d}-{xxhash.xxh3_64_hexdigest(sig[band * width:(band + 1) * width])}"
            for band in range(bands)]


_TOKEN_MIX = np.uint64(0x9E3779B97F4A7C15)
_TOKEN_FINAL = np.uint64(0xBF58476D1CE4E5B9)


@functools.lru_cache(maxsize=None)
def _band_seeds(bands: int, width: int) -> np.ndarray:
    return np.array([xxhash.xxh3_64_intdigest(f"newsbeam-band-{bands}x{width}-{b}".encode())
                     for b in range(bands)], dtype=np.uint64)


def band_tokens(rows: np.ndarray, params: Optional[LshParameters] = None) -> np.ndarray:
    """64-bit tokens of the LSH bands of many signatures at once: equal bands
    give equal tokens (as they give equal `band_keys`).

    `rows` is an (n, 128) uint32 array of signatures; the result is (n, bands)
    uint64. Computed with whole-column numpy operations, so an index of a
    million signatures is tokenised in about a second, where `band_keys`
    costs one xxh3 call and one string per band and signature. The layout and
    the band number are mixed into the token: tokens of different bands or
    layouts do not meet. Only used to find which index entries share a band
    with a new article (`transforms.dedup.meeting_keys`); the buckets
    themselves are keyed by `band_keys`.
    """
    bands, width = params or lsh_parameters()
    rows = np.asarray(rows, dtype=np.uint32).reshape(-1, NUM_PERM)
    seeds = _band_seeds(bands, width)
    token = np.broadcast_to(seeds, (len(rows), bands)).copy()
    with np.errstate(over="ignore"):
        for j in range(width):
            # row j of every band: columns j, j + width, j + 2 * width, ...
            token ^= rows[:, j:bands * width:width]
            token *= _TOKEN_MIX
            token ^= token >> np.uint64(31)
        token *= _TOKEN_FINAL
        token ^= token >> np.uint64(29)
    return token


def band_token_keys(sig: bytes, params: Optional[LshParameters] = None) -> List[str]:
    """`band_tokens` of one signature, as 16 hexadecimal digits each."""
    rows = np.frombuffer(sig, dtype="<u4", count=NUM_PERM)
    return [f"{token:016x}" for token in band_tokens(rows, params)[0].tolist()]


def with_shingles(signature: bytes, shingles: Optional[bytes]) -> bytes:
    """A `sketch` made of a signature and the shingles kept beside it
    (an index row's), or the signature alone when there are none."""
    return signature + shingles if shingles else signature


def shingles_of(sketched: Optional[bytes]) -> Optional[bytes]:
    """The shingle hashes a `sketch` carries after its signature, or None."""
    if sketched is None or len(sketched) <= SIGNATURE_BYTES:
        return None
    return sketched[SIGNATURE_BYTES:]


def similarity(a: bytes, b: bytes) -> float:
    """Jaccard similarity: exact on the shingle hashes when both `sketch`es
    carry them, else estimated, the share of equal signature rows."""
    if len(a) > SIGNATURE_BYTES and len(b) > SIGNATURE_BYTES:
        x = np.frombuffer(a, dtype="<u4", offset=SIGNATURE_BYTES)
        y = np.frombuffer(b, dtype="<u4", offset=SIGNATURE_BYTES)
        common = len(np.intersect1d(x, y, assume_unique=True))
        return common / (len(x) + len(y) - common)
    return float(np.count_nonzero(np.frombuffer(a, dtype="<u4", count=NUM_PERM)
                                  == np.frombuffer(b, dtype="<u4", count=NUM_PERM))) / NUM_PERM
