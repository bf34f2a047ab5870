"""Accuracy of newsbeam's language detection on the lingua test sentences.

    python benchmarks/eval_language.py                     # the whole set (about 2 minutes)
    python benchmarks/eval_language.py --fasttext-only     # lid.176 alone, for comparison
    python benchmarks/eval_language.py --high-accuracy bs,hr,sr,sl --only bs,hr,sr,sl
                                   # lingua's high-accuracy models for one cluster, memory too
    python benchmarks/eval_language.py --limit 200         # a quick look
    python benchmarks/eval_language.py --before            # the path before the bounded sample:
                                   # every text read to 1,000 characters, every cluster to lingua
    python benchmarks/eval_language.py --sample-chars 300  # another first sample of long texts

Reads ``../shared/data/langid/lingua-sentences/<code>.txt`` (one sentence a
line; Apache-2.0, from the lingua project's test data) for every language
newsbeam detects, and prints accuracy per language and the macro average,
for single sentences and for documents made by joining 10 consecutive
sentences of a language. A prediction counts when the label newsbeam would
write (``und`` under the default `--min_language_score` 0.5) is the file's
code; the "top" columns ignore that threshold.

The macro averages are printed over every evaluated language, over the 65
that fastText lid.176 knows (without the ten of `EXTRA_LANGUAGES`), and over
parts held out from tuning: the cluster thresholds were chosen looking at
even lines only, and the later marker words (yat forms, Bokmål/Nynorsk,
Malay/Indonesian) at the even blocks of 10 lines only, so odd lines and odd
blocks are printed apart.

Then the sentence errors over the 65 by kind: ``und``, a language of the
same cluster (`CLUSTERS`), a language lid.176 does not know, any other.

Last, what the test files of close pairs hold: per 10-sentence document,
whether it carries only the other standard's forms of a few textbook pairs
(Indonesian karena/bahwa/uang against Malay kerana/bahawa/wang; Croatian
tisuća/tjedan/siječnja against Bosnian hiljada/sedmica/januara). A document
of the Malay file written in Indonesian spelling cannot be called Malay
without calling Indonesian Malay too; the script prints the macro average
that would remain if every other language were perfect.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from transforms.enrich.language import SAMPLE_CHARS, LanguageDetector  # noqa: E402
from transforms.enrich.language_text import supported_languages
from transforms.enrich.language_data import CLUSTERS, EXTRA_LANGUAGES  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "langid" / "lingua-sentences"
MIN_SCORE = 0.5
DOC_SENTENCES = 10
# Test-file codes that differ from the code newsbeam writes (none today: the
# files use ISO 639-1 and newsbeam writes nb/nn for Norwegian).
LABELS: Dict[str, str] = {}


# Textbook pairs of the close standards, (first, second): used only to see what
# the test files hold, independent of the detector's own marker lists.
TEXTBOOK_PAIRS = {
    ("id", "ms"): """karena:kerana bahwa:bahawa uang:wang saja:sahaja setelah:selepas
        perusahaan:syarikat universitas:universiti kualitas:kualiti aktivitas:aktiviti
        polisi:polis mau:mahu baru:baharu yaitu:iaitu serikat:syarikat agustus:ogos
        kantor:pejabat mobil:kereta bisa:boleh pria:lelaki anak-anak:kanak-kanak coba:cuba
        berbagai:pelbagai""",
    ("hr", "bs"): """tisuća:hiljada tisuće:hiljade tisuću:hiljadu tjedan:sedmica tjedna:sedmice
        obitelj:porodica obitelji:porodice sveučilište:univerzitet sveučilišta:univerziteta
        tko:ko povijest:historija povijesti:historije glazba:muzika glazbe:muzike kruh:hljeb
        siječnja:januara veljače:februara ožujka:marta travnja:aprila svibnja:maja
        lipnja:juna srpnja:jula kolovoza:augusta rujna:septembra listopada:oktobra
        studenoga:novembra studenog:novembra prosinca:decembra točno:tačno zrak:vazduh
        zraka:vazduha nogomet:fudbal tvrtka:firma tvrtke:firme europske:evropske
        europski:evropski europa:evropa europe:evrope tijekom:tokom vjerojatno:vjerovatno
        suradnja:saradnja suradnje:saradnje razina:nivo uopće:uopšte također:takođe""",
}
_TEXT_WORD = re.compile(r"[\w-]+")


def other_form_only(docs: List[str], own: str, other: str) -> int:
    """Documents carrying textbook forms of `other` and none of `own`."""
    pairs = next(words for key, words in TEXTBOOK_PAIRS.items() if set(key) == {own, other})
    first, second = next(key for key in TEXTBOOK_PAIRS if set(key) == {own, other})
    forms = {first: set(), second: set()}
    for pair in pairs.split():
        a, b = pair.split(":")
        forms[first].add(a)
        forms[second].add(b)
    count = 0
    for doc in docs:
        words = {w.lower() for w in _TEXT_WORD.findall(doc)}
        count += bool(words & forms[other]) and not words & forms[own]
    return count


def odd_blocks(values: List[bool]) -> List[bool]:
    """The items of odd 10-line blocks (held out from the later marker words)."""
    return [v for i, v in enumerate(values) if (i // DOC_SENTENCES) % 2 == 1]


def load(path: Path, limit: int) -> List[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    return lines[:limit] if limit else lines


def documents(sentences: List[str]) -> List[str]:
    return [" ".join(sentences[i:i + DOC_SENTENCES])
            for i in range(0, len(sentences) - DOC_SENTENCES + 1, DOC_SENTENCES)]


def score(detector: LanguageDetector, items: List[str], label: str
          ) -> Tuple[List[bool], List[bool], Dict[str, int]]:
    """Per item: written label right, top label right; and the wrong labels counted."""
    written, top, wrong = [], [], {}
    for text in items:
        found = detector.identify(None, text)
        language = found.language if found.score >= MIN_SCORE else "und"
        written.append(language == label)
        top.append(found.language == label)
        if language != label:
            wrong[language] = wrong.get(language, 0) + 1
    return written, top, wrong


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024.0


def use_high_accuracy(detector: LanguageDetector, clusters) -> None:
    """Candidate sets inside one of `clusters` go to lingua's high-accuracy
    models (loaded now; their memory and load time printed)."""
    from lingua import LanguageDetectorBuilder

    high = {}
    for cluster in clusters:
        before, started = resident_mb(), time.process_time()
        LanguageDetectorBuilder.from_iso_codes_639_1(
            *(detector._iso[c] for c in sorted(cluster))).with_preloaded_language_models().build()
        print(f"high-accuracy {','.join(sorted(cluster))}: +{resident_mb() - before:.0f} MB "
              f"resident, {time.process_time() - started:.1f} s CPU to load")
    low = detector._second_detector

    def second(candidates):
        if not any(candidates <= cluster for cluster in clusters):
            return low(candidates)
        if candidates not in high:
            high[candidates] = LanguageDetectorBuilder.from_iso_codes_639_1(
                *(detector._iso[c] for c in sorted(candidates))).build()
        return high[candidates]
    detector._second_detector = second


def mean(values) -> float:
    values = list(values)
    return 100.0 * sum(values) / len(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fasttext-only", action="store_true",
                        help="lid.176 alone, without the second model and markers")
    parser.add_argument("--limit", type=int, default=0, help="sentences per language (0: all)")
    parser.add_argument("--high-accuracy", action="append", default=[], metavar="CODES",
                        help="settle this cluster (e.g. nb,nn,da,sv) with lingua's "
                             "high-accuracy models; repeatable; prints their memory")
    parser.add_argument("--only", default="", help="evaluate only these codes (e.g. bs,hr)")
    parser.add_argument("--before", action="store_true",
                        help="the path before the bounded sample: every text read to 1,000 "
                             "characters, every cluster label settled by lingua")
    parser.add_argument("--sample-chars", type=int, default=SAMPLE_CHARS,
                        help="body characters a long text is first read to "
                             f"(default {SAMPLE_CHARS})")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"eval_language: skipped, no test data at {DATA} "
              "(../shared/data ships beside the checkout in CI)")
        return 0
    supported = supported_languages()
    files = sorted(p for p in DATA.glob("*.txt") if p.stem != "LICENSE")
    codes = {p.stem: LABELS.get(p.stem, p.stem) for p in files}
    evaluated = [p for p in files if codes[p.stem] in supported
                 and (not args.only or codes[p.stem] in args.only.split(","))]
    skipped = [p.stem for p in files if codes[p.stem] not in supported]
    started = time.process_time()
    detector = LanguageDetector(second_stage=not args.fasttext_only,
                                sample_chars=None if args.before else args.sample_chars)
    if args.fasttext_only:
        detector._apply_markers = lambda sample, best, *rest: best  # lid.176 alone
        detector._second_languages = frozenset()
    load_s = time.process_time() - started
    if args.high_accuracy:
        use_high_accuracy(detector, [frozenset(c.split(",")) for c in args.high_accuracy])
    rows = []
    print(f"{'lang':5} {'sent':>6} {'top':>6} {'doc':>6} {'top':>6}   most frequent wrong labels"
          " (sentences)")
    started = time.process_time()
    for path in evaluated:
        label = codes[path.stem]
        sentences = load(path, args.limit)
        docs = documents(sentences)
        s_written, s_top, wrong = score(detector, sentences, label)
        d_written, d_top, _ = score(detector, docs, label)
        rows.append((label, s_written, s_top, d_written, d_top, wrong))
        common = ", ".join(f"{k} {v}" for k, v in sorted(wrong.items(), key=lambda kv: -kv[1])[:4])
        print(f"{label:5} {mean(s_written):6.1f} {mean(s_top):6.1f} {mean(d_written):6.1f} "
              f"{mean(d_top):6.1f}   {common}", flush=True)
    run_s = time.process_time() - started

    def macro(selected, column, part=slice(None)):
        return mean(mean(row[column][part]) / 100.0 for row in selected)

    known = [row for row in rows if row[0] not in EXTRA_LANGUAGES]
    print()
    model = ("fastText lid.176 alone" if args.fasttext_only
             else "lid.176 + lingua clusters + markers")
    model += ("; every text read to 1,000 characters (before the bounded sample)" if args.before
              else f"; long texts read to {args.sample_chars} characters first")
    print(f"model: {model}; min score {MIN_SCORE}; {len(rows)} languages"
          + (f" (not detected, skipped: {', '.join(skipped)})" if skipped else ""))
    for name, selected in ((f"all {len(rows)} languages", rows),
                           (f"the {len(known)} lid.176 knows", known)):
        print(f"macro over {name}: sentences {macro(selected, 1):.2f}% "
              f"(top {macro(selected, 2):.2f}%), documents {macro(selected, 3):.2f}% "
              f"(top {macro(selected, 4):.2f}%)")
        print(f"    even lines (tuned on): sentences {macro(selected, 1, slice(0, None, 2)):.2f}%"
              f"; odd lines (held out): sentences {macro(selected, 1, slice(1, None, 2)):.2f}%, "
              f"documents {macro(selected, 3, slice(1, None, 2)):.2f}%")
        held = mean(mean(odd_blocks(row[1])) / 100.0 for row in selected)
        print(f"    odd blocks of 10 lines (held out from the marker words): sentences "
              f"{held:.2f}%, documents {macro(selected, 3, slice(1, None, 2)):.2f}%")
    lows = sorted(rows, key=lambda row: mean(row[1]))[:8]
    print("lowest on sentences: " + ", ".join(f"{r[0]} {mean(r[1]):.1f}" for r in lows))
    errors = {"und": 0, "same cluster": 0, "a language lid.176 does not know": 0, "other": 0}
    for row in known:
        for language, n in row[5].items():
            kind = ("und" if language == "und"
                    else "same cluster" if any({row[0], language} <= c for c in CLUSTERS)
                    else "a language lid.176 does not know" if language in EXTRA_LANGUAGES
                    else "other")
            errors[kind] += n
    total = sum(errors.values())
    print(f"sentence errors over the {len(known)}: {total}; "
          + ", ".join(f"{kind} {n} ({100.0 * n / max(1, total):.0f}%)"
                      for kind, n in errors.items()))
    lows = sorted(rows, key=lambda row: mean(row[3]))[:5]
    print("lowest on documents: " + ", ".join(f"{r[0]} {mean(r[3]):.1f}" for r in lows))
    for code in ("ar", "fa", "ur"):
        row = next((r for r in rows if r[0] == code), None)
        if row:
            print(f"{code}: sentences {mean(row[1]):.1f}%, documents {mean(row[3]):.1f}%")
    bounds = {}
    for own, other in (("ms", "id"), ("bs", "hr"), ("id", "ms"), ("hr", "bs")):
        path = DATA / f"{own}.txt"
        if path.exists() and not args.limit and own in {row[0] for row in rows}:
            docs = documents(load(path, 0))
            n = other_form_only(docs, own, other)
            bounds[own] = 100.0 * (len(docs) - n) / len(docs)
            print(f"{own} test file: {n} of {len(docs)} documents carry only {other} forms "
                  "of the textbook pairs")
    if {"ms", "bs"} <= set(bounds) and {"ms", "bs"} <= {row[0] for row in known}:
        others = len(known) - 2
        ceiling = (100.0 * others + bounds["ms"] + bounds["bs"]) / len(known)
        print(f"macro over the {len(known)} on documents if ms and bs were right on every "
              f"other document and the other {others} languages perfect: {ceiling:.2f}%")
    items = sum(len(r[1]) + len(r[3]) for r in rows)
    print(f"model load {load_s:.1f} s CPU; {items} texts in {run_s:.1f} s CPU "
          f"({1000 * run_s / items:.2f} ms a text)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
