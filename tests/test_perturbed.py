"""Questions changed so that the text no longer answers them: one word the answering
paragraph holds replaced by another of its kind that it does not hold."""

from __future__ import annotations

from quotebot.analysis import terms, tokenize
from quotebot.lexicon import antonyms
from quotebot.perturbed import (
    WordPool,
    kinds_of,
    name_phrases,
    negate,
    opposite,
    perturb,
    qualify,
    swap_name,
    variants,
)

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


def test_a_negation_is_taken_away_or_added_after_the_first_auxiliary() -> None:
    assert negate("Who did not win the cup?").question == "Who did win the cup?"
    assert negate("Why didn't the ferry sail?").question == "Why did the ferry sail?"
    assert negate("Which team won't play?").question == "Which team will play?"
    added = negate("When was the island bought?")
    assert added is not None and added.question == "When was not the island bought?"
    assert added.change == "negation"
    assert negate("Who bought the island?") is None


def test_a_word_is_turned_into_its_opposite_only_where_the_paragraph_lacks_it() -> None:
    held = set(terms(ANSWERING))
    variant = opposite("Who bought the island?", held)
    assert variant is not None
    assert (variant.question, variant.change) == ("Who sold the island?", "antonym")
    # Both ways, and as the word was written.
    assert "lost" in antonyms()["won"] and "won" in antonyms()["lost"]
    # A paragraph that has the opposite too may answer the changed question.
    assert opposite("Who bought the island?", held | set(terms("sold"))) is None
    # The answer's own words stay.
    assert opposite("Who bought the island?", held, keep=terms("bought")) is None


def test_a_name_is_swapped_for_another_the_paragraph_gives() -> None:
    paragraph = ("The island was bought by Lord Matheson from the Duke of Argyll in 1853. "
                 "Ferries sail from Oban.")
    assert [paragraph[a:b] for a, b in name_phrases(paragraph)] == [
        "Lord Matheson", "Duke", "Argyll", "Oban"]
    made = {swap_name("When did Lord Matheson buy the island?", f"s{n}", paragraph)
            for n in range(20)}
    assert {v.question for v in made if v is not None} == {
        "When did Duke buy the island?", "When did Argyll buy the island?",
        "When did Oban buy the island?"}
    assert {v.change for v in made if v is not None} == {"swap"}
    # A name the paragraph lacks, or none to swap it for, is left alone.
    assert swap_name("When did Mr Grant buy the island?", "s", paragraph) is None
    assert swap_name("When did Lord Matheson buy it?", "s", "Lord Matheson bought it.") is None


def test_a_qualifier_the_paragraph_lacks_is_put_before_one_of_its_nouns() -> None:
    pool = WordPool.of([*ARTICLE, "The old distillery stood by the ancient harbour."])
    held = set(terms(ANSWERING))
    for n in range(10):
        variant = qualify("Who bought the island?", f"q{n}", held, pool)
        assert variant is not None and variant.change == "qualifier"
        assert variant.question in ("Who bought the old island?",
                                    "Who bought the ancient island?")


def test_every_change_that_can_be_made_is_made_once() -> None:
    pool = WordPool.of([*ARTICLE, "The old distillery stood by the ancient harbour."])
    made = variants("When did Lord Matheson buy the island?", "v", ANSWERING + " " + ARTICLE[3],
                    pool, keep=terms("1853"))
    assert [v.change for v in made] == ["word", "negation", "antonym", "swap", "qualifier"]
    assert len({v.question for v in made}) == 5
