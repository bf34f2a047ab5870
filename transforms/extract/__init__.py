"""From raw document to article: the text, title, dates and tags of a page.

HTML through trafilatura (`html_extract`), plain-text dumps through the line
classifier and the source boilerplate learned per run (`text_dump`,
`line_classifier`, `boilerplate`, `dump_metadata`, `dump_vocabulary`), the
extractor isolated in a child process with a time and memory bound
(`isolation`), page tags, and the text normalisation and date helpers the
later rooms share (`normalize`, `dates`). The publication date is chosen
among every candidate the page and its feed or sitemap give (`date_candidates`
finds them, `published_date` chooses), and `access` says whether a page is
free or paywalled. `ExtractArticles` is the step.
"""
from transforms import lazy_exports

_HOMES = {
    "ExtractArticles": "articles",
    "CountSourceBoilerplate": "boilerplate",
    "RemoveSourceBoilerplate": "boilerplate",
    "after_counts": "boilerplate",
    "candidates_from_page": "date_candidates",
    "choose_published": "published_date",
    "access_for": "access",
}

__all__ = ["ExtractArticles", "CountSourceBoilerplate", "RemoveSourceBoilerplate",
           "after_counts", "candidates_from_page", "choose_published", "access_for"]


__getattr__ = lazy_exports(__name__, _HOMES)
