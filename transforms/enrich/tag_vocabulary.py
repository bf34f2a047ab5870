"""Vocabulary of tag cleaning and keyword extraction, kept as data.

`BOILERPLATE_TAGS` are tags that sites put on every page (or their SEO
keyword lists carry), saying nothing of the article. They are compared
case-folded, without accents or Arabic diacritics. Adding a language is adding
words. The site's own name (site name, source name, domain) is dropped too,
by `transforms.enrich.tags.clean_tags`.

`STOPWORDS_EXTRA` adds words to the stop lists that YAKE uses per language
(yake-rust's own lists, and stopwordsiso's where yake-rust has none): news
verbs of saying and time words that would otherwise rank as keywords.
"""
from __future__ import annotations

from typing import Dict, FrozenSet

_BOILERPLATE = {
    "en": """news, breaking, breaking news, latest, latest news, top stories, top story, headlines,
        home, homepage, front page, frontpage, world news, local news, national news, more news,
        video, videos, photo, photos, gallery, galleries, live, live updates, update, updates,
        uncategorized, uncategorised, general, misc, miscellaneous, other, others, featured,
        feature, features, editor's picks, editors picks, must read, trending, popular,
        most read, most popular, exclusive, article, articles, story, stories, blog, blogs,
        post, posts, page, newsletter, rss, feed, today, daily""",
    "ar": """أخبار, اخبار, خبر, الأخبار, الاخبار, عاجل, أخبار عاجلة, اخبار عاجلة, آخر الأخبار,
        اخر الاخبار, الرئيسية, الصفحة الرئيسية, فيديو, فيديوهات, صور, منوعات, مقالات, مقال,
        تقارير, تقرير, أخبار محلية, أخبار عالمية, أخبار دولية, الأكثر قراءة, مميز, حصري""",
    "fr": """actualité, actualités, actu, actus, info, infos, à la une, une, dernières nouvelles,
        accueil, vidéo, vidéos, photos, en direct, direct, divers, général""",
    "de": """nachrichten, aktuell, aktuelles, startseite, video, videos, bilder, fotos, live,
        liveticker, allgemein, sonstiges""",
    "es": """noticias, noticia, actualidad, última hora, ultima hora, portada, inicio, vídeo,
        vídeos, video, videos, fotos, en directo, directo, general, varios""",
    "it": """notizie, notizia, ultime notizie, ultima ora, attualità, video, foto, in diretta,
        diretta, generale, varie""",
    "pt": """notícias, noticias, notícia, últimas notícias, ultimas noticias, destaque,
        destaques, início, inicio, vídeo, vídeos, fotos, ao vivo, geral""",
    "ru": """новости, новость, главное, главная, последние новости, видео, фото, онлайн""",
    "tr": """haber, haberler, son dakika, gündem, anasayfa, video, foto, galeri""",
    "fa": """اخبار, خبر, خبرها, فوری, ویدیو, عکس, صفحه اصلی""",
    "ur": """خبریں, خبر, تازہ ترین, ویڈیو, تصاویر""",
}
BOILERPLATE_TAGS: Dict[str, FrozenSet[str]] = {
    lang: frozenset(" ".join(item.split()) for item in words.split(",") if item.strip())
    for lang, words in _BOILERPLATE.items()}
# One set for every language: a site's English boilerplate tags appear on
# pages in other languages too.
ALL_BOILERPLATE_TAGS: FrozenSet[str] = frozenset().union(*BOILERPLATE_TAGS.values())

STOPWORDS_EXTRA: Dict[str, FrozenSet[str]] = {
    "ar": frozenset("""قال قالت وقال وقالت يقول تقول أضاف وأضاف أضافت وأضافت مضيفا مضيفة
        وتابع وتابعت تابع تابعت أكد وأكد أكدت وأكدت أوضح وأوضح أوضحت وأوضحت أشار وأشار أشارت
        وأشارت بحسب وفق وفقا حسب خلال عبر بين حتى منذ بعد قبل عند لدى إن أن إنه أنه كان كانت
        يكون تكون يزال تزال ما لا لم لن قد هذا هذه ذلك تلك التي الذي الذين وهو وهي هو هي كما
        أيضا اليوم أمس غدا يوم عام سنة""".split()),
    "en": frozenset("""said says told according also would could year years week today
        yesterday monday tuesday wednesday thursday friday saturday sunday""".split()),
}

# Languages written without spaces between words: YAKE's word splitting does
# not apply, so newsbeam extracts no keywords for them.
NO_WORD_SPACES: FrozenSet[str] = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "wuu",
                                            "yue"})
# Languages whose keywords are single words (DESIGN: Arabic YAKE phrases
# cross clause boundaries that its punctuation does not mark).
SINGLE_WORD_KEYWORDS: FrozenSet[str] = frozenset({"ar", "arz", "fa", "ur", "ps", "ckb"})
