"""What the suite promises about itself: CI cannot go green by skipping, the system packages
are installed one by one, and a user's own settings and cache never reach a test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

TESTS = ROOT / "tests"
CI_SCRIPT = ROOT / ".ci" / "run"


def run_pytest(*args: str, env: dict[str, str], cwd: Path = ROOT
               ) -> subprocess.CompletedProcess[str]:
    """pytest in a process of its own, with exactly ``env`` (plus the tests on the path), and
    none of the installed plugins: only this suite's conftest is under test."""
    env = {**env, "PYTHONPATH": str(TESTS), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
                           "-q", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def run_generated(tmp_path: Path, source: str, env: dict[str, str]
                  ) -> subprocess.CompletedProcess[str]:
    """Run a generated test file under this suite's conftest (loaded as a plugin)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_generated.py").write_text(source, encoding="utf-8")
    return run_pytest("-p", "conftest", "test_generated.py", env=env, cwd=tmp_path)


def without_ci() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CI"}


NEEDS_NOTHING_THAT_EXISTS = """\
from conftest import requires


@requires("quotebot-no-such-program")
def test_needs_a_program_this_machine_lacks():
    pass
"""


def test_a_missing_component_skips_locally_and_fails_in_ci(tmp_path: Path) -> None:
    """Catches: a requires() that always skips (CI green with nothing run), or one that
    fails on a developer's machine that lacks an optional program."""
    local = run_generated(tmp_path, NEEDS_NOTHING_THAT_EXISTS, without_ci())
    assert local.returncode == 0, local.stdout + local.stderr
    assert "1 skipped" in local.stdout
    assert "needs quotebot-no-such-program" in local.stdout

    ci = run_generated(tmp_path, NEEDS_NOTHING_THAT_EXISTS, {**without_ci(), "CI": "true"})
    assert ci.returncode == 1, ci.stdout + ci.stderr
    assert "skipped" not in ci.stdout
    assert "needs quotebot-no-such-program" in ci.stdout
    assert "CI is set, so this fails instead of skipping" in ci.stdout


@pytest.mark.parametrize(("tests", "missing"), [
    ("tests/test_redis_sessions.py", "redis-server, which is missing here (apt-get install "
                                     "redis-server"),
    ("tests/test_xapian_shards.py", "xapian-tcpsrv, which is missing here (apt-get install "
                                    "xapian-tools"),
])
def test_tests_of_a_server_fail_in_ci_when_it_is_not_installed(tmp_path: Path, tests: str,
                                                                missing: str) -> None:
    """Catches: the Redis or the sharded-index tests skipping in CI when redis-server or
    xapian-tcpsrv is missing, which would let CI pass without ever trying shared sessions
    or answering from shards."""
    bin_dir = tmp_path / "bin"  # a PATH with Python and nothing else: no servers
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {**without_ci(), "PATH": str(bin_dir), "CI": "true"}
    result = run_pytest(tests, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"needs {missing}" in output
    assert re.search(r"\b\d+ errors? in\b", output)
    assert "passed" not in output and "skipped" not in output


def fake_program(path: Path, script: str) -> None:
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(0o755)


def test_ci_installs_each_system_package_on_its_own_and_goes_on_after_a_failure(
        tmp_path: Path) -> None:
    """Catches: one apt-get install for all packages (one unknown package and none is
    installed), or a failed install that stops CI before the tests say what is missing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("bash", "dirname", "id", "env"):
        found = shutil.which(program)
        assert found is not None, program
        (bin_dir / program).symlink_to(found)
    log = tmp_path / "apt.log"
    # chromium cannot be installed here; the others can.
    fake_program(bin_dir / "apt-get",
                 f'echo "$*" >> {log}\ncase "$*" in *install*chromium*) exit 100;; esac\n')
    fake_program(bin_dir / "sudo", 'exec "$@"\n')
    result = subprocess.run([str(CI_SCRIPT), "system-packages"], env={"PATH": str(bin_dir)},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert log.read_text(encoding="utf-8").splitlines() == [
        "update -qq",
        "install -y -qq redis-server",
        "install -y -qq chromium",
        "install -y -qq systemd",
        "install -y -qq caddy",
        "install -y -qq xapian-tools",
    ]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: could not install chromium; the tests that need chromium "
                        "will fail"]


def test_ci_runs_pytest_with_ci_set() -> None:
    """Catches: a CI script that runs the tests without CI set, so missing components
    would skip there as they do on a laptop."""
    lines = CI_SCRIPT.read_text(encoding="utf-8").splitlines()
    pytest_line = lines.index("pip install -e '.[test]' && pytest")
    assert 'export CI="${CI:-true}"' in lines[:pytest_line]


ISOLATED = """\
import json
import os
from pathlib import Path

from conftest import run_cli


def test_runs_as_if_nothing_were_exported(tmp_path):
    assert [k for k in os.environ if k.startswith(("QUOTEBOT_", "TELEGRAM_"))] == []
    corpus = tmp_path / "bridge.txt"
    corpus.write_text("The bridge reopened on Monday.\\n", encoding="utf-8")
    mine = run_cli("ask", "when did the bridge reopen?", "--corpus", str(corpus), "--json",
                   "--semantic", "off")
    assert "on Monday" in json.loads(mine.stdout)["quotes"][0]["text"], mine.stderr
    cache = Path(os.environ["XDG_CACHE_HOME"])
    assert list(cache.rglob("manifest.json")), "the index was not cached in the test's cache"
"""


def test_a_users_settings_and_cache_never_reach_the_tests(tmp_path: Path) -> None:
    """Catches: a conftest that leaves QUOTEBOT_CORPUS, QUOTEBOT_INDEX or TELEGRAM_* as the
    user exported them (tests then answer from the user's articles), or that lets tests
    write indexes into the user's ~/.cache."""
    user_cache, user_state = tmp_path / "user-cache", tmp_path / "user-state"
    user_cache.mkdir()
    user_state.mkdir()
    env = {**without_ci(),
           "QUOTEBOT_CORPUS": str(tmp_path / "the-users-articles"),
           "QUOTEBOT_INDEX": str(tmp_path / "the-users-index"),
           "QUOTEBOT_SEMANTIC": "no-such-mode",
           "TELEGRAM_BOT_TOKEN": "123456:the-users-token",
           "XDG_CACHE_HOME": str(user_cache), "XDG_STATE_HOME": str(user_state)}
    project = tmp_path / "project"
    project.mkdir()
    result = run_generated(project, ISOLATED, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert list(user_cache.iterdir()) == [] and list(user_state.iterdir()) == []
