"""The index folder's rules, one at a time: which generation is current, what a damaged file
says, what is removed and when, and how a file is replaced without a reader seeing half of it.

These call ``quotebot.store.files`` directly on folders built by hand, so each rule is
checked in milliseconds; ``test_index_folder.py`` checks the same promises through
``quotebot index``.
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from quotebot.errors import IndexFileError
from quotebot.store.files import (
    CURRENT,
    FOLDER_FORMAT,
    FOLDER_MANIFEST,
    FORMAT,
    FORMAT_VERSION,
    KEEP_SECONDS,
    IndexFolder,
    StringTable,
    _unwritable,
    atomic_save_array,
    atomic_write_text,
    damaged,
    hash_bytes,
    hash_texts,
    load_array,
    map_bytes,
    read_json,
    write_json,
)

NOW = 1_900_000_000.0


def damage(root: Path) -> str:
    """The start of the message of a damaged index in ``root``, as a pattern."""
    return re.escape(f"The saved index in {str(root)!r} is damaged: ")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-"))


def manifest(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {"format": FORMAT, "format_version": FORMAT_VERSION,
                               "fingerprint": "f" * 32, "analyzer_version": 1,
                               "counts": {}, "files": {}, "bm25": {}}
    data.update(changes)
    return data


def generation(root: Path, name: str, *, files: dict[str, bytes] | None = None,
               age: float = 0.0, owned: bool = True) -> Path:
    """A generation folder ``name`` in ``root`` with ``files`` listed in its manifest, last
    modified ``age`` seconds before NOW."""
    gen = root / name
    gen.mkdir(parents=True)
    files = files or {}
    for file, data in files.items():
        (gen / file).write_bytes(data)
    (gen / "manifest.json").write_text(json.dumps(manifest(files={f: 1 for f in files})))
    os.utime(gen, (NOW - age, NOW - age))
    if owned:
        IndexFolder(root).own(name)
    return gen


def owned(root: Path) -> list[str]:
    data = json.loads((root / FOLDER_MANIFEST).read_text())
    assert data["format"] == FOLDER_FORMAT
    return list(data["owned"])


# -- hashes and atomic writes ------------------------------------------------------------


def test_the_string_hash_is_fixed_because_saved_indexes_hold_it() -> None:
    # blake2b with an 8-byte digest, read little-endian: changing any of these would make
    # every saved index look up the wrong strings.
    assert hash_bytes(b"") == 0xB4B2797457A0A6E4
    assert hash_bytes(b"cat") == 0x2F989D7B2CDD2733
    hashes = hash_texts(["", "cat", "caf\u00e9", "\udc80"])
    assert hashes.dtype == np.uint64
    assert hashes.tolist() == [hash_bytes(b""), hash_bytes(b"cat"),
                               hash_bytes("caf\u00e9".encode()),
                               hash_bytes("\udc80".encode("utf-8", "surrogatepass"))]


def test_an_array_is_saved_whole_and_without_pickle(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    strided = np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2]
    atomic_save_array(path, strided)
    assert np.array_equal(np.load(path, allow_pickle=False), strided)
    assert leftovers(tmp_path) == []


def test_an_array_that_cannot_be_saved_leaves_the_old_file_and_no_temporary(
        tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    atomic_save_array(path, np.arange(3))
    with pytest.raises(ValueError):
        atomic_save_array(path, np.array([{"a": 1}], dtype=object))  # would need pickle
    assert np.load(path).tolist() == [0, 1, 2]
    assert leftovers(tmp_path) == []


def test_a_text_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / CURRENT
    atomic_write_text(path, "gen-1\n")
    atomic_write_text(path, "gen-\u00e9\n")
    assert path.read_bytes() == "gen-\u00e9\n".encode()
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, "gen-\udc80\n")
    assert path.read_text(encoding="utf-8") == "gen-\u00e9\n"
    assert leftovers(tmp_path) == []


def test_json_is_written_as_utf8_not_escapes(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"title": "Caf\u00e9"})
    assert (tmp_path / "a.json").read_bytes() == '{"title": "Caf\u00e9"}'.encode()
    write_json(tmp_path / "b.json", [1], indent=1)
    assert (tmp_path / "b.json").read_text() == "[\n 1\n]"


# -- reading a generation's files ---------------------------------------------------------


def test_a_damaged_file_names_itself_the_index_and_how_to_rebuild(tmp_path: Path) -> None:
    error = damaged(tmp_path / "idx", tmp_path / "idx" / "gen-1" / "vocab.bin", "is missing")
    assert error.code == "index_damaged"
    root = str(tmp_path / "idx")
    assert error.message == (
        f"The saved index in {root!r} is damaged: vocab.bin is missing. Rebuild it with "
        f"`quotebot index --out {root!r}` (add --corpus PATH for your own articles).")


@pytest.mark.parametrize(("content", "what"), [
    (None, "manifest.json is missing"),
    (b"{not json", "manifest.json is not valid JSON"),
    (b'{"title": "\xff"}', "manifest.json is not valid JSON"),
    ("folder", "manifest.json cannot be read (Is a directory)"),
], ids=["missing", "not json", "not utf-8", "a folder"])
def test_reading_json_says_what_is_wrong_with_it(tmp_path: Path, content: bytes | str | None,
                                                 what: str) -> None:
    path = tmp_path / "manifest.json"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(IndexFileError) as info:
        read_json(path, tmp_path)
    assert info.value.code == "index_damaged"
    assert f"The saved index in {str(tmp_path)!r} is damaged: {what}. Rebuild" in (
        info.value.message)
    if content is None:
        write_json(path, {"ok": ["\u00e9"]})
        assert read_json(path, tmp_path) == {"ok": ["\u00e9"]}


def test_an_array_is_mapped_read_only_as_a_plain_array(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.arange(5, dtype=np.int64))
    array = load_array(tmp_path / "a.npy", tmp_path)
    assert type(array) is np.ndarray and array.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        array[0] = 9  # mapped read-only: a reader never writes into the saved index
    with pytest.raises(IndexFileError, match=damage(tmp_path) + r"b\.npy is missing\. Rebuild"):
        load_array(tmp_path / "b.npy", tmp_path)
    (tmp_path / "c.npy").write_bytes(b"garbage")
    with pytest.raises(IndexFileError, match=damage(tmp_path) + r"c\.npy cannot be read\. Rebuild"):
        load_array(tmp_path / "c.npy", tmp_path)
    (tmp_path / "d.npy").write_bytes((tmp_path / "a.npy").read_bytes()[:-3])
    with pytest.raises(IndexFileError, match=damage(tmp_path) + r"d\.npy cannot be read\. Rebuild"):
        load_array(tmp_path / "d.npy", tmp_path)
    (tmp_path / "obj.npy").mkdir()
    with pytest.raises(IndexFileError,
                       match=damage(tmp_path) + r"obj\.npy cannot be read\. Rebuild"):
        load_array(tmp_path / "obj.npy", tmp_path)


def test_a_text_file_is_mapped_and_an_empty_one_is_empty_bytes(tmp_path: Path) -> None:
    (tmp_path / "texts.bin").write_bytes(b"Cats sit.")
    (tmp_path / "empty.bin").write_bytes(b"")
    assert map_bytes(tmp_path / "texts.bin", tmp_path)[:] == b"Cats sit."
    assert map_bytes(tmp_path / "empty.bin", tmp_path) == b""
    with pytest.raises(IndexFileError, match=damage(tmp_path) + r"none\.bin is missing\. Rebuild"):
        map_bytes(tmp_path / "none.bin", tmp_path)
    (tmp_path / "dir.bin").mkdir()
    with pytest.raises(IndexFileError,
                       match=damage(tmp_path) + r"dir\.bin cannot be read\. Rebuild"):
        map_bytes(tmp_path / "dir.bin", tmp_path)


# -- string tables ------------------------------------------------------------------------


def saved_table(tmp_path: Path, strings: list[str]) -> StringTable:
    table = StringTable.from_strings(strings)
    (tmp_path / "vocab.bin").write_bytes(table.blob())
    return StringTable.open(tmp_path, tmp_path, "vocab", table.arrays("vocab"))


def test_a_string_table_maps_ids_to_strings_and_back(tmp_path: Path) -> None:
    strings = ["cat", "", "caf\u00e9", "\udc80", "dog"]
    for table in (StringTable.from_strings(strings), saved_table(tmp_path, strings)):
        assert len(table) == 5
        assert [table.string(i) for i in range(5)] == strings == table.strings()
        assert list(table) == strings
        assert [table[s] for s in strings] == [0, 1, 2, 3, 4]
        assert table.id_of("cow") is None and table.id_of("cow") is None  # remembered too
        assert "dog" in table and "cow" not in table and 3 not in table  # type: ignore[comparison-overlap]
        with pytest.raises(KeyError) as missing:
            table["cow"]
        assert missing.value.args == ("cow",)
        with pytest.raises(KeyError):
            table[0]  # type: ignore[index]
        with pytest.raises(IndexError, match=r"string id 5 out of range \(0\.\.4\)"):
            table.string(5)
        with pytest.raises(IndexError, match=r"string id -1 out of range"):
            table.string(-1)
        assert table.blob() == "catcaf\u00e9".encode() + b"\xed\xb2\x80" + b"dog"
    arrays = StringTable.from_strings(strings).arrays("terms")
    assert {name: array.dtype for name, array in arrays.items()} == {
        "terms_offsets": np.int64, "terms_hash": np.uint64, "terms_order": np.int32}


def test_an_empty_string_table_has_nothing(tmp_path: Path) -> None:
    for table in (StringTable.from_strings([]), saved_table(tmp_path, [])):
        assert len(table) == 0 and table.strings() == [] and table.blob() == b""
        assert table.id_of("") is None


def test_strings_with_the_same_hash_are_told_apart_by_their_bytes() -> None:
    key = hash_bytes(b"b")
    offsets = np.array([0, 1, 2, 3], dtype=np.int64)
    # Three strings under one hash, as if 64 bits had collided: "a", "b", "c".
    table = StringTable(b"abc", offsets, np.array([key] * 3, dtype=np.uint64),
                        np.array([0, 2, 1], dtype=np.int32))
    assert table.id_of("b") == 1  # the third under that hash
    assert table.id_of("a") is None  # a different hash: not searched for at all
    # The second under that hash, and one that is not there at all.
    table = StringTable(b"abc", offsets, np.array([key] * 3, dtype=np.uint64),
                        np.array([0, 1, 2], dtype=np.int32))
    assert table.id_of("b") == 1
    table = StringTable(b"ac", offsets[:3], np.array([key] * 2, dtype=np.uint64),
                        np.array([0, 1], dtype=np.int32))
    assert table.id_of("b") is None


def test_a_string_table_whose_bytes_do_not_match_its_offsets_is_damaged(
        tmp_path: Path) -> None:
    table = StringTable.from_strings(["cat", "dog"])
    arrays = table.arrays("vocab")
    mismatch = damage(tmp_path) + r"vocab\.bin does not match its offsets"
    for blob in (b"catdo", b"catdogs"):
        (tmp_path / "vocab.bin").write_bytes(blob)
        with pytest.raises(IndexFileError, match=mismatch):
            StringTable.open(tmp_path, tmp_path, "vocab", arrays)
    (tmp_path / "vocab.bin").write_bytes(b"catdog")
    for name in ("vocab_hash", "vocab_order"):
        short = dict(arrays, **{name: arrays[name][:1]})
        with pytest.raises(IndexFileError, match=mismatch):
            StringTable.open(tmp_path, tmp_path, "vocab", short)
    assert StringTable.open(tmp_path, tmp_path, "vocab", arrays)["dog"] == 1


# -- which generation is current ---------------------------------------------------------


def test_the_current_generation_is_the_one_current_names(tmp_path: Path) -> None:
    gen = generation(tmp_path, "gen-2")
    (tmp_path / CURRENT).write_text("  gen-2 \n")
    folder = IndexFolder(tmp_path)
    assert folder.current() == gen
    assert folder.current_name() == "gen-2"
    assert folder.manifest(gen)["format"] == FORMAT


@pytest.mark.parametrize("name", ["gen-9", "notgen-2", "gen-2/../gen-2", "", "manifest"])
def test_current_naming_no_generation_is_damage(tmp_path: Path, name: str) -> None:
    generation(tmp_path, "gen-2")
    (tmp_path / "notgen-2").mkdir()
    (tmp_path / CURRENT).write_text(name + "\n")
    with pytest.raises(IndexFileError) as info:
        IndexFolder(tmp_path).current()
    assert info.value.code == "index_damaged"
    assert info.value.message.startswith(
        f"The saved index in {str(tmp_path)!r} is damaged: CURRENT points to no index "
        "generation. Rebuild")


def test_current_that_cannot_be_read_is_damage(tmp_path: Path) -> None:
    (tmp_path / CURRENT).write_bytes(b"gen-\xff\n")
    with pytest.raises(IndexFileError, match=r"CURRENT cannot be read \(.*utf-8"):
        IndexFolder(tmp_path).current()
    assert IndexFolder(tmp_path).current_name() is None
    (tmp_path / CURRENT).unlink()
    (tmp_path / CURRENT).mkdir()
    with pytest.raises(IndexFileError) as info:
        IndexFolder(tmp_path).current()
    assert info.value.message.startswith(
        f"The saved index in {str(tmp_path)!r} is damaged: CURRENT is a folder. Rebuild")
    assert IndexFolder(tmp_path).current_name() is None


def test_no_index_says_what_is_there_instead(tmp_path: Path) -> None:
    missing = tmp_path / "idx"
    with pytest.raises(IndexFileError) as info:
        IndexFolder(missing).current()
    assert (info.value.code, info.value.message) == (
        "index_missing", f"No saved index in {str(missing)!r}. Build one with "
                         f"`quotebot index --out {str(missing)!r}`.")
    missing.mkdir()
    with pytest.raises(IndexFileError, match=r"^No saved index in .*\. Build one with"):
        IndexFolder(missing).current()
    (missing / "notes.txt").write_text("mine")
    with pytest.raises(IndexFileError) as info:
        IndexFolder(missing).current()
    assert (info.value.code, info.value.message) == ("index_missing", (
        f"No saved index in {str(missing)!r}: it holds other files. Give the folder "
        "`quotebot index --out DIR` wrote, or build one into a new folder with "
        "`quotebot index --out DIR`."))
    with pytest.raises(IndexFileError) as info:
        IndexFolder(missing / "notes.txt").current()
    assert (info.value.code, info.value.message) == ("index_missing", (
        f"{str(missing / 'notes.txt')!r} is a file, not an index folder: give the folder "
        "`quotebot index --out DIR` wrote."))
    assert IndexFolder(missing).current_name() is None
    (missing / CURRENT).write_text("\n")
    assert IndexFolder(missing).current_name() is None


# -- a generation's manifest --------------------------------------------------------------


def write_manifest(tmp_path: Path, data: object) -> Path:
    gen = tmp_path / "gen-1"
    gen.mkdir(exist_ok=True)
    (gen / "manifest.json").write_text(json.dumps(data))
    return gen


@pytest.mark.parametrize("data", [[FORMAT], manifest(format="other-index"),
                                  {"format_version": FORMAT_VERSION}])
def test_a_manifest_of_something_else_is_damage(tmp_path: Path, data: object) -> None:
    gen = write_manifest(tmp_path, data)
    with pytest.raises(IndexFileError) as info:
        IndexFolder(tmp_path).manifest(gen)
    assert info.value.code == "index_damaged"
    assert info.value.message.startswith(
        f"The saved index in {str(tmp_path)!r} is damaged: manifest.json is not a quotebot "
        "index manifest. Rebuild")


@pytest.mark.parametrize("version", [FORMAT_VERSION - 1, FORMAT_VERSION + 1, None])
def test_a_manifest_of_another_version_says_which_and_how_to_rebuild(
        tmp_path: Path, version: int | None) -> None:
    gen = write_manifest(tmp_path, manifest(format_version=version))
    with pytest.raises(IndexFileError) as info:
        IndexFolder(tmp_path).manifest(gen)
    assert info.value.code == "index_version"
    assert info.value.message == (
        f"The saved index in {str(tmp_path)!r} has format version {version!r}; this "
        f"quotebot reads version {FORMAT_VERSION}. Rebuild it with "
        f"`quotebot index --out {str(tmp_path)!r}`.")


@pytest.mark.parametrize("field", ["fingerprint", "analyzer_version", "counts", "files",
                                   "bm25"])
def test_a_manifest_without_a_field_names_it(tmp_path: Path, field: str) -> None:
    data = manifest()
    del data[field]
    gen = write_manifest(tmp_path, data)
    with pytest.raises(IndexFileError) as info:
        IndexFolder(tmp_path).manifest(gen)
    assert info.value.code == "index_damaged"
    assert info.value.message.startswith(
        f"The saved index in {str(tmp_path)!r} is damaged: manifest.json lacks the field "
        f"{field!r}. Rebuild")


# -- whose folder it is -------------------------------------------------------------------


@pytest.mark.parametrize(("content", "ours"), [
    ({"format": FOLDER_FORMAT, "owned": []}, True),
    ({"format": FOLDER_FORMAT, "owned": ["gen-1"]}, True),
    ({"format": "something-else", "owned": []}, False),
    ({"format": FOLDER_FORMAT, "owned": "gen-1"}, False),
    ({"format": FOLDER_FORMAT}, False),
    ([FOLDER_FORMAT], False),
    ("{not json", False),
], ids=["empty", "one", "other format", "owned not a list", "no owned", "a list", "not json"])
def test_a_folder_manifest_makes_an_index_only_when_it_is_quotebots(
        tmp_path: Path, content: object, ours: bool) -> None:
    text = content if isinstance(content, str) else json.dumps(content)
    (tmp_path / FOLDER_MANIFEST).write_text(text)
    assert IndexFolder(tmp_path).is_index() is ours


def test_an_index_from_before_the_folder_manifest_is_known_by_its_generation(
        tmp_path: Path) -> None:
    folder = IndexFolder(tmp_path)
    generation(tmp_path, "gen-1", owned=False)
    generation(tmp_path, "gen-0", owned=False)
    (tmp_path / "gen-photos").mkdir()  # no manifest: the user's
    assert folder.is_index() is False  # no CURRENT yet
    (tmp_path / CURRENT).write_text("gen-1\n")
    assert folder.is_index() is True
    # Its generations are quotebot's, and nothing else is.
    assert folder._owned() == {"gen-0", "gen-1"}
    folder.own("semantic-x.npy")
    assert owned(tmp_path) == ["gen-0", "gen-1", "semantic-x.npy"]


@pytest.mark.parametrize(("current", "manifest_text"), [
    ("gen-1", json.dumps({"format": "photos"})),
    ("gen-1", json.dumps([FORMAT])),
    ("gen-1", "{not json"),
    ("gen-2", json.dumps({"format": FORMAT})),  # no such generation
    ("gen-1/../gen-1", json.dumps({"format": FORMAT})),
    ("old-1", json.dumps({"format": FORMAT})),
])
def test_a_folder_whose_current_names_no_quotebot_generation_is_not_an_index(
        tmp_path: Path, current: str, manifest_text: str) -> None:
    (tmp_path / "gen-1").mkdir()
    (tmp_path / "gen-1" / "manifest.json").write_text(manifest_text)
    (tmp_path / "old-1").mkdir()
    (tmp_path / "old-1" / "manifest.json").write_text(manifest_text)
    (tmp_path / CURRENT).write_text(current + "\n")
    assert IndexFolder(tmp_path).is_index() is False
    assert IndexFolder(tmp_path)._owned() == set()


def test_only_an_empty_or_missing_folder_or_an_index_is_written_into(tmp_path: Path) -> None:
    IndexFolder(tmp_path / "new").check_writable()
    IndexFolder(tmp_path).check_writable()  # empty
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(IndexFileError, match="is not empty and holds no quotebot index") as info:
        IndexFolder(tmp_path).check_writable()
    assert info.value.code == "index_folder_not_ours"
    with pytest.raises(IndexFileError) as info:
        IndexFolder(tmp_path / "photo.jpg").check_writable()
    assert info.value.message == (f"{str(tmp_path / 'photo.jpg')!r} is a file, not a folder; "
                                  "give --out a folder for the index.")
    assert info.value.code == "index_not_a_folder"
    (tmp_path / FOLDER_MANIFEST).write_text(json.dumps({"format": FOLDER_FORMAT, "owned": []}))
    IndexFolder(tmp_path).check_writable()


def test_the_reasons_a_folder_cannot_be_written_are_said_plainly(tmp_path: Path) -> None:
    for number, reason in [(errno.EACCES, "permission denied"),
                           (errno.EROFS, "the file system is read-only"),
                           (errno.ENOSPC, "the disk is full"),
                           (errno.ENOTDIR, "part of the path is a file"),
                           (errno.EEXIST, "it exists and is not a folder"),
                           (errno.EIO, os.strerror(errno.EIO))]:
        error = _unwritable(tmp_path, OSError(number, os.strerror(number)))
        assert error.code == "index_unwritable"
        assert error.message == f"Cannot write the index into {str(tmp_path)!r}: {reason}."
    assert _unwritable(tmp_path, OSError("odd")).message.endswith(": odd.")


# -- writing a generation -----------------------------------------------------------------


def test_a_new_generation_becomes_current_and_is_recorded_as_quotebots(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    folder = IndexFolder(root)
    gen = folder.write_generation(lambda out: (out / "data.bin").write_bytes(b"x"))
    assert gen.parent == root and (gen / "data.bin").read_bytes() == b"x"
    assert len(gen.name) == len("gen-20261207T073000-0123abcd")
    assert gen.name.startswith("gen-") and gen.name[12] == "T"
    assert folder.current() == gen
    assert (root / CURRENT).read_text() == gen.name + "\n"
    assert owned(root) == [gen.name]
    assert leftovers(root) == []
    second = folder.write_generation(lambda out: None)
    assert second != gen and folder.current() == second
    # The first is younger than KEEP_SECONDS: a reader may still be opening it.
    assert gen.is_dir() and owned(root) == sorted([gen.name, second.name])


def test_a_write_that_fails_leaves_the_current_generation_and_nothing_half_written(
        tmp_path: Path) -> None:
    folder = IndexFolder(tmp_path)
    first = folder.write_generation(lambda out: None)

    def fail(out: Path) -> None:
        (out / "half.bin").write_bytes(b"half")
        raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError, match="disk went away"):
        folder.write_generation(fail)
    assert folder.current() == first
    assert leftovers(tmp_path) == [] and owned(tmp_path) == [first.name]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("gen-")) == [
        first.name]


def test_a_folder_that_cannot_be_made_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("mine")
    with pytest.raises(IndexFileError) as info:
        IndexFolder(tmp_path / "file" / "idx").write_generation(lambda out: None)
    assert info.value.message == (
        f"Cannot write the index into {str(tmp_path / 'file' / 'idx')!r}: part of the path "
        "is a file.")
    assert (tmp_path / "file").read_text() == "mine"


# -- what is removed, and when ------------------------------------------------------------


def test_old_generations_go_after_keep_seconds_and_the_current_one_never(
        tmp_path: Path) -> None:
    folder = IndexFolder(tmp_path)
    generation(tmp_path, "gen-current", age=10 * KEEP_SECONDS)
    generation(tmp_path, "gen-kept", age=10 * KEEP_SECONDS)
    generation(tmp_path, "gen-old", age=KEEP_SECONDS, files={"a.npy": b"a"})
    generation(tmp_path, "gen-young", age=KEEP_SECONDS - 0.5)
    generation(tmp_path, "gen-users", age=10 * KEEP_SECONDS, owned=False)
    (tmp_path / CURRENT).write_text("gen-current\n")
    folder.remove_unused(keep={"gen-kept"}, now=NOW)
    assert sorted(p.name for p in tmp_path.glob("gen-*")) == [
        "gen-current", "gen-kept", "gen-users", "gen-young"]
    assert owned(tmp_path) == ["gen-current", "gen-kept", "gen-young"]


def test_a_half_written_generation_goes_after_an_hour(tmp_path: Path) -> None:
    folder = IndexFolder(tmp_path)
    for name, age in ((".tmp-gen-a", 3600.0), (".tmp-gen-b", 3599.0)):
        (tmp_path / name / "sub").mkdir(parents=True)  # unlisted files too: all of it is ours
        (tmp_path / name / "sub" / "x.bin").write_bytes(b"x")
        os.utime(tmp_path / name, (NOW - age, NOW - age))
        folder.own(name)
    folder.remove_unused(prefix="semantic-", now=NOW)  # only vectors: writes stay
    assert leftovers(tmp_path) == [".tmp-gen-a", ".tmp-gen-b"]
    folder.remove_unused(now=NOW)
    assert leftovers(tmp_path) == [".tmp-gen-b"]
    assert owned(tmp_path) == [".tmp-gen-b"]


def test_files_of_another_prefix_are_removed_as_files(tmp_path: Path) -> None:
    folder = IndexFolder(tmp_path)
    for name in ("semantic-old.npy", "semantic-new.npy", "semantic-mine.npy"):
        (tmp_path / name).write_bytes(b"v")
    folder.own("semantic-old.npy", "semantic-new.npy", "semantic-gone.npy", "gen-1")
    generation(tmp_path, "gen-1", age=10 * KEEP_SECONDS)
    folder.remove_unused(keep={"semantic-new.npy"}, prefix="semantic-", now=float("inf"))
    assert sorted(p.name for p in tmp_path.glob("semantic-*")) == [
        "semantic-mine.npy", "semantic-new.npy"]
    # What was already gone is forgotten too; the generation is another prefix's.
    assert owned(tmp_path) == ["gen-1", "semantic-new.npy"]
    assert (tmp_path / "gen-1").is_dir()


def test_a_generation_loses_only_the_files_its_manifest_lists(tmp_path: Path) -> None:
    folder = IndexFolder(tmp_path)
    gen = generation(tmp_path, "gen-1", files={"a.npy": b"a", "b.bin": b"b"},
                     age=10 * KEEP_SECONDS)
    (tmp_path / "outside.txt").write_text("mine")
    data = json.loads((gen / "manifest.json").read_text())
    data["files"]["../outside.txt"] = 4
    (gen / "manifest.json").write_text(json.dumps(data))
    (gen / "notes.txt").write_text("mine")
    os.utime(gen, (NOW - 600, NOW - 600))
    folder.remove_unused(now=NOW)
    assert sorted(p.name for p in gen.iterdir()) == ["notes.txt"]
    assert (tmp_path / "outside.txt").read_text() == "mine"
    assert owned(tmp_path) == ["gen-1"]  # still there, so still ours to finish later
    (gen / "notes.txt").unlink()
    folder.remove_unused(now=NOW)
    assert not gen.exists() and owned(tmp_path) == []


@pytest.mark.parametrize("manifest_text", ["{not json", json.dumps({"format": FORMAT}),
                                           json.dumps([1]), json.dumps({"files": 7})])
def test_a_generation_with_an_unreadable_manifest_keeps_its_other_files(
        tmp_path: Path, manifest_text: str) -> None:
    gen = generation(tmp_path, "gen-1", files={"a": b"a"})
    (gen / "manifest.json").write_text(manifest_text)
    os.utime(gen, (NOW - 600, NOW - 600))
    IndexFolder(tmp_path).remove_unused(now=NOW)
    assert sorted(p.name for p in gen.iterdir()) == ["a"]


def test_removing_uses_the_clock_when_given_no_time(tmp_path: Path) -> None:
    folder = IndexFolder(tmp_path)
    generation(tmp_path, "gen-1", age=0.0)  # NOW is years ahead of the clock
    os.utime(tmp_path / "gen-1", (0, 0))
    generation(tmp_path, "gen-2")
    os.utime(tmp_path / "gen-2", None)  # just now
    folder.remove_unused()
    assert sorted(p.name for p in tmp_path.glob("gen-*")) == ["gen-2"]
