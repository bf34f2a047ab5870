"""What is added to a kept article: its language, its tags and its keywords.

`DetectLanguage` (fastText lid.176 with lingua for the clusters it confuses;
`language_data` holds the tables), `EnrichArticles` (source tags cleaned with
`tag_vocabulary`), `ExtractKeyphrases` (keywords scored against
the run's document frequencies: `keyphrases` finds the candidates of an
article, `keyphrase_scores` counts and scores them, `keyphrase_step` is the
composite).
"""
from transforms import lazy_exports

_HOMES = {
    "DetectLanguage": "language",
    "EnrichArticles": "tags",
    "ExtractKeyphrases": "keyphrase_step",
}

__all__ = ["DetectLanguage", "EnrichArticles", "ExtractKeyphrases"]


__getattr__ = lazy_exports(__name__, _HOMES)
