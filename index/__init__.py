"""The default corpus shipped with quotebot, and the default home of built indexes."""

from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parent / "met-police-nypd-visit.txt"
BUILD_DIR = Path(__file__).resolve().parent / "build"
