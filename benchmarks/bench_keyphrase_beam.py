"""CPU cost of `ExtractKeyphrases` inside Beam, before and after, side by side.

    python benchmarks/bench_keyphrase_beam.py [--articles 5000] [--rounds 3] [--before main] [--staged]

Runs, on the FnApiRunner in this process, `--articles` articles (W2's, from
`workloads.draw_articles`, labelled by fastText, seven sources) through four pipelines: one that
only copies them, one that holds them for a side input (`Hold`), `ExtractKeyphrases` as revision `--before` has it
(`before.module`: the step's module of that revision over today's pure
functions) and today's. Prints the CPU milliseconds an article each step adds
to the copying pipeline and to the holding one (the fastest of `--rounds`, all interleaved, so
other load on the machine touches all alike) and whether both steps gave
every article the same keywords. ``--staged``: both steps get a `stage_dir`
in a temporary folder, as a batch run gives them (the articles wait for the
table in files; since issue 20 the counts are summed from files too).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import apache_beam as beam  # noqa: E402
from apache_beam.runners.portability.fn_api_runner import FnApiRunner  # noqa: E402

import before  # noqa: E402
import workloads  # noqa: E402
from schemas.records import Article  # noqa: E402
from transforms.enrich.keyphrase_step import ExtractKeyphrases  # noqa: E402
from transforms.enrich.language import LanguageDetector  # noqa: E402

STEP = "transforms/enrich/keyphrase_step.py"
# Keywords per article id, filled by the pipeline's last step (the runner is in-process).
SEEN: Dict[str, Dict[str, List[str]]] = {}


def w2_articles(count: int, seed: int = workloads.SEED) -> List[Article]:
    detector = LanguageDetector(second_stage=False)  # fastText: labels enough for keywords
    articles = []
    rng = random.Random(seed)
    for i, (title, paragraphs, _, tags) in enumerate(workloads.draw_articles(count, rng)):
        text = "\n".join(paragraphs)
        language = detector.identify(title, text).language
        aid = f"a{i}"
        articles.append(Article(aid, f"https://s{i % 7}.example/{aid}", None, None, title, text,
                                None, tags, None, None, None, [], [], [], language, 0.99, None,
                                None, None, "h", aid, len(text), "jsonl", "mem", "line:1",
                                "plain_text", "run", 1))
    return articles


class Hold(beam.PTransform):
    """The articles held until a count of them is known: the encoding any
    step that waits for a run-wide table pays, without the step's own work."""

    def expand(self, articles):
        count = articles | beam.combiners.Count.Globally()
        return articles | beam.Map(lambda a, n: a._replace(keywords=[]),
                                   beam.pvalue.AsSingleton(count))


def record(name: str):
    def keep(article: Article) -> None:
        # By name: run as a script, the pickler copies this module's globals.
        import bench_keyphrase_beam

        bench_keyphrase_beam.SEEN.setdefault(name, {})[article.article_id] = list(article.keywords)
    return keep


def run(articles: List[Article], step, name: str) -> float:
    import bench_keyphrase_beam

    bench_keyphrase_beam.SEEN.pop(name, None)
    started = time.process_time()
    with beam.Pipeline(runner=FnApiRunner()) as p:
        _ = (p | beam.Create(articles, reshuffle=False) | step
             | beam.Map(record(name)))
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", default="main", help="git revision of the 'before' step")
    parser.add_argument("--staged", action="store_true",
                        help="give both steps a stage_dir, as a batch run does")
    args = parser.parse_args()
    articles = w2_articles(args.articles)
    old = before.module(args.before, STEP).ExtractKeyphrases
    import tempfile

    staging = tempfile.mkdtemp(prefix="bench-keyphrases-")

    def staged(step, name):
        if not args.staged:
            return step
        return lambda: step(stage_dir=tempfile.mkdtemp(prefix=name, dir=staging))

    steps = {"copy": lambda: beam.Map(lambda a: a._replace(keywords=[])),
             "hold": Hold,
             f"before ({args.before})": staged(old, "before"),
             "after": staged(ExtractKeyphrases, "after")}
    best: Dict[str, float] = {}
    for _ in range(args.rounds):
        for name, make in steps.items():
            spent = run(articles, make(), name)
            best[name] = min(best.get(name, spent), spent)
    base, hold = best.pop("copy"), best.pop("hold")
    n = len(articles)
    import shutil

    shutil.rmtree(staging, ignore_errors=True)
    print(f"ExtractKeyphrases on the FnApiRunner{' (staged)' if args.staged else ''}, "
          f"{n} W2 articles, CPU ms an article "
          f"(best of {args.rounds}) over a pipeline that copies them, and over one that "
          f"holds them for a side input (encodes them once, as any table must):")
    print(f"  {'hold':16} {1000 * (hold - base) / n:6.3f}")
    for name, spent in best.items():
        print(f"  {name:16} {1000 * (spent - base) / n:6.3f} {1000 * (spent - hold) / n:6.3f}")
    import bench_keyphrase_beam

    seen = bench_keyphrase_beam.SEEN
    names = list(best)
    same = seen[names[0]] == seen[names[1]]
    print(f"  same keywords for all {len(seen[names[1]])} articles: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
