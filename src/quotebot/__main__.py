"""`python -m quotebot` runs the CLI."""

from quotebot.cli import main

main()
