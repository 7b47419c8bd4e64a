"""Typo correction against the corpus's own words, with bounded work per word.

Candidates come from a deletion index built with the index (every word, and every word
with one letter deleted, by hash): a misspelt word's candidates are the words sharing a
key with it or with its own deletions, found by a few binary searches whatever the size
of the vocabulary. They are then checked with the optimal-string-alignment distance
(adjacent swaps count as one edit).

Short words are easily other real words ("shot" is one edit from "show"), so short
words are corrected only for swapped letters ("yrok" → "york"), longer ones by one
edit, and long ones by two (those found through the deletion index: two insertions,
or an insertion with a deletion or substitution). A short word typed in lower case that
is no English word at all ("mayr": neither the corpus nor lemminflect's English lexicon
knows it) is not another real word, so it may be corrected by one edit too ("mayor").
Ties go to the more frequent word. Words longer than ``max_length`` are left alone: their
deletion keys grow with the square of their length, and no word of running text is that long.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rapidfuzz.distance import OSA

from quotebot.store.build import deletion_keys
from quotebot.store.files import hash_bytes
from quotebot.store.model import Words
from quotebot.tuning import Correction


def correct(word: str, words: Words, rules: Correction, *, typed_lower: bool = False
            ) -> str | None:
    """The corpus word a misspelt ``word`` (normalised) most likely meant, or None.

    ``typed_lower``: the user typed the word in lower case (not as a name), so a short word
    that is no English word may be corrected by one edit (see the module's docstring).
    """
    if (not rules.min_length <= len(word) <= rules.max_length or not word.isalpha()
            or words.count_of(word) > 0):
        return None
    one_edit_length = rules.one_edit_length
    if typed_lower and len(word) < one_edit_length and not is_english_word(word):
        one_edit_length = rules.min_length
    max_edits = 2 if len(word) >= rules.two_edit_length else 1
    keys = set(deletion_keys(word))
    if max_edits == 2:
        keys.update(k2 for k1 in list(keys) for k2 in deletion_keys(k1))
    hashes = np.fromiter((hash_bytes(k.encode("utf-8", "surrogatepass")) for k in keys),
                         dtype=np.uint64, count=len(keys))
    best: tuple[int, int, str] | None = None
    for wid in words.with_keys(hashes).tolist():
        count = int(words.count[wid])
        if count <= 0:
            continue  # a word of documents since removed
        candidate = words.strings.string(wid)
        if abs(len(candidate) - len(word)) > max_edits:
            continue
        distance = OSA.distance(word, candidate)
        if distance > max_edits:
            continue
        # Typos rarely hit the first letter; a different first letter is another word
        # ("fallen" is not "allen"), unless two letters were swapped.
        swapped = is_swap(word, candidate)
        if (len(word) < one_edit_length or candidate[0] != word[0]) and not swapped:
            continue
        key = (distance, -count, candidate)
        if best is None or key < best:
            best = key
    return best[2] if best else None


@lru_cache(maxsize=1 << 14)
def is_english_word(word: str) -> bool:
    """Whether lemminflect's English lexicon knows ``word`` as a form of some word."""
    from lemminflect import getAllLemmas

    return bool(getAllLemmas(word))


def is_swap(a: str, b: str) -> bool:
    """True when ``b`` is ``a`` with two adjacent letters swapped."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and (
        a[diff[1]] == b[diff[0]])
