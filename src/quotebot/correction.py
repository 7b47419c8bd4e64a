"""Typo correction against the corpus's own words, with bounded work per word.

Candidates come from a deletion index built with the index (every word, and every word
with one letter deleted, by hash): a misspelt word's candidates are the words sharing a
key with it or with its own deletions, found by a few binary searches whatever the size
of the vocabulary. They are then checked with the optimal-string-alignment distance
(adjacent swaps count as one edit).

Short words are easily other real words ("shot" is one edit from "show"), so short
words are corrected only for swapped letters ("yrok" → "york"), longer ones by one
edit, and long ones by two (those found through the deletion index: two insertions,
or an insertion with a deletion or substitution). Ties go to the more frequent word.
"""

from __future__ import annotations

import numpy as np
from rapidfuzz.distance import OSA

from quotebot.store.build import deletion_keys
from quotebot.store.files import hash_bytes
from quotebot.store.model import Words
from quotebot.tuning import Correction


def correct(word: str, words: Words, rules: Correction) -> str | None:
    """The corpus word a misspelt ``word`` (normalised) most likely meant, or None."""
    if len(word) < rules.min_length or not word.isalpha() or words.count_of(word) > 0:
        return None
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
        if (len(word) < rules.one_edit_length or candidate[0] != word[0]) and not swapped:
            continue
        key = (distance, -count, candidate)
        if best is None or key < best:
            best = key
    return best[2] if best else None


def is_swap(a: str, b: str) -> bool:
    """True when ``b`` is ``a`` with two adjacent letters swapped."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and (
        a[diff[1]] == b[diff[0]])
