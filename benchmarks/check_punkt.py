"""quotebot's Punkt splitter against NLTK's own on every paragraph of a corpus.

    python benchmarks/check_punkt.py /tmp/news                # a folder of documents
    python benchmarks/check_punkt.py --news 1000000            # the scale benchmark's news text
    python benchmarks/check_punkt.py /tmp/news --pieces 3      # also 3 random cuts a paragraph

Reads the documents as `quotebot index` does, splits each into paragraphs, and compares
`quotebot.punkt.sentence_spans` with NLTK's stock `PunktSentenceTokenizer` (quotebot's
abbreviations, no other parameters) paragraph by paragraph. With --pieces, each paragraph
is also cut at random places (seeded) and every piece is compared, so that text starting
or ending mid-sentence, with spaces at either end, is checked too. Prints the counts and
the first differences; exits 1 if any paragraph differs.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def texts(folder: Path) -> Iterator[str]:
    from quotebot.corpus import iter_corpus

    for doc in iter_corpus(folder):
        yield doc.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, help="folders or files of documents")
    parser.add_argument("--news", type=int, default=0,
                        help="also write and check this many sentences of the scale "
                             "benchmark's news text (corpora.write_news)")
    parser.add_argument("--pieces", type=int, default=0,
                        help="random cuts of each paragraph to check as well (default 0)")
    args = parser.parse_args()

    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    from quotebot.lexicon import ABBREVIATIONS
    from quotebot.punkt import sentence_spans
    from quotebot.sentences import paragraph_spans

    params = PunktParameters()
    params.abbrev_types = set(ABBREVIATIONS)
    stock = PunktSentenceTokenizer(params)
    rng = random.Random(20261207)
    folders = list(args.folders)
    scratch = None
    if args.news:
        import corpora

        scratch = tempfile.TemporaryDirectory(prefix="check-punkt-")
        folders.append(corpora.write_news(args.news, Path(scratch.name) / "news"))
    checked = differ = pieces = 0
    ours_s = nltk_s = 0.0
    for folder in folders:
        for text in texts(folder):
            for start, end in paragraph_spans(text):
                paragraph = text[start:end]
                cases = [paragraph]
                for _ in range(args.pieces):
                    a, b = sorted(rng.randrange(len(paragraph) + 1) for _ in range(2))
                    cases.append(paragraph[a:b])
                pieces += len(cases) - 1
                for case in cases:
                    t0 = time.perf_counter()
                    ours = sentence_spans(case)
                    t1 = time.perf_counter()
                    theirs = list(stock.span_tokenize(case))
                    t2 = time.perf_counter()
                    ours_s += t1 - t0
                    nltk_s += t2 - t1
                    if ours != theirs:
                        differ += 1
                        if differ <= 10:
                            print(f"differs: {case!r}\n  ours  {ours}\n  NLTK  {theirs}")
                checked += 1
    print(f"{checked:,} paragraphs and {pieces:,} pieces of them checked, "
          f"{differ:,} differ; splitting took {ours_s:.1f} s here, {nltk_s:.1f} s in NLTK")
    if scratch is not None:
        scratch.cleanup()
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
