"""Query expansion: a small table of related words, and typo correction against the index.

Expansions are weighted below the question's own words so that they can only help
when the literal words fail; corrections happen only for words the index lacks.
"""

from __future__ import annotations

from collections.abc import Mapping

from rapidfuzz import process
from rapidfuzz.distance import OSA

# Related words, by normalised (unstemmed) question word. Kept small and general:
# travel verbs, saying verbs, violence nouns and their verbs, common place aliases.
RELATED: Mapping[str, tuple[str, ...]] = {
    "went": ("travelled", "traveled", "flew", "visited", "visit", "trip"),
    "go": ("travel", "fly", "visit", "trip"),
    "goes": ("travels", "flies", "visits"),
    "gone": ("travelled", "flown", "visited"),
    "travel": ("went", "flew", "visited", "trip"),
    "travelled": ("went", "flew", "visited", "trip"),
    "traveled": ("went", "flew", "visited", "trip"),
    "flew": ("travelled", "went", "visited", "trip"),
    "fly": ("travel", "visit", "trip"),
    "visit": ("travel", "trip", "went"),
    "visited": ("travelled", "went", "flew", "trip"),
    "trip": ("visit", "travelled"),
    "say": ("said", "told", "tell", "says", "stated"),
    "says": ("said", "told", "say"),
    "said": ("say", "told", "says"),
    "tell": ("told", "said", "say"),
    "told": ("said", "say", "tell"),
    "speak": ("spoke", "told", "said", "talk", "meeting"),
    "spoke": ("speak", "told", "said", "talk"),
    "talk": ("told", "said", "spoke", "speak"),
    "us": ("america", "american", "united", "states"),
    "usa": ("america", "american", "us"),
    "america": ("us", "american", "usa"),
    "uk": ("britain", "british", "england"),
    "britain": ("uk", "british"),
    "stabbed": ("stabbings", "stabbing", "knife"),
    "stab": ("stabbings", "knife"),
    "stabbings": ("stabbed", "knife"),
    "shot": ("shootings", "shooting", "shoot", "gun"),
    "shoot": ("shootings", "shot", "gun"),
    "killed": ("homicides", "murder", "killings", "fatal", "deaths", "died"),
    "kill": ("homicide", "murder", "killing", "fatal"),
    "killings": ("homicides", "murders", "killed"),
    "murdered": ("murder", "homicide", "killed"),
    "murders": ("homicides", "killings"),
    "dead": ("fatal", "killed", "died", "deaths"),
    "died": ("dead", "fatal", "deaths", "killed"),
    "death": ("fatal", "killed", "died", "dead"),
    "deaths": ("fatal", "killed", "died", "dead"),
    "police": ("policing", "officers", "met", "nypd"),
    "officers": ("police", "officials"),
    "won": ("defeated", "beat", "victory", "win", "champion"),
    "win": ("won", "defeated", "victory", "champion"),
    "beat": ("defeated", "won"),
    "lost": ("defeated", "loss"),
    "started": ("began", "start", "launched"),
    "began": ("started", "start"),
    "begin": ("start", "started"),
    "start": ("began", "started", "begin"),
    "ended": ("finished", "end"),
    "finished": ("ended", "completed"),
    "made": ("created", "built"),
    "created": ("made", "founded", "established"),
    "founded": ("established", "created"),
    "bought": ("purchased", "acquired"),
    "buy": ("purchase", "acquire"),
    "paid": ("cost", "pay", "price"),
    "cost": ("paid", "price", "spent"),
    "price": ("cost", "paid"),
    "played": ("performed", "play"),
    "performed": ("played", "performance"),
    "sang": ("performed", "sing", "song"),
    "large": ("big", "biggest", "largest"),
    "big": ("large", "largest", "biggest"),
    "biggest": ("largest", "most"),
    "largest": ("biggest", "most"),
    "rise": ("risen", "increase", "rose"),
    "increase": ("risen", "rise", "rose", "grew"),
    "teenagers": ("young", "youth"),
    "young": ("youth", "teenagers"),
    "youth": ("young", "teenagers"),
    "jail": ("prison", "prisons", "jailing"),
    "prison": ("jail", "prisons", "jailing"),
    "crime": ("crimes", "criminal"),
    "city": ("capital",),
    "capital": ("city",),
}


def correct(word: str, vocabulary: Mapping[str, int]) -> str | None:
    """The vocabulary word a misspelt ``word`` most likely meant, or None.

    Short words are easily other real words ("shot" is one edit from "show"), so
    words of four or five letters are corrected only for swapped letters ("yrok" →
    "york"); longer words by one edit, and from eight letters by two. Ties go to
    the more frequent word.
    """
    if len(word) < 4 or not word.isalpha() or word in vocabulary:
        return None
    max_edits = 2 if len(word) >= 8 else 1
    matches = process.extract(
        word, vocabulary.keys(), scorer=OSA.distance, score_cutoff=max_edits, limit=25
    )
    best: tuple[int, int, str] | None = None
    for candidate, distance, _ in matches:
        if not candidate.isalpha() or abs(len(candidate) - len(word)) > max_edits:
            continue
        # Typos rarely hit the first letter; a different first letter is another word
        # ("fallen" is not "allen"), unless two letters were swapped.
        swapped = _is_swap(word, candidate)
        if (len(word) < 6 or candidate[0] != word[0]) and not swapped:
            continue
        key = (int(distance), -vocabulary[candidate], candidate)
        if best is None or key < best:
            best = key
    return best[2] if best else None


def _is_swap(a: str, b: str) -> bool:
    """True when ``b`` is ``a`` with two adjacent letters swapped."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and (
        a[diff[1]] == b[diff[0]])
