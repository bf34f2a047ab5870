"""What is added to a kept article: its language, its tags and its keywords.

`DetectLanguage` (fastText lid.176 with lingua for the clusters it confuses;
`language_data` holds the tables), `EnrichArticles` (source tags cleaned with
`tag_vocabulary`, YAKE keywords), `ExtractKeyphrases` (keywords scored against
the run's document frequencies: `keyphrases` finds the candidates of an
article, `keyphrase_scores` counts and scores them, `keyphrase_step` is the
composite).
"""
import importlib

_HOMES = {
    "DetectLanguage": "language",
    "EnrichArticles": "tags",
    "ExtractKeyphrases": "keyphrase_step",
}

__all__ = ["DetectLanguage", "EnrichArticles", "ExtractKeyphrases"]


def __getattr__(name: str):
    # Public names are imported on first use, so importing one module of the
    # room does not import (and cycle through) all the others.
    if name in _HOMES:
        module = importlib.import_module(f"{__name__}.{_HOMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
