"""Bringing your own articles: pages, PDFs and text files become documents whose paragraphs
are lines, whose metadata is kept in front matter, and whose quotes point into their text."""

from __future__ import annotations

import io
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter

from quotebot.corpus import load_corpus, read_document, split_front_matter, title_of
from quotebot.engine import QuoteEngine
from quotebot.errors import CorpusError
from quotebot.ingest import extract_bytes, load_source, save_document
from quotebot.models import Document
from quotebot.sentences import split_document

from conftest import open_gate, run_cli, run_main
from pages import NEWS_PAGE

FIXTURES = Path(__file__).parent / "fixtures"
NEWS_TEXT = FIXTURES / "news-article.txt"

#: The article's paragraphs as a reader sees them on the page.
BODY = [
    "# Kelsey Bay votes to rebuild its sea wall after winter storms",
    # The standfirst under the headline, above the byline where trafilatura starts.
    "Councillors backed the £14.2 million plan by 31 votes to 9 after a winter of flooding.",
    "Councillors in Kelsey Bay have voted to rebuild the town's Victorian sea wall, which was "
    "breached three times during the winter storms.",
    "The £14.2 million plan was approved by 31 votes to 9 at a full council meeting on "
    "Wednesday evening. Work is due to start in September and should take two years.",
    "Council leader Dominic Reyes said the old wall, built in 1887, could no longer protect "
    "the 640 homes behind it. “We cannot ask families to fill sandbags every time the tide "
    "turns,” he said.",
    "## Who pays for the wall",
    "The Environment Agency will pay £9 million of the cost, and the rest will come from the "
    "council's reserves and a loan from the Public Works Loan Board.",
    "Opposition councillor Harriet Lyle voted against the plan. She said the council should "
    "first have asked residents whether they preferred a managed retreat from the most exposed "
    "streets.",
    "The harbour master, Tom Okafor, said fishing boats had lost 23 days at sea since November "
    "because of damage to the harbour entrance.",
    "A public exhibition of the designs will be held at the Kelsey Bay library from 2 April.",
]

#: Everything on the page around the article: none of it may reach the extracted text.
BOILERPLATE = [
    "cookies", "Accept all", "Manage preferences", "Subscribe", "Search the Herald",
    "Sport", "Opinion", "Weather", "Breaking", "Ferry workers announce", "›",
    "Share on Facebook", "Email this story", "Sign up to our free", "Coastal Morning",
    "Topics:", "Related stories", "Storm Henk", "Where to collect sandbags",
    "Harbour café closes", "Comments (42)", "Comments are closed", "Most read",
    "Rovers reach cup final", "New bus timetable", "lottery", "Advertisement", "About us",
    "Contact the newsroom", "Privacy policy", "Terms and conditions", "All rights reserved",
    "Registered in England", "dataLayer",
]


def engine_over(folder: Path, tmp_path: Path) -> QuoteEngine:
    """An engine over ``folder``, its index cached (and rebuilt when the folder changes)."""
    return QuoteEngine.open(folder, semantic="off")


# -- web pages -------------------------------------------------------------------------------


def test_a_news_page_gives_its_article_paragraph_by_paragraph_and_nothing_around_it() -> None:
    doc = load_source(NEWS_PAGE)[0]
    assert doc.text.splitlines() == BODY
    for phrase in BOILERPLATE:
        assert phrase not in doc.text, phrase


def test_a_news_page_keeps_its_title_author_date_and_address() -> None:
    doc = load_source(NEWS_PAGE)[0]
    assert doc.title == "Kelsey Bay votes to rebuild its sea wall after winter storms"
    assert doc.author == "Amira Holt"
    assert doc.date == "2024-03-14"
    assert doc.url == "https://news.example.org/local/2024/03/kelsey-bay-sea-wall"
    assert doc.path == str(NEWS_PAGE)


@pytest.mark.parametrize("page", [
    b"<html><head><title>Login</title></head><body><nav><a href='/'>Home</a></nav>"
    b"<form><input name='user'><input name='pw' type='password'></form></body></html>",
    b"<html><head><title>App</title></head><body><div id='app'></div>"
    b"<script>render()</script></body></html>",
])
def test_a_page_with_no_article_is_refused_clearly(page: bytes) -> None:
    with pytest.raises(CorpusError) as info:
        extract_bytes(page, name="login.html")
    assert info.value.code == "html_no_text"
    assert "login.html" in info.value.message


@pytest.mark.parametrize("data", [
    bytes(range(256)) * 40,  # bytes of every value, as in an image or an archive
    b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56 + b"<html><body><p>Not a page.</p>" * 20,
])
def test_a_binary_file_named_html_is_refused_not_read_as_a_page_of_replacements(
        data: bytes) -> None:
    with pytest.raises(CorpusError) as info:
        extract_bytes(data, name="photo.html")
    assert info.value.code == "page_not_text"
    assert "photo.html" in info.value.message


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_a_page_in_utf16_or_utf32_with_its_byte_order_mark_is_read(codec: str) -> None:
    text = ("<html><body><article><p>The ferry to Inchmorra leaves the pier at nine every "
            "morning and returns at five in the evening.</p></article></body></html>")
    doc = extract_bytes(text.encode(codec), name="ferry.html")
    assert "The ferry to Inchmorra leaves the pier at nine" in doc.text
    assert "\ufffd" not in doc.text


def test_a_page_in_another_encoding_is_read_as_its_server_says() -> None:
    page = ("<html><body><article><p>Le café de la place a rouvert ses portes lundi matin "
            "après trois semaines de travaux.</p><p>Les habitués étaient au rendez-vous dès "
            "sept heures, et le patron a offert le premier café à chacun.</p>"
            "</article></body></html>")
    doc = extract_bytes(page.encode("latin-1"), name="page", kind="html",
                        url="https://example.org/cafe", charset="iso-8859-1")
    assert "Le café de la place a rouvert" in doc.text
    assert "Les habitués" in doc.text


# -- PDFs ------------------------------------------------------------------------------------


def test_a_pdf_gives_paragraphs_joined_from_hard_wrapped_and_hyphenated_lines() -> None:
    doc = load_source(FIXTURES / "river-report.pdf")[0]
    lines = doc.text.splitlines()
    assert lines[0] == "# The River Report"
    # Lines wrapped inside a paragraph are one line again, a word broken at the margin is one
    # word, and a hyphen the document writes elsewhere (long-term) stays.
    assert lines[1] == ("Flooding closed the old bridge on Monday after three days of rain, and "
                        "engineers said it would stay shut until the water level falls below "
                        "the marker on the east bank. Repairs are expected to cost £380,000.")
    assert ("Councillors agreed a long-term plan for the crossing last year, but the long-term "
            "plan did not foresee a flood of this size, the council leader said.") in lines
    # A paragraph that ends in a gap, an indented first line, a heading in a larger size and a
    # short last line each start a new paragraph.
    assert lines[2].startswith("The council has set up a temporary ferry")
    assert lines[3].startswith("Councillors agreed")
    assert lines[4] == "## Ferry timetable"  # a heading, known as one
    assert lines[5].endswith("21.00. Tickets are free for residents.")
    assert lines[6].startswith("Bicycles are not allowed")
    assert len(lines) == 10


def test_a_pdf_paragraph_goes_on_over_the_page_break_without_page_furniture() -> None:
    doc = load_source(FIXTURES / "river-report.pdf")[0]
    assert ("she had started delivering bread to her customers on the west bank by van instead "
            "of waiting for the bridge to reopen.") in doc.text
    assert "Spring bulletin" not in doc.text
    assert not any(line.strip().isdigit() for line in doc.text.splitlines())
    assert doc.text.splitlines()[-1] == ("A public meeting about the bridge will be held at the "
                                         "library on 2 April.")


def test_a_pdf_table_is_read_row_by_row_with_its_header_and_its_footer_is_dropped() -> None:
    from quotebot.sentences import HEADING, paragraph_kinds

    doc = load_source(FIXTURES / "water-report.pdf")[0]
    lines = doc.text.splitlines()
    rows = [line for line in lines if line.startswith("Substance: ")]
    assert rows == [
        "Substance: Nitrate; Highest level found: 3.1 mg/L; Allowed (MCL): 10 mg/L; Violation: No",
        "Substance: Lead; Highest level found: 4 ppb; Allowed (MCL): 15 ppb; Violation: No",
        "Substance: Fluoride; Highest level found: 0.7 mg/L; Allowed (MCL): 4 mg/L; "
        "Violation: No"]
    sentences = split_document(doc)
    assert not any("Water Quality Report -" in s.text or "Millbrook Water District -" in s.text
                   for s in sentences)
    assert not any(s.text.strip().isdigit() for s in sentences)  # nor page numbers
    # Each row is one sentence of its own, and the headings are known as headings.
    assert [s.text for s in sentences if s.text.startswith("Substance: ")] == rows
    kinds = paragraph_kinds(doc.text)
    assert [line for line, kind in zip(lines, kinds, strict=True) if kind == HEADING] == [
        "# 2024 Water Quality Report", "## What we found", "## Where your water comes from"]


def test_a_pdf_keeps_its_title_author_and_date() -> None:
    doc = load_source(FIXTURES / "river-report.pdf")[0]
    assert (doc.title, doc.author, doc.date) == ("The River Report", "Kelsey Bay Council",
                                                 "2024-03-14")


def test_a_browser_printed_pdf_gives_the_same_paragraphs_as_the_page() -> None:
    doc = load_source(FIXTURES / "printed-article.pdf")[0]
    lines = doc.text.splitlines()
    # The headline, set on two lines, is one heading.
    assert lines == [BODY[0], BODY[2], BODY[3], BODY[4], BODY[6]]  # (the page has a standfirst)


def test_a_scanned_pdf_without_text_is_refused_with_its_own_code() -> None:
    with pytest.raises(CorpusError) as info:
        load_source(FIXTURES / "scanned-notice.pdf")
    assert info.value.code == "pdf_no_text"
    assert "no text layer" in info.value.message and "OCR" in info.value.message


def _encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(FIXTURES / "river-report.pdf"))
    writer.encrypt(user_password=user_password, owner_password="owner-secret",
                   algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_that_needs_a_password_is_refused_with_its_own_code() -> None:
    with pytest.raises(CorpusError) as info:
        extract_bytes(_encrypted("reader-secret"), name="locked.pdf")
    assert info.value.code == "pdf_encrypted"
    assert "password" in info.value.message


def test_a_pdf_protected_only_against_editing_is_read() -> None:
    doc = extract_bytes(_encrypted(""), name="protected.pdf")
    assert "Repairs are expected to cost £380,000." in doc.text


@pytest.mark.parametrize("data", [b"%PDF-1.4\n1 0 obj\n<< /Type /Cat", b"not a pdf at all"])
def test_a_damaged_pdf_is_refused_clearly(data: bytes) -> None:
    with pytest.raises(CorpusError) as info:
        extract_bytes(data, name="broken.pdf")
    assert info.value.code == "pdf_unreadable"
    assert "broken.pdf" in info.value.message


def test_pypdfs_own_warnings_about_a_damaged_pdf_are_logged_at_debug_only(
        caplog: pytest.LogCaptureFixture) -> None:
    """Every front end reads PDFs here: pypdf's "EOF marker not found" reaches no log above
    debug (a server's log, a chat's), only quotebot's debug line and its error."""
    class Collect(logging.Handler):  # what a front end's log handler on the root is given
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.name, record.levelno, record.getMessage()))

    seen: list[tuple[str, int, str]] = []
    caplog.set_level(logging.DEBUG)
    handler = Collect()
    logging.getLogger().addHandler(handler)
    try:
        with pytest.raises(CorpusError):
            extract_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Cat", name="broken.pdf")
    finally:
        logging.getLogger().removeHandler(handler)
    assert [name for name, _, _ in seen if name.startswith("pypdf")] == []
    assert [(name, level) for name, level, message in seen if "EOF marker" in message] == [
        ("quotebot.ingest.pdf", logging.DEBUG)]


def test_adding_a_damaged_pdf_prints_quotebots_error_and_not_pypdfs_warnings(
        tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Cat")
    added = run_cli("add", str(garbage), "--to", str(tmp_path / "lib"),
                    env={"QUOTEBOT_SEMANTIC": "off"})
    assert added.returncode == 1
    [error, summary] = added.stderr.splitlines()
    # The file is named once, by the error itself.
    assert error == (f"Error: {str(garbage)!r} could not be read as a PDF: it is damaged or "
                     "not a PDF.")
    assert summary == "1 source could not be added."
    # Asked for, the debug log has them.
    debug = run_cli("--log-level", "debug", "add", str(garbage), "--to", str(tmp_path / "lib"),
                    env={"QUOTEBOT_SEMANTIC": "off"})
    assert any(" DEBUG quotebot.ingest.pdf: pypdf (warning): EOF marker not found" in line
               for line in debug.stderr.splitlines())


# -- front matter and saving -----------------------------------------------------------------


def test_a_saved_document_reads_back_with_its_metadata_and_its_text_exactly(
        tmp_path: Path) -> None:
    doc = load_source(NEWS_PAGE)[0]
    saved = save_document(doc, tmp_path / "library")
    path = Path(saved.path)
    assert path.parent == tmp_path / "library" and path.suffix == ".txt"
    head = path.read_text(encoding="utf-8").split("\n", 7)
    assert head[:7] == ["---", f"title: {doc.title}", f"url: {doc.url}",
                        f"author: {doc.author}", f"date: {doc.date}",
                        "source: kelsey-bay-sea-wall.html", "---"]
    again = read_document(path)
    assert (again.title, again.url, again.author, again.date, again.source) == (
        doc.title, doc.url, doc.author, doc.date, "kelsey-bay-sea-wall.html")
    assert again.text == doc.text == saved.text
    assert again.id == saved.id == path.stem


def test_quotes_and_show_refer_to_the_text_after_the_front_matter(tmp_path: Path) -> None:
    save_document(load_source(NEWS_PAGE)[0], tmp_path / "library")
    engine = engine_over(tmp_path / "library", tmp_path)
    answer = engine.answer_question("Who is the harbour master?")
    assert answer.answered
    quote = answer.quotes[0]
    shown = engine.document(quote.doc)
    assert shown.text[quote.start:quote.end] == quote.text
    assert quote.paragraph == 9  # the ninth line of the article, not of the file
    assert "---" not in shown.text and "title:" not in shown.text
    assert quote.title == "Kelsey Bay votes to rebuild its sea wall after winter storms"


def test_a_new_title_in_front_matter_reaches_the_saved_index(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    saved = save_document(Document("x", "Ferry news", "The ferry is back on Monday.\n"), folder)
    assert engine_over(folder, tmp_path).documents[0].title == "Ferry news"
    path = Path(saved.path)
    path.write_text(path.read_text(encoding="utf-8").replace("title: Ferry news",
                                                             "title: The ferry is back"),
                    encoding="utf-8")
    assert engine_over(folder, tmp_path).documents[0].title == "The ferry is back"


def test_front_matter_values_survive_colons_quotes_and_line_breaks(tmp_path: Path) -> None:
    doc = Document(id="x", title='Review: "The Tide" at 8:30\nsecond line', text="Body.\n",
                   url="https://example.org/a:b?c=d#e", author="O'Neill, Jo", date="2024-01-02")
    saved = save_document(doc, tmp_path)
    again = read_document(Path(saved.path))
    assert again.title == 'Review: "The Tide" at 8:30 second line'
    assert (again.url, again.author, again.date) == (doc.url, doc.author, doc.date)
    assert again.text == "Body.\n"


def test_a_file_that_only_looks_like_front_matter_is_all_text() -> None:
    text = "---\nThe first line after a rule is a sentence, not a field.\n---\nMore text.\n"
    assert split_front_matter(text) == ({}, text)
    unclosed = "---\ntitle: never closed\nThe article starts here.\n"
    assert split_front_matter(unclosed) == ({}, unclosed)


def test_file_names_are_safe_and_stay_in_the_folder(tmp_path: Path) -> None:
    # A document's id (a file's or a link's name) names its file, made safe.
    folder = tmp_path / "library"
    for name in ("../../etc/passwd", "/absolute/path", "..", "CON", "", "Ünïcödé — naïve café",
                 ".hidden", "a" * 300):
        saved = save_document(Document(name, "Harbour", f"Text of {name!r}.\n"), folder)
        path = Path(saved.path)
        assert path.parent == folder, name
        assert not path.name.startswith("."), name
        assert len(path.name) <= 44, name
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        "etc-passwd.txt", "absolute-path.txt", "harbour.txt", "con-doc.txt", "harbour-2.txt",
        "unicode-naive-cafe.txt", "hidden.txt", "a" * 40 + ".txt"])
    assert not (tmp_path / "etc").exists()


def test_saving_never_overwrites_another_document_unless_asked(tmp_path: Path) -> None:
    first = save_document(Document("harbour-news", "Harbour news", "The ferry is back.\n",
                                   url="https://example.org/one"), tmp_path)
    other = save_document(Document("harbour-news", "Harbour news", "The ferry is late.\n",
                                   url="https://example.org/two"), tmp_path)
    assert (first.id, other.id) == ("harbour-news", "harbour-news-2")
    assert read_document(Path(first.path)).text == "The ferry is back.\n"
    # The same link again is the same document: its file is brought up to date.
    updated = save_document(Document("harbour-news", "Harbour news", "The ferry is back at last.\n",
                                     url="https://example.org/one"), tmp_path)
    assert updated.id == "harbour-news"
    assert read_document(Path(first.path)).text == "The ferry is back at last.\n"
    forced = save_document(Document("harbour-news", "Harbour news", "Replaced.\n"), tmp_path,
                           overwrite=True)
    assert forced.id == "harbour-news" and read_document(Path(first.path)).text == "Replaced.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["harbour-news-2.txt",
                                                           "harbour-news.txt"]


def test_saving_leaves_a_users_own_file_and_links_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# My notes\nPrivate.\n", encoding="utf-8")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("outside\n", encoding="utf-8")
    os.symlink(outside, tmp_path / "harbour.txt")
    try:
        notes = save_document(Document("notes", "Notes", "Public notes.\n"), tmp_path)
        linked = save_document(Document("harbour", "Harbour", "Harbour text.\n"), tmp_path,
                               overwrite=False)
        assert (tmp_path / "notes.md").read_text(encoding="utf-8") == "# My notes\nPrivate.\n"
        assert Path(notes.path).name == "notes-2.txt"
        assert Path(linked.path).name == "harbour-2.txt"
        assert outside.read_text(encoding="utf-8") == "outside\n"
    finally:
        outside.unlink()


# -- titles and headings ---------------------------------------------------------------------


@pytest.mark.parametrize(("text", "title"), [
    ("Ferry returns to Kelsey Bay\nThe ferry is back on Monday.\n", "Ferry returns to Kelsey Bay"),
    ("Is this the end of the high street?\nShops are closing.\n",
     "Is this the end of the high street?"),
    ("The ferry is back on Monday.\nIt runs every hour.\n", "Harbour notes"),
    ("The council met, and\nit voted.\n", "Harbour notes"),
    ("A headline alone, with nothing after it\n", "Harbour notes"),
    ("# Ferry returns\nThe ferry is back.\n", "Ferry returns"),
    ("\n\n## Ferry returns ##\nThe ferry is back.\n", "Ferry returns"),
    ("---\ntitle: From the front matter\n---\n# A heading\nText.\n", "From the front matter"),
    ("x" * 151 + "\nText.\n", "Harbour notes"),
])
def test_titles_come_from_front_matter_a_heading_a_headline_or_the_file_name(
        tmp_path: Path, text: str, title: str) -> None:
    path = tmp_path / "harbour-notes.txt"
    path.write_text(text, encoding="utf-8")
    assert read_document(path).title == title


def test_a_markdown_heading_is_the_title_and_its_marks_are_never_quoted(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "ferry.md").write_text(
        "# The ferry returns to Kelsey Bay\n\n"
        "The ferry returns to Kelsey Bay on Monday after six weeks of repairs.\n\n"
        "## Timetable changes ##\n"
        "Boats leave the east landing every hour, and the timetable changes on Sundays.\n"
        "### Fares\n"
        "Fares stay at two pounds for adults and are free for children.\n",
        encoding="utf-8")
    doc = load_corpus(folder)[0]
    assert doc.title == "The ferry returns to Kelsey Bay"
    sentences = split_document(doc)
    assert [s.text for s in sentences if s.paragraph in (1, 3, 5)] == [
        "The ferry returns to Kelsey Bay", "Timetable changes", "Fares"]
    engine = engine_over(folder, tmp_path)
    for question in ("When does the ferry return to Kelsey Bay?", "What are the fares?",
                     "What timetable changes are there?", "fares", "timetable changes"):
        answer = engine.answer_question(question, k=5)
        for quote in (*answer.quotes, *answer.closest):
            assert "#" not in quote.text, (question, quote.text)
            assert doc.text[quote.start:quote.end] == quote.text


# -- folders and kinds -----------------------------------------------------------------------


def test_a_folder_of_mixed_files_gives_each_readable_one_and_reports_the_rest(
        tmp_path: Path) -> None:
    shutil.copy(NEWS_PAGE, tmp_path / "sea-wall.html")
    shutil.copy(FIXTURES / "river-report.pdf", tmp_path / "river.pdf")
    shutil.copy(FIXTURES / "scanned-notice.pdf", tmp_path / "notice.pdf")
    (tmp_path / "notes.md").write_text("# Notes\nThe ferry is back.\n", encoding="utf-8")
    (tmp_path / "minutes.docx").write_bytes(b"PK\x03\x04 a word file")
    (tmp_path / ".drafts").mkdir()
    (tmp_path / ".drafts" / "draft.txt").write_text("Not for the library.\n", encoding="utf-8")
    skipped: list[CorpusError] = []
    docs = load_source(tmp_path, skipped=skipped)
    assert sorted(d.id for d in docs) == ["notes", "river", "sea-wall"]
    assert [e.code for e in skipped] == ["pdf_no_text"]


def test_a_file_of_a_kind_quotebot_does_not_read_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "minutes.docx"
    path.write_bytes(b"PK\x03\x04 a word file")
    with pytest.raises(CorpusError) as info:
        load_source(path)
    assert info.value.code == "unsupported_file"
    assert ".docx" in info.value.message


def test_an_upload_without_a_file_name_suffix_is_recognised_by_its_content() -> None:
    pdf = (FIXTURES / "river-report.pdf").read_bytes()
    assert extract_bytes(pdf, name="upload").title == "The River Report"
    page = NEWS_PAGE.read_bytes()
    assert extract_bytes(page, name="upload").author == "Amira Holt"


# -- the same article, whichever way it comes ------------------------------------------------


PARITY_QUESTIONS = {
    "When was the old wall built?": "1887",
    "How many homes are behind the wall?": "640",
    "How many days at sea have fishing boats lost?": "23",
    "Who is the harbour master?": "Tom Okafor",
    "When will the exhibition be held?": "2 April",
    "How much will the Environment Agency pay?": "£9 million",
    "Who voted against the plan?": "Harriet Lyle",
    "When will work start?": "September",
}


def test_the_article_as_a_page_and_as_text_gives_the_same_answers(tmp_path: Path) -> None:
    save_document(load_source(NEWS_PAGE)[0], tmp_path / "from-page")
    (tmp_path / "from-text").mkdir()
    shutil.copy(NEWS_TEXT, tmp_path / "from-text" / "sea-wall.txt")
    # Every short answer found is shown: the page and the text must give the same ones.
    from_page = open_gate(engine_over(tmp_path / "from-page", tmp_path))
    from_text = open_gate(engine_over(tmp_path / "from-text", tmp_path))
    assert from_page.documents[0].title == from_text.documents[0].title
    for question, expected in PARITY_QUESTIONS.items():
        page_answer = from_page.answer_question(question)
        text_answer = from_text.answer_question(question)
        assert page_answer.short is not None and page_answer.short.text == expected, question
        assert text_answer.short is not None and text_answer.short.text == expected, question
        assert page_answer.quotes[0].text == text_answer.quotes[0].text, question
    for engine in (from_page, from_text):
        assert not engine.answer_question("What is the weather in Paris?").answered


def test_title_of_ignores_a_sentence_and_reads_a_headline() -> None:
    assert title_of("Kelsey Bay votes\nText.", "x") == "Kelsey Bay votes"
    assert title_of("He said, “We won.”\nText.", "sea-wall") == "Sea wall"


# -- pages of every kind, read whole ------------------------------------------------------------

PAGES = FIXTURES / "pages"


def page_lines(name: str) -> list[str]:
    return load_source(PAGES / name)[0].text.splitlines()


def test_a_documentation_page_keeps_every_section_without_permalink_marks() -> None:
    # CPython's IDLE help names its sections "menus" and "editing-and-navigation", which
    # a boilerplate filter takes for navigation: both sections are kept, whole.
    lines = page_lines("cpython-idle.html")
    assert lines[0] == "# IDLE"
    assert "## Menus" in lines and "## Editing and Navigation" in lines
    assert "### File menu (Shell and Editor)" in lines
    assert "New File: Create a new file editing window." in lines  # a definition list's item
    assert not any("¶" in line for line in lines)
    # Lines hard-wrapped in the page's source are one paragraph again.
    startup = next(line for line in lines if line.startswith("Upon startup with the -s"))
    assert ("IDLE first checks for IDLESTARTUP; if IDLESTARTUP is present the file referenced "
            "is run.") in startup
    # A list item of two paragraphs is two units, not one run-together sentence.
    typing = lines.index("Alt-/ (Expand word) is also useful to reduce typing")
    assert lines[typing + 1] == "Command history"
    words = len(" ".join(lines).split())
    assert words > 5500  # of the 5,967 words of the page's main text


def test_a_press_release_keeps_its_about_box_and_drops_the_newsroom_around_it(
        tmp_path: Path) -> None:
    lines = page_lines("nordvik-audio-press-release.html")
    assert "## About Nordvik Audio" in lines
    assert "Investment: NOK 420 million over three years" in lines  # a list item, one line
    # The dateline under the headline is no paragraph of the release (a standfirst would be).
    assert "# Nordvik Audio opens its first factory outside Norway" in lines
    assert "21 May 2024" not in lines
    for boilerplate in ("cookies", "More from the newsroom", "Get our news by email",
                        "Kyst Mini", "Privacy notice", "Organisation number", "Norsk"):
        assert not any(boilerplate in line for line in lines), boilerplate
    save_document(load_source(PAGES / "nordvik-audio-press-release.html")[0], tmp_path)
    answer = engine_over(tmp_path, tmp_path).answer_question("When was Nordvik Audio founded?")
    assert answer.answered and "1978" in answer.quotes[0].text


def test_a_table_row_is_one_line_with_its_header_and_a_definition_with_its_term() -> None:
    lines = page_lines("harbour-seal.html")
    assert "Region: Alaska; Estimate: 205,000; Year of count: 2018" in lines
    assert not any(line in ("Estimate", "205,000", "Region") for line in lines)
    assert ("Ungava seal: Freshwater lakes of the Ungava Peninsula in northern Quebec."
            in lines)
    assert "## Population" in lines and not any("[edit]" in line for line in lines)
    for boilerplate in ("Main page", "Random article", "What links here", "Contents",
                        "Grey seal", "Categories", "last edited", "Creative Commons"):
        assert not any(boilerplate in line for line in lines), boilerplate


def test_a_government_page_keeps_its_notes_and_drops_its_feedback_box() -> None:
    lines = page_lines("parking-permit-gov.html")
    assert ("Blue Badge holders get their first permit free. Apply in the same way and upload "
            "a copy of your badge.") in lines
    assert any(line.startswith("You can be fined £70") for line in lines)
    assert "Emissions (g/km): 1 to 120; First permit: £90; Second permit: £140" in lines
    for boilerplate in ("Is this page useful?", "Report a problem", "Cookies on Millbrook",
                        "Visitor parking permits", "Open Government Licence", "Beta"):
        assert not any(boilerplate in line for line in lines), boilerplate


def test_a_blog_post_joins_its_hard_wrapped_lines_and_leaves_out_comments() -> None:
    lines = page_lines("sourdough-starter-blog.html")
    assert lines[0] == "# How I keep a sourdough starter alive on holiday"
    assert ("Before I leave, I feed the starter at a ratio of one part starter to five parts "
            "flour and five parts water. A stiff, well-fed starter has plenty to eat and slows "
            "down in the cold, so it can sit at the back of the fridge for three weeks without "
            "any attention.") in lines
    for boilerplate in ("Mine survived six weeks", "Leave a reply", "You might also like",
                        "Bake along with me", "Proudly powered", "happy with it"):
        assert not any(boilerplate in line for line in lines), boilerplate


def test_headings_are_known_as_headings_with_the_section_of_each_paragraph() -> None:
    from quotebot.sentences import HEADING, TEXT, paragraph_kinds, paragraph_sections

    doc = load_source(PAGES / "cpython-idle.html")[0]
    lines = doc.text.splitlines()
    kinds, sections = paragraph_kinds(doc.text), paragraph_sections(doc.text)
    assert len(kinds) == len(sections) == len(lines)
    redo = next(i for i, line in enumerate(lines) if line.startswith("Redo: Redo the last"))
    assert kinds[redo] == TEXT
    assert sections[redo] == ("Menus", "Edit menu (Shell and Editor)")
    menus = lines.index("## Menus")
    assert kinds[menus] == HEADING and sections[menus] == ("Menus",)
    # A heading's sentence never shows its marks.
    sentence = next(s for s in split_document(doc) if s.paragraph == menus + 1)
    assert sentence.text == "Menus" == doc.text[sentence.start:sentence.end]



def test_every_heading_of_a_page_is_one_of_its_headings_never_a_comment_in_its_code() -> None:
    import lxml.html

    from quotebot.sentences import paragraph_levels, paragraph_sections

    page = PAGES / "cpython-idle.html"
    doc = load_source(page)[0]
    tree = lxml.html.fromstring(page.read_bytes())
    page_headings = {" ".join(h.text_content().replace("¶", "").split())
                     for h in tree.iter("h1", "h2", "h3", "h4", "h5", "h6")}
    headings = [doc.text[start:end] for start, end, level in paragraph_levels(doc.text)
                if level]
    assert len(headings) > 30 and set(headings) <= page_headings
    # The Python comment "# Result varies by OS and font." stays on its line of code ...
    lines = doc.text.splitlines()
    assert ">>> print(s, end='') # Display s as is. # Result varies by OS and font. Try it." in (
        lines)
    # ... so the sections after it are the page's own.
    sections = paragraph_sections(doc.text)
    help_entry = next(i for i, line in enumerate(lines) if line.startswith("Help menu entry"))
    assert sections[help_entry] == ("Help and Preferences", "Help sources")

# -- bounds held while reading ------------------------------------------------------------------


def make_pdfs() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_pdfs", FIXTURES / "make_pdfs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_small_pdf_with_60_mb_of_text_stops_at_the_cap_while_it_is_read(
        tmp_path: Path) -> None:
    # 2,000 pages that share one content stream of 30 KB of text: a 310 KB file.
    book = tmp_path / "book.pdf"
    book.write_bytes(make_pdfs().shared_stream_pdf(2000, 560))  # type: ignore[attr-defined]
    assert book.stat().st_size < 400_000
    with pytest.raises(CorpusError) as info:
        extract_bytes(book.read_bytes(), name="book.pdf", max_bytes=2**20)
    assert info.value.code == "document_too_large" and "1.0 MB" in info.value.message
    # The command line holds the library's cap while reading, and says so in one line.
    added = run_main("add", str(book), "--to", str(tmp_path / "lib"), "--max-document-mb", "1",
                     env={"QUOTEBOT_SEMANTIC": "off"})
    assert added.returncode == 1 and "Traceback" not in added.stderr
    [error] = [line for line in added.stderr.splitlines() if line.startswith("Error:")]
    assert error.endswith("has more than 1.0 MB of text, the most a document may have here; "
                          "add a shorter part of it.")


@pytest.mark.slow
def test_a_pdf_whose_page_unpacks_past_the_limit_is_unreadable_not_a_scan() -> None:
    """Catches: a compression bomb (80 KB of page that unpacks to 80 MB, past pypdf's 75 MB)
    refused as "no text layer: it looks like a scan", advice to run OCR on a text PDF. (With
    a pypdf that unpacks it all, the page would be read whole: this fails too.)"""
    import zlib

    pdfs: Any = make_pdfs()
    squeeze = zlib.compressobj(9)
    packed = squeeze.compress(b"BT /F1 12 Tf 72 700 Td (The wall was rebuilt in 1921.) Tj ET\n")
    for _ in range(80):
        packed += squeeze.compress(b" " * 1_000_000)
    packed += squeeze.flush()
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << "
            b"/F1 3 0 R >> >> /Contents 5 0 R >>")
    data = pdfs._pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                      b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
                      b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", page,
                      b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed
                      + b"\nendstream"], 1)
    assert len(data) < 200_000
    with pytest.raises(CorpusError) as info:
        extract_bytes(data, name="bomb.pdf")
    assert info.value.code == "pdf_unreadable"
    assert "could not be read" in info.value.message and "OCR" not in info.value.message


def test_a_pdf_whose_font_is_missing_is_unreadable_not_added_as_replacement_characters(
        tmp_path: Path) -> None:
    """Catches: a page whose font object the file lacks, read by pypdf as U+FFFD only, added
    as a document of replacement characters that answers nothing."""
    pdfs: Any = make_pdfs()
    with pytest.raises(CorpusError) as info:
        extract_bytes(pdfs.missing_font_pdf(), name="cut.pdf")
    assert info.value.code == "pdf_unreadable"
    assert info.value.message.startswith("'cut.pdf' has pages whose text could not be read")
    # With a readable page, the document is that page: nothing of the other is kept.
    doc = extract_bytes(pdfs.missing_font_pdf(readable_first=True), name="half.pdf")
    assert doc.text == ("The harbour wall was rebuilt in 1921 after the great storm of that "
                        "winter.\n")
    # The command line says so in one line, and adds nothing.
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(pdfs.missing_font_pdf())
    added = run_main("add", str(cut), "--to", str(tmp_path / "lib"),
                     env={"QUOTEBOT_SEMANTIC": "off"})
    assert added.returncode == 1 and "\ufffd" not in added.stdout + added.stderr
    assert f"Error: {str(cut)!r} has pages whose text could not be read" in added.stderr


def test_pypdf_is_required_from_the_first_release_that_caps_unpacking() -> None:
    """Catches: a lower bound (5.0) that lets pip keep a pypdf which unpacks a compression
    bomb whole; the installed pypdf has the cap the bound promises."""
    import tomllib
    from importlib.metadata import version

    import pypdf.filters

    from quotebot.ingest.pdf import PYPDF_WITH_UNPACKING_CAP

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    [bound] = [d for d in project["project"]["dependencies"] if d.startswith("pypdf")]
    assert bound == f"pypdf>={PYPDF_WITH_UNPACKING_CAP}"
    assert PYPDF_WITH_UNPACKING_CAP == "6.0"  # pypdf's changelog: 6.0.0, "Limit decompressed size"
    assert tuple(int(n) for n in version("pypdf").split(".")[:2]) >= (6, 0)
    assert pypdf.filters.ZLIB_MAX_OUTPUT_LENGTH > 0


def test_a_pypdf_without_the_unpacking_cap_refuses_pdfs_in_one_sentence(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdf.filters

    monkeypatch.delattr(pypdf.filters, "ZLIB_MAX_OUTPUT_LENGTH")
    with pytest.raises(CorpusError) as info:
        load_source(FIXTURES / "river-report.pdf")
    assert info.value.code == "pdf_unsupported"
    assert "pip install --upgrade pypdf" in info.value.message
    # Text and pages are still read.
    assert extract_bytes(b"Plain text.", name="note.txt").text.startswith("Plain text.")


@pytest.mark.slow
def test_a_page_of_200000_short_paragraphs_is_refused_before_it_is_read() -> None:
    page = ("<html><body><article>" + "".join(f"<p>Item {n}: a short line of text.</p>"
                                              for n in range(200_000))
            + "</article></body></html>").encode()
    assert 8_000_000 < len(page) < 10 * 2**20  # under the cap of a fetched page
    with pytest.raises(CorpusError) as info:
        extract_bytes(page, name="list.html")
    assert info.value.code == "document_too_large" and "parts" in info.value.message


@pytest.mark.slow
def test_a_page_stops_at_the_text_cap_while_it_is_written() -> None:
    paragraph = "The ferry to Kelsey Bay returns on Monday after six weeks of repairs. " * 20
    page = ("<html><body><article>" + "".join(f"<p>{n} {paragraph}</p>" for n in range(1500))
            + "</article></body></html>").encode()
    with pytest.raises(CorpusError) as info:
        extract_bytes(page, name="long.html", max_bytes=2**20)
    assert info.value.code == "document_too_large"
    assert extract_bytes(page, name="long.html").text.count("\n") == 1500


def test_a_citation_names_the_section_a_quote_is_in() -> None:
    from quotebot.render import section_citation
    from quotebot.sentences import paragraph_section

    doc = load_source(PAGES / "harbour-seal.html")[0]
    lines = doc.text.splitlines()
    alaska = lines.index("Region: Alaska; Estimate: 205,000; Year of count: 2018") + 1
    assert section_citation(doc.title, paragraph_section(doc.text, alaska), alaska) == (
        f"Harbour seal › Population ¶ {alaska}")
    assert section_citation(doc.title, paragraph_section(doc.text, 2), 2) == "Harbour seal ¶ 2"
