"""What HTML extraction keeps of a page: the article's own sentences, and the boilerplate let in.

    python benchmarks/bench_extract.py [--json]

The pages are tests/fixtures/pages/pages.json (documentation from Debian's python3-doc, and
news, encyclopedia, press release, blog and government pages written in their sites' real
markup). For each, the manifest names the article's own text by XPath; the rest of the
page's body is boilerplate (navigation, cookie banners, related links, newsletters,
footers), and a few parts (bylines, captions) count as neither.

Each page is read by quotebot (``quotebot.ingest.html.read_page``: permalinks cleaned,
section ids kept from trafilatura's navigation filter, structure written one unit per line)
with several sets of trafilatura's options, and by trafilatura alone (its text output with
its defaults) for comparison. Per page and option set:

- kept: the share of the article's sentences found in the extracted text (target ≥ 95%);
- boilerplate: the share of the extracted sentences that are boilerplate (target ≤ 2%).

Sentences are compared with case, spacing and punctuation folded. Prints a table and
writes benchmarks/results/extract.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PAGES = HERE.parent / "tests" / "fixtures" / "pages"
RESULTS = HERE / "results" / "extract.json"

#: trafilatura's options, each given to quotebot's reading; "trafilatura alone" is
#: trafilatura's own text output with its defaults, for comparison.
OPTION_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "no tables": {"include_tables": False},
    "favor_precision": {"favor_precision": True},
    "favor_recall": {"favor_recall": True},
    "fast (no fallback)": {"fast": True},
    "favor_recall, fast": {"favor_recall": True, "fast": True},
}
_BLOCKS = ("p", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "pre",
           "blockquote", "figcaption", "caption", "div", "section", "article", "aside", "nav",
           "header", "footer", "main", "ul", "ol", "dl", "table", "tr", "form", "button",
           "body", "figure")
_FOLD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Text compared without case, spacing or punctuation."""
    return " " + _FOLD.sub(" ", text.casefold()).strip() + " "


def gold(path: Path, article: list[str], ignore: list[str]) -> tuple[list[str], list[str]]:
    """(the article's sentences, the boilerplate's sentences) of a page."""
    from quotebot.ingest.html import parse_page
    from quotebot.models import Document
    from quotebot.sentences import split_document

    tree = parse_page(path.read_bytes(), name=path.name)
    for xpath in ignore:
        for element in tree.xpath(xpath):
            element.drop_tree()
    for element in tree.xpath("//script|//style|//noscript|//head|//template"):
        element.drop_tree()
    regions = [element for xpath in article for element in tree.xpath(xpath)]

    def lines(root: Any) -> list[str]:
        # Each block's own text: a block holding no other block whole, else the text
        # between its inner blocks; a <pre> line by line.
        out: list[str] = []
        for element in root.iter(*_BLOCKS):
            if element.tag == "pre":
                out.extend(" ".join(line.split()) for line in element.text_content().splitlines()
                           if line.strip())
                continue
            if any(inner is not element for inner in element.iter(*_BLOCKS)):
                own = [element.text or ""]
                for child in element:
                    inline = isinstance(child.tag, str) and child.tag not in _BLOCKS and not any(
                        True for _ in child.iter(*_BLOCKS))
                    own.append((child.text_content() if inline else "") + (child.tail or ""))
                text = " ".join("".join(own).split())
            else:
                text = " ".join(element.text_content().split())
            if text:
                out.append(text)
        return out

    def sentences(texts: list[str]) -> list[str]:
        doc = Document("page", "", "".join(t + "\n" for t in texts))
        return [s.text for s in split_document(doc) if len(fold(s.text).split()) >= 1]

    article_lines: list[str] = []
    for region in regions:
        article_lines.extend(lines(region))
    for region in regions:
        region.drop_tree()
    body = tree.find("body")
    boiler_lines = lines(body) if body is not None else []
    return sentences(article_lines), sentences(boiler_lines)


def measure(text: str, article: list[str], boiler: list[str]) -> dict[str, Any]:
    """Share of the article's sentences kept and of the extracted sentences that are
    boilerplate."""
    from quotebot.models import Document
    from quotebot.sentences import split_document

    folded = fold(text)
    kept = sum(1 for s in article if fold(s) in folded)
    article_text = fold(" ".join(article))
    boiler_folded = {fold(s) for s in boiler}
    extracted = [fold(s.text) for s in split_document(Document("x", "", text))]
    # A sentence is boilerplate when it is a boilerplate sentence, or found only there.
    boiler_in = sum(1 for s in extracted
                    if s not in article_text and (s in boiler_folded or any(
                        s in b for b in boiler_folded)))
    return {"article_sentences": len(article), "kept": kept,
            "kept_share": kept / len(article) if article else 1.0,
            "extracted_sentences": len(extracted), "boilerplate": boiler_in,
            "boilerplate_share": boiler_in / len(extracted) if extracted else 0.0}


def extract(data: bytes, name: str, options: dict[str, Any] | None) -> str:
    """The page's text as quotebot reads it with ``options`` (None: trafilatura alone)."""
    import trafilatura

    from quotebot.ingest.html import read_page

    if options is None:
        return trafilatura.extract(data, include_comments=False) or ""
    return read_page(data, doc_id="page", name=name, options=options).doc.text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    manifest = json.loads((PAGES / "pages.json").read_text(encoding="utf-8"))
    sets: dict[str, dict[str, Any] | None] = {"trafilatura alone": None, **OPTION_SETS}
    results: dict[str, Any] = {"pages": {}, "totals": {}}
    totals = {name: {"article": 0, "kept": 0, "extracted": 0, "boilerplate": 0}
              for name in sets}
    for page in manifest["pages"]:
        path = (PAGES / page["file"]).resolve()
        article, boiler = gold(path, page["article"], page["ignore"])
        data = path.read_bytes()
        row: dict[str, Any] = {"kind": page["kind"]}
        for name, options in sets.items():
            figures = measure(extract(data, path.name, options), article, boiler)
            row[name] = figures
            total = totals[name]
            total["article"] += figures["article_sentences"]
            total["kept"] += figures["kept"]
            total["extracted"] += figures["extracted_sentences"]
            total["boilerplate"] += figures["boilerplate"]
        results["pages"][path.name] = row
    for name, total in totals.items():
        results["totals"][name] = {
            "kept_share": total["kept"] / total["article"],
            "boilerplate_share": total["boilerplate"] / max(1, total["extracted"]),
            "worst_page_kept_share": min(row[name]["kept_share"]
                                         for row in results["pages"].values()),
            "worst_page_boilerplate_share": max(row[name]["boilerplate_share"]
                                                for row in results["pages"].values())}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    names = list(sets)
    print("kept = article sentences kept (target >= 95%); boiler = extracted sentences that "
          "are boilerplate (target <= 2%)\n")
    print(f"{'page':36} {'kind':22} " + " ".join(f"{n[:18]:>18}" for n in names))
    for file, row in results["pages"].items():
        cells = [f"{row[n]['kept_share']:6.1%} / {row[n]['boilerplate_share']:5.1%}"
                 for n in names]
        print(f"{file[:36]:36} {row['kind'][:22]:22} " + " ".join(f"{c:>18}" for c in cells))
    cells = [f"{results['totals'][n]['kept_share']:6.1%} / "
             f"{results['totals'][n]['boilerplate_share']:5.1%}" for n in names]
    print(f"{'all pages':36} {'':22} " + " ".join(f"{c:>18}" for c in cells))
    print()
    for n in names:
        t = results["totals"][n]
        print(f"{n:22} kept {t['kept_share']:6.1%} (worst page {t['worst_page_kept_share']:6.1%})"
              f", boilerplate {t['boilerplate_share']:5.1%} (worst page "
              f"{t['worst_page_boilerplate_share']:5.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
