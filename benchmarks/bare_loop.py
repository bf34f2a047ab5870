"""The limit of the suite's W1: ``trafilatura.extract(html, with_metadata=True)``, nothing else.

    python benchmarks/bare_loop.py PROCESSES FILE.warc.gz [FILE.warc.gz ...]

The WARC files are shared out among PROCESSES processes (one file to one
process at a time); each reads the HTML responses of its files with warcio
and extracts them one by one. Prints one JSON line: documents and extracted texts.
"""
from __future__ import annotations

import json
import multiprocessing
import sys
from typing import Tuple


def extract_file(path: str) -> Tuple[int, int]:
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    docs = texts = 0
    with open(path, "rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type != "response":
                continue
            html = record.content_stream().read().decode("utf-8", "replace")
            docs += 1
            if trafilatura.extract(html, with_metadata=True):
                texts += 1
    return docs, texts


def main(argv) -> int:
    processes, paths = int(argv[1]), argv[2:]
    with multiprocessing.Pool(processes) as pool:
        counts = pool.map(extract_file, paths, chunksize=1)
    print(json.dumps({"documents": sum(c[0] for c in counts),
                      "texts": sum(c[1] for c in counts)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
