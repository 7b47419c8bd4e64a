"""The extraction rules one by one, on the question alone or on one sentence's tokens:
what a question asks for (its kind when the question word comes late, the gap of a "what"
question, whether it wants a number, a name or a measure), what a sentence must hold for an
answer, and the whole amount around a number.

These call the rules directly (no index, no engine), so that each runs in microseconds
and the mutation check (benchmarks/mutation.sh extract) can run them for every change.
tests/test_extract.py checks the short answers a user sees, through the whole engine.
"""

from __future__ import annotations

import pytest

from quotebot.analysis import tokenize
from quotebot.extract import asked, extract, measure_asked, needs, number_tokens, question_shape
from quotebot.extract import whole_number as whole
from quotebot.extract.grammar import noun_phrase_after, word_classes
from quotebot.extract.shape import asks_for_a_name, asks_for_a_number
from quotebot.extract.spans import same_word
from quotebot.question import Kind, parse_question
from quotebot.store.model import NUMBER, TIME

# -- what a sentence must hold --------------------------------------------------------------

@pytest.mark.parametrize(("question", "flags"), [
    ("How many homes had the service?", NUMBER),
    ("How long is the bridge?", NUMBER),
    ("How old was the captain?", NUMBER),
    ("How did the ferry sink?", 0),  # "how" without a measure: a clause, not a number
    ("How much did Nordvik pay?", NUMBER),
    ("When did the service start?", TIME),
    ("The service started in what year?", TIME),  # the question word comes late
    ("The ferry carried how many passengers?", NUMBER),
    ("Who founded the club?", 0),
    ("What did the union say?", 0),
    ("Where is the bridge?", 0),
    ("ferry launch", 0),
])
def test_needs_a_number_for_amounts_and_a_time_for_when(question: str, flags: int) -> None:
    """Catches: a sentence without a number passed over for a question that does not ask
    for one (or the reverse), and a late question word not read."""
    assert needs(parse_question(question)) == flags


# -- the kind a late question word asks for -------------------------------------------------

@pytest.mark.parametrize(("question", "kind", "wh_noun"), [
    ("The UMC was a founding member of what coalition?", Kind.WHAT, "coalition"),
    ("The club was founded in what year?", Kind.WHEN, "year"),
    ("When John Fox left, who replaced him?", Kind.WHO, None),
    ("After the merger, where did the staff move?", Kind.WHERE, None),
    ("If the bridge closes, how many ferries run?", Kind.HOW_MANY, None),
    ("Who replaced John Fox?", Kind.WHO, None),
])
def test_a_late_question_word_sets_the_kind(question: str, kind: Kind,
                                           wh_noun: str | None) -> None:
    """Catches: the clause before a comma taken as the question ("When John Fox left,
    who …?" asks who), and a question word after the first token not looked for."""
    found = asked(parse_question(question))
    assert found.kind is kind
    if wh_noun is not None:
        assert found.wh_noun == wh_noun


@pytest.mark.parametrize("question", [
    "Did the ferry sink?",  # yes/no, no question word at all
    "Is that what the union wanted?",  # "what" opens no question here
    "ferry launch 1998",
])
def test_no_question_word_leaves_the_kind_alone(question: str) -> None:
    parsed = parse_question(question)
    assert asked(parsed).kind is parsed.kind


# -- the gap of a "what" question ------------------------------------------------------------

@pytest.mark.parametrize(("question", "head", "form", "verb"), [
    ("What offers an equivalence between mass and energy?", None, "subject", "offers"),
    ("What team won the cup?", "team", "subject", "won"),
    ("What did Lady Gaga sing?", None, "object", "sing"),
    ("What did the union say?", None, "object", "say"),
    ("What was the belief of the founders?", None, "copula", None),
    ("What was used to build the bridge?", None, "subject", "used"),
    ("What can keep the bridge open?", None, "subject", "keep"),
    ("What are the particles called?", None, "object", "called"),
    ("What kind of measurements were taken?", "measurements", "subject", "taken"),
    ("What is the name of Wesley's famous sermon?", "sermon", None, None),
    ("The UMC maintains that war is incompatible with what?", None, "tail", "incompatible"),
    ("What are the boxes able to connect to?", None, "tail", "connect"),
    ("Who founded the club?", None, "subject", "founded"),
    ("What do you think?", None, "object", None),  # "do": an object, whatever the verb
    ("The club was founded in what year?", "year", None, None),
    ("Besides that, what is the name of Wesley's famous sermon?", "sermon", None, None),
    ("How did the ferry sink?", None, None, None),
])
def test_the_shape_of_a_what_question(question: str, head: str | None, form: str | None,
                                      verb: str | None) -> None:
    """Catches: the noun asked about, the way the question uses the gap (its subject, its
    object, after a copula, at its tail) or the question's verb read wrongly."""
    shape = question_shape(parse_question(question))
    assert shape.head == head
    assert shape.form == form
    assert (shape.verb.norm if shape.verb is not None else None) == verb


def test_the_question_phrase_holds_what_kind_of() -> None:
    """Catches: "kind of" left out of the question phrase (its words would then be taken
    for words the answer must hold)."""
    shape = question_shape(parse_question("What kind of measurements were taken?"))
    assert shape.phrase == frozenset({0, 1, 2, 3})


def test_the_subject_of_an_object_question_is_who_does_it() -> None:
    shape = question_shape(parse_question("What did John Wesley call the experience?"))
    assert shape.form == "object"
    assert shape.verb is not None and shape.verb.norm == "call"
    assert [t.surface for t in shape.subject] == ["John", "Wesley"]


@pytest.mark.parametrize(("question", "number", "name"), [
    ("What was the average cost of a ticket?", True, False),
    ("What is the population of York?", True, False),
    ("What hotel did the team stay in?", False, True),
    ("Which building burned down?", False, True),
    ("What is the name of the ferry?", False, True),
    ("What are the particles called?", False, True),
    ("What did the union say?", False, False),
])
def test_a_what_question_asks_for_a_number_or_a_name(question: str, number: bool,
                                                    name: bool) -> None:
    """Catches: "what is the population" answered with a phrase instead of a number, and
    "what hotel" or "what is the name of" answered with anything but a name."""
    parsed = parse_question(question)
    shape = question_shape(parsed)
    assert asks_for_a_number(parsed, shape) is number
    assert asks_for_a_name(parsed, shape) is name


@pytest.mark.parametrize(("question", "adjective"), [
    ("How long is the bridge?", "long"),
    ("How old was the captain?", "old"),
    ("How high did inflation rise?", "high"),
    ("How did the ferry sink?", None),
    ("Who asked how long it took?", "long"),
    ("What is long?", None),
])
def test_a_measure_is_asked_by_how_and_its_adjective(question: str,
                                                     adjective: str | None) -> None:
    assert measure_asked(parse_question(question)) == adjective


# -- numbers: the whole amount ----------------------------------------------------------------

def amount(sentence: str, number: str, question: str | None = None) -> str:
    """The whole amount around the first token ``number`` of ``sentence``."""
    tokens = tokenize(sentence)
    i = next(k for k, t in enumerate(tokens) if t.surface == number)
    q = parse_question(question) if question is not None else None
    start, end = whole(sentence, tokens, i, q)
    return sentence[start:end]


@pytest.mark.parametrize(("sentence", "number", "expected"), [
    ("They paid £48m for it.", "48", "£48m"),
    ("The deal was worth US$1.2bn in all.", "1.2", "US$1.2bn"),
    ("The deal was worth $1.2 billion in all.", "1.2", "$1.2 billion"),
    ("The deal was worth $1.2 billion in all.", "billion", "$1.2 billion"),
    ("It reported 900 million kronor of profit.", "900", "900 million kronor"),
    ("Inflation rose to 8.5% in spring.", "8.5", "8.5%"),
    ("The bridge is 3 km long.", "3", "3 km"),
    ("The bridge is 3km long.", "3", "3km"),
    ("The game ended 24–10 that night.", "10", "24–10"),
    ("24–10 was the final score.", "10", "24–10"),
    ("The clock showed 11:28 at the end.", "28", "11:28"),
    ("About seventy thousand came.", "thousand", "seventy thousand"),
    ("About twenty five came.", "twenty", "twenty five"),
    ("It took 5½ hours.", "5", "5½ hours"),
    ("His 61-yard return won it.", "61-yard", "61"),
    ("The bridge is 3 km long.", "km", "km"),
    ("He was 24 today.", "24", "24"),
    ("They won 3 - 1 later.", "3", "3"),
])
def test_a_number_is_whole_with_its_currency_scale_and_unit(sentence: str, number: str,
                                                           expected: str) -> None:
    """Catches: a currency, scale, unit, percentage or second part of a number left out,
    or words that are no part of it taken in."""
    assert amount(sentence, number) == expected


def test_a_unit_the_question_names_is_left_out() -> None:
    assert amount("The punt went 61 yards out.", "61", "How many yards did it go?") == "61"
    assert amount("The punt went 61 yards out.", "61", "How far did it go?") == "61 yards"


@pytest.mark.parametrize(("sentence", "numbers"), [
    ("In 1998 three ferries and 2 tugs sailed.", ["1998", "three", "2"]),
    ("No number here at all.", []),
    ("The M25 left at dawn.", []),
])
def test_number_tokens_are_digits_and_number_words(sentence: str,
                                                   numbers: list[str]) -> None:
    tokens = tokenize(sentence)
    assert [tokens[i].surface for i in number_tokens(tokens)] == numbers


# -- noun phrases and lists ----------------------------------------------------------------------

@pytest.mark.parametrize(("sentence", "expected"), [
    ("They found clues, evidence and witnesses at the scene.", "clues, evidence and witnesses"),
    ("They found clues, evidence, and witnesses at the scene.",
     "clues, evidence, and witnesses"),
    ("They found clues, evidence, witnesses or motives.", "clues, evidence, witnesses or motives"),
    # Commas without a closing "and"/"or" join nothing: a clause or an aside goes on.
    ("They found clues, evidence; the police left.", "clues"),
    ("They found clues, evidence, the police said.", "clues"),
])
def test_a_noun_phrase_takes_a_whole_list_that_ends_in_and_or_or(sentence: str,
                                                                 expected: str) -> None:
    """Catches: a list cut at its first comma, and commas that join what is no list."""
    tokens = tokenize(sentence)
    first = next(i for i, t in enumerate(tokens) if t.surface == "clues")
    span = noun_phrase_after(sentence, tokens, word_classes(tokens), first)
    assert span is not None
    assert sentence[tokens[span[0]].start:tokens[span[1]].end] == expected


# -- short answers from one sentence's tokens ----------------------------------------------------

def short(sentence: str, question: str) -> str | None:
    """The short answer :func:`extract` finds in ``sentence``, with the sentence's words
    matched to the question's content words as the engine matches them (sharing a term)."""
    q = parse_question(question)
    tokens = tokenize(sentence)
    content = list(q.content)
    matched = {i: k for i, t in enumerate(tokens) for k, c in enumerate(content)
               if same_word(t, c)}
    span = extract(q, sentence, tokens, matched)
    return None if span is None else sentence[span[0]:span[1]]


@pytest.mark.parametrize(("sentence", "question", "expected"), [
    # A relative clause with the question's verb describes the name before its comma,
    # even when a nearer name follows.
    ("The prize went to the Wesleyan Holiness Consortium, which now seeks unity with the "
     "Methodist Church.", "Who seeks unity?", "Wesleyan Holiness Consortium"),
    # The name after "by" did it, not the name that opens the sentence.
    ("The Nordvik bridge was opened by Anna Berg.", "Who opened the bridge?", "Anna Berg"),
    # "Who was X?": the name on the other side of "is" or "was named" from X's words, not a
    # name inside X.
    ("The chair of the Nordvik board is Anna Berg.", "Who is the chair of the board?",
     "Anna Berg"),
    ("The chair of the Nordvik board was named Anna Berg in May.",
     "Who was the chair of the board?", "Anna Berg"),
    # A name that only reports what happened, far from the question's words, did not do it.
    ("The bridge was opened on Monday, said Anna Berg.", "Who opened the bridge?", None),
    # The question's noun in the plural is part of the name asked for.
    ("London Councils signed the letter on Monday.", "Which councils signed the letter?",
     "London Councils"),
])
def test_who_gets_the_name_the_sentence_ties_to_the_question(
        sentence: str, question: str, expected: str | None) -> None:
    """Catches: the relative-clause, agent and copula rules not firing (a nearer or earlier
    name taken instead), a name that ends the sentence read past, and a plural question noun
    cut out of the name."""
    assert short(sentence, question) == expected


@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("The final was reached by Leeds, York and Hull.", "Which teams reached the final?",
     "Leeds, York and Hull"),
    ("The final was reached by Leeds, York, and Hull.", "Which teams reached the final?",
     "Leeds, York, and Hull"),
    ("The final was reached by Leeds and York.", "Which teams reached the final?",
     "Leeds and York"),
    ("Hull beat Leeds, York and Derby in the cup.", "Which teams did Hull beat in the cup?",
     "Leeds, York and Derby"),
])
def test_which_in_the_plural_gets_the_whole_list_of_names(sentence: str, question: str,
                                                          expected: str) -> None:
    """Catches: a list cut after its first name or at its comma."""
    assert short(sentence, question) == expected


@pytest.mark.parametrize(("sentence", "expected"), [
    ("Linebacker Von Miller was named the most valuable player.", "Linebacker"),
    ("Von Miller, a linebacker from Texas, won the award.", "linebacker"),
    ("Von Miller, an architect from Oslo, designed the bridge.", "architect"),
])
def test_a_role_is_the_title_before_or_after_the_persons_name(sentence: str,
                                                             expected: str) -> None:
    """Catches: a title that opens the sentence, or one after "a"/"an" behind the name,
    not found."""
    assert short(sentence, "What position does Von Miller play?") == expected


@pytest.mark.parametrize(("sentence", "question", "expected"), [
    # "Who did X play?" without the question's verb in the sentence: the first name a few
    # words after the question's words, not a name that opens the sentence.
    ("At Wembley in the final, Denver faced Carolina.", "Who did Denver play in the final?",
     "Carolina"),
    # A name of two letters is a name.
    ("The deal was signed by the EU.", "Who signed the deal?", "EU"),
    ("The trade deal was signed in Brussels by the EU on Monday.",
     "Who signed the trade deal?", "EU"),
])
def test_who_gets_the_object_or_the_agent(sentence: str, question: str,
                                                      expected: str) -> None:
    """Catches: the distance from the question's words to the object miscounted, and a
    short name dropped."""
    assert short(sentence, question) == expected


GIVES = "What gives an equivalence between mass and energy?"


@pytest.mark.parametrize(("sentence", "question", "expected"), [
    # The sentence words the question's verb differently: the phrase before its own verb,
    # across auxiliaries.
    ("General relativity can offer an equivalence between mass and energy.", GIVES,
     "General relativity"),
    ("The theory of general relativity offers an equivalence between mass and energy.", GIVES,
     "The theory of general relativity"),
    ("The theory of general relativity can offer an equivalence between mass and energy.",
     GIVES, "The theory of general relativity"),
    # "is known as", "known as": what follows, not the naming words.
    ("The general assembly is known as the General Conference.",
     "What is the general assembly?", "the General Conference"),
    ("The force is carried by particles known as gauge bosons.",
     "What kind of particles carry the force?", "gauge bosons"),
    # What follows "was" is a clause, not a noun phrase: no short answer.
    ("The belief of the founders was that all are equal.",
     "What was the belief of the founders?", None),
])
def test_what_gets_the_subject_or_what_the_sentence_calls_it(sentence: str, question: str,
                                                             expected: str | None) -> None:
    """Catches: the subject cut or overrun around an auxiliary and a verb the question does
    not use, and "known as" read as part of the answer."""
    assert short(sentence, question) == expected



#: One time expression of each kind TIME_RE finds, each opening word among them.
TIME_EXAMPLES = (
    "between 1990 and 1995", "from 1990 to 1995", "early March 2020", "late March",
    "mid-March", "at noon", "midnight", "last week", "this month", "next year",
    "earlier this year", "later this month", "the past decade", "the following week",
    "yesterday evening", "today", "tomorrow", "tonight", "recently", "in 2015", "since 2015",
    "by 2015", "until 2015", "before 2015", "after 2015", "during 2015", "the 1990s",
    "the nineteenth century", "first century", "twenty-first century", "21st century",
    "Monday at 6pm", "6 March 2024", "Sept. 4", "1999", "6.30 p.m.",
)


def test_time_expressions_are_found_as_the_pattern_without_its_first_character_check() -> None:
    import re
    from pathlib import Path

    from quotebot.extract import times
    from quotebot.lexicon import MONTH_ABBREVIATIONS, MONTHS, ORDINALS, WEEKDAYS

    plain = re.compile(times._TIME)
    calendar = [w.capitalize() for w in (*MONTHS, *MONTH_ABBREVIATIONS, *WEEKDAYS)]
    texts = [f"It was {example}, they said." for example in TIME_EXAMPLES]
    texts += [f"On {word} 4, {word} the 5th, and in {word}." for word in calendar]
    texts += [f"The {word} century, {word} of May." for word in ORDINALS]
    fixtures = Path(__file__).parent / "fixtures"
    texts += [p.read_text(encoding="utf-8") for p in sorted(fixtures.rglob("*.txt"))]
    for text in texts:
        assert ([m.span() for m in times.TIME_RE.finditer(text)]
                == [m.span() for m in plain.finditer(text)]), text
    assert all(times.TIME_RE.search(f"It was {example}.") for example in TIME_EXAMPLES)
