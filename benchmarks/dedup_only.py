"""W4 of the suite: newsbeam's deduplication alone, over article bodies in JSONL.

    python benchmarks/dedup_only.py --bodies DUMP_FOLDER OUT.jsonl   # prepare (not timed)
    python benchmarks/dedup_only.py BODIES.jsonl                     # measure

Preparing cleans the W2 text dumps with newsbeam's own dump cleaner
(`transforms.extract.text_dump`) and writes one ``{"id", "text"}`` line a body, the
input datatrove's dedup reads too. Measuring runs, in this one process, what
the pipeline's dedup step computes per article and per group: the key text
and its 128-bit content hash, exact groups (`dedup.split_group`), the MinHash
signature and its band keys, the verified pairs of every bucket
(`dedup.bucket_edges`) and the star clusters (`dedup.cluster_near`); no Beam.
Prints one JSON line: bodies, exact and near duplicates.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from transforms.dedup import minhash  # noqa: E402
from schemas.dedup import DedupKey
from transforms.dedup.rules import bucket_edges, cluster_near, split_group
from transforms.extract.normalize import content_hash_of_key, key_text  # noqa: E402

THRESHOLD = minhash.DEFAULT_THRESHOLD  # the pipeline's --near_threshold default


def write_bodies(dumps: Path, out: Path) -> int:
    from transforms.extract.text_dump import clean_segment, split_page

    count = 0
    with out.open("w", encoding="utf-8") as handle:
        for path in sorted(dumps.glob("*.txt")):
            for segment in split_page(path.read_text(encoding="utf-8")).segments:
                text = clean_segment(segment.text, segment.title).text
                if text.strip():
                    handle.write(json.dumps({"id": f"{path.stem}-{segment.start_line}",
                                             "text": text}, ensure_ascii=False) + "\n")
                    count += 1
    return count


def deduplicate(path: Path) -> dict:
    keys: List[DedupKey] = []
    sketches: Dict[str, bytes] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            body = json.loads(line)
            key = key_text(body["text"])
            signature, sketched = minhash.sketch(key)  # as the pipeline's DedupKeys
            keys.append(DedupKey(body["id"], None, content_hash_of_key(key),
                                 signature, False, 0, None, len(body["text"]),
                                 False, body["id"], body["id"]))
            if sketched is not None:
                sketches[body["id"]] = sketched
    by_content: Dict[str, List[DedupKey]] = {}
    for key in keys:
        by_content.setdefault(key.content_hash, []).append(key)
    survivors, exact = [], 0
    for members in by_content.values():
        kept, losers = split_group(members, "exact")
        survivors.append(kept)
        exact += len(losers)
    signatures = {k.article_id: sketches[k.article_id] for k in survivors
                  if k.signature is not None}
    params = minhash.lsh_parameters(THRESHOLD)
    buckets: Dict[str, List[DedupKey]] = {}
    for key in survivors:
        if key.signature is not None:
            unsigned = key._replace(signature=None)
            for band in minhash.band_keys(key.signature, params):
                buckets.setdefault(band, []).append(unsigned)
    edges = [edge for members in buckets.values() if len(members) > 1
             for edge in bucket_edges(members, THRESHOLD, lambda k: signatures[k.article_id])]
    near = cluster_near(edges)
    return {"bodies": len(keys), "exact_duplicates": exact, "near_duplicates": len(near)}


def main(argv) -> int:
    if len(argv) == 4 and argv[1] == "--bodies":
        print(json.dumps({"bodies": write_bodies(Path(argv[2]), Path(argv[3]))}))
        return 0
    print(json.dumps(deduplicate(Path(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
