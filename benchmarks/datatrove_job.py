"""The datatrove reference of the benchmark suite: WARC in, deduplicated Parquet out.

Run by `benchmarks/suite.py` with the interpreter of the benchmark's own
environment (``benchmarks/.venv-datatrove``, datatrove from PyPI; it is no
dependency of newsbeam)::

    benchmarks/.venv-datatrove/bin/python benchmarks/datatrove_job.py IN_DIR WORK_DIR TASKS [--jsonl]

The pipeline a datatrove user would write for the same job, every stage with
`TASKS` tasks on `TASKS` local workers where it can be split:

1. WarcReader -> Trafilatura -> JsonlWriter (the extracted documents) ->
   MinhashDedupSignature;
2. the extracted documents -> ExactDedupSignature (a hash of the text);
3. ExactFindDedups; MinhashDedupBuckets; MinhashDedupCluster;
4. the extracted documents -> ExactDedupFilter -> MinhashDedupFilter ->
   ParquetWriter.

With ``--jsonl`` IN_DIR holds extracted bodies (JSONL ``id``, ``text``) and
step 1 only computes their signatures: dedup alone (the suite's W4).

Trafilatura gets newsbeam's time limit of 30 s a page (datatrove's default,
1 s, drops pages on a busy machine). MinHash is datatrove's default
(5-grams, 14 buckets of 8 hashes), with words
split on white space: its default English tokenizer needs NLTK data that
would be downloaded. Prints one JSON line: rows written, seconds.
"""
import json
import sys
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import (ExactDedupConfig, ExactDedupFilter, ExactDedupSignature,
                                      ExactFindDedups, MinhashConfig, MinhashDedupBuckets,
                                      MinhashDedupCluster, MinhashDedupFilter,
                                      MinhashDedupSignature)
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.readers import JsonlReader, WarcReader
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
from datatrove.utils.word_tokenizers import WordTokenizer


EXTRACT_TIMEOUT_S = 30.0


class SpaceTokenizer(WordTokenizer):
    """Words split on white space (no model, nothing downloaded)."""

    def word_tokenize(self, text: str) -> list:
        return text.split()

    def sent_tokenize(self, text: str) -> list:
        return [line for line in text.split("\n") if line.strip()]

    def span_tokenize(self, text: str) -> list:
        spans, start = [], 0
        for line in text.split("\n"):
            if line.strip():
                spans.append((start, start + len(line)))
            start += len(line) + 1
        return spans


def text_of(document) -> bytes:  # datatrove reads the hash input type from this annotation
    return document.text.encode("utf-8")


def main(argv) -> int:
    source, work, tasks = Path(argv[1]), Path(argv[2]), int(argv[3])
    jsonl = "--jsonl" in argv[4:]  # W4: bodies already extracted, dedup only
    extracted = source if jsonl else work / "extracted"
    logs = work / "logs"
    minhash = MinhashConfig()
    exact = ExactDedupConfig(content_getter=text_of)
    started = time.perf_counter()

    def executor(pipeline, name, depends=None, n=tasks):
        return LocalPipelineExecutor(pipeline=pipeline, tasks=n, workers=min(n, tasks),
                                     logging_dir=str(logs / name), depends=depends,
                                     skip_completed=False)

    def reread():
        return JsonlReader(str(extracted))

    signatures = MinhashDedupSignature(str(work / "mh-sigs"), config=minhash,
                                       language=SpaceTokenizer())
    if jsonl:
        stage1 = executor([reread(), signatures], "1-minhash-signatures")
    else:
        stage1 = executor([
            WarcReader(str(source), glob_pattern="*.warc.gz"),
            # newsbeam's time limit per page: datatrove's default of 1 s drops
            # pages as timed out on a busy machine, which skips their work.
            Trafilatura(timeout=EXTRACT_TIMEOUT_S),
            JsonlWriter(str(extracted), output_filename="${rank}.jsonl.gz"),
            signatures,
        ], "1-extract-minhash-signatures")
    stage2 = executor([reread(), ExactDedupSignature(str(work / "ex-sigs"), config=exact)],
                      "2-exact-signatures", depends=stage1)
    stage3 = executor([ExactFindDedups(str(work / "ex-sigs"), str(work / "ex-dups"),
                                       config=exact)], "3-exact-find", depends=stage2, n=1)
    stage4 = executor([MinhashDedupBuckets(str(work / "mh-sigs"), str(work / "mh-buckets"),
                                           config=minhash)],
                      "4-minhash-buckets", depends=stage3, n=minhash.num_buckets)
    stage5 = executor([MinhashDedupCluster(str(work / "mh-buckets"), str(work / "mh-remove"),
                                           config=minhash)],
                      "5-minhash-cluster", depends=stage4, n=1)
    stage6 = executor([
        reread(),
        ExactDedupFilter(str(work / "ex-dups"), config=exact),
        MinhashDedupFilter(str(work / "mh-remove")),
        ParquetWriter(str(work / "parquet"), compression="zstd"),
    ], "6-filter-write", depends=stage5)
    stage6.run()
    seconds = time.perf_counter() - started
    written = 0
    import pyarrow.parquet as pq

    for path in (work / "parquet").rglob("*.parquet"):
        written += pq.ParquetFile(path).metadata.num_rows
    print(json.dumps({"rows_written": written, "seconds": round(seconds, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
