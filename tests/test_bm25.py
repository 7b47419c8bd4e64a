"""BM25 against rank-bm25 (the reference implementation) on the same tokens."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from quotebot.analysis import terms
from quotebot.bm25 import K1, BM25Matrix, group_scores, lucene_idf, top_k_of
from quotebot.corpus import load_corpus
from quotebot.sentences import split_document


def build(docs: list[list[str]]) -> tuple[BM25Matrix, dict[str, int]]:
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in docs]
    return BM25Matrix.from_term_ids(ids, len(vocab)), vocab


def dense_scores(matrix: BM25Matrix, query: dict[int, float]) -> np.ndarray:
    ids, scores = matrix.scores(query)
    out = np.zeros(matrix.n_docs)
    out[ids] = scores
    return out


@pytest.fixture(scope="module")
def article_tokens() -> list[list[str]]:
    return [terms(s.text) for s in split_document(load_corpus()[0])]


SMALL = [
    "the cat sat on the mat".split(),
    "the dog chased the cat around the yard".split(),
    "a bird sang".split(),
    "dogs and cats and birds".split(),
    "the mat was red".split(),
    "cat cat cat".split(),
    "nothing here at all today".split(),
]


@pytest.mark.parametrize("docs", [SMALL, "article"], ids=["small", "article"])
def test_scores_agree_with_rank_bm25_term_by_term(docs: object,
                                                  article_tokens: list[list[str]]) -> None:
    """Same tf normalisation as BM25Okapi; only idf (Lucene's) and Okapi's (k1+1) differ."""
    corpus = article_tokens if docs == "article" else SMALL
    matrix, vocab = build(corpus)
    oracle = BM25Okapi(corpus, k1=K1, b=0.75)
    n = len(corpus)
    checked = 0
    for term, tid in vocab.items():
        okapi_idf = oracle.idf[term]
        df = sum(term in doc for doc in corpus)
        if math.log((n - df + 0.5) / (df + 0.5)) <= 0:
            continue  # where Okapi's idf is not positive it floors it; Lucene's never needs to
        ours = dense_scores(matrix, {tid: 1.0})
        theirs = np.asarray(oracle.get_scores([term]))
        rescaled = theirs * float(lucene_idf(df, n)) / okapi_idf / (K1 + 1)
        np.testing.assert_allclose(ours, rescaled, rtol=1e-5, atol=1e-6)
        checked += 1
    assert checked >= 5


def test_multi_term_queries_rank_like_rank_bm25_with_the_same_idf(
        article_tokens: list[list[str]]) -> None:
    matrix, vocab = build(article_tokens)
    oracle = BM25Okapi(article_tokens, k1=K1, b=0.75)
    n = len(article_tokens)
    for query in (["stab", "72"], ["new", "york", "went"], ["linden", "said"],
                  ["knife", "crime", "london"]):
        ours = dense_scores(matrix, {vocab[t]: 1.0 for t in query if t in vocab})
        expected = np.zeros(n)
        for t in [t for t in query if t in vocab]:
            df = sum(t in doc for doc in article_tokens)
            per_term = np.asarray(oracle.get_scores([t]))
            expected += per_term / oracle.idf[t] * float(lucene_idf(df, n)) / (K1 + 1)
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
        assert list(np.argsort(-ours, kind="stable")[:3]) == list(
            np.argsort(-expected, kind="stable")[:3])


def test_idf_is_never_negative_even_for_a_term_in_every_sentence() -> None:
    docs = [["common", "x"], ["common", "y"], ["common", "z"]]
    matrix, vocab = build(docs)
    oracle = BM25Okapi(docs)
    assert (np.asarray(oracle.get_scores(["common"])) <= 0).all()  # Okapi's idf is not > 0
    ids, scores = matrix.scores({vocab["common"]: 1.0})
    assert list(ids) == [0, 1, 2] and (scores > 0).all()


def test_no_zero_score_hits_and_k_larger_than_the_corpus() -> None:
    matrix, vocab = build(SMALL)
    ids, scores = matrix.top_k({vocab["cat"]: 1.0}, k=100)
    assert len(ids) == sum("cat" in d for d in SMALL)
    assert (scores > 0).all()
    assert list(scores) == sorted(scores, reverse=True)
    assert matrix.top_k({}, 5)[0].size == 0
    assert matrix.top_k({vocab["cat"]: 1.0}, 0)[0].size == 0


def test_ties_go_to_the_earlier_sentence() -> None:
    matrix, vocab = build([["a", "b"], ["c", "d"], ["a", "b"], ["a", "b"]])
    ids, _ = matrix.top_k({vocab["a"]: 1.0}, 2)
    assert list(ids) == [0, 2]
    ids, _scores = top_k_of(np.array([5, 3, 9]), np.array([1.0, 1.0, 1.0], np.float32), 2)
    assert list(ids) == [3, 5]


def test_dense_and_sparse_accumulation_agree(article_tokens: list[list[str]]) -> None:
    matrix, vocab = build(article_tokens)
    query = {vocab[t]: 1.0 for t in ("london", "new", "york", "met", "polic")}
    ids, scores = matrix.scores(query)  # many postings: the dense path
    few = {vocab["stab"]: 1.0, vocab["72"]: 1.0}
    ids2, scores2 = matrix.scores(few)  # few postings: the sparse path
    for q, (i, s) in ((query, (ids, scores)), (few, (ids2, scores2))):
        dense = np.zeros(matrix.n_docs)
        for t in q:
            col_ids, col_w = matrix.column(t)
            dense[col_ids] += col_w
        np.testing.assert_allclose(s, dense[i], rtol=1e-6)
        assert set(i) == set(np.flatnonzero(dense))


def test_a_group_counts_once_with_its_best_term(article_tokens: list[list[str]]) -> None:
    matrix, vocab = build(article_tokens)
    plain = {vocab["stab"]: 1.0, vocab["72"]: 1.0}
    ids, scores = group_scores(matrix, [[(vocab["stab"], 1.0)], [(vocab["72"], 1.0)]])
    ids2, scores2 = matrix.scores(plain)
    assert list(ids) == list(ids2)
    np.testing.assert_allclose(scores, scores2)
    # "knife" or "stab" as one group: a sentence with both does not count twice.
    gids, gscores = group_scores(matrix, [[(vocab["stab"], 1.0), (vocab["knife"], 1.0)]])
    stab = dict(zip(*matrix.scores({vocab["stab"]: 1.0}), strict=True))
    knife = dict(zip(*matrix.scores({vocab["knife"]: 1.0}), strict=True))
    for sid, score in zip(gids, gscores, strict=True):
        assert score == pytest.approx(max(stab.get(sid, 0), knife.get(sid, 0)))
