"""Where a conversation set's top-3 misses come from, counted by kind.

    python benchmarks/conversation_misses.py [CONVERSATIONS.json] [--json OUT]

Each conversation of the set (default: ../shared/training/coqa/conversations.json, over
its corpus/) is asked turn by turn through a Session with the weights of weights.toml, as
`quotebot eval` asks it (so on the training set these are in-sample figures). Every turn
with an answer span whose first three quotes miss it is counted as one of:

- declined: no quote;
- not a candidate: the answer's sentence is not among the candidates the engine weighs
  for the turn (split by whether the first quote is in the conversation's passage);
- wrong passage: the answer's sentence is a candidate, but none of the first three
  quotes is from the conversation's passage;
- ranked 4th or lower: a quote is from the right passage, the answer's sentence is a
  candidate, and the conversation ranks it 4th or lower (the places are listed).

Turns whose answer span crosses a sentence boundary are counted apart as well. First
turns and follow-ups are counted apart.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from fit_weights import SHARED

from quotebot.context import Context, reorder
from quotebot.conversation_eval import read_conversations, score_turn, start_session
from quotebot.frontend import open_engine


def miss_kind(engine: Any, context: Context | None, question: str, entity: str | None,
              answer_sids: np.ndarray, doc: str, quoted: list[str]) -> tuple[str, int | None]:
    """The kind of a top-3 miss, and the answer's place (0 first) when a candidate."""
    if not quoted:
        return "declined", None
    plan, sids, scores = engine.scores_in_context(question, context or Context(), entity)
    held = np.isin(sids, answer_sids)
    if not held.any():
        return ("not a candidate, first quote in its passage" if quoted[0] == doc
                else "not a candidate, first quote elsewhere"), None
    if context is not None:
        order, _ = reorder(plan, scores, sids, engine.index, context,
                           engine.tuning.conversation, engine.search,
                           engine.said_scores(context, sids))
    else:
        order = np.lexsort((sids, -scores)).tolist()
    place = min(order.index(int(i)) for i in np.flatnonzero(held))
    if doc not in quoted[:3]:
        return "wrong passage", place
    return "ranked 4th or lower", place


def count(path: Path) -> dict[str, Any]:
    cases = read_conversations(path)
    engine = open_engine(str(path.parent / "corpus"), None, "auto")
    index = engine.index
    doc_idx = np.asarray(index.doc_idx)
    starts, ends = np.asarray(index.start), np.asarray(index.end)
    kinds: dict[str, Counter[str]] = {"first": Counter(), "follow-ups": Counter()}
    places: list[int] = []
    turns = hits = 0
    for number, case in enumerate(cases):
        session = start_session(engine, cases, number, moving=False)
        position = index.doc_position(case.doc)
        for n, turn in enumerate(case.turns):
            context = session.state.context()
            answer = session.ask(turn.question, 3)
            result = score_turn(case, n, turn, answer)
            if turn.span is None:
                continue
            turns += 1
            if result.top3:
                hits += 1
                continue
            answer_sids = np.flatnonzero((doc_idx == position) & (starts < turn.span[1])
                                         & (ends > turn.span[0]))
            if context is not None and answer.resolved_question:
                context = replace(context, said=answer.question)
            kind, place = miss_kind(engine, context, answer.resolved_question or turn.question,
                                    session.state.question_entity, answer_sids, case.doc,
                                    [q.doc for q in answer.quotes])
            group = kinds["first" if n == 0 else "follow-ups"]
            group[kind] += 1
            if answer_sids.size > 1:
                group["answer crossing a sentence boundary"] += 1
            if kind == "ranked 4th or lower" and place is not None:
                places.append(place + 1)
    return {"conversations": len(cases), "turns_with_span": turns,
            "top3": round(hits / turns, 4) if turns else None,
            "misses": {k: dict(v) for k, v in kinds.items()},
            "ranked_places": dict(sorted(Counter(places).items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("conversations", nargs="?", type=Path,
                        default=SHARED / "training" / "coqa" / "conversations.json")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args()
    data = count(args.conversations)
    print(f"{data['conversations']} conversations, {data['turns_with_span']} turns with an "
          f"answer span, top-3 {data['top3']:.1%}")
    for group, found in data["misses"].items():
        print(f"\n{group}:")
        for kind, n in sorted(found.items(), key=lambda kv: -kv[1]):
            print(f"  {n:4d}  {kind}")
    print(f"\nplaces of the answers ranked 4th or lower: {data['ranked_places']}")
    if args.json:
        args.json.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
