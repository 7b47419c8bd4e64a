"""Saved indexes: round trip, no pickle, damage reported clearly, updates without re-reading."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pytest

from quotebot.corpus import load_corpus
from quotebot.engine import QuoteEngine
from quotebot.errors import IndexFileError, UnknownDocument
from quotebot.models import Document
from quotebot.store import (
    FORMAT_VERSION,
    SentenceIndex,
    build_index,
    current_generation,
    load_index,
    merge_index,
    save_index,
)
from quotebot.store.catalogue import default_index_dir

from conftest import assert_same_lexicon, open_files, open_gate

DOCS = [
    Document("alpha", "Alpha", "Cats sit on mats. Dogs chase cats.\nBirds sing at dawn."),
    Document("beta", "Beta",
             "The harbour festival drew 40,000 visitors.\nFireworks were cancelled."),
    Document("gamma", "Gamma", "Dogs bark at the postman. The postman runs."),
]


def top(index: SentenceIndex, term: str, k: int = 5) -> list[tuple[str, str, float]]:
    ids, scores = index.matrix.top_k({index.term_ids[term]: 1.0}, k)
    return [(index.sentence(int(i)).doc, index.sentence(int(i)).text, round(float(s), 5))
            for i, s in zip(ids, scores, strict=True)]


def test_saved_index_loads_with_the_same_sentences_and_rankings(tmp_path: Path) -> None:
    built = build_index(DOCS)
    save_index(built, tmp_path)
    loaded = load_index(tmp_path)
    assert [loaded.sentence(i) for i in range(loaded.n_sentences)] == [
        built.sentence(i) for i in range(built.n_sentences)]
    for term in ("dog", "cat", "postman", "40000"):
        assert top(loaded, term) == top(built, term)
    assert loaded.document("beta").text == DOCS[1].text


def test_manifest_has_format_version_fingerprint_and_counts(tmp_path: Path) -> None:
    gen = save_index(build_index(DOCS), tmp_path)
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["format"] == "quotebot-index"
    assert manifest["format_version"] == FORMAT_VERSION
    assert len(manifest["fingerprint"]) == 32
    assert manifest["counts"]["documents"] == 3
    assert manifest["bm25"] == {"variant": "lucene", "k1": 1.5, "b": 0.75}
    for npy in gen.glob("*.npy"):
        np.load(npy, allow_pickle=False)  # no pickled objects anywhere


def test_a_second_save_swaps_the_current_generation(tmp_path: Path) -> None:
    first = save_index(build_index(DOCS[:1]), tmp_path)
    second = save_index(build_index(DOCS), tmp_path)
    assert current_generation(tmp_path) == second != first
    assert len(load_index(tmp_path).docs) == 3


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda gen: (gen / "ids16.npy").write_bytes((gen / "ids16.npy").read_bytes()[:-7]),
         "ids16.npy"),
        (lambda gen: (gen / "manifest.json").write_text("{not json"), "manifest.json"),
        (lambda gen: (gen / "vocab.bin").unlink(), "vocab.bin"),
        (lambda gen: (gen / "first.npy").write_bytes(b"garbage"), "first.npy"),
        (lambda gen: (gen.parent / "CURRENT").write_text("gen-missing\n"), "CURRENT"),
        (lambda gen: _replace_array(gen, "term_max.npy", np.zeros(2, np.float32)),
         "term_max.npy"),
    ],
    ids=["truncated array", "corrupt manifest", "missing vocab", "garbage array",
         "dangling pointer", "bounds of another index"],
)
def test_a_damaged_index_names_the_file_and_how_to_rebuild(tmp_path: Path, damage: object,
                                                           named: str) -> None:
    gen = save_index(build_index(DOCS), tmp_path)
    damage(gen)  # type: ignore[operator]
    with pytest.raises(IndexFileError) as info:
        load_index(tmp_path)
    assert named in info.value.message
    assert "quotebot index --out" in info.value.message


def _replace_array(gen: Path, name: str, array: np.ndarray) -> None:
    """Write another array in place of ``name``, keeping the size the manifest records."""
    np.save(gen / name, array, allow_pickle=False)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["files"][name] = (gen / name).stat().st_size
    (gen / "manifest.json").write_text(json.dumps(manifest))


def test_a_loaded_index_keeps_each_terms_largest_weight(tmp_path: Path) -> None:
    built = build_index(DOCS)
    save_index(built, tmp_path)
    loaded = load_index(tmp_path)
    for name in ("matrix", "paragraphs"):
        saved, fresh = getattr(loaded, name), getattr(built, name)
        assert np.array_equal(saved.max_weights, fresh.max_weights)
        assert saved.max_weights.max() == fresh.weights().max() > 0


def test_an_index_of_an_older_format_is_rebuilt_with_a_log_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    corpus = tmp_path / "news.txt"
    corpus.write_text("The bridge reopened on Monday.\n", encoding="utf-8")
    QuoteEngine.open(corpus, semantic="off")
    cache = default_index_dir(str(corpus))
    gen = cache / current_generation(cache)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION - 1
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level("WARNING"):
        engine = QuoteEngine.open(corpus, semantic="off")
    assert "made by another version of quotebot" in caplog.text
    assert engine.answer_question("when did the bridge reopen?").answered
    assert json.loads((cache / current_generation(cache) / "manifest.json").read_text())[
        "format_version"] == FORMAT_VERSION


def test_an_index_folder_of_an_older_format_is_rebuilt_from_the_corpus_given(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`--index DIR --corpus PATH` over an index this quotebot cannot read rebuilds it there
    from the corpus, saying so; without a corpus the error says how to rebuild."""
    corpus = tmp_path / "news.txt"
    corpus.write_text("The bridge reopened on Monday.\n", encoding="utf-8")
    folder = tmp_path / "idx"
    save_index(build_index(load_corpus(str(corpus))), folder)
    gen = folder / current_generation(folder)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION - 1
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFileError) as info:
        QuoteEngine.open(index_dir=folder, semantic="off")
    assert info.value.code == "index_version" and "quotebot index --out" in info.value.message
    with caplog.at_level("WARNING"):
        engine = QuoteEngine.open(corpus, index_dir=folder, semantic="off")
    assert "made by another version of quotebot" in caplog.text
    assert engine.answer_question("when did the bridge reopen?").answered
    assert load_index(folder).n_sentences == 1


def test_a_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError) as info:
        load_index(tmp_path / "nothing")
    assert info.value.code == "index_missing"
    assert "quotebot index --out" in info.value.message


def test_adding_and_removing_documents_matches_a_fresh_build() -> None:
    base = build_index(DOCS[:2])
    updated = merge_index(base, added=[DOCS[2]], removed=["alpha"])
    fresh = build_index([DOCS[1], DOCS[2]])
    assert [d.id for d in updated.docs] == ["beta", "gamma"]
    assert updated.fingerprint == fresh.fingerprint
    for term in ("dog", "postman", "firework", "festiv"):
        assert top(updated, term) == top(fresh, term)
    for i in range(updated.n_sentences):
        s = updated.sentence(i)
        assert updated.document(s.doc).text[s.start:s.end] == s.text


def test_replacing_a_document_keeps_one_copy() -> None:
    base = build_index(DOCS)
    changed = Document("beta", "Beta", "The festival was moved indoors.")
    updated = merge_index(base, added=[changed])
    assert sorted(d.id for d in updated.docs) == ["alpha", "beta", "gamma"]
    assert updated.document("beta").text == changed.text
    assert top(updated, "festiv") == top(build_index([DOCS[0], DOCS[2], changed]),
                                         "festiv")


def test_removing_an_unknown_document_is_a_clear_error() -> None:
    with pytest.raises(UnknownDocument):
        merge_index(build_index(DOCS), removed=["nope"])


def test_an_engine_rebuilds_its_cached_index_when_the_corpus_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    corpus = tmp_path / "news.txt"
    corpus.write_text("The bridge reopened on Monday.\n", encoding="utf-8")
    assert QuoteEngine.open(corpus, semantic="off").answer_question(
        "when did the bridge reopen?").answered
    corpus.write_text("The tunnel closed on Friday.\n", encoding="utf-8")
    engine = QuoteEngine.open(corpus, semantic="off")
    assert engine.answer_question("when did the tunnel close?").quotes[0].text == (
        "The tunnel closed on Friday.")


def test_a_saved_index_is_never_rewritten_by_answering_from_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`--index X --corpus DIR` once rebuilt X from DIR, losing documents added to X."""
    corpus = tmp_path / "news.txt"
    corpus.write_text("The bridge reopened on Monday.\n", encoding="utf-8")
    saved = tmp_path / "index"
    save_index(merge_index(build_index(load_corpus(corpus)),
        added=[Document("extra", "Extra", "The ferry sank on Sunday.")]), saved)
    generation = current_generation(saved)
    engine = QuoteEngine.open(corpus, index_dir=saved, semantic="off")
    assert engine.answer_question("when did the ferry sink?").quotes[0].text == (
        "The ferry sank on Sunday.")
    assert current_generation(saved) == generation
    assert "was built from other articles" in caplog.text and "quotebot index" in caplog.text
    assert len(load_corpus()) == 1


def test_a_same_length_edit_changes_the_fingerprint_and_the_answers(tmp_path: Path) -> None:
    """Catches: a fingerprint of sizes only (or of the letters without their order), with
    which an engine keeps answering from the old text after an edit that keeps the
    length: one digit replaced, or two swapped."""
    corpus = tmp_path / "news.txt"
    cache = default_index_dir(corpus)  # the cache the engine rebuilds when the text changes
    fingerprints = []
    for text, weeks in [("The bridge reopened after 49 weeks.\n", "49"),
                        ("The bridge reopened after 94 weeks.\n", "94"),  # swapped
                        ("The bridge reopened after 95 weeks.\n", "95")]:  # replaced
        corpus.write_text(text, encoding="utf-8")
        engine = open_gate(QuoteEngine.open(corpus, semantic="off"))
        answer = engine.answer_question("how many weeks until the bridge reopened?")
        assert answer.short is not None and answer.short.text == weeks
        assert answer.quotes[0].text == text.strip()
        manifest = json.loads((current_generation(cache) / "manifest.json").read_text())
        fingerprints.append(manifest["fingerprint"])
    assert len(set(fingerprints)) == 3
    edited = Document("alpha", "Alpha", DOCS[0].text.replace("mats", "mate"))
    assert len(edited.text) == len(DOCS[0].text)
    assert build_index([edited, *DOCS[1:]]).fingerprint != \
        build_index(DOCS).fingerprint
    assert build_index(DOCS).fingerprint == build_index(DOCS).fingerprint


def test_a_lexicon_extended_by_added_documents_is_the_merged_index_s() -> None:
    """What shards are given when a document is added to them: the lexicon of the index
    with the document added, term, form and word ids kept, computed from the old lexicon
    and the new document alone (no postings or tokens of the others)."""
    from quotebot.store.build import extend_lexicon
    from quotebot.store.lexicon import Lexicon, read_lexicon

    corpus = load_corpus(Path(__file__).parent / "fixtures" / "own-articles")
    base = build_index([*DOCS[:2], *corpus[:2]])
    added = [DOCS[2], corpus[2]]
    old = read_lexicon(Lexicon.of(base).to_bytes())
    extended, remap = extend_lexicon(old, build_index(added), "next")
    merged = Lexicon.of(merge_index(base, added=added))
    assert len(remap.terms) and int(remap.terms.max()) >= len(base.vocab)  # new terms came
    again = read_lexicon(extended.to_bytes())
    assert again.fingerprint == "next"
    assert_same_lexicon(again, merged)
    assert again.vocab.strings()[:len(base.vocab)] == base.vocab.strings()
    assert again.words.strings["postman"] is not None


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_dropped_index_unmaps_its_files_at_once(tmp_path: Path) -> None:
    """A server that loads each new generation must not keep the old one's files open until
    a cycle collection: a loaded index maps dozens of files, each holding a descriptor."""
    save_index(build_index(DOCS), tmp_path / "index")
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        before = open_files()
        for _ in range(5):
            engine = QuoteEngine.open(index_dir=tmp_path / "index", semantic="off")
            assert engine.answer_question("who runs?").quotes[0].text == "The postman runs."
            assert engine.index.document("beta").text == DOCS[1].text
            assert open_files() > before + 20  # the index's files are mapped while it is used
            del engine
        assert open_files() == before
    finally:
        if was_enabled:
            gc.enable()
