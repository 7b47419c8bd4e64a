"""The corpus fingerprint: the cached index is reused exactly when the articles are the
same, and rebuilt after any change a reader could see — even one that keeps the file's
size and modification time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from quotebot.corpus import fingerprint, load_corpus
from quotebot.models import Document
from quotebot.store.catalogue import default_index_dir, open_index

ARTICLE = ("The ferry to York was launched in 1998.\n"
           "It carried four hundred passengers on its first crossing.\n")


def doc(doc_id: str = "ferry", title: str = "Ferry", text: str = ARTICLE) -> Document:
    return Document(doc_id, title, text)


def texts(folder: Path) -> list[str]:
    index, _ = open_index(folder, None)
    return [index.document(d.id).text for d in index.docs]


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of one article, with the index cache inside ``tmp_path``."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "ferry.txt").write_text(ARTICLE, encoding="utf-8")
    return folder


def test_a_same_length_edit_rebuilds_the_cached_index(corpus: Path) -> None:
    """Catches: a cache check on size and modification time (or on ids alone) that keeps
    answering from the old text after "1998" became "1999"."""
    assert texts(corpus) == [ARTICLE]
    cache = default_index_dir(corpus)
    assert cache.is_relative_to(corpus.parent / "cache") and any(cache.iterdir())
    path = corpus / "ferry.txt"
    before = path.stat()
    edited = ARTICLE.replace("1998", "1999")
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert texts(corpus) == [edited]
    # The rebuilt index was saved: the next start reads it without building again.
    first = open_index(corpus, None)[0]
    second = open_index(corpus, None)[0]
    assert first.generation == second.generation != ""
    assert second.document("ferry").text == edited


def test_an_unchanged_corpus_reuses_the_saved_index(corpus: Path) -> None:
    """Catches: a fingerprint that is not a function of the articles (a time, a random
    salt, an object's id), which would rebuild the index on every start."""
    first = open_index(corpus, None)[0]
    (corpus / "ferry.txt").touch()
    again = open_index(corpus, None)[0]
    assert again.generation == first.generation != ""
    assert fingerprint(load_corpus(corpus)) == fingerprint(load_corpus(corpus))


@pytest.mark.parametrize("changed", [
    doc(text=ARTICLE.replace("1998", "1999")),
    doc(text=ARTICLE + "\n"),
    doc(text=ARTICLE[:-1]),
    doc(title="The ferry"),  # front matter's title, the text unchanged
    doc(doc_id="ferry-2"),  # the file renamed
    # Bytes that are not UTF-8, kept as surrogates: in a file's name (the id), and in its
    # first line (the title) or text.
    doc(doc_id="fe\udc80rry"),
    doc(title="Fe\udc80rry"),
    doc(text=ARTICLE.replace("York", "Yo\udc80k")),
])
def test_any_change_of_id_title_or_text_changes_the_fingerprint(changed: Document) -> None:
    """Catches: a field left out of the hash, or a text compared by its length."""
    assert fingerprint([changed]) != fingerprint([doc()])


def test_text_moving_between_fields_or_documents_changes_the_fingerprint() -> None:
    """Catches: fields hashed without separators, so that the same characters split
    differently (id "ab" and title "c", or id "a" and title "bc") look the same."""
    prints = {
        fingerprint([doc("ab", "c", "d")]),
        fingerprint([doc("a", "bc", "d")]),
        fingerprint([doc("a", "b", "cd")]),
        fingerprint([doc("a", "", "bcd")]),
        fingerprint([doc("a", "b", "c"), doc("d", "e", "f")]),
        fingerprint([doc("a", "b", "cd"), doc("", "e", "f")]),
        fingerprint([doc("a", "b", ""), doc("cd", "e", "f")]),
        fingerprint([doc("d", "e", "f"), doc("a", "b", "c")]),
        fingerprint([doc("a", "b", "c")]),
        fingerprint([]),
    }
    assert len(prints) == 10


def test_the_fingerprint_is_32_hex_digits() -> None:
    """Catches: a fingerprint of another length than the manifest and the vectors' file
    names (which take its first 16 digits) are written for."""
    for docs in ([], [doc()], [doc(text="\udc80")]):
        value = fingerprint(docs)
        assert len(value) == 32
        int(value, 16)
