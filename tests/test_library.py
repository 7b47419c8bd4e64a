"""Libraries: `quotebot add` fills a folder with articles from files, folders and links and
keeps its index current, so that `quotebot ask --corpus DIR` answers at once; `quotebot
forget` removes what it added; limits hold, and writers take turns."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from quotebot.corpus import read_document
from quotebot.errors import QuotebotError
from quotebot.ingest import load_source
from quotebot.library import JOURNAL, LOCK, Library, LibraryError, LibraryLimits
from quotebot.models import Document
from quotebot.store.catalogue import default_index_dir, open_index

from conftest import run_main
from pages import FIXTURES, NEWS_PAGE, article_page, page_site
from servers import wait_until

OFF = {"QUOTEBOT_SEMANTIC": "off"}
OWN = FIXTURES / "own-articles"
SEA_WALL = "kelsey-bay-sea-wall"


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def note(title: str, text: str, url: str = "") -> Document:
    """A document named by its title, as a link whose last part names nothing is."""
    from quotebot.ingest import slugify

    return Document(id=slugify(title), title=title, text=text, url=url)


# -- quotebot add ------------------------------------------------------------------------------


def test_an_added_page_is_answered_from_the_librarys_own_index(tmp_path: Path) -> None:
    library = tmp_path / "library"
    added = run_main("add", str(NEWS_PAGE), "--to", str(library), "--json", env=OFF)
    assert added.returncode == 0, added.stderr
    assert json_lines(added.stdout) == [{
        "doc": SEA_WALL, "title": "Kelsey Bay votes to rebuild its sea wall after winter storms",
        "url": "https://news.example.org/local/2024/03/kelsey-bay-sea-wall", "sentences": 13,
        "kept_words": 215, "page_words": 397}]
    assert "Note:" not in added.stderr  # the article is half of what the page shows
    answer = json.loads(run_main("ask", "Who is the harbour master?", "--corpus", str(library),
                                "--json", env=OFF).stdout)
    assert "Tom Okafor" in answer["quotes"][0]["text"]
    # The library's saved index was used as it is: nothing was built into the cache.
    assert not default_index_dir(library).exists()
    shown = json.loads(run_main("show", SEA_WALL, "--corpus", str(library), "--json").stdout)
    assert (shown["url"], shown["author"], shown["date"]) == (
        "https://news.example.org/local/2024/03/kelsey-bay-sea-wall", "Amira Holt", "2024-03-14")
    quote = answer["quotes"][0]  # type: ignore[index]
    assert shown["text"][quote["start"]:quote["end"]] == quote["text"]


def test_a_folder_and_a_link_are_added_and_a_bad_source_is_named_while_the_rest_go_in(
        tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    shutil.copytree(OWN, folder)
    (folder / "scan.pdf").write_bytes((FIXTURES / "scanned-notice.pdf").read_bytes())
    library = tmp_path / "library"
    with page_site() as site:
        result = run_main("add", str(folder), site.url("/news/sea-wall"),
                         str(tmp_path / "missing.html"), "--to", str(library),
                         env={**OFF, "QUOTEBOT_ALLOW_PRIVATE_URLS": "1"})
    assert result.returncode == 1
    assert result.stdout.count("Added ") == 4
    assert f"from {site.url('/news/sea-wall')}" in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2
    assert "scan.pdf" in errors[0] and "OCR" in errors[0]
    assert "missing.html" in errors[1] and "does not exist" in errors[1]
    # Each error names its file once, and is said once (not also as a logged warning).
    assert errors[0].count(str(folder)) == 1 and errors[1].count("missing.html") == 1
    assert result.stderr.count("scan.pdf") == 1
    assert "2 sources could not be added; the others were." in result.stderr
    docs = json.loads(run_main("docs", "--corpus", str(library), "--json").stdout)["documents"]
    assert len(docs) == 4
    answer = json.loads(run_main("ask", "Who won the cup?", "--corpus", str(library), "--json",
                                env=OFF).stdout)
    assert answer["answered"] and "Harbour City" in answer["quotes"][0]["text"]


def test_a_private_address_is_refused_unless_allowed(tmp_path: Path) -> None:
    with page_site() as site:
        result = run_main("add", site.url("/news/sea-wall"), "--to", str(tmp_path / "lib"),
                         "--json", env=OFF)
    assert result.returncode == 1
    (line,) = json_lines(result.stdout)
    assert line["source"] == site.url("/news/sea-wall")
    assert line["error"]["code"] == "url_not_allowed"  # type: ignore[index]
    assert site.hits == {}


#: Runs `quotebot add` in this process and prints whether the index's machinery (NLTK,
#: SciPy: seconds to load) was loaded by the time it finished.
_ADD_AND_TELL = """
import sys
from quotebot.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    print("exit", exit.code, "loaded" if "quotebot.store" in sys.modules else "not loaded",
          file=sys.stderr)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("link", "says"), [
    ("http://127.0.0.1:9/report", "QUOTEBOT_ALLOW_PRIVATE_URLS=1"),
    ("http://[::1]/report", "QUOTEBOT_ALLOW_PRIVATE_URLS=1"),
    ("ftp://example.org/report.txt", "only http and https links, not ftp ones"),
    ("http://no-such-host.invalid/report", "Could not find no-such-host.invalid"),
])
def test_a_link_that_cannot_be_fetched_is_refused_before_the_index_is_loaded(
        tmp_path: Path, link: str, says: str) -> None:
    result = subprocess.run([sys.executable, "-c", _ADD_AND_TELL, "add", link, "--to",
                             str(tmp_path / "lib")], capture_output=True, text=True,
                            timeout=120, env={**os.environ, **OFF}, check=False)
    assert f"Error: {link}: " in result.stderr and says in result.stderr
    assert "exit 1 not loaded" in result.stderr
    assert not (tmp_path / "lib").exists()


def test_a_refused_link_does_not_keep_the_other_sources_from_being_added(
        tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("The ferry to Kelsey Bay sails at noon.\n", encoding="utf-8")
    result = run_main("add", "http://127.0.0.1:9/report", str(note), "--to",
                      str(tmp_path / "lib"), env=OFF)
    assert result.returncode == 1
    assert "Added note: " in result.stdout
    assert "QUOTEBOT_ALLOW_PRIVATE_URLS=1" in result.stderr
    assert "1 source could not be added; the others were." in result.stderr


def test_adding_a_link_again_replaces_its_document(tmp_path: Path) -> None:
    library = tmp_path / "library"
    first = article_page("Ferry timetable changes", [
        "The ferry to Kelsey Bay leaves the east landing every hour from Monday.",
        "Fares stay at two pounds for adults."])
    second = article_page("Ferry timetable changes", [
        "The ferry to Kelsey Bay leaves the east landing every half hour from Monday.",
        "Fares rise to three pounds for adults."])
    env = {**OFF, "QUOTEBOT_ALLOW_PRIVATE_URLS": "1"}
    with page_site({"/ferry": (first, "text/html")}) as site:
        assert run_main("add", site.url("/ferry"), "--to", str(library), env=env).returncode == 0
        site.pages["/ferry"] = (second, "text/html")
        again = run_main("add", site.url("/ferry"), "--to", str(library), env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Updated ferry: Ferry timetable changes (")
    assert "(its earlier version is replaced)" in again.stdout
    assert [p.name for p in library.glob("*.txt")] == ["ferry.txt"]  # named by the link
    answer = json.loads(run_main("ask", "How much are the fares?", "--corpus", str(library),
                                "--json", env=OFF).stdout)
    assert "three pounds" in answer["quotes"][0]["text"]


def test_an_edited_file_added_again_replaces_itself_and_another_of_its_stem_does_not(
        tmp_path: Path) -> None:
    library, notes, elsewhere = tmp_path / "library", tmp_path / "notes", tmp_path / "other"
    notes.mkdir()
    elsewhere.mkdir()
    budget = notes / "budget.md"
    budget.write_text("# Budget\n\nThe council will spend £2 million on the sea wall.\n",
                      encoding="utf-8")
    first = run_main("add", str(budget), "--to", str(library), "--json", env=OFF)
    assert json_lines(first.stdout)[0]["doc"] == "budget"
    budget.write_text("# Budget\n\nThe council will spend £3 million on the sea wall.\n",
                      encoding="utf-8")
    again = run_main("add", str(budget), "--to", str(library), env=OFF)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Updated budget: Budget (")
    # Another file whose name has the same stem is another document, with an id of its own.
    (elsewhere / "budget.txt").write_text("Budget of the sailing club\nThe club spends £900 "
                                          "on new sails.\n", encoding="utf-8")
    other = run_main("add", str(elsewhere / "budget.txt"), "--to", str(library), "--json",
                     env=OFF)
    assert [(d["doc"], "replaced" in d) for d in json_lines(other.stdout)] == [
        ("budget-2", False)]
    assert sorted(p.name for p in library.glob("*.txt")) == ["budget-2.txt", "budget.txt"]
    answer = json.loads(run_main("ask", "How much will the council spend?", "--corpus",
                                 str(library), "--json", env=OFF).stdout)
    assert answer["quotes"][0]["doc"] == "budget"
    assert "£3 million" in answer["quotes"][0]["text"]
    assert "£2 million" not in json.dumps(answer)
    # The library keeps the file's name only, never where it was on this machine.
    saved = (library / "budget.txt").read_text(encoding="utf-8")
    assert "source: budget.md" in saved and str(tmp_path) not in saved


def test_forget_removes_what_add_put_there_and_leaves_a_users_own_file(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    own = library / "my-notes.txt"
    own.write_text("My notes\nThe harbour wall needs painting before the summer.\n",
                   encoding="utf-8")
    assert run_main("add", str(NEWS_PAGE), "--to", str(library), env=OFF).returncode == 0
    refused = run_main("forget", "my-notes", "--from", str(library), env=OFF)
    assert refused.returncode == 1
    assert "did not add" in refused.stderr and own.exists()
    gone = run_main("forget", f"{SEA_WALL}.txt", "--from", str(library), "--json", env=OFF)
    assert gone.returncode == 0, gone.stderr
    assert json_lines(gone.stdout)[0]["doc"] == SEA_WALL
    assert sorted(p.name for p in library.iterdir() if not p.name.startswith(".")) == [
        "my-notes.txt"]
    docs = json.loads(run_main("docs", "--corpus", str(library), "--json").stdout)["documents"]
    assert [d["doc"] for d in docs] == ["my-notes"]
    assert not default_index_dir(library).exists()


def test_an_added_page_answers_as_its_text_does(tmp_path: Path, gate_open: None) -> None:
    """Quality parity: the page through `quotebot add` gives the short answers and best
    quotes that the article's text file gives through `quotebot add` (the file holds the
    headline as its first line, the page's text does not, so later quotes may differ).
    Every short answer found is shown: the two documents' lengths differ by that line,
    which the gate weighs."""
    questions = ["When was the old wall built?", "How many homes are behind the wall?",
                 "Who is the harbour master?", "When will the exhibition be held?",
                 "How much will the Environment Agency pay?", "Who voted against the plan?",
                 "When will work start?", "What is the weather in Paris?"]
    answers = []
    for source in (NEWS_PAGE, FIXTURES / "news-article.txt"):
        library = tmp_path / source.suffix.strip(".")
        assert run_main("add", str(source), "--to", str(library), env=OFF).returncode == 0
        turns = run_main("repl", "--corpus", str(library), "--json", env=OFF,
                        stdin="\n".join(f":new\n{q}" for q in questions) + "\n")
        answers.append([(a["answer"], [q["text"] for q in a["quotes"]][:1])
                        for a in json_lines(turns.stdout) if "question" in a])
    from_page, from_text = answers
    assert len(from_page) == len(questions)
    assert from_page == from_text
    assert [a for a, _ in from_page[:7]] == ["1887", "640", "Tom Okafor", "2 April",
                                            "£9 million", "Harriet Lyle", "September"]
    assert from_page[7] == (None, [])


# -- the library itself ------------------------------------------------------------------------


def test_limits_refuse_a_document_and_keep_the_others(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib", LibraryLimits(max_documents=2, max_document_bytes=200,
                                                      max_library_bytes=300))
    long = note("Long", "A sentence about the harbour wall and the ferry. " * 10)
    result = library.add([note("One", "The ferry is back on Monday.\n", "https://a.example/1"),
                          long, note("Two", "The tide was high on Sunday.\n"),
                          note("Three", "The wall was built in 1887.\n")], semantic="off")
    assert [a.title for a in result.added] == ["One", "Two"]
    assert [(d.title, e.code) for d, e in result.refused] == [("Long", "document_too_large"),
                                                              ("Three", "library_full")]
    assert "490 bytes of text; a library takes documents of up to 200 bytes" in (
        result.refused[0][1].message)
    # A new version of a document replaces it: the library holds no more than before.
    again = library.add([note("One", "The ferry is back on Tuesday.\n", "https://a.example/1")],
                        semantic="off")
    assert not again.refused and again.added[0].replaced
    small = Library(library.root, LibraryLimits(max_library_bytes=80))
    refused = small.add([note("Four", "x " * 30 + "\n")], semantic="off").refused
    assert refused[0][1].code == "library_too_large" and "80 bytes" in refused[0][1].message
    assert [d.title for d in library.documents()] == ["Two", "One"]
    assert "Tuesday" in library.load_index().document(library.documents()[1].id).text


def test_the_same_link_under_a_new_title_replaces_the_old_file(tmp_path: Path) -> None:
    library = Library(tmp_path)
    url = "https://example.org/ferry"
    library.add([note("Ferry news", "The ferry is back.\n", url)], semantic="off")
    result = library.add([note("Ferry back at last", "The ferry is back at last.\n", url)],
                         semantic="off")
    assert result.added[0].replaced
    assert [p.name for p in tmp_path.glob("*.txt")] == ["ferry-back-at-last.txt"]
    assert [d.title for d in library.documents()] == ["Ferry back at last"]


def test_the_index_follows_files_edited_by_hand(tmp_path: Path) -> None:
    library = Library(tmp_path)
    library.add(load_source(OWN), semantic="off")
    cup = next(tmp_path.glob("cup-final*.txt"))
    cup.write_text(cup.read_text(encoding="utf-8").replace("Harbour City", "Kelsey Rovers"),
                   encoding="utf-8")
    # A reader sees the folder changed and does not trust the library's index …
    index, folder = open_index(tmp_path, None)
    assert folder != library.index_dir and "Kelsey Rovers" in index.document(cup.stem).text
    # … and the next change brings the library's own index up to date.
    library.add([note("Tide", "The tide was high on Sunday.\n")], semantic="off")
    index, folder = open_index(tmp_path, None)
    assert folder == library.index_dir
    assert "Kelsey Rovers" in index.document(cup.stem).text
    assert read_document(cup).text == index.document(cup.stem).text


@pytest.mark.slow
def test_writers_take_turns_and_every_document_reaches_the_index(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(3):
                Library(tmp_path).add([note(f"Story {n} {i}", f"Story {n} {i} is here.\n")],
                                      semantic="off")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    titles = sorted(d.title for d in Library(tmp_path).documents())
    assert titles == sorted(f"Story {n} {i}" for n in range(4) for i in range(3))
    assert len(list(tmp_path.glob("*.txt"))) == 12


def test_an_unknown_library_and_an_unknown_document_say_so(tmp_path: Path) -> None:
    with pytest.raises(LibraryError) as info:
        Library(tmp_path / "none").load_index()
    assert info.value.code == "unknown_library"
    library = Library(tmp_path)
    library.add([note("One", "The ferry is back on Monday.\n")], semantic="off")
    with pytest.raises(QuotebotError) as missing:
        library.remove(["two"], semantic="off")
    assert missing.value.code == "unknown_document" and "one" in missing.value.message


def test_adding_a_page_whose_article_is_less_than_half_of_it_says_so(tmp_path: Path) -> None:
    # A site menu of 300 words around an article of 50.
    menu = "".join(f"<li><a href='/t/{n}'>Harbour and coast news section {n}</a></li>"
                   for n in range(50))
    page = tmp_path / "ferry.html"
    page.write_text("<html><head><title>Ferry returns</title></head><body><article>"
                    "<h1>Ferry returns</h1><p>The ferry to Kelsey Bay returns on Monday "
                    "after six weeks of repairs to its engine.</p><p>The operator said the "
                    "first crossing would leave the harbour at seven in the morning, and that "
                    "tickets bought for the cancelled sailings would be honoured until the end "
                    "of the summer.</p></article>"
                    f"<nav><ul>{menu}</ul></nav></body></html>",
                    encoding="utf-8")
    shown = run_main("add", str(page), "--to", str(tmp_path / "lib"), env=OFF)
    assert shown.returncode == 0, shown.stderr
    assert "Note: only " in shown.stderr and "words were kept as its article" in shown.stderr
    [added] = json_lines(run_main("add", str(page), "--to", str(tmp_path / "lib"), "--json",
                                 env=OFF).stdout)
    assert 2 * int(added["kept_words"]) < int(added["page_words"])  # type: ignore[call-overload]


def test_an_added_pdf_answers_from_a_table_row_with_its_header_and_never_from_its_footer(
        tmp_path: Path) -> None:
    library = str(tmp_path / "library")
    added = run_main("add", str(FIXTURES / "water-report.pdf"), "--to", library, env=OFF)
    assert added.returncode == 0 and added.stdout.startswith("Added water-report: 2024 Water")
    answer = json.loads(run_main("ask", "How much nitrate was found?", "--corpus", library,
                                 "--json", env=OFF).stdout)
    assert answer["quotes"][0]["text"] == ("Substance: Nitrate; Highest level found: 3.1 mg/L; "
                                           "Allowed (MCL): 10 mg/L; Violation: No")
    # The running footer (its words on every page) is no quote, whatever is asked.
    footer = json.loads(run_main("ask", "Millbrook Water District - 2024 Water Quality Report",
                                 "--corpus", library, "-k", "20", "--json", env=OFF).stdout)
    text = json.loads(run_main("show", "water-report", "--corpus", library, "--json").stdout)[
        "text"]
    assert footer["quotes"] and "Water District -" not in text
    for quote in footer["quotes"] + answer["quotes"]:
        assert text[quote["start"]:quote["end"]] == quote["text"]
        assert "Quality Report -" not in quote["text"] and not quote["text"].isdigit()


# -- adds are all or nothing ----------------------------------------------------------------------


def add_with_file_size_limit(source: Path, library: Path,
                             limit: int) -> subprocess.CompletedProcess[str]:
    """`quotebot add` in a process that cannot write a file larger than ``limit`` bytes: a
    full disk, for that process (the write that passes the limit fails with EFBIG)."""

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "quotebot", "add", str(source), "--to",
                           str(library)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **OFF}, preexec_fn=limited, check=False)


def folder_state(library: Path) -> dict[str, bytes]:
    """Every file of the library outside its index, with its bytes."""
    return {str(p.relative_to(library)): p.read_bytes() for p in sorted(library.rglob("*"))
            if p.is_file() and ".quotebot-index" not in p.parts and p.name != LOCK}


def long_article(tmp_path: Path, name: str, paragraphs: int) -> Path:
    path = tmp_path / name
    path.write_text("".join(f"In week {n} the ferry to Kelsey Bay carried {n * 17} passengers "
                            f"and {n * 3} cars across the bay.\n" for n in range(paragraphs)),
                    encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_disk_that_fills_while_the_text_is_written_leaves_the_library_as_it_was(
        tmp_path: Path) -> None:
    library = tmp_path / "library"
    assert run_main("add", str(NEWS_PAGE), "--to", str(library), env=OFF).returncode == 0
    before, docs_before = folder_state(library), run_main("docs", "--corpus", str(library)).stdout
    big = long_article(tmp_path, "ferry-log.txt", 4000)  # 300 KB of text
    failed = add_with_file_size_limit(big, library, 150_000)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr
    [error] = [line for line in failed.stderr.splitlines() if line.startswith("Error:")]
    assert "Cannot write into the library" in error and "the disk is full" in error
    assert folder_state(library) == before
    assert run_main("docs", "--corpus", str(library)).stdout == docs_before
    # The next add finds nothing left over.
    again = run_main("add", str(long_article(tmp_path, "short.txt", 3)), "--to", str(library),
                    "--json", env=OFF)
    assert again.returncode == 0
    assert sorted(p.name for p in library.glob("*.txt")) == [f"{SEA_WALL}.txt", "short.txt"]


@pytest.mark.slow
def test_an_index_write_that_fails_leaves_the_library_as_it_was(tmp_path: Path) -> None:
    library = tmp_path / "library"
    # A library whose index holds 300 KB of text: the next index write is that large.
    assert run_main("add", str(long_article(tmp_path, "ferry-log.txt", 4000)), "--to",
                   str(library), env=OFF).returncode == 0
    before, docs_before = folder_state(library), run_main("docs", "--corpus", str(library)).stdout
    small = long_article(tmp_path, "short.txt", 3)  # its text file is written, its index not
    failed = add_with_file_size_limit(small, library, 150_000)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert len([line for line in failed.stderr.splitlines() if line.startswith("Error:")]) == 1
    assert folder_state(library) == before
    assert run_main("docs", "--corpus", str(library)).stdout == docs_before
    answer = json.loads(run_main("ask", "How many passengers in week 2?", "--corpus",
                                str(library), "--json", env=OFF).stdout)
    assert answer["answered"]


@pytest.mark.slow
def test_an_add_killed_mid_write_is_undone_by_the_next_change(tmp_path: Path) -> None:
    library = tmp_path / "library"
    assert run_main("add", str(NEWS_PAGE), "--to", str(library), env=OFF).returncode == 0
    before = folder_state(library)
    big = long_article(tmp_path, "ferry-log.txt", 30_000)  # 2 MB: seconds of indexing
    adding = subprocess.Popen([sys.executable, "-m", "quotebot", "add", str(big), "--to",
                               str(library)], env={**os.environ, **OFF},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Killed as soon as it has begun writing into the library.
        wait_until(lambda: (library / JOURNAL).exists() or adding.poll() is not None,
                   timeout=60, step=0.005)
        adding.kill()
    finally:
        adding.wait(30)
    assert adding.returncode == -signal.SIGKILL
    assert (library / JOURNAL).exists()
    # The next change (here forget) first undoes what the killed add began.
    forgot = run_main("forget", SEA_WALL, "--from", str(library), env=OFF)
    assert forgot.returncode == 0, forgot.stderr
    assert not (library / "ferry-log.txt").exists() and not (library / JOURNAL).exists()
    assert set(folder_state(library)) == {name for name in before if not name.endswith(".txt")}


def test_a_write_killed_before_its_rename_leaves_no_file_after_the_next_change(
        tmp_path: Path) -> None:
    """A kill between a write's temporary file and its rename (the journal's own write, or a
    document's) left that file in the library, listed among its files for good; a user's
    own file of a like name stays."""
    library = tmp_path / "library"
    assert run_main("add", str(NEWS_PAGE), "--to", str(library), env=OFF).returncode == 0
    (library / ".tmp-draft").write_text("A user's own notes.\n", encoding="utf-8")
    before = folder_state(library)
    (library / ".quotebot-tmp-k2j4l1").write_text('{"created": [', encoding="utf-8")
    ferry = long_article(tmp_path, "ferry-log.txt", 3)
    assert run_main("add", str(ferry), "--to", str(library), env=OFF).returncode == 0
    after = folder_state(library)
    assert set(after) == set(before) | {"ferry-log.txt"}, sorted(after)

# -- ids the user chose, and libraries that move ----------------------------------------------


def write_article(folder: Path, name: str, headline: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{headline}\n{text}\n", encoding="utf-8")
    return path


def test_a_document_is_named_by_its_file_or_its_id_and_found_by_the_start_of_it(
        tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    budget = write_article(sources, "eastbrook-budget.txt",
                           "Eastbrook council votes to shut two libraries and raise council tax "
                           "by 4.99%", "The council voted to close the libraries in March.")
    ferry = write_article(sources, "ferry.txt", "Ferry returns",
                          "The ferry to Eastbrook returns on Monday after six weeks of repairs.")
    library = str(tmp_path / "library")
    [added] = json_lines(run_main("add", str(budget), "--to", library, "--json", env=OFF).stdout)
    assert (added["doc"], added["title"]) == (
        "eastbrook-budget",
        "Eastbrook council votes to shut two libraries and raise council tax by 4.99%")
    [chosen] = json_lines(run_main("add", str(ferry), "--id", "eastbrook-ferry", "--to",
                                  library, "--json", env=OFF).stdout)
    assert chosen["doc"] == "eastbrook-ferry"
    for name in ("eastbrook-budget.txt", "eastbrook-budget", "eastbrook-b"):
        answer = json.loads(run_main("ask", "When will the libraries close?", "--corpus",
                                    library, "--doc", name, "--json", env=OFF).stdout)
        assert answer["quotes"][0]["doc"] == "eastbrook-budget", name
    ambiguous = run_main("ask", "When?", "--corpus", library, "--doc", "eastbrook", env=OFF)
    assert ambiguous.returncode != 0
    assert ("'eastbrook' could be any of 2 documents: eastbrook-budget, eastbrook-ferry"
            in ambiguous.stderr)
    assert "Removed eastbrook-ferry" in run_main("forget", "eastbrook-f", "--from", library,
                                                env=OFF).stdout


@pytest.mark.slow
def test_a_library_moved_or_copied_still_adds_and_forgets(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    first = write_article(sources, "ferry.txt", "Ferry returns",
                          "The ferry to Eastbrook returns on Monday after six weeks of repairs.")
    second = write_article(sources, "bridge.txt", "Bridge reopens",
                           "The old bridge reopened on Friday after the flood went down.")
    assert run_main("add", str(first), "--to", str(tmp_path / "old"), env=OFF).returncode == 0
    for kept in (tmp_path / "index.json", *(tmp_path / "old").rglob("*")):
        if kept.is_file() and kept.suffix in (".json", ".txt", ".bin"):
            assert str(tmp_path / "old") not in kept.read_text("utf-8", "replace"), kept
    shutil.copytree(tmp_path / "old", tmp_path / "copied")
    shutil.move(tmp_path / "old", tmp_path / "moved")
    for library in (tmp_path / "moved", tmp_path / "copied"):
        added = run_main("add", str(second), "--to", str(library), env=OFF)
        assert added.returncode == 0 and added.stdout.startswith("Added bridge: Bridge reopens")
        forgot = run_main("forget", "ferry", "--from", str(library), env=OFF)
        assert forgot.returncode == 0, forgot.stderr
        assert sorted(p.name for p in library.glob("*.txt")) == ["bridge.txt"]
