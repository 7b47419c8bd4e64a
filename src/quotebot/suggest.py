"""Example questions for a corpus, made from its own sentences.

A number gives "How many …?", a person's name "Who is …?", a date "When did …?", a
sentence's subject "Who … ?" and a document's title "What is …?". A question is kept
only when the engine, asked it, answers by quoting first the sentence it was made
from, so every example is one the corpus really answers. Only a bounded number of
sentences is read and asked about, so this stays fast on any corpus.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from quotebot.errors import QuotebotError
from quotebot.models import Sentence

if TYPE_CHECKING:
    from quotebot.engine import QuoteEngine

#: Sentences read per document, documents read, and questions asked at most.
SENTENCES_PER_DOCUMENT = 60
DOCUMENTS = 5
MAX_CHECKS = 40
MAX_QUESTION = 80

_WORD = r"[^\W\d_][\w’'-]*"
_CAPITALISED = r"[A-Z][\w’'-]*"
_NAME = re.compile(rf"(?<![\w’'-])(?:(?:Mr|Mrs|Ms|Dr|Sir|Dame)\.?\s+)?"
                   rf"(?P<name>{_CAPITALISED}(?:\s+{_CAPITALISED}){{1,2}})(?![\w’'-])")
_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
           "December")
_DATE = re.compile(rf"\b(?:(?:{_MONTHS})(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?|"
                   rf"\d{{1,2}}\s+(?:{_MONTHS})|(?:in|since|by|until)\s+(?:1[89]|20)\d\d|"
                   rf"(?:last|this|next)\s+(?:week|month|year|summer|winter|spring|autumn))\b")
_COUNT = re.compile(r"(?<![\w.,])(?P<number>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s+"
                    r"(?P<noun>(?:[a-z][a-z-]+\s+){0,2}?[a-z][a-z-]{2,}s)\b")
#: Words that a name never starts or ends with, and words after a number that count time.
_NOT_NAME = frozenset("The A An In On At During After Before From For To Of And But Or If As "
                      "When While With By This That These Those It Its He She They We I You "
                      "His Her Their Our Last Next Earlier Later Monday Tuesday Wednesday "
                      "Thursday Friday Saturday Sunday".split()) | frozenset(_MONTHS.split("|"))
_PLACE_WORDS = frozenset("City Street Road Square Hall Yard Park River Bridge Centre Center "
                         "Department Office Unit Police Council Councils Court Church School "
                         "University College Hospital Station Airport Bank House Party Group "
                         "Committee Ministry Agency Company Times Post News Standard".split())
#: Words after a name that show it is a person's: verbs of saying and meeting (not "is" or
#: "has", which a loch or a company has as much as a person).
_AFTER_PERSON = frozenset("said says told tells met announced added warned asked wrote "
                          "visited called explained".split())
_BEFORE_PLACE = frozenset("to in from at into near across around towards via".split())
_STOP_OBJECT = frozenset("on in at during from last this next for since after before when "
                         "while who which that because as with by where until".split())
_NOT_COUNTED = frozenset("years months weeks days hours minutes seconds times per cents".split())
_NOT_SUBJECT = frozenset("who which that it he she they we i you there this these those "
                         "and but or".split())
#: Words that show a subject or an object is part of a clause, not a phrase of its own
#: ("small malt whisky distillery that", "and four uninhabited islands").
_DANGLING = frozenset("of the a an to for with in on at by from and or was were is are be "
                      "been its their his her our my your this that".split())
_CLAUSE_WORDS = frozenset("who whom whose which that where when and or but nor if "
                          "because".split())
_KINDS = ("how many", "who is", "when", "who did", "what")


def suggest_questions(engine: QuoteEngine, doc: str | None = None, n: int = 3) -> list[str]:
    """Up to ``n`` questions that ``engine`` answers by quoting the sentence each was made
    from, one of each kind first; the same corpus always gives the same questions."""
    if n <= 0:
        return []
    # Headings name sections: a question is made from what a section says, never its title.
    sentences = [s for s in _sentences(engine, doc) if not _is_heading(engine, s)]
    titles = _titles(engine, doc)
    by_kind: dict[str, list[tuple[str, Sentence]]] = {kind: [] for kind in _KINDS}
    for sentence in sentences:
        for kind, question in _questions(sentence.text):
            by_kind[kind].append((question, sentence))
    for title, first in titles:
        by_kind["what"].append((f"What is {title}?", first))
    kept: list[str] = []
    seen: set[str] = set()
    checks = 0
    for question, sentence in _round_robin(by_kind):
        if len(kept) >= n or checks >= MAX_CHECKS:
            break
        key = question.casefold()
        if key in seen or len(question) > MAX_QUESTION:
            continue
        seen.add(key)
        checks += 1
        if _answers_with(engine, question, sentence):
            kept.append(question)
    return kept


_MADE: weakref.WeakKeyDictionary[QuoteEngine, dict[int, list[str]]] = \
    weakref.WeakKeyDictionary()
_MADE_LOCK = threading.Lock()


def examples_for(engine: QuoteEngine, n: int = 3) -> list[str]:
    """:func:`suggest_questions` over the whole of ``engine``, made once per engine (a
    library's changed index is a new engine): front ends ask for them on every greeting."""
    with _MADE_LOCK:
        made = _MADE.get(engine, {}).get(n)
    if made is None:
        made = suggest_questions(engine, n=n)
        with _MADE_LOCK:
            _MADE.setdefault(engine, {})[n] = made
    return list(made)


def with_examples(message: str, examples: list[str]) -> str:
    """``message`` followed by example questions, as an error or a greeting offers them."""
    if not examples:
        return message
    quoted = " or ".join(f"“{q}”" for q in examples[:2])
    return f"{message} For example: {quoted}"


def _is_heading(engine: QuoteEngine, sentence: Sentence) -> bool:
    from quotebot.sentences import heading_at

    try:
        return heading_at(engine.document(sentence.doc).text, sentence.start)
    except QuotebotError:
        return False


def _sentences(engine: QuoteEngine, doc: str | None) -> Iterator[Sentence]:
    """The first sentences of ``doc``, or of the corpus's first documents."""
    first = 0
    read = 0
    for info in engine.documents:
        if doc is None or info.id == doc:
            for sid in range(first, first + min(info.sentences, SENTENCES_PER_DOCUMENT)):
                if sid >= engine.index.n_sentences:
                    break
                sentence = engine.index.sentence(sid)
                if sentence.doc != info.id:  # not laid out document by document
                    break
                yield sentence
            read += 1
            if read >= (1 if doc is not None else DOCUMENTS):
                return
        first += info.sentences


def _titles(engine: QuoteEngine, doc: str | None) -> list[tuple[str, Sentence]]:
    """(title, first sentence) of the documents read, where the title is words, not a
    file name."""
    out = []
    first = 0
    for info in engine.documents[:DOCUMENTS] if doc is None else engine.documents:
        if (doc is None or info.id == doc) and info.sentences and " " in info.title.strip() \
                and first < engine.index.n_sentences:
            out.append((info.title.strip(), engine.index.sentence(first)))
        first += info.sentences
    return out


def _round_robin(by_kind: dict[str, list[tuple[str, Sentence]]]
                 ) -> Iterator[tuple[str, Sentence]]:
    queues = [list(reversed(items)) for items in by_kind.values()]
    while any(queues):
        for queue in queues:
            if queue:
                yield queue.pop()


def _answers_with(engine: QuoteEngine, question: str, sentence: Sentence) -> bool:
    try:
        answer = engine.answer_question(question)
    except QuotebotError:
        return False
    if not answer.answered or not answer.quotes:
        return False
    quote = answer.quotes[0]
    return (quote.doc, quote.start, quote.end) == (sentence.doc, sentence.start, sentence.end)


# -- making questions --------------------------------------------------------------------------


def _questions(text: str) -> Iterator[tuple[str, str]]:
    """(kind, question) pairs made from one sentence."""
    for match in _COUNT.finditer(text):
        noun = match["noun"]
        if noun.split()[-1] not in _NOT_COUNTED and not _looks_like_year(match["number"]):
            yield "how many", f"How many {noun}?"
    for name in _people(text):
        yield "who is", f"Who is {name}?"
    clause = _subject_verb_object(text)
    if clause is not None:
        subject, lemma, past, rest = clause
        if _DATE.search(text):
            yield "when", f"When did {subject} {lemma}{' ' + rest if rest else ''}?"
        if rest:
            yield "who did", f"Who {past} {rest}?"


def _looks_like_year(number: str) -> bool:
    return len(number) == 4 and number.isdigit() and 1800 <= int(number) <= 2100


def _people(text: str) -> Iterator[str]:
    """Names of people in ``text``: capitalised words that are not a place or an
    organisation, followed by a comma and a role, or by a verb of saying or doing."""
    for match in _NAME.finditer(text):
        words = match["name"].split()
        if words[0] in _NOT_NAME or words[-1] in _NOT_NAME:
            continue
        if any(w in _PLACE_WORDS or w.isupper() for w in words):
            continue
        before = text[:match.start()].split()
        if before and before[-1].lower() in _BEFORE_PLACE:
            continue
        after = text[match.end():]
        next_word = after.split()[0].strip(",.;:").lower() if after.split() else ""
        role = after.startswith(", ") and after[2:3].islower() and after[2:].split(
            maxsplit=1)[0] in ("the", "a", "an", "who", "chief", "head", "leader", "director")
        if role or next_word in _AFTER_PERSON:
            yield match["name"]


def _subject_verb_object(text: str) -> tuple[str, str, str, str] | None:
    """(subject, verb lemma, verb as written, what follows) of the first clause whose verb
    is in the past tense, e.g. ("Sophie Linden", "meet", "met", "senior NYPD officials")."""
    words = text.split()
    for i, word in enumerate(words[1:], start=1):
        bare = word.strip(",.;:!?“”\"'")
        if not bare.islower() or bare != word.rstrip(",.;:!?"):
            continue
        lemma = _past_tense_lemma(bare)
        if lemma is None:
            continue
        subject = _subject(words[:i])
        if subject is None or subject.split()[-1].lower() in _CLAUSE_WORDS:
            return None
        rest: list[str] = []
        for following in words[i + 1:i + 7]:
            if following[:1] in "“\"‘'(":
                break
            clean = following.strip("“”\"")
            if clean.lower().strip(",.;:!?") in _STOP_OBJECT or _DATE.match(clean):
                break
            rest.append(clean.rstrip(",.;:!?"))
            if clean != clean.rstrip(",.;:!?"):
                break
        if rest and rest[0].lower() in _CLAUSE_WORDS:
            return None
        # An object cut short ends on a whole phrase, not on "of" or "the".
        while rest and rest[-1].lower() in _DANGLING:
            rest.pop()
        return subject, lemma, bare, " ".join(w for w in rest if w)
    return None


def _subject(words: list[str]) -> str | None:
    """The subject before a verb: the name just before it, or the words of its clause."""
    clause: list[str] = []
    for word in reversed(words):
        if word.endswith((",", ";", ":")) or len(clause) >= 5:
            break
        clause.insert(0, word)
    if not clause or any(not re.fullmatch(r"[\w’'-]+", w) for w in clause):
        return None
    if clause[0].lower() in _NOT_SUBJECT or _DATE.search(" ".join(clause)):
        return None
    name: list[str] = []
    for word in reversed(clause):
        if not word[:1].isupper() or word in _NOT_NAME:
            break
        name.insert(0, word)
    if len(name) >= 2:
        return " ".join(name)
    if clause[0] in _NOT_NAME and clause[0] not in ("The", "A", "An"):
        return None
    if len(words) == len(clause) and _is_common_word(clause[0]):
        clause = [clause[0].lower(), *clause[1:]]  # capitalised only as the sentence's start
    return " ".join(clause)


@lru_cache(maxsize=4096)
def _is_common_word(word: str) -> bool:
    from lemminflect import getAllLemmas

    return word in ("The", "A", "An") or bool(getAllLemmas(word.lower()))


@lru_cache(maxsize=4096)
def _past_tense_lemma(word: str) -> str | None:
    """The verb's base form when ``word`` is a verb's simple past ("met" → "meet")."""
    from lemminflect import getInflection, getLemma

    if len(word) < 3 or not re.fullmatch(r"[a-z]+", word):
        return None
    for lemma in getLemma(word, upos="VERB"):
        if lemma != word and word in getInflection(lemma, tag="VBD"):
            return str(lemma)
    return None
