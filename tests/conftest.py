"""The test environment, the components tests need, shared fixtures, and the evaluation
reports printed at the end of the run."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quotebot.engine import QuoteEngine

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORTS: list[str] = []


def _find_shared() -> Path:
    """The shared question sets: ../shared beside the checkout, or beside the folder that
    holds several checkouts of it."""
    for folder in (ROOT.parent, ROOT.parent.parent):
        if (folder / "shared" / "qa").is_dir():
            return folder / "shared"
    return ROOT.parent / "shared"


SHARED = _find_shared()

# -- the environment every test runs in ----------------------------------------------------

#: Settings a user may have exported for their own quotebot; none of them may steer a test.
CLEARED_PREFIXES = ("QUOTEBOT_", "TELEGRAM_")
#: Folders quotebot writes to (index cache, REPL history), moved into a throwaway folder.
XDG_FOLDERS = ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")
_scratch: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    # Done once, before any test module is imported; subprocesses (run_cli, serve) inherit
    # os.environ. The default article's index in the package's index/build/ stays shared
    # with the user's own runs on purpose: the article never changes, its index is the same
    # bytes whoever builds it, and saves swap generations atomically.
    for name in [n for n in os.environ if n.startswith(CLEARED_PREFIXES)]:
        del os.environ[name]
    scratch = tempfile.mkdtemp(prefix="quotebot-tests-")
    _scratch.append(scratch)
    for name in XDG_FOLDERS:
        folder = Path(scratch) / name.lower()
        folder.mkdir()
        os.environ[name] = str(folder)
    config.addinivalue_line(
        "markers", "requires(*components): the test needs these programs or folders; "
                   "skipped without them, failed without them when CI is set")


def pytest_unconfigure(config: pytest.Config) -> None:
    while _scratch:
        shutil.rmtree(_scratch.pop(), ignore_errors=True)


# -- components a test needs: skipped locally, a failure in CI -------------------------------


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _program(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


#: component → (is it here?, how to get it)
COMPONENTS: dict[str, tuple[Callable[[], bool], str]] = {
    "redis-server": (_program("redis-server"), "apt-get install redis-server"),
    "chromium": (lambda: chromium() is not None, "apt-get install chromium"),
    "systemd-analyze": (_program("systemd-analyze"), "apt-get install systemd"),
    "caddy": (_program("caddy"), "apt-get install caddy"),
    "xapian-tcpsrv": (_program("xapian-tcpsrv"), "apt-get install xapian-tools"),
    "xapian-replicate": (_program("xapian-replicate"), "apt-get install xapian-tools"),
    "xapian-replicate-server": (_program("xapian-replicate-server"),
                                "apt-get install xapian-tools"),
    "xapian": (lambda: importlib.util.find_spec("xapian") is not None,
               "pip install 'quotebot[xapian]'"),
    "shared": (lambda: (SHARED / "qa" / "article_qa.json").is_file(),
               "put the shared question sets at ../shared beside the checkout"),
}


def requires(*components: str) -> pytest.MarkDecorator:
    """Mark a test (or, as ``pytestmark``, a module) as needing programs or folders.

    A name not in :data:`COMPONENTS` is a program looked up on PATH.
    """
    return pytest.mark.requires(*components)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(component: str) -> str | None:
    """Why ``component`` is unavailable, or None when it is here."""
    present, remedy = COMPONENTS.get(component, (_program(component), f"install {component}"))
    if present():
        return None
    return f"needs {component}, which is missing here ({remedy}; .ci/run installs it)"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("requires"):
        for component in marker.args:
            problem = missing(component)
            if problem is None:
                continue
            if in_ci():
                # CI must not turn green by skipping what it was meant to run.
                pytest.fail(f"{problem}. CI is set, so this fails instead of skipping.",
                            pytrace=False)
            pytest.skip(problem)


# -- running quotebot ------------------------------------------------------------------------


def open_files() -> int:
    """How many descriptors this process has open (Linux)."""
    return len(os.listdir("/proc/self/fd"))


def forget_served_apps() -> None:
    """Empty aiohttp's cache of middleware chains: it keeps every Application that served a
    request (up to 1,024), and with each in-process server its loaded index, whose mapped
    files hold about 60 descriptors: a whole run went past the 1,024 that select() takes."""
    web_app = sys.modules.get("aiohttp.web_app")
    cached = getattr(web_app, "_cached_build_middleware", None)
    if cached is not None:
        cached.cache_clear()


@pytest.fixture(autouse=True)
def _forget_served_apps() -> Iterator[None]:
    yield
    forget_served_apps()


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `quotebot` entry point (python -m quotebot) as a process."""
    return subprocess.run([sys.executable, "-m", "quotebot", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)


def run_main(*args: str, stdin: str | None = None, env: dict[str, str | None] | None = None
             ) -> subprocess.CompletedProcess[str]:
    """Run `quotebot ARGS` through ``quotebot.cli.main`` in this process: the same command,
    arguments, standard input, environment (a variable set to None is unset), output and
    exit status as :func:`run_cli`, without a new interpreter's start-up. For what only a
    process shows (signals, a kill mid-write, start-up, limits set on the process, what it
    imports), use :func:`run_cli`.

    An exception the command lets out fails the test where a process would print a
    traceback; the logging set-up a command changes is put back afterwards."""
    from click.testing import CliRunner

    from quotebot.cli import main

    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level
                                           for name in ("httpx", "httpcore")}
    argv = sys.argv
    sys.argv = ["quotebot", *args]  # what the command line was, as a process sees it
    try:
        result = CliRunner().invoke(main, list(args), input=stdin, env=env,
                                    catch_exceptions=True, prog_name="quotebot")
    finally:
        sys.argv = argv
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess([sys.executable, "-m", "quotebot", *args],
                                       result.exit_code, result.stdout, result.stderr)


@pytest.fixture()
def cli() -> Any:
    return run_cli


def engine_over(folder: Path, name: str, text: str) -> QuoteEngine:
    """An engine (words only) over one article ``name`` holding ``text``, written in
    ``folder`` with its index beside it."""
    from quotebot.engine import QuoteEngine

    path = folder / name
    path.write_text(text, encoding="utf-8")
    return QuoteEngine.open(path, index_dir=folder / "index", semantic="off")


def quotes_the_stabbings(answer: dict[str, Any]) -> bool:
    """Whether a JSON answer to "how many stabbings?" of the shipped article quotes the
    sentence that counts them (its short answer, 72, is shown only when the gate is sure
    enough: tests of transport and serving check the quote, which is always the answer)."""
    quotes = answer.get("quotes") or [{}]
    return answer.get("answered") is True and "72 fatal stabbings" in quotes[0].get("text", "")


def open_gate(engine: QuoteEngine) -> QuoteEngine:
    """``engine`` showing every short answer the extraction rules find. For tests that pin
    the span found, or how it is scored and followed up, on corpora of a few sentences:
    whether an answer is likely right enough to show is the gate's to say, and
    tests/test_confidence.py tests the gate."""
    from quotebot.fitting import with_tuning
    from quotebot.tuning import default_tuning

    return with_tuning(engine, default_tuning().with_values(
        {"answer.threshold": 0.0, "answer.words_threshold": 0.0}))


@pytest.fixture()
def gate_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every engine opened in the test (the CLI's too) shows every short answer found (see
    :func:`open_gate`)."""
    from quotebot import engine
    from quotebot.tuning import default_tuning

    tuning = default_tuning().with_values({"answer.threshold": 0.0, "answer.words_threshold": 0.0})
    monkeypatch.setattr(engine, "default_tuning", lambda: tuning)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for report in REPORTS:
        terminalreporter.write_sep("-", "quotebot eval")
        terminalreporter.write_line(report)


def matrix_arrays(matrix: Any) -> dict[str, Any]:
    """A BM25 matrix's postings decoded: pointers, sentence ids, term frequencies, weights
    and sentence lengths, to compare two matrices whole."""
    ids, tf = matrix.postings_of()
    return {"indptr": matrix.indptr, "indices": ids, "tf": tf, "weights": matrix.weights(),
            "doc_len": matrix.doc_len}


def assert_same_matrix(got: Any, want: Any) -> None:
    import numpy as np

    mine, theirs = matrix_arrays(got), matrix_arrays(want)
    for name, values in theirs.items():
        assert np.array_equal(mine[name], values), name


def assert_same_lexicon(got: Any, want: Any) -> None:
    """Two lexicons (:class:`quotebot.store.lexicon.Lexicon`) hold the same documents,
    sentences, terms, forms and words with the same ids and counts (fingerprints apart)."""
    import numpy as np

    assert [d.id for d in got.docs] == [d.id for d in want.docs]
    for table in ("vocab", "forms", "words"):
        strings = [getattr(x, table) for x in (got, want)]
        if table != "vocab":
            strings = [s.strings for s in strings]
        assert strings[0].strings() == strings[1].strings(), table
    for name in ("doc_idx", "paragraph", "sentence_no", "start", "end", "df",
                 "paragraph_df"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    for table in ("forms", "words"):
        mine, theirs = getattr(got, table).arrays(), getattr(want, table).arrays()
        for name, values in theirs.items():
            assert np.array_equal(mine[name], values), name
