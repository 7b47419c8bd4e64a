"""Short answers to "how many", "how much", "how long/old/high" and "what is the population":
a whole amount with its currency, scale and unit ("£48m", "900 million kronor", "3 km").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

from quotebot.analysis import Token
from quotebot.extract.spans import Span, adjacent, distance, in_question, is_cap
from quotebot.extract.times import TIME_RE
from quotebot.lexicon import (
    COUNTERS,
    CURRENCIES,
    MEASURE_ADJECTIVES,
    MONEY_WORDS,
    NUMBER_WORDS,
    SCALE_WORDS,
    SHARE_NOUNS,
    TIME_UNITS,
    UNITS,
)
from quotebot.question import Question

# A currency sign written before an amount, with a country's letters ("US$", "A$", "HK$").
_CURRENCY_BEFORE = re.compile(r"(?:\b[A-Z]{1,2})?[$£€¥₹]\Z")
_FRACTIONS = frozenset("½⅓⅔¼¾⅛")
# What may join two parts of one number: nothing ("5½"), a dash ("15–1", "24–10"), a colon
# ("11:28").
_NUMBER_JOIN = re.compile(r"|[-–:]")
# A number with its unit in one hyphenated word ("61-yard", "30-second").
_NUMBER_UNIT = re.compile(r"(\d[\d,.]*)-[^\W\d_][\w-]*")


def number_tokens(tokens: Sequence[Token]) -> list[int]:
    """Indices of tokens that are numbers (digits or number words)."""
    return [i for i, t in enumerate(tokens)
            if t.surface[:1].isdigit() or t.norm in NUMBER_WORDS]


def number_answer(
    text: str, tokens: Sequence[Token], matched: Mapping[int, int], q: Question
) -> Span | None:
    """The whole amount the question asks for: the number that qualifies the question's
    words, or an amount of money or a percentage where one is asked; None when no number
    fits."""
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
        elif in_question(tok, q) or _looks_like_year(tok):
            continue
        if any(lo <= tok.start and tok.end <= hi for lo, hi in dates):
            continue  # "October 16, 2012" counts nothing
        if (i > 1 and is_cap(tokens[i - 1]) and adjacent(text, tokens[i - 1], tok)
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
            if not (money or percentage) or plain or distance(i, matched) > 8:
                continue
            before = [(50 + distance(i, matched), 0)]
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
            and adjacent(text, tokens[j], tokens[j + 1])
            and (q is None or not in_question(tokens[j + 1], q))):
        j += 1
        end = tokens[j].end
        # A duration of several units is one answer: "1 hour 50 minutes", "2 years and 3
        # months".
        while True:
            k = j + 1
            if k < len(tokens) and tokens[k].norm == "and" and adjacent(text, tokens[j],
                                                                         tokens[k]):
                k += 1
            if not (k + 1 < len(tokens) and tokens[k].surface[:1].isdigit()
                    and tokens[k + 1].norm in TIME_UNITS and tokens[j].norm in TIME_UNITS
                    and adjacent(text, tokens[k - 1], tokens[k])
                    and adjacent(text, tokens[k], tokens[k + 1])):
                break
            j = k + 1
            end = tokens[j].end
    # A rate is part of the amount: "$48.20 a month", "15,000 litres per year" (unless the
    # question names it: "how many times a year …?" → "twice").
    if (j + 2 < len(tokens) and tokens[j + 1].norm in ("a", "an", "per", "each", "every")
            and tokens[j + 2].norm in TIME_UNITS and adjacent(text, tokens[j], tokens[j + 1])
            and adjacent(text, tokens[j + 1], tokens[j + 2])
            and (q is None or not in_question(tokens[j + 2], q))):
        end = tokens[j + 2].end
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
