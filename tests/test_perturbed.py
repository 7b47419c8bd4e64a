"""Questions changed so that the text no longer answers them: one word the answering
paragraph holds replaced by another of its kind that it does not hold."""

from __future__ import annotations

from quotebot.analysis import terms, tokenize
from quotebot.perturbed import WordPool, kinds_of, perturb

ARTICLE = [
    "The island was bought by Lord Matheson in 1853 for 190,000 pounds.",
    "Its distillery was founded in 1829 and closed in 1924.",
    "Ferries sail from Oban twice a week; the crossing takes three hours.",
    "In 2009 the islanders bought the island from its last landlord, Mr Grant.",
]
ANSWERING = ARTICLE[0]


def test_words_are_told_by_kind() -> None:
    tokens = tokenize("Who bought the island in 1853 for 190,000 pounds from Matheson?")
    kinds = dict(zip((t.surface for t in tokens), kinds_of(tokens), strict=True))
    assert kinds["1853"] == "year"
    assert kinds["190,000"] == "number"
    assert kinds["Matheson"] == "name"
    assert kinds["island"] == "noun-"
    assert kinds["pounds"] == "noun-s"
    assert kinds["bought"].startswith("verb")
    # Stop words and the question's opening word are never replaced.
    assert kinds["the"] is None and kinds["Who"] is None


def test_a_replaced_word_is_one_the_paragraph_held_and_its_replacement_one_it_lacks() -> None:
    pool = WordPool.of(ARTICLE)
    held = set(terms(ANSWERING))
    question = "Who bought the island in 1853?"
    made = {perturb(question, f"q{n}", held, pool) for n in range(40)}
    assert None not in made
    for variant in made:
        assert variant is not None
        assert variant.replaced in ("bought", "island", "1853")
        # One word changed, the rest as asked.
        before, after = question.split(variant.replaced)
        assert variant.question == before + variant.replacement + after
        assert not set(terms(variant.replacement)) & held
        if variant.replaced == "1853":
            assert variant.kind == "year" and variant.replacement in ("1829", "1924", "2009")
    # Drawn from the question's seed: the same seed, the same question.
    assert perturb(question, "q1", held, pool) == perturb(question, "q1", held, pool)
    assert len({v.question for v in made if v is not None}) > 3


def test_a_name_is_replaced_by_a_name_and_the_answer_is_kept() -> None:
    pool = WordPool.of(ARTICLE)
    held = set(terms(ANSWERING))
    for n in range(20):
        variant = perturb("When did Lord Matheson buy the island?", f"s{n}", held, pool,
                          keep=terms("island buy"))
        assert variant is not None
        assert variant.replaced in ("Lord", "Matheson")
        assert variant.kind == "name" and variant.replacement in ("Oban", "Grant")


def test_a_question_with_nothing_the_paragraph_holds_is_not_changed() -> None:
    pool = WordPool.of(ARTICLE)
    assert perturb("Why do ferries sail twice a week?", "x", set(terms(ANSWERING)),
                   pool) is None
    # Nor one whose words have no other of their kind to be replaced by.
    assert perturb("Who bought the island in 1853?", "x", set(terms(ANSWERING)),
                   WordPool.of([ANSWERING])) is None
