"""Analysis: normalised, case-folded, stemmed terms; stop words out; numbers and
hyphenated words searchable whole and in parts."""

from __future__ import annotations

import unicodedata

from quotebot import analysis
from quotebot.analysis import normalise, terms, tokenize


def test_unicode_is_normalised_and_case_folded() -> None:
    assert normalise("CAFÉ ﬁne") == "cafe fine"
    assert normalise("London’s") == "london's"
    assert terms("NYPD’s") == terms("nypd's") == terms("NYPD") == ["nypd"]


def test_words_are_stemmed_so_forms_meet() -> None:
    assert terms("stabbings") == terms("stabbing") == terms("stabbed")
    assert terms("officers")[0] == terms("officer")[0]


def test_irregular_forms_share_a_term_with_their_lemma() -> None:
    assert "go" in terms("went")
    assert "tell" in terms("told")
    assert set(terms("said")) & set(terms("say"))


def test_every_form_lemminflect_knows_gets_the_lemmas_it_gives() -> None:
    # The analysis reads lemminflect's tables once instead of asking for each word.
    from lemminflect import getAllLemmas
    from lemminflect.core.Lemmatizer import Lemmatizer

    lemmatizer = Lemmatizer()
    known = {*lemmatizer._getLemmaDict(), *lemmatizer._getOverridesDict()}
    words = sorted({w.lower() for w in known} | {"xyzzy", "went", "mice", "told", "be"})
    assert len(words) > 50_000
    wrong = []
    for word in words:
        found = getAllLemmas(word)
        asked = tuple(lemma for upos in ("VERB", "NOUN") for lemma in found.get(upos, ())
                      if lemma != word and lemma.isalpha())
        if len(word) < 3 or not word.isascii() or not word.isalpha():
            asked = ()
        if analysis._lemmas(word) != asked:
            wrong.append((word, analysis._lemmas(word), asked))
    assert wrong == []
    assert analysis._lemmas("went") == ("go",)


def test_stop_words_are_not_searched_for() -> None:
    assert terms("who went to New York?") == ["went", "go", "new", "york"]
    assert terms("the of and to") == []
    flagged = {t.norm: t.is_stop for t in tokenize("who went to New York?")}
    assert flagged == {"who": True, "went": False, "to": True, "new": False, "york": False}


def test_numbers_are_kept_whole_and_in_parts() -> None:
    assert terms("15,000") == ["15000", "15", "000"]
    assert terms("72") == ["72"]
    assert terms("3.5") == ["3.5", "3", "5"]
    assert set(terms("15000")) <= set(terms("15,000"))


def test_hyphenated_words_are_searchable_whole_and_in_parts() -> None:
    whole, *parts = terms("law-enforcement")
    assert whole == "law-enforc"
    assert set(parts) == {"law", "enforc"}
    assert set(terms("enforcement")) <= set(terms("law-enforcement"))


def test_tokens_keep_their_offsets() -> None:
    text = "Ms Linden’s “public health” approach"
    for token in tokenize(text):
        assert text[token.start:token.end] == token.surface
    assert [t.surface for t in tokenize(text)] == ["Ms", "Linden’s", "public", "health",
                                                   "approach"]


def test_accents_are_folded_so_names_match_as_people_type_them() -> None:
    assert normalise("Álvarez") == normalise("alvarez") == "alvarez"
    assert terms("Tomás Álvarez") == terms("Tomas Alvarez")
    assert terms("Søren Łukasz") == terms("Soren Lukasz")
    # Decomposed text (a letter, then its accent) is one word, folded the same way.
    decomposed = unicodedata.normalize("NFD", "Tomás Álvarez")
    assert [t.surface for t in tokenize(decomposed)] == decomposed.split()
    assert terms(decomposed) == terms("Tomas Alvarez")


def test_folding_keeps_scripts_that_are_not_accented_latin() -> None:
    for word in ("한국어", "हिन्दी", "がっこう", "Москва", "Толстой"):
        assert normalise(word) == unicodedata.normalize("NFC", word).casefold()
    assert normalise("Αθήνα") == normalise("Αθηνα")


def test_tokens_keep_the_original_accented_text() -> None:
    text = "Striker Tomás Álvarez, 24"
    tokens = tokenize(text)
    assert [t.surface for t in tokens] == ["Striker", "Tomás", "Álvarez", "24"]
    assert all(text[t.start:t.end] == t.surface for t in tokens)
    assert tokens[2].norm == "alvarez"
