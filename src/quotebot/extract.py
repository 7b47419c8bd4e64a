"""Short answers: the number, name, time, place, phrase or clause a question asks for,
verbatim from a sentence.

Rules over tokens, capitalisation, number and date patterns and word classes
(:mod:`quotebot.phrases`; NLTK's taggers need downloaded models, which quotebot does
without). A short answer is a whole unit: an amount with its currency, scale and unit
("£48m", "900 million kronor"), a whole date or time ("Monday at 6pm"), a name without its
title ("Tomás Álvarez"), a whole noun phrase or list. Each rule returns a span of the
sentence or None: a wrong short answer is worse than none.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from quotebot.analysis import Token, analyse_word
from quotebot.lexicon import (
    ABBREVIATIONS,
    AUXILIARIES,
    COLOURS,
    COUNTERS,
    CURRENCIES,
    KIND_NOUNS,
    MEANS_MARKERS,
    MEASURE_ADJECTIVES,
    MONEY_WORDS,
    MONTH_ABBREVIATIONS,
    MONTHS,
    NAME_CONNECTORS,
    NAMING_VERBS,
    NAMING_WORDS,
    NUMBER_NOUNS,
    NUMBER_WORDS,
    ORDINALS,
    PARTICIPLE_PREPOSITIONS,
    PLACE_PREPOSITIONS,
    QUESTION_WORDS,
    REASON_MARKERS,
    ROLE_NOUNS,
    SCALE_WORDS,
    SHARE_NOUNS,
    SPEECH_VERBS,
    STOP_WORDS,
    TITLES,
    UNITS,
    WEEKDAYS,
    WHERE_NOUNS,
)
from quotebot.names import KnownName, can_be_name, looks_like_name
from quotebot.phrases import (
    AUX,
    CONJ,
    DET,
    FUNC,
    NOUN,
    PRON,
    VERB,
    may_be_verb,
    noun_phrase,
    noun_phrase_after,
    noun_phrase_before,
    word_classes,
)
from quotebot.question import Kind, Question, parse_question
from quotebot.tuning import Extraction, default_tuning

Span = tuple[int, int]

# A currency sign written before an amount, with a country's letters ("US$", "A$", "HK$").
_CURRENCY_BEFORE = re.compile(r"(?:\b[A-Z]{1,2})?[$£€¥₹]\Z")
_FRACTIONS = frozenset("½⅓⅔¼¾⅛")
# What may join two parts of one number: nothing ("5½"), a dash ("15–1", "24–10"), a colon
# ("11:28").
_NUMBER_JOIN = re.compile(r"|[-–:]")
# A number with its unit in one hyphenated word ("61-yard", "30-second").
_NUMBER_UNIT = re.compile(r"(\d[\d,.]*)-[^\W\d_][\w-]*")
# A month's name, or its abbreviation with or without its full stop ("Sept."): a full name
# takes none, so a date never swallows the sentence's full stop ("from 2 April.").
_MONTHS = "|".join([*(rf"{w.capitalize()}\b" for w in MONTHS),
                    *(rf"{w.capitalize()}\b\.?" for w in MONTH_ABBREVIATIONS)])
_WEEKDAYS = "|".join(w.capitalize() for w in WEEKDAYS)
# A day of the month ("6", "6th"), never the first digits of a year ("January 2025").
_DAY = r"\d{1,2}(?:st|nd|rd|th)?(?!\d)"
_YEAR = r"(?:1[0-9]|20)\d{2}(?!\d)"
# A time of day: "6pm", "6.30 p.m.", "noon"; after "at" also "18:00".
_CLOCK = r"\d{1,2}(?:[:.]\d{2})?\s?(?:[ap]\.m\.|[ap]m\b)|noon|midnight"
_AT_CLOCK = rf"\s+at\s+(?:{_CLOCK}|\d{{1,2}}[:.]\d{{2}}(?!\d))"
_PART_OF_DAY = r"\s+(?:morning|afternoon|evening|night)"
_MONTH_DATE = (rf"(?:(?:early|late|mid)[- ])?(?:{_MONTHS})(?:\s+{_DAY}"
               rf"(?:\s*(?:to|-|–|and)\s*{_DAY})?)?(?:,?\s+{_YEAR})?")
_DAY_MONTH = rf"{_DAY}(?:\s*(?:to|-|–|and)\s*{_DAY})?\s+(?:{_MONTHS})(?:,?\s+{_YEAR})?"
_DATE = rf"(?:(?:{_WEEKDAYS})(?:,?\s+(?:{_DAY_MONTH}|{_MONTH_DATE}))?|{_DAY_MONTH}|{_MONTH_DATE})"
_ORDINALS = "|".join(ORDINALS)
#: Time expressions, whole: "Monday at 6pm", "6 March 2024", "January 2025", "the 1990s",
#: "last month", "in 2015" (the preposition is trimmed off the answer).
TIME_RE = re.compile(
    rf"\b{_DATE}(?:{_PART_OF_DAY})?(?:,?{_AT_CLOCK})?"
    rf"|\b(?:{_CLOCK})(?:\s+(?:on\s+)?{_DATE})?"
    r"|\b(?:last|this|next|earlier this|later this|early this|late last|the past|the last|"
    r"the previous|the following)\s+(?:week|month|year|decade|century|season|weekend|"
    r"spring|summer|autumn|fall|winter|morning|afternoon|evening|night)\b"
    r"|\b(?:yesterday|today|tomorrow|tonight|recently)\b(?:" + _PART_OF_DAY + r")?"
    r"|\b(?:the\s+)?(?:(?:early|late|mid)[- ]?)?(?:1[0-9]|20)?\d0s\b"
    r"|\b(?:the\s+)?(?:(?:early|late|mid)[- ]?)?(?:[12]?\d(?:st|nd|rd|th)|" + _ORDINALS
    + r")[- ]century\b"
    r"|\b(?:in|since|by|until|before|after|during)\s+(?:the\s+)?(?:early\s+|late\s+|mid-?)?"
    r"(?:1[0-9]|20)\d{2}(?:s|[-–]\d{2,4})?\b"
    r"|\b(?:1[5-9]|20)\d{2}(?:[-–]\d{2,4})?\b",
)


def number_tokens(tokens: Sequence[Token]) -> list[int]:
    """Indices of tokens that are numbers (digits or number words)."""
    return [i for i, t in enumerate(tokens)
            if t.surface[:1].isdigit() or t.norm in NUMBER_WORDS]


def name_spans(text: str, tokens: Sequence[Token],
               is_name: KnownName | None = None) -> list[tuple[int, int]]:
    """(first, last) token indices of capitalised phrases ("New York Police Department").

    A lone capitalised word at the start of a sentence counts when it is written like a
    name ("CBS", "QuickBooks") or ``is_name`` says so (the corpus capitalises it
    elsewhere); connectors ("of", "and", "for", "the") may join capitalised words.
    """
    spans: list[tuple[int, int]] = []
    i, n = 0, len(tokens)
    while i < n:
        if not _is_cap(tokens[i]):
            i += 1
            continue
        j = i
        while j + 1 < n:
            if _is_cap(tokens[j + 1]) and _in_one_name(text, tokens[j], tokens[j + 1]):
                j += 1
            elif (
                j + 2 < n
                and tokens[j + 1].norm in NAME_CONNECTORS
                and _is_cap(tokens[j + 2])
                and _adjacent(text, tokens[j], tokens[j + 1])
                and _adjacent(text, tokens[j + 1], tokens[j + 2])
            ):
                j += 2
            else:
                break
        first = i
        if i == 0 and j == 0 and (tokens[0].norm in STOP_WORDS or not looks_like_name(
                tokens[0].surface, at_start=True, known=is_name)):
            i = j + 1
            continue  # a lone capital at the start of a sentence is usually just a word
        if tokens[first].norm in STOP_WORDS and first < j:
            first += 1  # "The Mayor" → "Mayor"
        while first < j - 1 and tokens[first].norm in TITLES:
            first += 1  # "Critic Paul Hay" → "Paul Hay"
        spans.append((first, j))
        i = j + 1
    return spans


def _in_one_name(text: str, a: Token, b: Token) -> bool:
    """Whether two capitalised words may be one name: only spaces between them, or the
    full stop of an abbreviation ("St. George's Church"), or "&" ("Tiffany & Co")."""
    gap = text[a.end:b.start].strip()
    abbreviated = a.norm in ABBREVIATIONS and len(a.surface) <= 3
    initial = len(a.surface) == 1 and a.surface.isupper()  # "Albert C. Outler"
    return gap == "" or gap == "&" or (gap == "." and (abbreviated or initial))


def _is_cap(token: Token) -> bool:
    return can_be_name(token.surface)


def _adjacent(text: str, a: Token, b: Token) -> bool:
    """True when only spaces separate two tokens (no comma, quote or full stop)."""
    gap = text[a.end:b.start]
    return gap.strip() == ""


def extract(
    question: Question, text: str, tokens: Sequence[Token], matched: Mapping[int, int],
    is_name: KnownName | None = None, *, fill_gaps: bool = True,
    limits: Extraction | None = None,
) -> Span | None:
    """The short answer's character span in ``text`` (a sentence), or None when unsure.

    ``matched`` maps indices of sentence tokens that match the question's words to the
    position of that word among the question's concepts (0 = first). ``is_name`` tells
    whether a capitalised word at the start of the sentence is a name. ``fill_gaps``
    allows an untyped "what" question to be answered by the words that fill its gap.
    """
    limits = limits or default_tuning().extraction
    question = asked(question)
    kind = question.kind
    if kind is Kind.HOW_MANY or (kind is Kind.HOW and measure_asked(question) is not None):
        return _number_answer(text, tokens, matched, question)
    if kind is Kind.WHEN:
        return _time_answer(text, tokens, matched, question, limits)
    if kind is Kind.WHO:
        named = _who_answer(text, tokens, matched, question, limits, is_name)
        if named is not None or question.wh_noun is not None:
            return named
        # "Who assists the elders?" → "[Deacons] assist elders …": a subject without a name
        # that opens a sentence holding the question's words.
        shape = question_shape(question)
        if shape.form != "subject" or not fill_gaps:
            return None
        subject = _phrase_answer(text, tokens, matched, question, shape)
        return subject if subject is not None and subject[0] == tokens[0].start else None
    if kind is Kind.WHERE:
        return _where_answer(text, tokens, matched, question, limits, is_name)
    if kind is Kind.WHY:
        return _reason_answer(text, tokens, matched)
    if kind is Kind.HOW:
        return _means_answer(text, tokens, matched, question)
    if kind is Kind.WHAT:
        if question.wh_noun in ("color", "colour"):
            return _colour_answer(tokens, question)
        shape = question_shape(question)
        if shape.verb is not None and shape.verb.norm in SPEECH_VERBS and shape.head is None:
            return None  # "what did the union say?": the quote is the answer
        if _asks_for_a_number(question, shape):
            return _number_answer(text, tokens, matched, question)
        # A name tied to the question's noun ("which [group]" → "the London Councils
        # group"), the phrase the noun heads ("what kind of [measurements]"), any name near
        # the question's words, then the noun phrase the question's shape asks for.
        as_name = replace(question, wh_noun=shape.head)
        keep = frozenset(question.tokens[i].norm for i in shape.phrase)
        wants_name = _asks_for_a_name(question, shape)
        if wants_name:
            named = _who_answer(text, tokens, matched, as_name, limits, is_name, keep,
                                linked_only=True)
            if named is not None:
                return named
        if shape.head in ROLE_NOUNS and matched:
            role = _role_answer(text, tokens, matched)
            if role is not None:
                return role
        if shape.head is not None and matched:
            headed = _headed(text, tokens, word_classes(tokens), question, shape.head)
            if headed is not None:
                return headed
        if wants_name:
            named = _who_answer(text, tokens, matched, as_name, limits, is_name, keep)
            if named is not None:
                return named
        phrase = _phrase_answer(text, tokens, matched, question, shape)
        if phrase is not None:
            return phrase
        if shape.form == "subject" and shape.head is None:
            # "What caused the split?" → "the American Revolution": a name where the doer is.
            named = _who_answer(text, tokens, matched, as_name, limits, is_name, keep)
            if named is not None:
                return named
        return _what_answer(text, tokens, matched, question, limits) if fill_gaps else None
    return None


def needs(question: Question) -> int:
    """What a sentence must hold for :func:`extract` to find an answer in it, as form
    flags (see quotebot.store.model): a number for "how many" and measures, a time
    expression for "when"; 0 when the rules can find an answer in any sentence."""
    from quotebot.store.model import NUMBER, TIME

    question = asked(question)
    kind = question.kind
    if kind is Kind.HOW_MANY or (kind is Kind.HOW and measure_asked(question) is not None):
        return NUMBER
    if kind is Kind.WHEN:
        return TIME
    return 0


def asked(question: Question) -> Question:
    """The question with the kind its question word asks for, where that word comes late
    ("The UMC was a founding member of what coalition?", "… in what year?")."""
    clause = _SECOND_QUESTION.search(question.text)
    if clause is not None:
        # "When John Fox left, who replaced him?": the question after the clause.
        tail = parse_question(question.text[clause.start(1):])
        return replace(question, kind=tail.kind, wh_noun=tail.wh_noun, copula=tail.copula,
                       head=tail.head)
    if question.kind not in (Kind.KEYWORDS, Kind.YES_NO):
        return question
    for token in question.tokens[1:]:
        if token.norm in QUESTION_WORDS:
            tail = parse_question(question.text[token.start:])
            if tail.kind in (Kind.KEYWORDS, Kind.YES_NO):
                return question
            return replace(question, kind=tail.kind, wh_noun=tail.wh_noun,
                           copula=tail.copula, head=tail.head)
    return question


# A question word opening a clause, then a comma and the question itself.
_SECOND_QUESTION = re.compile(r"^\s*(?:when|where|while|after|before|if|as)\b[^?,]*,\s*"
                              r"((?:who|whom|what|which|when|where|how)\b)", re.I)


@dataclass(frozen=True, slots=True)
class Shape:
    """Where a "what" question's gap is: ``head`` is the noun it asks about ("What
    [team] …", "What kind of [measurements] …"), ``form`` how the rest of the question
    uses it: "subject" ("What offers …?"), "object" ("What did X sing?"), "copula"
    ("What was the belief …?"); ``verb`` the question's verb and ``subject`` (for an
    object) who does it."""

    head: str | None
    #: The question's tokens that belong to the question phrase ("what kind of").
    phrase: frozenset[int]
    form: str | None
    verb: Token | None = None
    subject: tuple[Token, ...] = ()


def question_shape(q: Question) -> Shape:
    """The :class:`Shape` of ``q``."""
    tokens = q.tokens
    wh = next((i for i, t in enumerate(tokens) if t.norm in ("what", "which", "who", "whom")),
              None)
    if wh is None:
        return Shape(None, frozenset(), None)
    tags = word_classes(tokens)
    tags[wh] = FUNC
    k = wh + 1
    phrase = {wh}
    if k + 1 < len(tokens) and tokens[k].norm in KIND_NOUNS and tokens[k + 1].norm == "of":
        phrase.update((k, k + 1))
        k += 2
    head = None
    named = _NAME_OF_NOUN.match(q.text, tokens[wh].start)
    if named is not None:
        # "What is the name of Wesley's famous sermon …?": the noun asked about is "sermon".
        at = next((i for i, t in enumerate(tokens) if t.start >= named.end()), None)
        found = noun_phrase_after(q.text, tokens, tags, at) if at is not None else None
        if found is not None:
            last = next((i for i in range(found[0], found[1] + 1) if tokens[i].norm == "of"),
                        found[1] + 1) - 1
            return Shape(tokens[last].norm, frozenset({wh}), None)
    while k < len(tokens) and (tags[k] == NOUN or tokens[k].norm == "other" or (
            tags[k] == CONJ and k + 1 < len(tokens) and tags[k + 1] == NOUN)) and (
            tokens[k].norm not in AUXILIARIES):
        if _verb_after_what(tokens, tags, k):
            tags[k] = VERB  # "What [experiences] acceleration …?", "What [makes] friction …?"
            break
        if tags[k] == NOUN:
            head = k
        phrase.add(k)
        k += 1
    form = None
    verb: int | None = None
    subject: list[int] = []
    while k < len(tokens) and tags[k] == FUNC and tokens[k].norm.endswith("ly"):
        k += 1  # "What [directly] opposes …?"
    if k < len(tokens):
        nxt = tokens[k].norm
        after = tags[k + 1] if k + 1 < len(tokens) else None
        if nxt in ("is", "are", "was", "were", "'s"):
            form = "copula"
            if after == VERB:
                form, verb = "subject", k + 1  # "What was used to …?": the passive's subject
        elif tags[k] == VERB:
            form, verb = "subject", k
        elif tags[k] == AUX and after in (VERB, AUX):
            form, verb = "subject", k + 1  # "What can keep …?"
        elif tags[k] == AUX:
            # "What did Lady Gaga sing?", "What has the Met fallen behind …?": the verb ends
            # the words after the auxiliary, the subject comes before it.
            run = []
            j = k + 1
            while j < len(tokens) and (tags[j] in (NOUN, VERB, DET)
                                       or tokens[j].norm.endswith("ly")):
                if tags[j] in (NOUN, VERB) and not tokens[j].norm.endswith("ly"):
                    run.append(j)
                j += 1
            # The verb: the first word after the subject read as one ("John Wesley [call]
            # the experience"), else the last that may be one ("the Met [fallen] behind",
            # "strong force [act] upon").
            verbs = [n for n in range(1, len(run)) if may_be_verb(tokens[run[n]].norm)
                     and not can_be_name(tokens[run[n]].surface)]
            at = next((n for n in verbs if tags[run[n]] == VERB), verbs[-1] if verbs else None)
            if nxt in ("do", "does", "did") or at is not None:
                form = "object"
                if at is not None:
                    verb, subject = run[at], run[:at]
            else:
                form = "subject"  # "What has an equivalence …?": "has" is the verb
    if form == "copula" and tokens[-1].norm in ("called", "named", "known"):
        form, verb = "object", len(tokens) - 1  # "What are the particles called?"
    last = len(tokens) - 1
    if form == "copula" and wh < last - 2:
        # "What are the boxes able to connect to?", "What is the material broadcast using?":
        # the phrase after the question's last word.
        noun = tokens[head].norm if head is not None else None
        if tokens[last].is_stop and tags[last] == FUNC and not tokens[last - 1].is_stop:
            return Shape(noun, frozenset(phrase), "tail", tokens[last - 1])
        if tokens[last].norm in PARTICIPLE_PREPOSITIONS:
            return Shape(noun, frozenset(phrase), "tail", tokens[last])
    if wh == last or (wh == last - 1 and tokens[last].norm == "else"):
        # "The UMC maintains that war is incompatible with what?": the phrase after the
        # question's last word.
        before = [i for i in range(wh) if not tokens[i].is_stop]
        if before:
            form, verb = "tail", before[-1]
    return Shape(tokens[head].norm if head is not None else None, frozenset(phrase), form,
                 tokens[verb] if verb is not None else None,
                 tuple(tokens[i] for i in subject))


def _verb_after_what(tokens: Sequence[Token], tags: Sequence[str], k: int) -> bool:
    """Whether the word at ``k`` of a question is a verb in the present, with its object
    after it ("What [offers] a definition …?"), rather than the noun asked about ("What
    [forces] act …?")."""
    word = tokens[k].norm
    if not word.endswith("s") or not may_be_verb(word) or can_be_name(tokens[k].surface):
        return False
    if k + 1 >= len(tokens):
        return False
    after = tokens[k + 1]
    return tags[k + 1] == DET or (tags[k + 1] == NOUN and not may_be_verb(after.norm))


_NAME_OF_NOUN = re.compile(r"(?:what|which)\s+(?:is|was|were|are)\s+(?:the\s+)?(?:\w+\s+)?"
                           r"names?\s+of\s+", re.I)


def _asks_for_a_number(q: Question, shape: Shape) -> bool:
    """"What was the average cost …?", "What is the population …?": a number."""
    if shape.head is not None:
        return shape.head in NUMBER_NOUNS
    return shape.form == "copula" and q.head in NUMBER_NOUNS


def _asks_for_a_name(q: Question, shape: Shape | None = None) -> bool:
    """"What hotel …?", "Which building …?", "What is the name of …?": the answer is a name
    (a capitalised phrase), found as for "who" questions."""
    if _NAME_OF.search(q.text):
        return True
    if shape is not None:
        return shape.head is not None
    return q.wh_noun is not None and q.wh_noun not in AUXILIARIES and (
        q.wh_noun not in STOP_WORDS or q.wh_noun == "other")


def _colour_answer(tokens: Sequence[Token], q: Question) -> Span | None:
    """The one colour the sentence names, as a word or the first part of one ("gold" of
    "gold-themed"); none when it names two."""
    found: dict[str, Span] = {}
    for t in tokens:
        word = t.norm.split("-", 1)[0]
        if word in COLOURS and not _in_question(t, q) and word not in q.focus_norms:
            found.setdefault(word, (t.start, t.start + len(word)))
    # "golden" is gold: one colour, named by its shortest word.
    colours = {w: span for w, span in found.items()
               if not any(w != other and w.startswith(other) for other in found)}
    return next(iter(colours.values())) if len(colours) == 1 else None


def _in_question(token: Token, question: Question) -> bool:
    return token.norm in question.focus_norms or any(
        term in {t for q in question.content for t in q.terms} for term in token.terms
    )


def _distance(i: int, matched: Mapping[int, int]) -> int:
    return min((abs(i - m) for m in matched), default=99)


def _number_answer(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question
) -> Span | None:
    best: tuple[tuple[int, int, int, int], int] | None = None
    dates = [m.span() for m in TIME_RE.finditer(text)]
    measure = measure_asked(q)
    # "How much did it cost?" wants an amount of money; "What percentage of the money …?"
    # does not.
    percentage = q.wh_noun in ("percentage", "percent")
    money = any(t.norm in MONEY_WORDS for t in q.tokens) and q.wh_noun not in SHARE_NOUNS
    for i in number_tokens(tokens):
        tok = tokens[i]
        unit = _NUMBER_UNIT.fullmatch(tok.surface)  # "61-yard": the number is "61"
        if unit is not None:
            if unit.group(1) in q.focus_norms:
                continue
        elif _in_question(tok, q) or _looks_like_year(tok):
            continue
        if any(lo <= tok.start and tok.end <= hi for lo, hi in dates):
            continue  # "October 16, 2012" counts nothing
        if (i > 1 and _is_cap(tokens[i - 1]) and _adjacent(text, tokens[i - 1], tok)
                and not tokens[i - 1].norm.endswith("'s")):
            continue  # "Super Bowl 50", "Windows 10": part of a name (not "Norwood's 61")
        # A number that qualifies a matched word right after it ("72 fatal stabbings", or
        # in the same token: "a 61-yard punt") wins. Ties go to the number next to the
        # question's earlier word ("how many [shot] dead").
        after = [(m - i, matched[m]) for m in matched if 0 < m - i <= 3]
        # "how many people …?" → "1 million people": the counted word follows the number.
        # (A word of the question's own counts before it: "forced him into three
        # [turnovers]" beats "sacked him seven [times]".)
        after += [(k - i + 1, 0) for k in range(i + 1, min(i + 4, len(tokens)))
                  if q.wh_noun in COUNTERS and _same_noun(tokens[k].norm, q.wh_noun)]
        if unit is not None and i in matched:
            after.append((0, matched[i]))
        before = [(3 + i - m, matched[m]) for m in matched if 0 < i - m <= 4]
        if measure is not None and _measured(text, tokens, i, measure, q):
            after.append((0, 0))  # "how long …?" → "3 km long"
        # A question about money wants an amount with its currency, one about a percentage
        # a percentage, wherever it is in the sentence.
        amount = text[slice(*whole_number(text, tokens, i, q))].casefold()
        plain = int((money and not _has_currency(amount)) or (
            percentage and "%" not in amount and "per" not in amount))
        if not after and not before:
            if not (money or percentage) or plain or _distance(i, matched) > 8:
                continue
            before = [(50 + _distance(i, matched), 0)]
        rank, concept = min(after or before)
        key = (plain, rank, concept, i)
        if best is None or key < best[0]:
            best = (key, i)
    if best is None:
        return None
    return whole_number(text, tokens, best[1], q)


def whole_number(text: str, tokens: Sequence[Token], i: int, q: Question | None = None
                 ) -> Span:
    """The whole amount that token ``i`` is part of: its parts ("11:28", "twenty five"),
    its currency ("£2", "US$5"), its scale ("2 million", "£48m", "8.5%") and the unit or
    currency word after it ("3 km", "900 million kronor") — but not a unit the question
    names ("how many yards …?" → "61", not "61 yards")."""
    unit = _NUMBER_UNIT.fullmatch(tokens[i].surface)
    if unit is not None:
        return tokens[i].start, tokens[i].start + unit.end(1)
    while i > 0 and tokens[i - 1].surface[:1].isdigit() and _continues_number(
            text, tokens[i - 1], tokens[i]):
        i -= 1  # "11:28", "20–18": from the first part
    j = i
    while j + 1 < len(tokens) and _continues_number(text, tokens[j], tokens[j + 1]):
        j += 1
    start = tokens[i].start
    # "£2", "US$1.2 billion": the currency is part of the amount. "seventy thousand": so is
    # the number word before a scale word.
    currency = _CURRENCY_BEFORE.search(text, 0, start)
    if currency is not None:
        start = currency.start()
    elif i > 0 and tokens[i].norm in SCALE_WORDS and tokens[i - 1].norm in NUMBER_WORDS:
        start = tokens[i - 1].start
    end = tokens[j].end
    # A letter suffix written onto the number is its scale or unit: "£48m", "1.2bn", "3km".
    if j + 1 < len(tokens) and tokens[j + 1].start == end and tokens[j + 1].surface.isalpha():
        j += 1
        end = tokens[j].end
    if text.startswith("%", end):
        return start, end + 1
    if (j + 1 < len(tokens) and tokens[j + 1].norm in UNITS
            and _adjacent(text, tokens[j], tokens[j + 1])
            and (q is None or not _in_question(tokens[j + 1], q))):
        end = tokens[j + 1].end
    return start, end


def _has_currency(amount: str) -> bool:
    return any(sign in amount for sign in "$£€¥₹") or amount.rsplit(" ", 1)[-1] in CURRENCIES


def measure_asked(q: Question) -> str | None:
    """The adjective of a "how long/old/high …?" question, which asks for a measure."""
    for first, second in itertools.pairwise(q.tokens):
        if first.norm == "how":
            return second.norm if second.norm in MEASURE_ADJECTIVES else None
    return None


def _measured(text: str, tokens: Sequence[Token], i: int, adjective: str, q: Question
              ) -> bool:
    """True when the measure that token ``i`` starts is followed by the adjective asked
    about ("3 km long", "24 years old")."""
    end = whole_number(text, tokens, i, q)[1]
    after = [k for k, t in enumerate(tokens) if t.start >= end][:2]
    return any(tokens[k].norm == adjective for k in after)


def _same_noun(word: str, noun: str) -> bool:
    return word == noun or word.rstrip("s") == noun.rstrip("s") or (
        noun == "people" and word in ("persons", "person", "fans", "visitors", "spectators"))


def _continues_number(text: str, token: Token, after: Token) -> bool:
    """True when ``after`` is more of the number ``token`` starts ("2 million", "twenty
    five", "5½", "15–1")."""
    if after.norm in SCALE_WORDS or (token.norm in NUMBER_WORDS and after.norm in NUMBER_WORDS):
        return True
    joined = _NUMBER_JOIN.fullmatch(text[token.end:after.start]) is not None
    return joined and (after.surface[:1].isdigit() or after.surface in _FRACTIONS)


def _looks_like_year(token: Token) -> bool:
    return bool(re.fullmatch(r"(1[5-9]|20)\d\d", token.surface))


def _time_answer(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question,
    limits: Extraction,
) -> Span | None:
    question_lower = q.text.casefold()
    best: tuple[int, Span] | None = None
    for m in TIME_RE.finditer(text):
        if m.group().casefold() in question_lower:
            continue
        idx = [i for i, t in enumerate(tokens) if t.start >= m.start() and t.end <= m.end()]
        if not idx:
            continue
        dist = min(_distance(i, matched) for i in idx)
        if best is None or dist < best[0]:
            best = (dist, _trim_preposition(text, m.start(), m.end()))
    if best is None or best[0] > limits.time_distance:
        return None
    return best[1]


def _trim_preposition(text: str, start: int, end: int) -> Span:
    m = re.match(r"(?:in|since|by|until|before|after|during)\s+", text[start:end], re.I)
    return (start + m.end(), end) if m else (start, end)


def _span_chars(tokens: Sequence[Token], span: tuple[int, int]) -> Span:
    return tokens[span[0]].start, tokens[span[1]].end


_ROMAN = re.compile(r"[IVXLCDM]+")


def _new_names(text: str, tokens: Sequence[Token], q: Question, matched: Mapping[int, int],
               keep: frozenset[str] = frozenset(), is_name: KnownName | None = None
               ) -> list[tuple[int, int]]:
    """Name spans with the question's own words cut out ("Super Bowl XLVIII" → "XLVIII"
    is then dropped as a bare numeral; "New England Patriots" stays whole). Words matched
    to the question through related words or acronyms ("Most Valuable Player" for "MVP")
    are the question's words too."""
    out = []
    for first, last in name_spans(text, tokens, is_name):
        run: list[int] = []
        for i in [*range(first, last + 1), None]:
            if i is not None and (not (_in_question(tokens[i], q) or i in matched) or (
                    tokens[i].norm.rstrip("s") in keep)):
                run.append(i)
                continue
            while run and tokens[run[0]].norm in NAME_CONNECTORS:
                run.pop(0)
            while run and tokens[run[-1]].norm in NAME_CONNECTORS:
                run.pop()
            if run == [0] and not looks_like_name(tokens[0].surface, at_start=True,
                                                  known=is_name):
                run = []  # "[Despite] Denver's …": a word at the start, not a name
            if run and _name_like(tokens, run[0], run[-1]):
                out.append((run[0], run[-1]))
            run = []
    return out


def _name_like(tokens: Sequence[Token], first: int, last: int) -> bool:
    words = tokens[first:last + 1]
    if len(words) == 1:
        word = words[0].surface
        return len(word) >= 2 and not _ROMAN.fullmatch(word) and "." not in word
    return True


def _who_answer(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question,
    limits: Extraction, is_name: KnownName | None = None, keep: frozenset[str] = frozenset(),
    *, linked_only: bool = False,
) -> Span | None:
    """The name a "who" question asks for; ``keep`` holds the words of the question phrase
    ("which [task force] …"), which may be part of the name; ``linked_only``: only a name
    tied to the question's noun ("the London Councils group")."""
    keep = keep | ({q.wh_noun} if q.wh_noun else set())
    names = _new_names(text, tokens, q, matched, keep=frozenset(w.rstrip("s") for w in keep),
                       is_name=is_name)
    span = _one_name(text, tokens, matched, q, limits, names, linked_only)
    if span is None or not _asks_for_several(q):
        return span
    return _with_list(text, tokens, span, names)


def _asks_for_several(q: Question) -> bool:
    """"Which teams …?", "Who were the guests …?": the answer may be a list."""
    if q.wh_noun and q.wh_noun.endswith("s") and q.wh_noun not in ("was", "is", "does"):
        return True
    norms = [t.norm for t in q.tokens]
    return any(a in ("who", "what", "which") and b in ("were", "are")
               for a, b in itertools.pairwise(norms))


def _with_list(text: str, tokens: Sequence[Token], span: Span,
               names: Sequence[tuple[int, int]]) -> Span:
    """``span`` (a name) with the names listed after it: "A, B and C"."""
    by_first = {first: last for first, last in names}
    last = next((la for f, la in names if tokens[f].start == span[0]), None)
    if last is None:
        return span
    end = last
    while True:
        k = end + 1
        gap = text[tokens[end].end:tokens[k].start].strip() if k < len(tokens) else ""
        if k < len(tokens) and tokens[k].norm in ("and", "or") and gap in ("", ","):
            k += 1
        elif gap != ",":
            break
        if k not in by_first or text[tokens[k - 1].end:tokens[k].start].strip() not in ("",
                                                                                         ","):
            break
        end = by_first[k]
    # … and before it, when the name found is the end of the list ("Leeds, [York and Hull]").
    by_last = {la: f for f, la in names}
    first = next(f for f, la in names if tokens[f].start == span[0])
    while first - 1 in by_last and text[tokens[first - 1].end:tokens[first].start].strip(
            ) == "," and any(tokens[k].norm in ("and", "or") for k in range(first, end + 1)):
        first = by_last[first - 1]
    return tokens[first].start, tokens[end].end


def _one_name(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question,
    limits: Extraction, names: list[tuple[int, int]], linked_only: bool = False,
) -> Span | None:
    if q.wh_noun:
        # "Which group …?" → the name that contains, precedes or follows "group"
        # ("the London Councils group", "linebacker Luke Kuechly").
        for i, tok in enumerate(tokens):
            if tok.norm.rstrip("s") != q.wh_noun.rstrip("s"):
                continue
            for first, last in names:
                if first <= i <= last or last == i - 1:
                    return _span_chars(tokens, (first, last))
                if first == i + 1:
                    return _span_chars(tokens, (first, last))
    if linked_only:
        return None
    if not names:
        return None
    if not matched:
        return None
    # A possessive name ("London's deputy mayor") describes, it does not answer.
    names = [(f, la) for f, la in names if not tokens[la].norm.endswith("'s")] or names
    if q.copula:
        named = _copula_name(text, tokens, matched, names)
        if named is not None:
            return _span_chars(tokens, named)
    # "… was recovered by Ward", "… headlined by the British rock group Coldplay" (the
    # last name after the "by" names the agent; earlier ones describe it).
    # "Who were the guests?" asks who they were, not who did something to them.
    agents = [(by, first, (first, last)) for first, last in names
              if not q.copula and (by := _agent_before(text, tokens, first)) is not None
              and any(0 < by - m <= 3 for m in matched)]
    if agents:
        by = min(agents)[0]
        return _span_chars(tokens, max(a for a in agents if a[0] == by)[2])
    if _OBJECT_QUESTION.match(q.text):
        # "Who did the Panthers play …?" asks for the one acted on: the first new name
        # after the question's verb, or the last of the names that make up its object
        # ("beat the defending Super Bowl XLIX champion [New England Patriots]").
        asked_verb = question_shape(q).verb
        anchor = next((m for m in sorted(matched) if asked_verb is not None
                       and _same_word(tokens[m], asked_verb)), None)
        if anchor is not None:
            objects = sorted(n for n in names if anchor < n[0] <= anchor + 8)
            if objects:
                tags = word_classes(tokens)
                chosen = objects[0]
                for later in objects[1:]:
                    between = range(chosen[1] + 1, later[0])
                    if all(tags[k] == NOUN for k in between) and all(
                            _adjacent(text, tokens[k], tokens[k + 1])
                            for k in range(chosen[1], later[0])):
                        chosen = later
                return _span_chars(tokens, chosen)
        after = [(first - max(m for m in matched if m < first), (first, last))
                 for first, last in names if any(m < first for m in matched)]
        if after and min(after)[0] <= 4:
            return _span_chars(tokens, min(after)[1])
    # The first matched word that is not itself a name, usually the verb or the role (a
    # verb first: "In 1968, … Albert C. Outler [led] the team").
    plain = [m for m in matched if not _is_cap(tokens[m])]
    tags = word_classes(tokens)
    verbs = [m for m in plain if tags[m] == VERB]
    verb = min(plain or matched)
    if not q.copula:
        # "Sadiq Khan announced …": a name right before the first matched word (or verb).
        for anchor in dict.fromkeys([*verbs[:1], verb]):
            for first, last in names:
                if 0 < anchor - last <= 2 and (anchor == verb or not _CLAUSE_END.search(
                        text, tokens[last].end, tokens[anchor].start)):
                    return _span_chars(tokens, (first, last))
        # "… the Wesleyan Holiness Consortium, which seeks …": the name a relative clause
        # with the question's verb describes.
        for first, last in names:
            k = last + 1
            if first > 0 and tokens[first - 1].is_stop and tokens[first - 1].norm not in (
                    "the", "a", "an"):
                continue  # "co-MVP [of] Super Bowl XII, who died": the clause is not its
            if (k < len(tokens) and tokens[k].norm in ("which", "who") and text[
                    tokens[last].end:tokens[k].start].strip() == ","
                    and any(0 < m - k <= 2 for m in matched)):
                return _span_chars(tokens, (first, last))
    # "Rebecca Lawrence, chief executive of …" / "… for policing Sophie Linden met …".
    lo, hi = min(matched), max(matched)
    for first, last in names:
        if last < lo and lo - last <= 2 and text[tokens[last].end:tokens[lo].start].strip() == ",":
            return _span_chars(tokens, (first, last))
        if first > hi and first - hi <= 1:
            return _span_chars(tokens, (first, last))
    # "Senior Met police officers travelled …": a short subject before the verb, without
    # its auxiliaries ("… Stuart Greer was delighted"); a subject that ends in a name is
    # that name ("Ashford manager Stuart Greer").
    if 0 < verb <= 10 and not any(m < verb for m in matched):
        # The subject ends before its verb or the first function word ("[Peyton Manning]
        # became the first …", "[Senior Met police officers] travelled …").
        tags = word_classes(tokens[:verb])
        end = next((k - 1 for k in range(1, verb) if tags[k] in (VERB, AUX, FUNC, DET, PRON)
                    and tokens[k].norm not in NAME_CONNECTORS), verb - 1)
        stop = text[tokens[0].start:tokens[verb].start]
        inside = [(first, last) for first, last in names if last <= end]
        if "," not in stop and inside:
            if inside[-1][1] == end:
                return _span_chars(tokens, inside[-1])
            return tokens[0].start, tokens[end].end
    nearest = min(names, key=lambda s: min(_distance(s[0], matched), _distance(s[1], matched)))
    if min(_distance(nearest[0], matched), _distance(nearest[1], matched)) <= (
            limits.name_distance):
        return _span_chars(tokens, nearest)
    return None


_OBJECT_QUESTION = re.compile(r"\s*(?:who|whom|(?:what|which)(?:\s+[\w-]+){1,2})\s+(?:did|does|do|"
                              r"will|would|could|can|has|have|had)\b", re.I)
_NAME_OF = re.compile(r"\b(?:what|which)\s+(?:is|was|were|are)\s+the\s+(?:\w+\s+)?name\b"
                      r"|\bcalled\?", re.I)


def _copula_name(text: str, tokens: Sequence[Token], matched: Mapping[int, int],
                 names: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """"Who was the 2015 MVP?": the name on the other side of "is", "was", "became" or
    "was named" from the question's words ("[Cam Newton] was named the NFL MVP")."""
    for c, token in enumerate(tokens):
        if token.norm not in _COPULAS and token.norm not in ("became", "becomes", "become"):
            continue
        after = c + 1
        if after < len(tokens) and tokens[after].norm in NAMING_VERBS:
            after += 1  # "was named", "was elected"
        ahead = [m for m in matched if after <= m <= after + 4]
        behind = [m for m in matched if c - 4 <= m < c]
        if ahead and not behind:
            for first, last in names:
                if last == c - 1 and _adjacent(text, tokens[last], token):
                    return first, last
        if behind and not ahead:
            for first, last in names:
                start = after + (1 if after < len(tokens) and tokens[after].norm == "the" else 0)
                if first == start:
                    return first, last
    return None


def _agent_before(text: str, tokens: Sequence[Token], first: int) -> int | None:
    """Index of the "by" that introduces the name starting at ``first`` ("by Ward", "by the
    British rock group Coldplay"), if any, within one clause."""
    i = first - 1
    while i >= 0 and first - i <= 5:
        if _CLAUSE_END.search(text, tokens[i].end, tokens[i + 1].start):
            return None
        if tokens[i].norm == "by":
            return i
        if tokens[i].is_stop and tokens[i].norm not in ("the", "a", "an"):
            return None  # "by the mayor of Hillford": the name only describes the doer
        i -= 1
    return None




def _where_answer(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question,
    limits: Extraction, is_name: KnownName | None = None,
) -> Span | None:
    best: tuple[int, tuple[int, int]] | None = None
    for first, last in _new_names(text, tokens, q, matched, is_name=is_name):
        before = first - 1
        if before >= 0 and tokens[before].norm == "the":
            before -= 1
        if before < 0 or tokens[before].norm not in PLACE_PREPOSITIONS:
            continue
        dist = min(_distance(first, matched), _distance(last, matched))
        if best is None or dist < best[0]:
            best = (dist, (first, last))
    if best is None or best[0] > limits.place_distance:
        place = _place_phrase(text, tokens, matched, q)
        if place is not None:
            return place
        if q.wh_noun is not None and q.wh_noun in WHERE_NOUNS and matched:
            # "Which state has the most members?" → "[Texas] has …": the name right before
            # the question's first word.
            lo = min(matched)
            for first, last in _new_names(text, tokens, q, matched, is_name=is_name):
                if 0 < lo - last <= 3 and all(tokens[k].is_stop for k in range(last + 1, lo)) and (
                        _adjacent(text, tokens[last], tokens[last + 1])):
                    return _span_chars(tokens, (first, last))
        return None
    first, last = best[1]
    if first > 0 and tokens[first - 1].norm == "the":
        first -= 1
    return _span_chars(tokens, (first, last))


def _place_phrase(text: str, tokens: Sequence[Token], matched: Mapping[int, int],
                  q: Question) -> Span | None:
    """A place without a name: the phrase after a place preposition right after the
    question's words ("began … [within] the Church of England", "meets [at] various
    locations throughout the world")."""
    if not matched:
        return None
    tags = word_classes(tokens)
    for i, token in enumerate(tokens):
        if token.norm not in PLACE_PREPOSITIONS or i + 1 >= len(tokens) or i in matched:
            continue
        near = [m for m in matched if 0 < i - m <= 5]
        if not near or not _adjacent(text, token, tokens[i + 1]) or any(
                _CLAUSE_END.search(text, tokens[k].end, tokens[k + 1].start)
                for k in range(max(near), i)):
            continue
        found = noun_phrase_after(text, tokens, tags, i + 1)
        # Named places are the name rule's; "in 1767" and "in March" are times.
        if found is None or _is_cap(tokens[found[1]]) or any(
                tokens[k].surface[:1].isdigit() or TIME_RE.match(text, tokens[k].start)
                for k in range(found[0], found[1] + 1)):
            continue
        words = [k for k in range(found[0], found[1] + 1) if not tokens[k].is_stop]
        if 2 * sum(_in_question(tokens[k], q) for k in words) > len(words):
            continue  # "dropped from [the crow's nest of a ship]": where it was, in the question
        new = _new_part(tokens, found, q)
        if new is not None:
            return new
    return None


_CLAUSE_END = re.compile(r"[,;:.!?\"“”()]|\s[-–—]\s")
# The same without quotes and brackets, which sit inside a clause ("The Church (UMC) is …").
_CLAUSE_BREAK = re.compile(r"[,;:.!?]|\s[-–—]\s")


def _what_answer(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question,
    limits: Extraction,
) -> Span | None:
    """The words that fill the question's gap: "… fallen behind the NYPD in [law-enforcement
    technology]", "… fights [a violent crime epidemic] in the capital"."""
    q_tokens = list(q.tokens)
    content_pos = [i for i, t in enumerate(q_tokens) if t in q.content]
    best: tuple[int, Span] | None = None
    for m in sorted(matched):
        q_idx = _question_index(tokens[m], q_tokens, content_pos)
        if q_idx is None:
            continue
        # Function words that follow this word in the question ("look [for]", "NYPD [in]").
        follow = []
        k = q_idx + 1
        while k < len(q_tokens) and q_tokens[k].is_stop:
            follow.append(q_tokens[k].norm)
            k += 1
        next_content = q_tokens[k] if k < len(q_tokens) else None
        # The gap: sentence tokens after m up to the next matched word or clause end.
        j = m + 1
        score = 0
        lead = 0
        while j < len(tokens) and lead < len(follow) and tokens[j].norm == follow[lead]:
            j += 1
            lead += 1
        if follow and lead:
            score += 2
        gap_start = j
        while j < len(tokens) and j not in matched:
            if _CLAUSE_END.search(text, tokens[j - 1].end, tokens[j].start):
                break
            j += 1
        gap_end = j
        if gap_end < len(tokens) and gap_end in matched and next_content is not None and (
            _same_word(tokens[gap_end], next_content)
        ):
            score += 2
        if content_pos and q_idx == content_pos[-1]:
            score += 1
        while gap_end > gap_start and tokens[gap_end - 1].is_stop:
            gap_end -= 1
        if gap_end <= gap_start or gap_end - gap_start > limits.gap_length:
            continue
        first_word = tokens[gap_start]
        if first_word.is_stop and first_word.norm not in ("the", "a", "an"):
            continue  # "and Newton had …", "since": not a noun phrase
        if all(tokens[i].is_stop for i in range(gap_start, gap_end)):
            continue
        if any(tokens[i].norm in ("is", "was", "are", "were", "been") for i in range(gap_start,
                                                                                       gap_end)):
            score -= 1
        if score >= 2 and (best is None or score > best[0]):
            best = (score, (tokens[gap_start].start, tokens[gap_end - 1].end))
    return best[1] if best else None


def _same_word(a: Token, b: Token) -> bool:
    return bool(set(a.terms) & set(b.terms))


def _question_index(token: Token, q_tokens: list[Token], content_pos: list[int]) -> int | None:
    for i in content_pos:
        if _same_word(token, q_tokens[i]):
            return i
    return None


# -- "what" questions answered by a noun phrase, "why" and "how" by a clause -----------------


def _phrase_answer(text: str, tokens: Sequence[Token], matched: Mapping[int, int],
                   q: Question, shape: Shape) -> Span | None:
    """The noun phrase a "what" question's shape asks for: the subject before its verb
    ("[General relativity] offers …"), the agent after it ("offered by [Newtonian
    mechanics]"), the object ("Lady Gaga performed [the national anthem]"), or what a
    copula says."""
    if not matched or not tokens:
        return None
    tags = word_classes(tokens)
    anchor = None
    if shape.verb is not None:
        verbs = [i for i in sorted(matched) if _same_word(tokens[i], shape.verb)]
        doers = [i for i in matched if any(_same_word(tokens[i], t) for t in shape.subject)]
        # Of several, the verb right after the question's subject ("the gravitational force
        # [acts] between masses", not the electromagnetic force's).
        def closeness(v: int) -> tuple[int, int]:
            near = {tokens[d].norm for d in doers if v - 4 <= d < v}
            return -len(near), min((v - d for d in doers if d < v), default=99)

        anchor = min(verbs, key=closeness, default=None)
    lo = min(matched)
    if shape.form == "subject":
        if anchor is not None:
            if anchor + 2 < len(tokens) and tokens[anchor + 1].norm == "by":
                after = noun_phrase_after(text, tokens, tags, anchor + 2)
                if after is not None:
                    return _new_part(tokens, after, q)  # "… offered by [Newtonian mechanics]"
            return _phrase_before(text, tokens, tags, q, anchor, verb=False)
        return _phrase_before(text, tokens, tags, q, lo, verb=True)
    if shape.form == "copula":
        return (_copula_answer(text, tokens, tags, q, matched)
                or _phrase_before(text, tokens, tags, q, lo, verb=False)
                or _phrase_after(text, tokens, tags, q, max(matched), copula=True))
    if shape.form == "tail" and anchor is not None:
        return _phrase_after(text, tokens, tags, q, anchor, copula=False)
    if shape.form == "object":
        if anchor is not None:
            return _phrase_after(text, tokens, tags, q, anchor, copula=False)
        doers = [i for i in matched if any(_same_word(tokens[i], t) for t in shape.subject)]
        if doers:
            return _phrase_after(text, tokens, tags, q, max(doers), copula=False, verb=True)
    return None


def _headed(text: str, tokens: Sequence[Token], tags: Sequence[str], q: Question,
            head: str) -> Span | None:
    """The phrase the question's noun heads in the sentence: its new modifiers ("[kinematic]
    measurements") or what it names ("the concept of inertia", "particles called gauge
    bosons")."""
    head_terms = set(analyse_word(head)[1])
    names = name_spans(text, tokens)
    for i, token in enumerate(tokens):
        if not head_terms & set(token.terms):
            continue
        # The noun ends a name: the whole name ("[St. George's United Methodist Church]").
        named = next(((f, la) for f, la in names if f < i == la), None)
        if named is not None and any(not _in_question(tokens[k], q)
                                     for k in range(named[0], named[1] + 1)):
            return _span_chars(tokens, named)
        # A title in quotes after the noun: 'his famous sermon, "The Use of Money,"'.
        quoted = _QUOTED_AFTER.match(text, token.end)
        if quoted is not None and quoted.group(2).strip(" ,.;:"):
            title = quoted.group(2).rstrip(" ,.;:")
            return quoted.start(2), quoted.start(2) + len(title)
        phrase = noun_phrase(text, tokens, tags, i)
        if phrase is not None:
            new = [k for k in range(phrase[0], i) if tags[k] == NOUN
                   and not _in_question(tokens[k], q)]
            if new:
                return tokens[new[0]].start, tokens[i].end
        k = i + 1
        if k < len(tokens) and tokens[k].norm in NAMING_WORDS:
            k += 2 if tokens[k].norm in ("known", "such") else 1
            found = noun_phrase_after(text, tokens, tags, k) if k < len(tokens) else None
            if found is not None and _adjacent(text, tokens[k - 1], tokens[k]):
                return _new_part(tokens, found, q)
    return None


# A quoted title after a noun, across a comma or "called"/"named"/"titled".
_QUOTED_AFTER = re.compile(r"\s*,?\s*(?:(?:called|named|titled|entitled)\s+)?([\"“‘'])"
                           r"([^\"“”‘’']{1,80})[\"”’']")


def _role_answer(text: str, tokens: Sequence[Token], matched: Mapping[int, int]
                 ) -> Span | None:
    """"What position does Von Miller play?": the role written before the person's name
    ("Denver linebacker Von Miller") or after it ("Rivera, a linebacker")."""
    people = sorted(m for m in matched if _is_cap(tokens[m]))
    for m in people:
        for k in (m - 1, m - 2):
            if k >= 0 and tokens[k].norm in TITLES and (k + 1 in matched or k + 1 == m):
                return tokens[k].start, tokens[k].end
        for k in range(m + 1, min(m + 6, len(tokens))):
            if tokens[k].norm in TITLES and tokens[k - 1].norm in ("a", "an", "the"):
                return tokens[k].start, tokens[k].end
    return None


def _new_part(tokens: Sequence[Token], span: tuple[int, int], q: Question) -> Span | None:
    """``span`` without the question's own words at its edges, or None when nothing of it
    is new."""
    first, last = span
    while first <= last and ((tokens[first].is_stop and tokens[first].norm not in (
            "the", "a", "an")) or _in_question(tokens[first], q)):
        first += 1
    while last >= first and (tokens[last].is_stop or _in_question(tokens[last], q)):
        last -= 1
    if first > last or all(tokens[k].is_stop for k in range(first, last + 1)):
        return None
    if tokens[first].norm in ("the", "a", "an") and first == last:
        return None
    return tokens[first].start, tokens[last].end


_COPULAS = frozenset({"is", "are", "was", "were"})


def _copula_answer(text: str, tokens: Sequence[Token], tags: Sequence[str], q: Question,
                   matched: Mapping[int, int]) -> Span | None:
    """"What is X?": what the sentence says X is ("[X] is [a mainline denomination]",
    "[X] is called [the General Conference]", "[the answer] is [X]"), on the side of the
    copula that holds fewer of the question's words."""
    n = len(tokens)
    best: tuple[int, Span] | None = None
    for c in range(1, n - 1):
        if tokens[c].norm not in _COPULAS:
            continue
        # The question's words on each side, within the copula's clause.
        start, end = c, c
        while start > 0 and not _CLAUSE_BREAK.search(text, tokens[start - 1].end,
                                                      tokens[start].start):
            start -= 1
        while end + 1 < n and not _CLAUSE_BREAK.search(text, tokens[end].end,
                                                        tokens[end + 1].start):
            end += 1
        before = sum(1 for m in matched if start <= m < c)
        after = sum(1 for m in matched if c < m <= end)
        found: tuple[int, int] | None = None
        if before > after:
            k = c + 1
            while k < n and (tokens[k].norm.endswith("ly") or tokens[k].norm in (
                    "called", "named", "known", "as", "also", "still", "now")):
                k += 1  # "is decidedly Wesleyan", "is called the General Conference"
            found = noun_phrase_after(text, tokens, tags, k) if k < n else None
        elif after > before and _adjacent(text, tokens[c - 1], tokens[c]):
            found = noun_phrase_before(text, tokens, tags, c - 1)
        new = _new_part(tokens, found, q) if found is not None else None
        if new is not None and (best is None or abs(before - after) > best[0]):
            best = (abs(before - after), new)
    return best[1] if best else None


def _phrase_before(text: str, tokens: Sequence[Token], tags: Sequence[str], q: Question,
                   lo: int, *, verb: bool) -> Span | None:
    """The noun phrase before the question's first word in the sentence (and before the
    phrase that word is in), across auxiliaries and determiners, and (``verb``) one verb
    the question words differently ("[General relativity] offers an equivalence …" for
    "What has an equivalence …?")."""
    if not verb:
        # The question's word inside a longer name: the name ("[St. George's United
        # Methodist Church], located …, is the oldest Methodist church").
        named = next(((f, la) for f, la in name_spans(text, tokens) if f < lo <= la), None)
        if named is not None:
            return _span_chars(tokens, named)
    own = noun_phrase(text, tokens, tags, lo) if verb else None
    k = (own[0] if own is not None else lo) - 1
    while k >= 0 and (tags[k] in (DET, AUX) or _is_adverb(tokens[k], tags[k])) and _adjacent(
            text, tokens[k], tokens[k + 1]):
        k -= 1  # "the kinetic friction force [exactly] opposes", "[will] experience"
    if verb and k >= 0 and tags[k] == VERB and _adjacent(text, tokens[k], tokens[k + 1]):
        k -= 1
        while k >= 0 and tags[k] == AUX and _adjacent(text, tokens[k], tokens[k + 1]):
            k -= 1
    if k < 0 or not _adjacent(text, tokens[k], tokens[k + 1]):
        return None
    found = noun_phrase_before(text, tokens, tags, k)
    return _new_part(tokens, found, q) if found is not None else None


def _is_adverb(token: Token, tag: str) -> bool:
    return tag == FUNC and token.norm.endswith("ly")


def _phrase_after(text: str, tokens: Sequence[Token], tags: Sequence[str], q: Question,
                  hi: int, *, copula: bool, verb: bool = False) -> Span | None:
    """The noun phrase after the question's last word in the sentence: an object after its
    verb ("performed [the national anthem]"), or what a copula says ("… was [a fundamental
    error]")."""
    k = hi + 1
    n = len(tokens)
    if copula:
        if k >= n or tokens[k].norm not in ("is", "are", "was", "were"):
            return None
        k += 1
    else:
        if verb:  # after the doer: its verb, then the object
            while k < n and tags[k] == AUX:
                k += 1
            if k >= n or tags[k] != VERB:
                return None
            k += 1
        if k < n and tags[k] == FUNC and tokens[k].norm not in ("that", "which", "who"):
            k += 1  # "stayed [at] the San Jose Marriott"
    if k >= n or not _adjacent(text, tokens[k - 1], tokens[k]):
        return None
    found = noun_phrase_after(text, tokens, tags, k)
    if found is None:
        return None
    new = _new_part(tokens, found, q)
    if new is None and not copula and found[1] + 1 < n and _adjacent(
            text, tokens[found[1]], tokens[found[1] + 1]):
        # "called [this experience] the New Birth": the question's own object, then the
        # phrase asked for.
        second = noun_phrase_after(text, tokens, tags, found[1] + 1)
        return _new_part(tokens, second, q) if second is not None else None
    return new


def _reason_answer(text: str, tokens: Sequence[Token], matched: Mapping[int, int]
                   ) -> Span | None:
    """"Why …?": the clause after "because", "due to", "in order to" … that follows the
    question's words in the sentence, up to the end of its clause."""
    if not matched:
        return None
    norms = [t.norm for t in tokens]
    lo = min(matched)
    for marker in REASON_MARKERS:
        words = marker.split()
        for i in range(len(tokens) - len(words)):
            if norms[i:i + len(words)] != words:
                continue
            start = i + len(words)
            # Before the question's words only as an opening clause: "As a result of the
            # Revolution, Wesley was compelled …".
            if i < lo and (start >= len(tokens) or _clause_end(text, tokens, start) >= lo):
                continue
            if marker in ("in order to", "so as to"):
                start -= 1  # a purpose: "to keep the pitch dry"
            if marker == "since" and (tokens[start].surface[:1].isdigit()
                                      or TIME_RE.match(text, tokens[start].start)):
                continue  # "since 1990" is a time, not a reason
            end = _clause_end(text, tokens, start)
            if end - start >= 1:
                return tokens[start].start, tokens[end].end
    return None


def _clause_end(text: str, tokens: Sequence[Token], start: int) -> int:
    """The last token of the clause that starts at ``start`` (before a comma, a full stop,
    a dash or brackets)."""
    end = start
    while end + 1 < len(tokens) and not _CLAUSE_END.search(text, tokens[end].end,
                                                            tokens[end + 1].start):
        end += 1
    return end


def _means_answer(text: str, tokens: Sequence[Token], matched: Mapping[int, int],
                  q: Question) -> Span | None:
    """"How did X …?": the phrase that "by", "through", "using" or "with" opens after the
    question's words ("by selling its stake", "through experimentation")."""
    if not matched:
        return None
    lo = min(matched)
    for i, token in enumerate(tokens):
        if token.norm not in MEANS_MARKERS or i + 1 >= len(tokens) or i in matched:
            continue
        after_words = any(0 < i - m <= 3 for m in matched) and not any(
            _CLAUSE_END.search(text, tokens[k].end, tokens[k + 1].start)
            for k in range(max(m for m in matched if m < i), i))
        # "… explained [as] a by-product": "as" only right after the question's words.
        if token.norm == "as" and i - 1 not in matched:
            continue
        near = after_words or (i < lo and lo - _clause_end(text, tokens, i) <= 2)
        if not near or _in_question(tokens[i + 1], q):
            continue
        end = _clause_end(text, tokens, i + 1)
        # The phrase ends before a verb of the sentence's own ("[with vectors] avoids …").
        tags = word_classes(tokens)
        end = next((k - 1 for k in range(i + 2, end + 1) if tags[k] in (VERB, AUX)
                    and not tokens[k].norm.endswith("ing")), end)
        if end - i <= 12:
            return token.start, tokens[end].end
    return None
