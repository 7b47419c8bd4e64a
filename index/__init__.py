"""The default corpus shipped with quotebot, its question set, and the default home of built
indexes."""

from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parent / "met-police-nypd-visit.txt"
#: The shipped article's questions (quotebot's question format): what `quotebot eval` scores
#: on the shipped article.
DEFAULT_QA = Path(__file__).resolve().parent / "met-police-nypd-visit.qa.json"
BUILD_DIR = Path(__file__).resolve().parent / "build"
