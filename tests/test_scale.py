"""The index at scale, kept small: same rankings as bm25s, fast paths equal to slow ones,
a saved vocabulary that needs no parsing, and nothing read at load time that is not needed.

Speed itself is measured by benchmarks/bench_scale.py, never asserted here.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from quotebot import analysis, bm25, postings
from quotebot.bm25 import BM25Matrix, group_scores, top_k_of
from quotebot.context import Context, anchor_sid
from quotebot.engine import QuoteEngine
from quotebot.models import Document
from quotebot.retrieve import retrieve, retrieve_among
from quotebot.sentences import split_document
from quotebot.store import (
    StringTable,
    build_index,
    load_index,
    merge_index,
    save_index,
)
from quotebot.store import files as store_files

from conftest import assert_same_matrix, matrix_arrays

ROOT = Path(__file__).resolve().parents[1]


def zipf_corpus(n: int, vocab: int = 2000, seed: int = 5) -> list[list[str]]:
    """Sentences of 3-20 words with Zipf-like frequencies, the shape of real text."""
    rng = np.random.default_rng(seed)
    weights = np.arange(1, vocab + 1, dtype=np.float64) ** -1.1
    cdf = np.cumsum(weights) / weights.sum()
    return [[f"w{int(i)}" for i in np.searchsorted(cdf, rng.random(int(rng.integers(3, 21))))]
            for _ in range(n)]


def queries(n: int, vocab: int = 2000, seed: int = 6) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[f"w{int(i)}" for i in rng.integers(0, vocab // 4, size=int(rng.integers(1, 5)))]
            for _ in range(n)]


def test_top_10_is_the_same_as_bm25s_lucene_on_the_same_tokens() -> None:
    import bm25s  # in the `test` extra: a missing one is an error, never a skip
    corpus = zipf_corpus(3000)
    matrix, vocab = BM25Matrix.from_token_lists(corpus)
    ids = {term: i for i, term in enumerate(vocab)}
    reference = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    reference.index(corpus, show_progress=False)
    for query in queries(60):
        ours_ids, ours_scores = matrix.top_k({ids[t]: 1.0 for t in query if t in ids}, 10)
        docs, scores = reference.retrieve([query], k=10, show_progress=False)
        theirs = [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
        assert np.allclose(ours_scores, [s for _, s in theirs], rtol=1e-5)
        # Sentences tied with the 10th may be listed in another order; all above agree.
        last = float(ours_scores[-1])
        assert ({int(i) for i, s in zip(ours_ids, ours_scores, strict=True) if s > last + 1e-5}
                == {d for d, s in theirs if s > last + 1e-5})


def test_token_lists_and_term_ids_build_the_same_matrix() -> None:
    corpus = zipf_corpus(500)
    from_tokens, vocab = BM25Matrix.from_token_lists(corpus)
    ids = {term: i for i, term in enumerate(vocab)}
    from_ids = BM25Matrix.from_term_ids([[ids[t] for t in s] for s in corpus], len(vocab))
    assert_same_matrix(from_tokens, from_ids)
    assert vocab == list(dict.fromkeys(t for sentence in corpus for t in sentence))


@pytest.mark.parametrize(("run_tokens", "spill"), [(1, False), (7, False), (1000, False),
                                                  (1000, True)])
def test_building_in_sorted_runs_gives_the_matrix_of_one_sort(
        monkeypatch: pytest.MonkeyPatch, run_tokens: int, spill: bool) -> None:
    """Runs of sentences sorted apart (kept in memory or on disk) and merged by term, a
    range of terms at a time: the same postings, term frequencies and weights as sorting
    every posting at once (empty sentences too)."""
    corpus = [[], *zipf_corpus(1500, vocab=200), [], ["w1", "w1", "w1"], []]
    whole, vocab = BM25Matrix.from_token_lists(corpus)
    monkeypatch.setattr(bm25, "_RUN_TOKENS", run_tokens)
    monkeypatch.setattr(postings, "_CHUNK_POSTINGS", 100)
    if spill:
        monkeypatch.setattr(bm25, "_SPILL_TOKENS", 0)
    runs, vocab_runs = BM25Matrix.from_token_lists(corpus)
    assert vocab_runs == vocab
    assert_same_matrix(runs, whole)
    term = vocab.index("w1")
    sids = whole.postings(term)
    tf = matrix_arrays(whole)["tf"]
    assert np.all(np.diff(sids) > 0) and int(tf[whole.indptr[term] + np.flatnonzero(
        sids == len(corpus) - 2)[0]]) == 3


def test_postings_are_kept_in_under_three_bytes_each() -> None:
    """Sentence ids two bytes apart from their block's first where a word is common, term
    frequencies in half a byte, none where every one is 1: unpacked, a posting took ten
    bytes (its id, its term frequency and its weight)."""
    matrix, _ = BM25Matrix.from_token_lists(zipf_corpus(20000, vocab=600))
    packed = matrix.packed
    size = sum(array.nbytes for array in packed.arrays().values())
    assert size < 3 * matrix.n_postings
    common = int(np.argmax(matrix.df))
    assert packed.id_at[common] >= 0  # two-byte ids
    ids, tf = packed.column(common)
    assert tf is not None and ids.size == matrix.df[common]


def test_some_blocks_of_a_term_are_those_rows_of_its_column(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading some blocks gives those blocks of the whole column: two- and four-byte ids,
    term frequencies in half bytes, in two bytes or not stored, the short last block."""
    monkeypatch.setattr(postings, "_SHORT", 1000)  # four-byte ids past 1,000 sentences
    corpus = zipf_corpus(6000, vocab=400)
    corpus[17] = ["w1"] * 40  # a term frequency past 16: two bytes
    matrix, vocab = BM25Matrix.from_token_lists(corpus)
    packed = matrix.packed
    rng = np.random.default_rng(3)
    kinds = set()
    for term in range(len(vocab)):
        b0, b1 = packed.blocks_of(term)
        ids, tf = packed.column(term)
        kinds.add((packed.id_at[term] >= 0, int(np.sign(packed.tf_at[term] + 1))))
        for local in (np.arange(b1 - b0), np.flatnonzero(rng.random(b1 - b0) < 0.5),
                      np.asarray([b1 - b0 - 1])):
            got_ids, got_tf = packed.blocks(term, local)
            want = np.concatenate([np.arange(j * postings.BLOCK,
                                             min((j + 1) * postings.BLOCK, ids.shape[0]))
                                   for j in local.tolist()] or [np.zeros(0, np.int64)])
            assert np.array_equal(got_ids, ids[want])
            assert (got_tf is None) == (tf is None)
            if tf is not None and got_tf is not None:
                assert np.array_equal(got_tf, tf[want])
    assert {(True, 1), (True, -1), (False, 0)} <= kinds


@pytest.mark.parametrize("chunk", [1 << 20, 50])
def test_paragraph_postings_are_those_of_the_paragraphs_text(
        monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """Grouping sentences' postings into paragraphs (a range of terms at a time) gives the
    matrix built from each paragraph's tokens as one document."""
    monkeypatch.setattr(postings, "_CHUNK_POSTINGS", chunk)
    corpus = [[], *zipf_corpus(800, vocab=150), [], ["w1"]]
    rng = np.random.default_rng(2)
    group_of = np.cumsum(rng.random(len(corpus)) < 0.3)
    group_of -= group_of[0]
    n_groups = int(group_of[-1]) + 1
    ids: dict[str, int] = {}
    term_ids = [[ids.setdefault(t, len(ids)) for t in s] for s in corpus]
    grouped = BM25Matrix.from_term_ids(term_ids, len(ids)).grouped(group_of, n_groups)
    joined: list[list[int]] = [[] for _ in range(n_groups)]
    for sentence, group in zip(term_ids, group_of.tolist(), strict=True):
        joined[group].extend(sentence)
    direct = BM25Matrix.from_term_ids(joined, len(ids))
    assert_same_matrix(grouped, direct)


@pytest.mark.slow
def test_common_and_rare_words_score_the_same_on_either_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Queries with common words are summed in a dense vector, others by sorting postings."""
    corpus = zipf_corpus(2000, vocab=300)
    matrix, _ = BM25Matrix.from_token_lists(corpus)
    rng = np.random.default_rng(1)
    groups_list = []
    for _ in range(40):
        terms = rng.integers(0, 300, size=5).tolist()
        groups_list.append([[(terms[0], 1.0), (terms[1], 0.6)], [(terms[2], 1.0)],
                            [(terms[3], 0.3), (terms[4], 1.0), (terms[0], 0.5)]])
        groups_list.append([[(t, 1.0)] for t in terms[:3]])
    results = {}
    for name, share in (("dense", 0.0), ("sparse", float("inf"))):
        monkeypatch.setattr(bm25, "_DENSE_SHARE", share)
        results[name] = [group_scores(matrix, g) for g in groups_list]
    for (ids_d, sc_d), (ids_s, sc_s) in zip(results["dense"], results["sparse"], strict=True):
        assert np.array_equal(ids_d, ids_s)
        assert np.allclose(sc_d, sc_s, rtol=1e-6)


def test_a_group_scores_its_best_term_on_the_dense_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25, "_DENSE_SHARE", 0.0)
    matrix, vocab = BM25Matrix.from_token_lists([["cat", "dog"], ["cat"], ["dog"], ["eel"]])
    cat, dog = vocab.index("cat"), vocab.index("dog")
    ids, scores = group_scores(matrix, [[(cat, 1.0), (dog, 0.5)]])
    _, cat_only = matrix.scores({cat: 1.0})
    assert ids.tolist() == [0, 1, 2]
    assert scores[0] == pytest.approx(max(cat_only[0], 0.5 * matrix.column(dog)[1][0]))


def test_threads_querying_one_matrix_get_their_own_results(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25, "_DENSE_SHARE", 0.0)  # the path with per-thread scratch vectors
    matrix, vocab = BM25Matrix.from_token_lists(zipf_corpus(3000))
    ids = {term: i for i, term in enumerate(vocab)}
    qs = [{ids[t]: 1.0 for t in q if t in ids} for q in queries(200)]
    expected = [matrix.top_k(q, 10) for q in qs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda q: matrix.top_k(q, 10), qs * 3))
    for (ids_a, sc_a), (ids_b, sc_b) in zip(expected * 3, got, strict=True):
        assert np.array_equal(ids_a, ids_b) and np.array_equal(sc_a, sc_b)


def _mixed_groups(n_terms: int, n: int, seed: int) -> list[list[list[tuple[int, float]]]]:
    """Plain queries, queries with a very common word, and groups of related words."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        terms = rng.integers(0, n_terms, size=4).tolist()
        out.append([[(t, 1.0)] for t in terms[:int(rng.integers(1, 5))]])
        out.append([[(terms[0], 1.0)], [(int(rng.integers(0, 3)), 1.0)]])
        out.append([[(terms[1], 1.0), (terms[2], 0.6)], [(terms[3], 1.0)],
                    [(int(rng.integers(0, 5)), 0.3), (terms[0], 0.5)]])
    return out


@pytest.mark.parametrize("threshold", [0, 10**9], ids=["maxscore", "every-posting"])
def test_top_k_with_skipping_is_the_top_k_of_every_score(
        monkeypatch: pytest.MonkeyPatch, threshold: int) -> None:
    """MaxScore (reading common words only where rarer ones matched) and the scratch-vector
    path give exactly the top k of scoring every sentence, ties included."""
    monkeypatch.setattr(bm25, "_MAXSCORE_MIN", threshold)
    matrix, vocab = BM25Matrix.from_token_lists(zipf_corpus(4000, vocab=600))
    checked = 0
    for groups in _mixed_groups(len(vocab), 60, seed=3):
        for k in (1, 10, 60):
            want_ids, want_scores = top_k_of(*group_scores(matrix, groups), k)
            got_ids, got_scores = matrix.top_groups(groups, k)
            assert np.array_equal(got_ids, want_ids), groups
            assert np.array_equal(got_scores, want_scores), groups
            checked += 1
    assert checked == 540


@pytest.mark.parametrize("threshold", [0, 10**9], ids=["maxscore", "every-posting"])
def test_paragraph_scores_summed_from_sentence_postings_are_those_of_paragraph_postings(
        monkeypatch: pytest.MonkeyPatch, threshold: int) -> None:
    """A paragraph's BM25 summed from its sentences' postings (reusing the lists the top k
    read whole, or reading blocks around the paragraphs) is, to the bit, what the
    paragraphs' own postings give."""
    monkeypatch.setattr(bm25, "_MAXSCORE_MIN", threshold)
    corpus = zipf_corpus(4000, vocab=600)
    matrix, vocab = BM25Matrix.from_token_lists(corpus)
    rng = np.random.default_rng(9)
    group_of = np.cumsum(rng.random(len(corpus)) < 0.3)
    group_of -= group_of[0]
    n_groups = int(group_of[-1]) + 1
    paragraphs = matrix.grouped(group_of, n_groups)
    starts = np.searchsorted(group_of, np.arange(n_groups + 1))
    reused = 0
    for groups in _mixed_groups(len(vocab), 40, seed=7):
        read: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        ids, _ = matrix.top_groups(groups, 60, read)
        reused += bool(read)
        some = np.unique(rng.integers(0, n_groups, size=30))
        for pids in (group_of[ids], some):
            want = paragraphs.scores_of(groups, pids)
            for known in (read, None):
                got = bm25.range_scores(matrix, paragraphs, groups, pids, starts[pids],
                                        starts[pids + 1], known)
                assert got.dtype == want.dtype and np.array_equal(got, want), groups
    assert reused > 60


def test_retrieval_gives_the_paragraph_scores_of_the_paragraph_postings(
        tmp_path: Path) -> None:
    """A saved index's sentences and paragraph scores found in one pass are those of the two
    passes: the top sentences, then their paragraphs' own postings."""
    save_index(build_index(_batched_corpus()), tmp_path)
    index = load_index(tmp_path)
    df = index.matrix.df
    rng = np.random.default_rng(11)
    # The commonest terms (read in blocks around the paragraphs) and any others.
    known = [*np.argsort(-df)[:6].tolist(), *rng.integers(0, df.shape[0], size=20).tolist()]
    for _ in range(60):
        chosen = rng.choice(known, size=int(rng.integers(1, 5)), replace=False).tolist()
        groups = [[(t, 1.0)] for t in chosen[1:]] + [[(chosen[0], 1.0), (known[0], 0.4)]]
        for k in (3, 60):
            ids, scores = index.top_sentences(groups, k)
            got_ids, got_scores, got = index.top_sentences_and_paragraphs(groups, k)
            assert np.array_equal(got_ids, ids) and np.array_equal(got_scores, scores)
            assert np.array_equal(got, index.paragraph_scores(groups, ids))


def test_a_documents_own_candidates_are_those_of_every_match_kept_to_it(
        tmp_path: Path) -> None:
    """Asked of one document, retrieval scores that document's sentences alone and finds
    the candidates, in the order and with the scores, that retrieving every match of the
    corpus and keeping the document's finds; the last answer's sentence is found within
    its document."""
    save_index(build_index(_batched_corpus()), tmp_path)
    index = load_index(tmp_path)
    engine = QuoteEngine(index)
    settings = engine.retrieval
    rng = np.random.default_rng(12)
    doc_idx = np.asarray(index.doc_idx)
    questions = [" ".join(rng.choice(index.sentence_text(int(s)).split(), size=3).tolist())
                 for s in rng.integers(0, index.n_sentences, size=25)]
    assert len(index.docs) >= 4
    found = 0
    for pos, doc in enumerate(index.docs):
        mine = index.doc_sentences(pos)
        assert list(mine) == np.flatnonzero(doc_idx == pos).tolist()
        for question in [*questions, "police officers in the city"]:
            plan = engine.plan(question)
            for limit in (0, 100):
                got = retrieve_among(plan, index, settings,
                                     np.arange(mine.start, mine.stop, dtype=np.int64), limit)
                every = retrieve(plan, index, settings, index.n_sentences)
                keep = np.flatnonzero(doc_idx[every.sids] == pos)[
                    :max(settings.candidates, limit)]
                assert np.array_equal(got.sids, every.sids[keep]), (doc.id, question)
                assert np.array_equal(got.bm25, every.bm25[keep]), (doc.id, question)
                found += len(got)
        for sid in rng.choice(mine, size=min(5, len(mine)), replace=False).tolist():
            inside = int(index.start[sid]) + (int(index.end[sid]) - int(index.start[sid])) // 2
            assert anchor_sid(index, Context(doc=doc.id, start=inside)) == sid
    assert found > 100


def test_the_top_k_reads_back_a_clean_scratch_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-thread vector the scores are summed in is zero again after every question, so
    a question never inherits another's scores."""
    monkeypatch.setattr(bm25, "_MAXSCORE_MIN", 0)
    monkeypatch.setattr(bm25, "_LOOKUP_SHARE", 0.0)  # every question on the scratch path
    matrix, vocab = BM25Matrix.from_token_lists(zipf_corpus(2000, vocab=300))
    for groups in _mixed_groups(len(vocab), 20, seed=4):
        matrix.top_groups(groups, 10)
    for name in ("sums", "maxima"):
        assert not np.any(getattr(matrix._scratch, name)), name


def test_scores_of_some_sentences_are_their_full_scores() -> None:
    matrix, vocab = BM25Matrix.from_token_lists(zipf_corpus(3000, vocab=400))
    rng = np.random.default_rng(8)
    for groups in _mixed_groups(len(vocab), 20, seed=5):
        ids, scores = group_scores(matrix, groups)
        dense = np.zeros(matrix.n_docs, dtype=np.float32)
        dense[ids] = scores
        some = np.unique(rng.integers(0, matrix.n_docs, size=50))
        assert np.array_equal(matrix.scores_of(groups, some), dense[some])


def test_each_terms_largest_weight_bounds_its_column() -> None:
    corpus = zipf_corpus(1000, vocab=300)
    ids: dict[str, int] = {}
    term_ids = [[ids.setdefault(t, len(ids)) for t in s] for s in corpus]
    matrix = BM25Matrix.from_term_ids([*term_ids, []], len(ids) + 3)  # 3 terms never used
    assert matrix.max_weights[-3:].tolist() == [0.0] * 3
    for term in range(matrix.n_terms):
        _, weights = matrix.column(term)
        assert matrix.max_weights[term] == (weights.max() if weights.size else 0.0)


# -- building from text ------------------------------------------------------------------------

TRICKY = [
    Document("a", "A", "The high-tech police-led unit's 1,200.5 officers went to "
                       "London\u2019s HQ.\nMr. Khan said: \u201cwe will.\u201d The the the.\n\n"
                       "State-of-the-art?"),
    Document("b", "B", "Officers, officers and OFFICERS. Caf\u00e9s in N\u00eemes; 24-year-old "
                       "went, goes, gone.\n...\n"),
    Document("c", "C", ""),
]


def test_building_matches_analysing_every_token_one_by_one() -> None:
    """The build analyses each distinct word once; the result is what a token-by-token
    pass over every sentence gives: the same terms, ids, lengths and word counts."""
    index = build_index(TRICKY)
    term_ids: dict[str, int] = {}
    words: dict[str, int] = {}
    rows = []
    for doc in TRICKY:
        for sentence in split_document(doc):
            ids: list[int] = []
            for token in analysis.tokenize(sentence.text):
                if token.is_stop:
                    continue
                words[token.norm] = words.get(token.norm, 0) + 1
                ids.extend(term_ids.setdefault(term, len(term_ids)) for term in token.terms)
            rows.append(ids)
    assert list(index.vocab) == list(term_ids)
    assert {w: int(index.words.count[i]) for i, w in enumerate(index.words.strings)} == words
    expected = BM25Matrix.from_term_ids(rows, len(term_ids))
    assert_same_matrix(index.matrix, expected)


def test_a_saved_vocabulary_finds_every_term_and_no_other(tmp_path: Path) -> None:
    index = build_index(TRICKY)
    save_index(index, tmp_path)
    loaded = load_index(tmp_path)
    assert isinstance(loaded.vocab, StringTable)
    assert list(loaded.vocab) == list(index.vocab)
    assert len(loaded.term_ids) == len(index.vocab)
    for term, tid in index.term_ids.items():
        assert loaded.term_ids[term] == tid
        assert loaded.vocab.string(tid) == term
    for absent in ("", "officers", "zzz", "caf", "n\u00eemes-x"):
        assert absent not in loaded.term_ids
    with pytest.raises(KeyError):
        loaded.term_ids["zzz"]


def test_terms_with_the_same_hash_are_told_apart(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(store_files, "hash_bytes", lambda data: 7)  # every term collides
    index = build_index(TRICKY[:2])
    save_index(index, tmp_path)
    loaded = load_index(tmp_path)
    for term, tid in index.term_ids.items():
        assert loaded.term_ids[term] == tid
    assert "nothing" not in loaded.term_ids


def test_an_empty_corpus_saves_and_loads(tmp_path: Path) -> None:
    save_index(build_index([Document("e", "E", "")]), tmp_path)
    loaded = load_index(tmp_path)
    assert loaded.n_sentences == 0 and len(loaded.vocab) == 0
    assert "anything" not in loaded.term_ids
    assert loaded.matrix.top_k({0: 1.0}, 5)[0].size == 0


def test_the_token_table_gives_the_tokens_that_tokenising_the_sentence_gives(
        tmp_path: Path) -> None:
    """Answering reads tokens from the index instead of tokenising corpus text: they must
    be exactly what tokenising each sentence gives, offsets included, before and after
    saving and after an update."""
    index = build_index(TRICKY)
    save_index(index, tmp_path)
    loaded = load_index(tmp_path)
    extra = Document("d", "D", "Ümlaut-words and 3.5% of £12m: can't stop. Officers' café.")
    updated = merge_index(loaded, added=[extra], removed=["a"])
    for built in (index, loaded, updated):
        assert built.n_sentences > 0
        for sid in range(built.n_sentences):
            text = built.sentence(sid).text
            assert list(built.sentence_tokens(sid)) == analysis.tokenize(text)


def test_building_a_few_tokens_at_a_time_gives_the_same_index(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from quotebot.store import build

    whole = build_index(TRICKY)
    monkeypatch.setattr(build, "_CHUNK_TOKENS", 3)
    chunked = build_index(TRICKY)
    assert_same_matrix(chunked.matrix, whole.matrix)
    assert_same_matrix(chunked.paragraphs, whole.paragraphs)
    assert np.array_equal(chunked.tokens.form, whole.tokens.form)
    assert whole.matrix.n_postings > 3 * 4


@pytest.mark.slow
def test_offsets_past_two_bytes_are_kept_in_four(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sentences are cut at 1,000 characters, so offsets fit in two bytes; were a longer
    one to come, its tokens' offsets, and those after it, are still exact."""
    from quotebot import sentences

    monkeypatch.setattr(sentences, "MAX_SENTENCE_CHARS", 10**9)
    long_sentence = " ".join(f"word{i}" for i in range(12_000)) + "."
    docs = [Document("a", "A", "A short one first. " + long_sentence + " Then more words."),
            Document("b", "B", "And a last document.")]
    index = build_index(docs)
    assert int(index.tokens.start.max()) > 65_535
    for sid in range(index.n_sentences):
        assert list(index.sentence_tokens(sid)) == analysis.tokenize(index.sentence(sid).text)


def test_a_token_far_from_the_one_before_keeps_its_offset(tmp_path: Path) -> None:
    """A token's offset is kept as a one-byte step from the token before: a long word
    (a web address) puts the next one 255 characters or more further, saved apart."""
    address = "https://example.org/" + "a" * 400
    docs = [Document("a", "A", f"Read {address} today. {'x' * 300} and then more."),
            Document("b", "B", "Short words here.")]
    save_index(build_index(docs), tmp_path)
    loaded = load_index(tmp_path)
    assert loaded.tokens.far.shape[0] >= 2
    for sid in range(loaded.n_sentences):
        assert list(loaded.sentence_tokens(sid)) == analysis.tokenize(loaded.sentence(sid).text)


@pytest.mark.slow
def test_a_corpus_of_more_forms_than_two_bytes_hold_keeps_its_tokens(tmp_path: Path) -> None:
    """Past 65,536 word forms a token's form id takes two more bits: saved, loaded and
    updated, every sentence still gives the tokens that tokenising it gives."""
    words = [f"k{i:05d}q" for i in range(70_000)]
    docs = [Document(f"d{n}", f"D{n}", " ".join(" ".join(words[at:at + 20]) + "."
                                              for at in range(n, n + 2_000, 20)))
            for n in range(0, 70_000, 2_000)]
    save_index(build_index(docs), tmp_path)
    loaded = load_index(tmp_path)
    assert len(loaded.forms.strings) > 65_536 and loaded.tokens.high_bits == 2
    updated = merge_index(loaded, added=[Document("e", "E", "Fresh words k00003q here.")],
                          removed=["d0"])
    for index in (loaded, updated):
        for sid in range(0, index.n_sentences, 7):
            assert list(index.sentence_tokens(sid)) == analysis.tokenize(
                index.sentence(sid).text)


@pytest.mark.parametrize("chunk", [1 << 20, 7])
@pytest.mark.parametrize("n_forms", [3, 65_536, 65_537, 262_145, 1 << 20 | 1, (1 << 24) + 1])
def test_the_packed_token_table_gives_back_every_form_and_offset(
        n_forms: int, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Form ids take two bytes and a few bits more when the corpus has more forms than
    two bytes hold; each sentence's forms and offsets come back as they went in, however
    many tokens are packed at a time."""
    from quotebot.store import model
    from quotebot.store.model import Tokens

    monkeypatch.setattr(model, "_PACK_CHUNK", chunk)

    rng = np.random.default_rng(n_forms)
    counts = rng.integers(0, 25, size=300)
    ptr = np.concatenate([[0], np.cumsum(counts)])
    form = rng.integers(0, n_forms, size=int(ptr[-1]))
    form[:1] = n_forms - 1
    start = np.concatenate([np.cumsum(rng.integers(0, 400, size=c)) for c in counts])
    tokens = Tokens.pack(ptr, form, start, n_forms)
    assert np.array_equal(tokens.form, form)
    assert np.array_equal(tokens.start, start)
    for sid in range(counts.shape[0]):
        lo, hi = int(ptr[sid]), int(ptr[sid + 1])
        assert tokens.of(sid) == (form[lo:hi].tolist(), start[lo:hi].tolist())
    sids = np.array([5, 2, 299, 0])
    forms, seg, pos = tokens.gather(sids)
    assert forms.tolist() == [f for s in sids for f in form[ptr[s]:ptr[s + 1]].tolist()]
    assert seg.tolist() == [i for i, s in enumerate(sids) for _ in range(counts[s])]
    assert pos.tolist() == [p for s in sids for p in range(counts[s])]
    if n_forms <= 1 << 18:
        assert tokens.form_low.nbytes + tokens.form_high.nbytes <= 2.25 * form.shape[0] + 1


def test_a_loaded_index_keeps_answering_after_its_generation_is_deleted(
        tmp_path: Path) -> None:
    """A server holds an index open while `quotebot index` replaces and removes it."""
    gen = save_index(build_index(TRICKY), tmp_path)
    loaded = load_index(tmp_path)
    for path in gen.iterdir():
        path.unlink()
    gen.rmdir()
    ids, _ = loaded.matrix.top_k({loaded.term_ids["offic"]: 1.0}, 3)
    assert ids.size == 2
    assert "fficer" in loaded.sentence(int(ids[0])).text
    assert loaded.words.count_of("officers") >= 1


def test_a_loaded_index_updates_like_a_fresh_build(tmp_path: Path) -> None:
    save_index(build_index(TRICKY[:2]), tmp_path)
    extra = Document("d", "D", "Officers in London went home. New officers came.")
    updated = merge_index(load_index(tmp_path), added=[extra], removed=["a"])
    fresh = build_index([TRICKY[1], extra])
    assert updated.fingerprint == fresh.fingerprint
    for term in ("offic", "london", "went", "go"):
        a = top_k_of(*updated.matrix.scores({updated.term_ids[term]: 1.0}), 5)
        b = top_k_of(*fresh.matrix.scores({fresh.term_ids[term]: 1.0}), 5)
        assert [updated.sentence(int(i)).text for i in a[0]] == [
            fresh.sentence(int(i)).text for i in b[0]]
        assert np.allclose(a[1], b[1])


def test_the_manifest_counts_the_vocabulary_files(tmp_path: Path) -> None:
    gen = save_index(build_index(TRICKY), tmp_path)
    manifest = json.loads((gen / "manifest.json").read_text())
    assert {"vocab.bin", "vocab_offsets.npy", "vocab_hash.npy", "vocab_order.npy"} <= set(
        manifest["files"])
    assert not (gen / "vocab.json").exists()


def test_lookups_from_many_threads_agree(tmp_path: Path) -> None:
    save_index(build_index(TRICKY), tmp_path)
    loaded = load_index(tmp_path)
    terms = list(loaded.vocab) * 20
    errors: list[str] = []

    def look() -> None:
        for tid, term in enumerate(terms):
            if loaded.term_ids.get(term) != tid % len(loaded.vocab):
                errors.append(term)

    threads = [threading.Thread(target=look) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_the_performance_page_shows_the_figures_of_the_saved_run() -> None:
    """docs/performance.md's scale targets and tables are those bench_scale.py prints for
    benchmarks/results/scale.json: a figure edited by hand, or a run saved without
    `bench_scale.py --docs`, fails here."""
    spec = importlib.util.spec_from_file_location(
        "bench_scale", ROOT / "benchmarks" / "bench_scale.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = bench
    spec.loader.exec_module(bench)
    results = json.loads((ROOT / "benchmarks" / "results" / "scale.json").read_text())
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert page.count(bench.DOCS_BEGIN) == page.count(bench.DOCS_END) == 1
    shown = page.split(bench.DOCS_BEGIN)[1].split(bench.DOCS_END)[0].strip()
    assert shown == bench.docs_block(results)
    assert "tantivy" in shown and "load average" in shown


def test_a_rare_word_beside_one_in_most_sentences_gives_the_top_k_of_every_score(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The rare word's few sentences get their full scores; every other sentence is scored
    by the common word alone, from its blocks that can reach the k-th score."""
    monkeypatch.setattr(bm25, "_MAXSCORE_MIN", 0)
    rng = np.random.default_rng(12)
    corpus = [["the", *(f"w{int(i)}" for i in rng.integers(0, 50, size=int(rng.integers(2, 30))))]
              if rng.random() < 0.9 else [f"w{int(rng.integers(0, 50))}"] for _ in range(3000)]
    for sid in (5, 700, 2999):
        corpus[sid].append("okapi")
    matrix, vocab = BM25Matrix.from_token_lists(corpus)
    ids = {term: i for i, term in enumerate(vocab)}
    for words in (["okapi", "the"], ["the", "okapi", "w3"], ["okapi", "w7"]):
        groups = [[(ids[w], 1.0)] for w in words]
        for k in (1, 3, 10, 2000):
            want = top_k_of(*group_scores(matrix, groups), k)
            got = matrix.top_groups(groups, k)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def _sectioned_documents() -> list[Document]:
    """Documents with headings at several levels, a title, a heading of two sentences,
    Windows line ends, a paragraph long enough to span blocks, characters of two to
    four bytes in UTF-8 and a lone surrogate."""
    long = " ".join(f"Sentence {i} of the long paragraph says café, 東京 and 🦭 once."
                    for i in range(120))
    first = "\n".join([
        "# The title", "Opening words before any section.",
        "## History", "Founded in 1901 by the river. It grew fast.",
        "### Early years", long,
        "### Later years ###", "The harbour closed in 1990.",
        "## Notes. Two sentences here", "A note on sources \udc80 kept as written.",
        "#### Deep", "Deepest section's text.",
        "## Places", "Alaska has seals.",
    ])
    second = "\r\n".join(["Plain text with no headings.", long, "# Not the first line",
                          "Under a heading of level one that is not the title."])
    return [Document(id="sections", title="Sections", text=first),
            Document(id="crlf", title="Windows", text=second),
            Document(id="empty-ish", title="Short", text="One sentence only.")]


def test_a_saved_index_gives_every_sentence_section_and_heading_as_its_document_does(
        tmp_path: Path) -> None:
    from quotebot.sentences import heading_at, paragraph_section

    docs = _sectioned_documents()
    built = build_index(docs)
    save_index(built, tmp_path / "idx")
    loaded = load_index(tmp_path / "idx")
    assert loaded.text_reader is not None
    # The long paragraph is cut into blocks of whole sentences.
    assert loaded.text_reader.n_blocks() > len(docs) + 2
    sids = np.arange(loaded.n_sentences)
    for index in (built, loaded):
        for sid in sids.tolist():
            sentence = index.sentence(sid)
            text = next(d.text for d in docs if d.id == sentence.doc)
            assert sentence.text == text[sentence.start:sentence.end]
            assert index.section(sid) == paragraph_section(text, sentence.paragraph), sid
        want = [heading_at(next(d.text for d in docs if d.id == index.sentence(s).doc),
                           int(index.start[s])) for s in sids.tolist()]
        assert index.in_headings(sids).tolist() == want
        assert sum(want) == 9  # seven headings in the first document, one of two sentences
    assert [loaded.document(d.id).text for d in docs] == [d.text for d in docs]
    found = {loaded.sentence(s).text: loaded.section(s) for s in sids.tolist()}
    assert found["The harbour closed in 1990."] == ("History", "Later years")
    assert found["Deepest section's text."] == ("Notes. Two sentences here", "Deep")


def test_a_document_opening_two_characters_before_its_first_word_has_its_sections(
        tmp_path: Path) -> None:
    from quotebot.sentences import paragraph_section

    under = "\nText under it.\n## Part\nText in the part."
    docs = [Document(id="hash", title="Hash", text="# Title" + under),
            Document(id="tab", title="Tab", text="#\tTitle" + under),
            Document(id="spaces", title="Spaces", text="  Plain opening." + under),
            Document(id="level-two", title="Two", text="## Part one" + under),
            Document(id="marks", title="Marks", text="#\n# Title" + under),
            Document(id="blank", title="Blank", text="\n\nOpening words." + under)]
    save_index(build_index(docs), tmp_path / "idx")
    loaded = load_index(tmp_path / "idx")
    for sid in range(loaded.n_sentences):
        sentence = loaded.sentence(sid)
        text = next(d.text for d in docs if d.id == sentence.doc)
        assert loaded.section(sid) == paragraph_section(text, sentence.paragraph), sid
    assert {loaded.sentence(s).doc: loaded.section(s) for s in range(loaded.n_sentences)
            if loaded.sentence(s).text == "Text under it."}["level-two"] == ("Part one",)


def test_a_line_across_a_block_edge_is_read_whole(tmp_path: Path) -> None:
    from quotebot.store import texts

    text = "# Title\n" + " ".join(f"Words of sentence {i}." for i in range(400))
    save_index(build_index([Document(id="d", title="d", text=text)]), tmp_path / "idx")
    reader = load_index(tmp_path / "idx").text_reader
    assert reader is not None and reader.n_blocks() >= 3
    line, begin = reader.line(0, len(text) - 5)
    assert (line, begin) == (text[8:], 8)
    assert reader.line(0, 3) == ("# Title", 0)
    assert texts.block_cuts(10_000, [100, 2100, 2200, 9999, 10_000]) == [0, 2100, 9999]


def test_the_line_of_every_character_is_the_documents_line(tmp_path: Path) -> None:
    """Lines of every length, in characters of one to four bytes, read from the blocks of
    a fresh index (each found by its start among its document's blocks), are the lines
    of the document."""
    rng = np.random.default_rng(5)
    pieces = ["word", "café", "東京", "🦭🦭", "a\udc80b"]
    lines = ["# Title"]
    for i in range(80):
        if i % 3 == 0:
            lines.append(f"## Heading {i} 🦭")
        else:
            words = rng.choice(pieces, size=int(rng.integers(1, 160))).tolist()
            lines.append(" ".join(words).capitalize() + ".")
    text = "\n".join(lines) + "\r\nLast line."
    save_index(build_index([Document(id="d", title="d", text=text)]), tmp_path / "idx")
    for step in (1, 97):
        reader = load_index(tmp_path / "idx").text_reader
        assert reader is not None and reader.n_blocks() >= 4
        for offset in range(0, len(text), step):
            begin = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
            stop = min((i for i in (text.find("\n", offset), text.find("\r", offset))
                        if i >= 0), default=len(text))
            assert reader.line(0, offset) == (text[begin:stop], begin), offset


def _batched_corpus() -> list[Document]:
    """Real articles, then documents each bringing words of their own (so the vocabulary
    grows from batch to batch), one with a token far from the one before it, and one
    with no text."""
    fixtures = ROOT / "tests" / "fixtures"
    paths = [fixtures / "news-article.txt", *sorted((fixtures / "own-articles").glob("*.txt"))]
    docs = [Document(p.stem, p.stem, p.read_text(encoding="utf-8"), str(p)) for p in paths]
    rng = np.random.default_rng(11)
    for i in range(12):
        words = [f"word{int(w)}" for w in rng.zipf(1.3, size=300) if w < 5000]
        paragraphs = [" ".join(words[j:j + 12]).capitalize() + "." for j in range(0, 240, 12)]
        docs.append(Document(f"made-{i}", f"Made {i}", "\n\n".join(paragraphs)))
    docs.append(Document("far", "Far", "See https://example.org/" + "a" * 400
                         + " for more. The 1,200 councils agreed on 3 May."))
    docs.append(Document("empty", "Empty", ""))
    return docs


def _generation_files(root: Path) -> dict[str, bytes]:
    """The files of the current generation in ``root``, the manifest without its date."""
    gen = root / (root / "CURRENT").read_text().strip()
    files = {p.name: p.read_bytes() for p in gen.iterdir() if p.name != "manifest.json"}
    manifest = json.loads((gen / "manifest.json").read_text())
    del manifest["created"]
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def test_an_index_written_a_batch_at_a_time_is_the_index_built_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from quotebot.store import model
    from quotebot.store.writer import write_index

    docs = _batched_corpus()
    save_index(build_index(docs), tmp_path / "at-once")
    write_index(docs, tmp_path / "one-batch")
    # Every document a batch of its own, postings sorted in runs of about 40 terms and
    # merged about 50 at a time, and tokens packed 4 at a time: every seam of the
    # streamed build is crossed.
    monkeypatch.setattr(model, "_PACK_CHUNK", 5)
    monkeypatch.setattr(postings, "_CHUNK_POSTINGS", 50)
    write_index(docs, tmp_path / "batches", batch_chars=1, run_tokens=40)
    expected = _generation_files(tmp_path / "at-once")
    assert _generation_files(tmp_path / "one-batch") == expected
    batched = _generation_files(tmp_path / "batches")
    assert sorted(batched) == sorted(expected)
    assert [name for name in expected if batched[name] != expected[name]] == []

    index = load_index(tmp_path / "batches")
    assert index.n_sentences > 250 and len(index.docs) == len(docs)
    for sid in range(index.n_sentences):
        s = index.sentence(sid)
        assert s.text == index.texts(int(index.doc_idx[sid]))[s.start:s.end]
    ids, _ = index.matrix.top_k({index.term_ids["word1"]: 1.0}, 10)
    assert ids.size == 10


def test_an_index_split_in_two_processes_is_the_index_split_in_one(tmp_path: Path) -> None:
    from quotebot.store.writer import write_index

    docs = _batched_corpus()
    save_index(build_index(docs), tmp_path / "at-once")
    # Chunks of about 3,000 characters: some thirty, most documents one of their own.
    seen: list[tuple[int, int]] = []
    write_index(docs, tmp_path / "two", batch_chars=3000, jobs=2,
                progress=lambda sentences, documents: seen.append((sentences, documents)))
    expected = _generation_files(tmp_path / "at-once")
    two = _generation_files(tmp_path / "two")
    assert sorted(two) == sorted(expected)
    assert [name for name in expected if two[name] != expected[name]] == []
    assert seen[-1] == (load_index(tmp_path / "two").n_sentences, len(docs))
    assert seen == sorted(seen)


def test_a_pools_processes_share_the_lemma_tables_read_before_they_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches: each process of a build's pool reading lemminflect's tables itself (half a
    second and 40 MB each) when the build has read them once before forking."""
    import multiprocessing
    import os

    from quotebot.store.chunks import split_chunks

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("processes are started, not forked, on this system: nothing is shared")
    tables = analysis.lemminflect_tables
    build = os.getpid()
    readers = tmp_path / "readers"

    def read_here() -> object:
        if os.getpid() != build:
            with open(readers, "a", encoding="utf-8") as out:
                out.write(f"{os.getpid()}\n")
        return tables()

    monkeypatch.setattr(analysis, "lemminflect_tables", read_here)
    analysis._lemma_table.cache_clear()
    try:
        docs = [Document(f"d{i}", "D", f"The children went to see the mice. {i} geese flew.")
                for i in range(12)]
        chunks = [docs[i::4] for i in range(4)]
        split = list(split_chunks(chunks, b"", jobs=2))
    finally:
        analysis._lemma_table.cache_clear()
    terms = {term for chunk in split for term in chunk.terms}
    assert {"child", "mous", "goos"} <= terms  # irregular forms met their lemmas
    assert not readers.exists(), "a pool's process read the lemma tables itself"


@pytest.mark.parametrize("n_chunks", [1, 6])
def test_chunks_are_split_in_a_pool_only_when_there_are_several(n_chunks: int) -> None:
    import multiprocessing

    from quotebot.store.chunks import split_chunks

    docs = _batched_corpus()
    chunks = [docs[i::n_chunks] for i in range(n_chunks)]
    # (Counted from what is running already: other tests' processes may still be.)
    before = {p.pid for p in multiprocessing.active_children()}
    processes = []
    pooled = []
    for chunk in split_chunks(chunks, b"", jobs=2):
        processes.append(len({p.pid for p in multiprocessing.active_children()} - before))
        pooled.append(chunk)
    here = list(split_chunks(chunks, b"", jobs=1))
    assert max(processes) == (2 if n_chunks > 1 else 0)
    assert [c.forms for c in pooled] == [c.forms for c in here]
    assert [c.blocks for c in pooled] == [c.blocks for c in here]
    assert [c.split.column("tokens").tolist() for c in pooled] == \
        [c.split.column("tokens").tolist() for c in here]
    assert [list(c.analysed(range(len(c.forms)))) for c in pooled] == \
        [[analysis.analyse_word(form) for form in c.forms] for c in here]


_POOL_THEN_HANG = """
import multiprocessing, sys, time
from quotebot.context import Context, anchor_sid
from quotebot.engine import QuoteEngine
from quotebot.models import Document
from quotebot.retrieve import retrieve, retrieve_among
from quotebot.store.chunks import split_chunks
chunks = [[Document(f"d{i}", "D", "Ships sail at dawn. They return at dusk.")] for i in range(3)]
pieces = split_chunks(chunks, b"", jobs=2)
next(pieces)
print(*(p.pid for p in multiprocessing.active_children()), flush=True)
time.sleep(120)
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process still running (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_a_build_killed_outright_leaves_no_process_of_its_pool_behind() -> None:
    """A build killed with SIGKILL cannot stop its pool: the pool's processes end with it
    instead of waiting for work forever."""
    import os
    import signal
    import subprocess
    import time

    build = subprocess.Popen([sys.executable, "-c", _POOL_THEN_HANG], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert build.stdout is not None
        pool = [int(pid) for pid in build.stdout.readline().split()]
        assert len(pool) == 2 and all(_running(pid) for pid in pool)
    finally:
        os.kill(build.pid, signal.SIGKILL)
        build.wait(timeout=30)
    for _ in range(100):
        left = [pid for pid in pool if _running(pid)]
        if not left:
            break
        time.sleep(0.1)
    for pid in left:  # (what a failing run leaves is ended here, by its pid)
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"the pool's processes {left} outlived the build"


def test_an_update_has_the_postings_a_build_of_its_sentences_has(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding and removing documents merges the kept sentences' postings with the added
    ones' a range of terms at a time (here about 50 postings): the matrix is the one built
    from every sentence's terms, new words included."""
    docs = _batched_corpus()
    save_index(build_index(docs[:-4]), tmp_path)
    monkeypatch.setattr(postings, "_CHUNK_POSTINGS", 50)
    added = [*docs[-4:], Document("new", "New", "Zyxwv qwerty officers zyxwv.\nMore zyxwv.")]
    updated = merge_index(load_index(tmp_path), added=added,
                          removed=[docs[0].id, docs[5].id])
    assert [d.id for d in updated.docs][-5:] == [d.id for d in added]
    terms = [[updated.term_ids[t] for token in updated.sentence_tokens(sid)
              for t in token.terms] for sid in range(updated.n_sentences)]
    assert "zyxwv" in updated.term_ids and updated.n_sentences > 200
    assert_same_matrix(updated.matrix, BM25Matrix.from_term_ids(terms, len(updated.vocab)))


def _shown_and_saved(name: str, results: str) -> tuple[str, str]:
    """What docs/performance.md shows between benchmark ``name``'s markers, and what the
    benchmark makes of its saved ``results``."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    saved = json.loads((ROOT / "benchmarks" / "results" / results).read_text())
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert page.count(bench.DOCS_BEGIN) == page.count(bench.DOCS_END) == 1
    shown = page.split(bench.DOCS_BEGIN)[1].split(bench.DOCS_END)[0].strip()
    return shown, bench.docs_block(saved)


def test_the_performance_page_shows_the_figures_of_the_saved_big_build() -> None:
    """docs/performance.md's table of builds of millions of sentences is what
    bench_big_build.py prints for benchmarks/results/big_build.json."""
    shown, saved = _shown_and_saved("bench_big_build", "big_build.json")
    assert shown == saved
    assert "10M sentences" in shown


def test_the_performance_page_shows_the_health_figures_of_the_saved_run() -> None:
    """docs/performance.md's health table (answering in threads and in processes, while
    saturated) is what bench_health.py prints for benchmarks/results/health.json."""
    shown, saved = _shown_and_saved("bench_health", "health.json")
    assert shown == saved
    assert "processes, nice 10" in shown and "threads" in shown


def test_a_quote_highlights_the_words_its_tokens_would_without_making_them(
        tmp_path: Path) -> None:
    from quotebot.quotes import highlights

    docs = [Document(id="one", title="One", text="Café owners in Zürich said 1,200 "
                     "people came. Die Straße war voll — 東京 too.\nNext line, short.")]
    save_index(build_index(docs), tmp_path / "idx")
    for index in (build_index(docs), load_index(tmp_path / "idx")):
        for sid in range(index.n_sentences):
            tokens = index.sentence_tokens(sid)
            every = dict.fromkeys(range(len(tokens) + 2), 0)
            some = {k: 0 for k in range(1, len(tokens), 2)}
            for matched in (every, some, {}):
                assert highlights(index, sid, matched) == highlights(index, sid, matched,
                                                                     tokens)
            assert highlights(index, sid, every) == tuple((t.start, t.end) for t in tokens)
