"""Shared fixtures, and the evaluation reports printed at the end of the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REPORTS: list[str] = []


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `quotebot` entry point (python -m quotebot) as a process."""
    return subprocess.run([sys.executable, "-m", "quotebot", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)


@pytest.fixture()
def cli() -> Any:
    return run_cli


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for report in REPORTS:
        terminalreporter.write_sep("-", "quotebot eval")
        terminalreporter.write_line(report)
