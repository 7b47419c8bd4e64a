"""`quotebot index --out DIR` never deletes or overwrites what it did not write.

Each case gives the real command a folder of the user's own (photos, notes, a folder that
merely looks like a generation) and checks, file by file, that it is all still there.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from conftest import ROOT, run_main

ARTICLES = ROOT / "examples" / "articles"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def index(out: Path, *more: str) -> tuple[int, str, str]:
    done = run_main("index", "--out", str(out), "--corpus", str(ARTICLES), "--semantic", "off",
                   *more)
    return done.returncode, done.stdout, done.stderr


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_folder_of_the_users_own_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "gen-2019-holiday").mkdir(parents=True)
    (photos / "gen-2019-holiday" / "beach.jpg").write_bytes(b"\xff\xd8 beach")
    (photos / "CURRENT").write_text("my own notes\n")
    (photos / ".tmp-draft").write_text("draft")
    (photos / "semantic-old.npy").write_bytes(b"mine")
    old = time.time() - 7200  # older than anything quotebot would ever keep
    for path in photos.rglob("*"):
        os.utime(path, (old, old))
    before = snapshot(photos)

    code, _, stderr = index(photos)

    assert code != 0
    line = one_line_error(stderr)
    assert "not empty" in line and str(photos.name) in line
    assert snapshot(photos) == before


def test_a_folder_another_run_has_only_begun_is_written_into(tmp_path: Path) -> None:
    """Catches: a second `quotebot index` into a new folder refusing it as "not empty" because
    the first run, an instant ahead, has made only its lock and is writing the folder's
    manifest through a temporary file."""
    out = tmp_path / "index"
    out.mkdir()
    (out / ".quotebot-index.lock").touch()
    (out / ".quotebot-tmp-k3j9x").write_text('{"format": ')

    code, _, stderr = index(out)

    assert code == 0, stderr
    assert (out / "CURRENT").read_text().startswith("gen-")
    assert "quotebot-index.json" in os.listdir(out)


def test_a_regular_file_is_one_error_and_stays_as_it_was(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me\n")
    for out in (notes, notes / "index"):
        code, _, stderr = index(out)
        assert code != 0
        assert "file" in one_line_error(stderr)
    assert notes.read_text() == "keep me\n"


def test_inside_its_own_index_only_what_its_manifest_lists_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "index"
    assert index(out)[0] == 0
    first = (out / "CURRENT").read_text().strip()
    # The user keeps things of their own in the index folder, named like quotebot's.
    (out / "notes.txt").write_text("mine")
    (out / "gen-by-hand").mkdir()
    (out / "gen-by-hand" / "data.bin").write_bytes(b"mine")
    (out / ".tmp-mine").write_text("mine")
    old = time.time() - 7200
    for path in (out / first, out / "gen-by-hand", out / ".tmp-mine"):
        os.utime(path, (old, old))
    mine = {name: data for name, data in snapshot(out).items()
            if name.startswith(("notes", "gen-by-hand", ".tmp-mine"))}

    assert index(out)[0] == 0
    second = (out / "CURRENT").read_text().strip()

    assert second != first
    assert not (out / first).exists()  # its own old generation, listed in its manifest
    assert (out / second / "manifest.json").is_file()
    after = snapshot(out)
    assert {name: after.get(name) for name in mine} == mine
    owned = json.loads((out / "quotebot-index.json").read_text())
    assert "notes.txt" not in json.dumps(owned) and "gen-by-hand" not in json.dumps(owned)


def test_a_damaged_index_names_its_own_folder_not_the_parent(tmp_path: Path) -> None:
    out = tmp_path / "index"
    assert index(out)[0] == 0
    generation = (out / "CURRENT").read_text().strip()
    (out / generation / "manifest.json").write_text("garbage")

    done = run_main("ask", "how many jobs?", "--index", str(out), "--semantic", "off")

    line = one_line_error(done.stderr)
    assert "damaged" in line
    assert f"--out '{out}'" in line or f"--out {out}" in line
    assert f"'{tmp_path}'" not in line.replace(f"'{out}'", "")


def test_reading_commands_never_rewrite_a_saved_index(tmp_path: Path) -> None:
    """`ask`, `docs` and `eval` given a saved index answer from it as it is, even when the
    corpus given beside it has changed since: they say so, and the index is untouched
    (catches a read-only command that rebuilt the index it was told to read)."""
    articles = tmp_path / "articles"
    articles.mkdir()
    for source in ARTICLES.iterdir():
        (articles / source.name).write_bytes(source.read_bytes())
    out = tmp_path / "index"
    done = run_main("index", "--out", str(out), "--corpus", str(articles), "--semantic", "off")
    assert done.returncode == 0, done.stderr
    (articles / "new-article.txt").write_text("The harbour reopened to ferries on Friday.\n")
    before = snapshot(out)

    by_flag = run_main("ask", "how many jobs?", "--index", str(out), "--corpus", str(articles),
                      "--semantic", "off", "--json")
    by_env = run_main("docs", env={"QUOTEBOT_INDEX": str(out), "QUOTEBOT_CORPUS": str(articles),
                                  "QUOTEBOT_SEMANTIC": "off"})

    assert by_flag.returncode == 0 and by_env.returncode == 0, by_flag.stderr + by_env.stderr
    assert json.loads(by_flag.stdout)["answered"]
    assert "new-article" not in by_env.stdout  # answered from the index as it was saved
    for stderr in (by_flag.stderr, by_env.stderr):
        assert "index" in stderr.lower() and "quotebot index" in stderr
    assert snapshot(out) == before


def test_index_given_a_file_or_someone_elses_folder_says_what_it_is(tmp_path: Path) -> None:
    """Catches "the saved index in '/etc/passwd' is damaged … rebuild it with --out
    '/etc/passwd'": advice the tool itself would then refuse."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    line = one_line_error(run_main("ask", "hi", "--index", str(notes)).stderr)
    assert "is a file, not an index folder" in line and "damaged" not in line
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"jpg")
    line = one_line_error(run_main("ask", "hi", "--index", str(photos)).stderr)
    assert "holds other files" in line and f"--out '{photos}'" not in line
    assert notes.read_text() == "mine\n" and [p.name for p in photos.iterdir()] == ["a.jpg"]
