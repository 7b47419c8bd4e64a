"""Deterministic synthetic corpora for the benchmarks (imported by bench_scale.py).

Two kinds:

- ``zipf_tokens``: token lists of made-up words ("w17") drawn from a bounded Zipf
  distribution over a 50,000-word vocabulary, 8-30 tokens a sentence. Every system gets
  exactly these lists, so their BM25 scores can be compared one for one.
- ``write_news``: English-like news text for quotebot's own pipeline (Punkt sentences,
  Unicode normalisation, Snowball stemming, stop words, numbers, hyphenated words).
  Words are the ~90,000 forms of lemminflect's English lexicon (a quotebot dependency,
  so no download) under a Zipf law, mixed with stop words at their usual share of
  running text, numbers, names after titles ("Mr. Okafor"), commas and quotes; articles
  of about 40 sentences in paragraphs of 1-5 sentences, one file per article.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

SEED = 20261124
VOCAB = 50_000
ZIPF_EXPONENT = 1.1


def bounded_zipf(rng: np.random.Generator, n_words: int, size: int,
                 exponent: float = ZIPF_EXPONENT) -> npt.NDArray[np.int64]:
    """``size`` word ranks in [0, n_words) with P(rank r) proportional to (r + 1)^-exponent.

    Bounded, unlike ``Generator.zipf``, whose unbounded tail would pile onto the last
    word when clipped to the vocabulary and make it one of the most common ones.
    """
    weights = np.arange(1, n_words + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def zipf_tokens(n: int, seed: int = SEED) -> list[list[str]]:
    """``n`` sentences of 8-30 Zipf-distributed words; the same lists for every system."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(8, 31, size=n)
    ids = bounded_zipf(rng, VOCAB, int(lengths.sum()))
    words = np.array([f"w{i}" for i in range(VOCAB)], dtype=object)
    flat = words[ids].tolist()
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends[:-1]]
    return [flat[a:b] for a, b in zip(starts, ends, strict=True)]


def zipf_queries(n: int, seed: int = SEED + 1) -> list[list[str]]:
    """``n`` queries of 2-4 words: mostly mid-frequency words, some common, some rare."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        size = int(rng.integers(2, 5))
        out.append([f"w{int(i)}" for i in rng.integers(5, 5000, size=size)])
    return out


# -- English-like news text ------------------------------------------------------------------

_STOP = ("the of and to a in that is was for on it with as he said at by his be from "
         "have has an are they this not but had were their which been who she her will "
         "would there or its we when after more all about up one out also than over them "
         "into can only other some could new two first our what them before if most these "
         "because through where how then while such no any against under between during "
         "each both very here those down off again why same few own so").split()
_TITLES = ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Sgt.", "Det.", "Gen.")


def _lexicon() -> tuple[list[str], list[str]]:
    """(common words, names): every form in lemminflect's lexicon, in a fixed order."""
    from lemminflect import Inflections

    table = Inflections()._getInflDict()
    forms: set[str] = set()
    for lemma, by_tag in table.items():
        forms.add(lemma)
        for variants in by_tag.values():
            forms.update(variants)
    words = sorted(f for f in forms if f.isalpha() and f.islower())
    names = sorted(f for f in forms if f.isalpha() and f[:1].isupper() and f[1:].islower())
    return words, names


def write_news(n: int, out: Path, seed: int = SEED, per_doc: int = 40) -> Path:
    """Write about ``n`` sentences of news-like text as articles under ``out``; returns it."""
    rng = np.random.default_rng(seed)
    words, names = _lexicon()
    rng.shuffle(words)
    rng.shuffle(names)
    word_arr = np.array(words, dtype=object)
    name_arr = np.array(names, dtype=object)
    stop_arr = np.array(_STOP, dtype=object)
    lengths = rng.integers(8, 31, size=n)
    total = int(lengths.sum())
    # What each token is: a stop word (about 45% of running English), a content word,
    # a name, or a number.
    kind = rng.choice(4, size=total, p=[0.45, 0.47, 0.05, 0.03])
    content = word_arr[bounded_zipf(rng, len(words), total, 1.05)]
    stop = stop_arr[bounded_zipf(rng, len(_STOP), total, 1.0)]
    name = name_arr[bounded_zipf(rng, len(names), total, 1.1)]
    numbers = np.array(_numbers(rng, total), dtype=object)
    tokens = np.where(kind == 0, stop, np.where(kind == 1, content,
                                                np.where(kind == 2, name, numbers)))
    comma = rng.random(total) < 0.06
    tokens[comma] = [t + "," for t in tokens[comma].tolist()]
    titled = (kind == 2) & (rng.random(total) < 0.25)
    tokens[titled] = [f"{_TITLES[i % len(_TITLES)]} {t}" for i, t in
                      zip(rng.integers(0, 1 << 30, int(titled.sum())).tolist(),
                          tokens[titled].tolist(), strict=True)]
    hyphen = (kind == 1) & (rng.random(total) < 0.02)
    tokens[hyphen] = [t + "-based" for t in tokens[hyphen].tolist()]
    flat = tokens.tolist()
    enders = rng.choice([".", ".", ".", ".", ".", ".", "?", "!"], size=n).tolist()
    quoted = (rng.random(n) < 0.08).tolist()
    para_breaks = (rng.random(n) < 0.3).tolist()
    out.mkdir(parents=True, exist_ok=True)
    pos = 0
    doc: list[str] = []
    paragraph: list[str] = []
    n_docs = 0

    def flush_doc() -> None:
        nonlocal n_docs
        if paragraph:
            doc.append(" ".join(paragraph))
            paragraph.clear()
        if doc:
            title = f"# Report {n_docs + 1}"
            (out / f"article-{n_docs:06d}.txt").write_text(
                title + "\n\n" + "\n\n".join(doc) + "\n", encoding="utf-8")
            doc.clear()
            n_docs += 1

    for i, length in enumerate(lengths.tolist()):
        sentence = " ".join(flat[pos:pos + length]).rstrip(",")
        pos += length
        sentence = sentence[:1].upper() + sentence[1:] + enders[i]
        if quoted[i]:
            sentence = f"\u201c{sentence}\u201d"
        paragraph.append(sentence)
        if para_breaks[i] or len(paragraph) >= 5:
            doc.append(" ".join(paragraph))
            paragraph.clear()
        if (i + 1) % per_doc == 0:
            flush_doc()
    flush_doc()
    return out


def _numbers(rng: np.random.Generator, size: int) -> list[str]:
    """Numbers as news writes them: years, counts, thousands, decimals, ages."""
    form = rng.integers(0, 5, size=size)
    value = rng.integers(0, 100_000, size=size)
    out = []
    for f, v in zip(form.tolist(), value.tolist(), strict=True):
        if f == 0:
            out.append(str(1950 + v % 80))
        elif f == 1:
            out.append(str(v % 200))
        elif f == 2:
            out.append(f"{v:,}")
        elif f == 3:
            out.append(f"{v % 100}.{v % 10}")
        else:
            out.append(f"{16 + v % 70}-year-old")
    return out
