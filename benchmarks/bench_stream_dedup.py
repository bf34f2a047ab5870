"""Streaming dedup (keyed state, timers) beside batch dedup, on the same articles.

Both run on the FnApiRunner in one process, one after the other, on the same
synthetic articles: random-word stories of ~220 words, of which about 10%
repeat another's URL, 10% its text, and 10% are near copies (a few words
changed). Each article has the event time of one of `--ticks` ticks, as the
stream would give it. Printed: wall seconds, articles a second, and the
duplicates found by type, for ``transforms.dedup.batch.Deduplicate`` (batch) and
``transforms.dedup.stream.StreamDeduplicate`` (streaming); the ratio is what
keyed state and timers cost on this runner (Dataflow's state backend is
another matter, not measured here). Also printed: the bytes the near stage
holds in state for one article (its key, once per LSH band, as the RowCoder
encodes it), as it is and as it would be if the keys carried their shingles
for exact verification (`--state_only` prints that alone).

Run from the repository root::

    .venv/bin/python benchmarks/bench_stream_dedup.py [--articles 2000] [--ticks 20]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import apache_beam as beam  # noqa: E402
from apache_beam.metrics.metric import MetricsFilter  # noqa: E402
from apache_beam.runners.portability.fn_api_runner import FnApiRunner  # noqa: E402
from apache_beam.transforms.window import TimestampedValue  # noqa: E402

from apache_beam.coders import RowCoder  # noqa: E402

from schemas.dedup import DedupKey  # noqa: E402
from schemas.records import Article  # noqa: E402
from transforms.dedup import minhash  # noqa: E402
from transforms.dedup.rules import dedup_key  # noqa: E402
from transforms.extract.normalize import key_text  # noqa: E402
from transforms.dedup.batch import Deduplicate  # noqa: E402
from transforms.extract.normalize import content_hash  # noqa: E402
from transforms.dedup.stream import StreamDeduplicate  # noqa: E402
from transforms.dedup.urls import canonical_url, url_key  # noqa: E402

START = 1_796_000_000.0
VOCABULARY = [f"w{i}" for i in range(5000)]


def _article(i: int, url: str, text: str, at: float) -> Article:
    canonical = canonical_url(url)
    return Article(f"id{i:06d}", url, canonical, url_key(canonical), f"Title {i}", text, None,
                   [], None, None, "bench", [], [], [], "en", 0.99, "Latn", None, None,
                   content_hash(text), f"id{i:06d}", len(text), "feed", "bench", f"entry:{i}",
                   "plain_text", "bench", int(at * 1e6))


def articles(n: int, ticks: int, seed: int = 7):
    """Synthetic articles with known shares of URL, exact and near copies."""
    rng = random.Random(seed)
    made = []
    for i in range(n):
        at = START + 60.0 * rng.randrange(ticks)
        roll = rng.random()
        if made and roll < 0.1:
            other = rng.choice(made)
            made.append(_article(i, other.url, " ".join(rng.choices(VOCABULARY, k=220)), at))
        elif made and roll < 0.2:
            other = rng.choice(made)
            made.append(_article(i, f"https://news.example/{i}", other.text, at))
        elif made and roll < 0.3:
            words = rng.choice(made).text.split()
            for j in rng.sample(range(len(words)), 4):
                words[j] = rng.choice(VOCABULARY)
            made.append(_article(i, f"https://news.example/{i}", " ".join(words), at))
        else:
            made.append(_article(i, f"https://news.example/{i}",
                                 " ".join(rng.choices(VOCABULARY, k=220)), at))
    return made


def _run(rows, streaming: bool):
    """Wall seconds of one dedup pipeline, and its ``dedup`` counters."""
    start = time.perf_counter()
    p = beam.Pipeline(runner=FnApiRunner())
    if streaming:
        source = (p | beam.Create(rows)
                  | beam.Map(lambda a: TimestampedValue(a, a.ingested_at / 1e6)))
        _ = source | StreamDeduplicate(None, "bench", 30, separate_stages=True)
    else:
        _ = p | beam.Create(rows) | Deduplicate(None, "bench", 0)
    result = p.run()
    result.wait_until_finish()
    seconds = time.perf_counter() - start
    counters = result.metrics().query(MetricsFilter().with_namespace("dedup"))["counters"]
    found = Counter()
    for counter in counters:
        if counter.key.metric.name.startswith("dropped:"):
            found[counter.key.metric.name[len("dropped:"):]] += counter.committed
    return seconds, found


def near_state_bytes(rows) -> tuple:
    """Mean bytes a near bucket's state holds per article (all its bands):
    its key as held now (signature), and with the shingles beside it."""
    coder = RowCoder.from_type_hint(DedupKey, None)
    bands = minhash.lsh_parameters().bands
    now = with_shingles = 0
    for article in rows:
        signature, sketched = minhash.sketch(key_text(article.text))
        key = dedup_key(article, {}, signature)._replace(known=True)
        now += len(coder.encode(key))
        with_shingles += len(coder.encode(key._replace(shingles=minhash.shingles_of(sketched))))
    return bands * now / len(rows), bands * with_shingles / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--beam_weigher", action="store_true",
                        help="keep Beam's state-cache weigher (walks every module's globals)")
    parser.add_argument("--state_only", action="store_true",
                        help="print the near stage's state per article only")
    args = parser.parse_args()
    if args.beam_weigher:  # the stateful steps install the lighter one in setup()
        import transforms.sink.state_cache as state_cache
        state_cache._INSTALLED = True
    rows = articles(args.articles, args.ticks)
    held, sketched = near_state_bytes(rows)
    print(f"near-stage state per article ({minhash.lsh_parameters().bands} bands): "
          f"{held:,.0f} bytes with signatures (now), {sketched:,.0f} with shingles too "
          f"(x{sketched / held:.1f})")
    if args.state_only:
        return
    print(f"{len(rows)} articles over {args.ticks} ticks, FnApiRunner, one process")
    print(f"{'dedup':<10} {'wall s':>8} {'articles/s':>11}  found")
    results = {}
    for name, streaming in (("batch", False), ("streaming", True)):
        seconds, found = _run(rows, streaming)
        results[name] = seconds
        counts = ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
        print(f"{name:<10} {seconds:8.1f} {len(rows) / seconds:11.0f}  {counts}")
    print(f"streaming / batch wall time: {results['streaming'] / results['batch']:.2f}")


if __name__ == "__main__":
    main()
