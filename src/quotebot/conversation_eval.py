"""`quotebot eval` on conversations: each conversation asked turn by turn, as one chat.

A conversation set is a JSON file ``{"conversations": [{"doc", "turns": [{"question",
"answer", "yesno", "span"}]}]}`` (CoQA's shape) with its passages in ``corpus/`` beside
it. Every conversation goes through :class:`~quotebot.session.Session`, the code path of
the REPL, over the whole corpus. Each turn is scored:

- *first quote right*: the first quote is from the conversation's passage and overlaps
  the answer's span (turns with a span only);
- *top-3*: one of the first three quotes does;
- *short-answer F1*: the short answer against the person's answer (SQuAD's token F1; no
  short answer scores 0), on turns that are not yes/no;
- *yes/no*: on yes/no turns, whether a "Yes"/"No" was given, and whether it was right;
- *answered*: turns answered (every turn of a conversation set is answerable unless its
  answer is "unknown").

First turns and follow-ups are reported apart, next to plain BM25 (rank-bm25 over the
same sentences, each question asked alone).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quotebot.answer_overlap import token_f1
from quotebot.evaluate import EvalFileError


@dataclass(frozen=True, slots=True)
class Turn:
    question: str
    answer: str
    #: "yes" / "no" when the answer is one.
    yesno: str | None = None
    #: (start, end) of the answer in the passage, when there is one.
    span: tuple[int, int] | None = None

    @property
    def answerable(self) -> bool:
        return self.answer.strip().casefold() != "unknown"


@dataclass(frozen=True, slots=True)
class ConversationCase:
    id: str
    doc: str
    turns: tuple[Turn, ...]


@dataclass(slots=True)
class TurnResult:
    conversation: str
    position: int  # 0 for the first turn
    turn: Turn
    answered: bool
    resolved: str | None
    short: str | None
    #: (doc, start, end) of each quote, best first.
    quotes: list[tuple[str, int, int]] = field(default_factory=list)
    first_text: str | None = None
    top1: bool | None = None
    top3: bool | None = None
    f1: float | None = None
    yesno_given: bool | None = None
    yesno_right: bool | None = None


def is_conversation_set(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("conversations"), list)


def read_conversations(path: Path) -> list[ConversationCase]:
    """The conversations of a conversation set (raises EvalFileError naming what is wrong)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"Cannot read the conversation file {str(path)!r}: {exc}.") from None
    if not is_conversation_set(data):
        raise EvalFileError(f"{str(path)!r} has no \"conversations\" list.")
    return parse_conversations(data)


def parse_conversations(data: dict[str, Any]) -> list[ConversationCase]:
    out = []
    for n, item in enumerate(data["conversations"]):
        if not isinstance(item, dict) or not isinstance(item.get("doc"), str) \
                or not isinstance(item.get("turns"), list) or not item["turns"]:
            raise EvalFileError(f"conversations[{n}] needs a \"doc\" and a \"turns\" list.")
        turns = []
        for t, turn in enumerate(item["turns"]):
            if not isinstance(turn, dict) or not isinstance(turn.get("question"), str) \
                    or not isinstance(turn.get("answer", ""), str):
                raise EvalFileError(f"conversations[{n}].turns[{t}] needs a \"question\" "
                                    f"string and an \"answer\" string.")
            span = turn.get("span")
            where = None
            if isinstance(span, dict) and isinstance(span.get("start"), int) \
                    and isinstance(span.get("end"), int) and span["end"] > span["start"]:
                where = (span["start"], span["end"])
            yesno = turn.get("yesno")
            turns.append(Turn(turn["question"], turn.get("answer", ""),
                              yesno if yesno in ("yes", "no") else None, where))
        out.append(ConversationCase(str(item.get("id", item["doc"])), item["doc"],
                                    tuple(turns)))
    return out


def default_corpus(path: Path) -> Path:
    """The passages of a conversation set: ``corpus/`` beside its file."""
    folder = path.parent / "corpus"
    if not folder.is_dir():
        raise EvalFileError(f"No corpus/ folder beside {str(path)!r}; give the passages "
                            f"with --corpus.")
    return folder


# -- scoring --------------------------------------------------------------------------------


def _overlaps(doc: str, start: int, end: int, case: ConversationCase, turn: Turn) -> bool:
    return turn.span is not None and doc == case.doc and start < turn.span[1] \
        and turn.span[0] < end


def score_turn(case: ConversationCase, position: int, turn: Turn, answer: Any
               ) -> TurnResult:
    """One turn's scores from the answer quotebot gave."""
    short = answer.short.text if answer.short is not None else None
    quotes = [(q.doc, q.start, q.end) for q in answer.quotes]
    result = TurnResult(case.id, position, turn, bool(answer.answered),
                        answer.resolved_question, short, quotes,
                        answer.quotes[0].text if answer.quotes else None)
    if turn.span is not None:
        hits = [_overlaps(d, s, e, case, turn) for d, s, e in quotes[:3]]
        result.top1 = bool(hits) and hits[0]
        result.top3 = any(hits)
    if turn.yesno is not None:
        said = (short or "").strip().casefold()
        result.yesno_given = said in ("yes", "no")
        result.yesno_right = said == turn.yesno
    elif turn.answerable:
        result.f1 = token_f1(short, turn.answer) if short else 0.0
    return result


def lead_in(cases: Sequence[ConversationCase], position: int) -> str | None:
    """The question the conversation at ``position`` follows when people move from one
    passage to another in one conversation: the previous conversation's first question
    (None for the first)."""
    return cases[position - 1].turns[0].question if position > 0 else None


def start_session(engine: Any, cases: Sequence[ConversationCase], position: int, *,
                  moving: bool, k: int = 3) -> Any:
    """A Session for the conversation at ``position``, which (``moving``) has been asked
    its :func:`lead_in` first."""
    from quotebot.session import Session

    session = Session(engine)
    before = lead_in(cases, position) if moving else None
    if before is not None:
        session.ask(before, k)
    return session


def run_conversations(engine: Any, cases: Sequence[ConversationCase], *, k: int = 3,
                      engine_for: Callable[[ConversationCase], Any] | None = None,
                      moving: bool = False) -> list[TurnResult]:
    """Ask every conversation turn by turn through a Session; ``engine_for`` gives the
    engine a conversation is asked of (held out: one fitted without it). ``moving``: each
    conversation is asked after its :func:`lead_in` (not scored), so that its first turn
    moves to another passage."""
    results = []
    for number, case in enumerate(cases):
        session = start_session(engine_for(case) if engine_for is not None else engine,
                                cases, number, moving=moving, k=k)
        for position, turn in enumerate(case.turns):
            results.append(score_turn(case, position, turn, session.ask(turn.question, k)))
    return results


def plain_bm25(engine: Any, cases: Sequence[ConversationCase]
               ) -> list[tuple[int, bool, bool]] | None:
    """(position, top-1, top-3) per turn with a span: rank-bm25's BM25Okapi over the
    engine's sentences (Snowball stems, stop words dropped, ties by position), each
    question alone; None without rank-bm25."""
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:
        return None
    import numpy as np

    from quotebot import analysis

    index = engine.index
    sentences = [index.sentence(i) for i in range(index.n_sentences)]

    def words(text: str) -> list[str]:
        return [analysis.stem(t.norm) for t in analysis.tokenize(text) if not t.is_stop]

    bm25 = BM25Okapi([words(s.text) or ["<empty>"] for s in sentences])
    out = []
    for case in cases:
        for position, turn in enumerate(case.turns):
            if turn.span is None:
                continue
            query = words(turn.question)
            if not query:
                out.append((position, False, False))
                continue
            order = np.argsort(-bm25.get_scores(query), kind="stable")[:3]
            hits = [_overlaps(sentences[i].doc, sentences[i].start, sentences[i].end,
                              case, turn) for i in order]
            out.append((position, hits[0], any(hits)))
    return out


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def summary(results: Sequence[TurnResult]) -> dict[str, Any]:
    spans = [r for r in results if r.top1 is not None]
    f1s = [r.f1 for r in results if r.f1 is not None]
    yesno = [r for r in results if r.turn.yesno is not None]
    given = [r for r in yesno if r.yesno_given]
    answerable = [r for r in results if r.turn.answerable]
    return {
        "turns": len(results),
        "with_span": len(spans),
        "top1": _rate(sum(bool(r.top1) for r in spans), len(spans)),
        "top3": _rate(sum(bool(r.top3) for r in spans), len(spans)),
        "f1": round(sum(f1s) / len(f1s), 4) if f1s else None,
        "yes_no": len(yesno),
        "yes_no_given": len(given),
        "yes_no_right_when_given": _rate(sum(bool(r.yesno_right) for r in given), len(given)),
        "answerable_answered": _rate(sum(r.answered for r in answerable), len(answerable)),
        "declined": sum(not r.answered for r in results),
    }


def _bm25_summary(rows: Sequence[tuple[int, bool, bool]]) -> dict[str, Any]:
    return {"with_span": len(rows), "top1": _rate(sum(r[1] for r in rows), len(rows)),
            "top3": _rate(sum(r[2] for r in rows), len(rows))}


def report(results: Sequence[TurnResult], bm25: Sequence[tuple[int, bool, bool]] | None,
           *, held_out: bool = False, fitted: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """The report of a conversation set (see :func:`format_conversation_report`)."""
    first = [r for r in results if r.position == 0]
    later = [r for r in results if r.position > 0]
    out: dict[str, Any] = {
        "held_out": held_out,
        "conversations": len({r.conversation for r in results}),
        "all": summary(results), "first_turns": summary(first), "follow_ups": summary(later),
    }
    if bm25 is not None:
        out["plain_bm25"] = {"all": _bm25_summary(bm25),
                             "first_turns": _bm25_summary([r for r in bm25 if r[0] == 0]),
                             "follow_ups": _bm25_summary([r for r in bm25 if r[0] > 0])}
    if fitted is not None:
        out["fitted"] = fitted
    out["misses"] = [
        {"conversation": r.conversation, "turn": r.position + 1, "question": r.turn.question,
         "resolved": r.resolved, "expected": r.turn.answer, "answer": r.short,
         "answered": r.answered, "first_quote": r.first_text}
        for r in results
        if r.top1 is False or (r.turn.yesno is not None and not r.yesno_right)
    ]
    return out


def _pct(value: float | None) -> str:
    return "     -" if value is None else f"{value * 100:5.1f}%"


def format_conversation_report(data: dict[str, Any], *, max_misses: int = 15) -> str:
    """The report as a table for people."""
    header = (f"{'turns':<13}{'n':>5}{'top-1':>8}{'top-3':>8}{'F1':>8}{'yes/no':>8}"
              f"{'right':>8}{'answered':>10}   plain BM25 top-1  top-3")
    lines = [header]
    for key, label in (("first_turns", "first"), ("follow_ups", "follow-ups"), ("all", "ALL")):
        row = data[key]
        bm = data.get("plain_bm25", {}).get(key)
        lines.append(
            f"{label:<13}{row['turns']:>5}{_pct(row['top1']):>8}{_pct(row['top3']):>8}"
            f"{_pct(row['f1']):>8}{row['yes_no_given']:>4}/{row['yes_no']:<3}"
            f"{_pct(row['yes_no_right_when_given']):>8}{_pct(row['answerable_answered']):>10}"
            + (f"   {_pct(bm['top1']):>16}{_pct(bm['top3']):>7}" if bm else "   (no rank-bm25)"))
    lines.append("")
    lines.append(f"{data['conversations']} conversations"
                 + (", each answered with numbers fitted on the others"
                    if data["held_out"] else "")
                 + ". top-1/top-3: a quote overlaps the answer's span; F1: the short answer "
                   "against the answer given; yes/no: Yes/No given / yes-no turns, right: "
                   "share of those given that are right.")
    misses = data["misses"]
    if misses and max_misses:
        lines.append("")
        lines.append(f"misses ({len(misses)}):")
        for m in misses[:max_misses]:
            asked = m["question"] + (f" → {m['resolved']}" if m["resolved"] else "")
            lines.append(f"  {m['conversation']} #{m['turn']}: {asked}")
            lines.append(f"      got: {(m['first_quote'] or '—')[:90]!r} answer={m['answer']!r}")
            lines.append(f"      expected: {m['expected'][:90]!r}")
        if len(misses) > max_misses:
            lines.append(f"  … and {len(misses) - max_misses} more (--json lists them all)")
    return "\n".join(lines)
