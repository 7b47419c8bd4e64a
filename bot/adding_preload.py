"""What the processes that add documents have loaded before they start.

They fork from one server process (quotebot.bot.adding), which imports this module once:
the modules an add runs, and lemminflect's lemma tables, which every add reads and which
took 2.2 s of each process's first add when each loaded them itself.
"""

from __future__ import annotations

from quotebot import analysis, suggest  # noqa: F401
from quotebot.bot import libraries  # noqa: F401

analysis.analyse_word("went")  # an irregular form: reads the lemma tables
