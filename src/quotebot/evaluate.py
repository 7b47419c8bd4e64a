"""Measuring answers against a question file (ours or SQuAD v1.1), for `quotebot eval`
(its command is in eval_command.py).

Every question goes through :meth:`QuoteEngine.answer_question`, the code path of
``quotebot ask``; conversations go through :class:`~quotebot.session.Session`.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quotebot.answer_overlap import exact_match, token_f1
from quotebot.errors import QuotebotError


class EvalFileError(QuotebotError):
    code = "eval_file_error"


@dataclass(slots=True)
class Case:
    """One question to evaluate."""

    id: str
    question: str
    kind: str
    #: Any of these substrings in a quote makes it a hit (empty: unanswerable).
    expect: list[str]
    #: Acceptable short answers (ours: substring match; SQuAD: EM/F1 against each).
    answers: list[str] = field(default_factory=list)
    answerable: bool = True
    squad: bool = False


@dataclass(slots=True)
class Conversation:
    id: str
    turns: list[str]
    expect_last: list[str]
    new_quote_expected: bool


@dataclass(slots=True)
class Result:
    case: Case
    answered: bool
    quotes: list[str]
    answer: str | None
    top1: bool
    top3: bool
    short_ok: bool | None
    em: float | None
    f1: float | None


def load_cases(path: Path) -> tuple[list[Case], list[Conversation], str]:
    """Read a question file; returns (cases, conversations, format name)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalFileError(f"Question file {str(path)!r} does not exist.") from None
    except IsADirectoryError:
        raise EvalFileError(
            f"{str(path)!r} is a folder; give a question file, or folders of articles with "
            f"their questions with --held-out.") from None
    except OSError as exc:
        raise EvalFileError(f"Cannot read the question file {str(path)!r}: "
                            f"{exc.strerror or exc}.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"Question file {str(path)!r} is not valid JSON: {exc}.") from exc
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return _squad_cases(data), [], "squad"
    if isinstance(data, dict) and isinstance(data.get("questions"), list):
        return _our_cases(data), _conversations(data), "quotebot"
    raise EvalFileError(
        f"{str(path)!r} is neither a quotebot question file (a \"questions\" list) nor SQuAD "
        f"v1.1 JSON (a \"data\" list)."
    )


def _our_cases(data: dict[str, Any]) -> list[Case]:
    cases = []
    for n, item in enumerate(data["questions"], start=1):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise EvalFileError(f"questions[{n - 1}] needs a \"question\" string.")
        if "impossible" in item or isinstance(item.get("answers"), list):
            cases.append(_flat_squad_case(item, n))
            continue
        kind = str(item.get("kind", "question"))
        unanswerable = kind == "unanswerable"
        expect = item.get("expect")
        if not unanswerable and (not isinstance(expect, list) or not expect or not all(
                isinstance(x, str) and x for x in expect)):
            raise EvalFileError(
                f"questions[{n - 1}] (id {item.get('id', n)!r}, {item['question']!r}) needs "
                f"an \"expect\" list of the texts a right quote holds; only kind "
                f"\"unanswerable\" goes without one.")
        cases.append(Case(
            id=str(item.get("id", n)), question=item["question"], kind=kind,
            expect=[str(x) for x in item.get("expect", [])],
            answers=[str(x) for x in item.get("answer", [])],
            answerable=not unanswerable,
        ))
    return cases


def _flat_squad_case(item: dict[str, Any], n: int) -> Case:
    """A SQuAD question written flat: ``{"id", "question", "answers": [texts],
    "impossible"}`` (an impossible question, or one without answers, is unanswerable)."""
    from quotebot.question import parse_question

    answers = item.get("answers") or []
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise EvalFileError(f"questions[{n - 1}] (id {item.get('id', n)!r}): \"answers\" "
                            f"must be a list of answer texts.")
    golds = [] if item.get("impossible") else list(dict.fromkeys(a for a in answers if a))
    return Case(id=str(item.get("id", n)), question=item["question"],
                kind=str(parse_question(item["question"]).kind), expect=golds, answers=golds,
                answerable=bool(golds), squad=True)


def _conversations(data: dict[str, Any]) -> list[Conversation]:
    out = []
    for n, item in enumerate(data.get("followups", []), start=1):
        turns = item.get("turns") if isinstance(item, dict) else None
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise EvalFileError(f"followups[{n - 1}] needs a \"turns\" list of strings.")
        out.append(Conversation(
            id=str(item.get("id", n)), turns=turns,
            expect_last=[str(x) for x in item.get("expect_last", [])],
            new_quote_expected=bool(item.get("expect_last_any_quote_not_first_turn")),
        ))
    return out


def _squad_cases(data: dict[str, Any]) -> list[Case]:
    """SQuAD v1.1 or v2.0: a question marked ``is_impossible`` (2.0) or without answers is
    unanswerable, and declining it is the right answer."""
    from quotebot.question import parse_question

    cases = []
    for article in data["data"]:
        for paragraph in article.get("paragraphs", []):
            for qa in paragraph.get("qas", []):
                impossible = bool(qa.get("is_impossible", False))
                golds = [] if impossible else list(dict.fromkeys(
                    a["text"] for a in qa.get("answers", [])))
                cases.append(Case(
                    id=str(qa.get("id")), question=qa["question"],
                    kind=str(parse_question(qa["question"]).kind), expect=golds, answers=golds,
                    answerable=bool(golds), squad=True,
                ))
    return cases


def expected_text_found(engine: Any, cases: Sequence[Case]) -> bool:
    """Whether any answerable question's expected text occurs anywhere in the corpus (when
    none does, the questions are most likely about another article)."""
    wanted = [e.casefold() for c in cases if c.answerable for e in c.expect]
    if not wanted:
        return True
    index = engine.index
    texts = [index.texts(i).casefold() for i in range(len(index.docs))]
    return any(e in text for text in texts for e in wanted)


def wrong_corpus_warning(path: Path | str) -> str:
    return (f"Warning: no expected answer of {str(path)!r} occurs anywhere in the corpus; "
            f"are the questions about another article? (give it with --corpus)")




# -- running ---------------------------------------------------------------------------------


def _contains(quote: str, expected: Iterable[str], squad: bool) -> bool:
    if squad:
        low = quote.casefold()
        return any(e.casefold() in low for e in expected)
    return any(e in quote for e in expected)


def evaluate(engine: Any, cases: Sequence[Case], conversations: Sequence[Conversation], *,
             k: int = 3, progress: bool = False) -> dict[str, Any]:
    """Run every case and conversation; returns the report (see :func:`format_report`)."""
    from quotebot.session import Session

    results: list[Result] = []
    started = time.perf_counter()
    for n, case in enumerate(cases, start=1):
        answer = engine.answer_question(case.question, k)
        quotes = [q.text for q in answer.quotes]
        short = answer.short.text if answer.short else None
        top1 = bool(quotes) and _contains(quotes[0], case.expect, case.squad)
        top3 = any(_contains(q, case.expect, case.squad) for q in quotes[:3])
        short_ok = em = f1 = None
        if case.answers:
            if case.squad and short is None:
                em = f1 = 0.0
                short_ok = False
            elif case.squad:
                assert short is not None
                em = max((exact_match(short, g) for g in case.answers), default=0.0)
                f1 = max((token_f1(short, g) for g in case.answers), default=0.0)
                short_ok = bool(em)
            else:
                short_ok = short is not None and any(a.casefold() in short.casefold()
                                                     for a in case.answers)
        results.append(Result(case, answer.answered, quotes, short, top1, top3, short_ok, em, f1))
        if progress and (n % 10 == 0 or n == len(cases)):
            _progress(n, len(cases), started)
    if progress:
        sys.stderr.write("\r\x1b[K")
    followups = []
    for convo in conversations:
        session = Session(engine)
        first_quotes: list[str] = []
        last = None
        for i, turn in enumerate(convo.turns):
            last = session.ask(turn, k)
            if i == 0:
                first_quotes = [q.text for q in last.quotes]
        quotes = [q.text for q in last.quotes] if last else []
        ok = bool(quotes)
        if convo.expect_last:
            ok = ok and _contains(quotes[0], convo.expect_last, False)
        if convo.new_quote_expected:
            ok = ok and any(q not in first_quotes for q in quotes)
        followups.append({"id": convo.id, "turns": convo.turns, "ok": ok,
                          "last_quote": quotes[0] if quotes else None})
    return _report(results, followups, time.perf_counter() - started)


def _progress(done: int, total: int, started: float) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.perf_counter() - started, 1e-9)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"({rate:,.0f} questions/s)")
    sys.stderr.flush()


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


#: A SQuAD short answer counts as right when its token F1 against a gold answer is at least
#: this (SQuAD's gold spans differ in extent: "the Denver Broncos" / "Denver Broncos").
RIGHT_F1 = 0.5


def _short_right(r: Result) -> bool:
    if not r.case.answerable:
        return False
    if r.f1 is not None:
        return r.f1 >= RIGHT_F1
    return bool(r.short_ok)


def _summary(rs: Sequence[Result]) -> dict[str, Any]:
    answerable = [r for r in rs if r.case.answerable]
    unanswerable = [r for r in rs if not r.case.answerable]
    with_short = [r for r in answerable if r.short_ok is not None]
    row: dict[str, Any] = {
        "questions": len(rs),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answerable_answered": _rate(sum(r.answered for r in answerable), len(answerable)),
        "unanswerable_declined": _rate(sum(not r.answered for r in unanswerable),
                                       len(unanswerable)),
        "top1": _rate(sum(r.top1 for r in answerable), len(answerable)),
        "top3": _rate(sum(r.top3 for r in answerable), len(answerable)),
        "short_answer_accuracy": _rate(sum(bool(r.short_ok) for r in with_short),
                                       len(with_short)),
        "short_answers_given": sum(r.answer is not None for r in with_short),
        "abstained": sum(not r.answered for r in rs),
    }
    # Precision of the short answers shown (of those that can be judged: the question has
    # gold answers, or the corpus does not answer it): right when a gold answer matches it
    # (SQuAD: token F1 of at least RIGHT_F1), wrong when it does not or nothing should.
    shown = [r for r in rs if r.answered and r.answer is not None
             and (r.short_ok is not None or not r.case.answerable)]
    row["short_answers_shown"] = len(shown)
    row["short_answer_precision"] = _rate(sum(_short_right(r) for r in shown), len(shown))
    squad = [r for r in with_short if r.f1 is not None]
    if squad:
        row["short_answers_scored"] = len(squad)
        row["exact_match"] = round(sum(r.em or 0.0 for r in squad) / len(squad), 4)
        row["f1"] = round(sum(r.f1 or 0.0 for r in squad) / len(squad), 4)
    return row


def _report(results: list[Result], followups: list[dict[str, Any]], seconds: float
            ) -> dict[str, Any]:
    by_kind: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_kind[r.case.kind].append(r)
    unanswerable = [r for r in results if not r.case.answerable]
    abstained = [r for r in results if not r.answered]
    correct_abstentions = sum(not r.case.answerable for r in abstained)
    misses = []
    for r in results:
        wrong_short = r.short_ok is False and r.case.answerable
        if (r.case.answerable and not r.top1) or (not r.case.answerable and r.answered) or (
                wrong_short and not r.case.squad):
            misses.append({
                "id": r.case.id, "kind": r.case.kind, "question": r.case.question,
                "expected": r.case.expect[:3], "expected_answer": r.case.answers[:3],
                "answered": r.answered, "answer": r.answer,
                "first_quote": r.quotes[0] if r.quotes else None,
            })
    return {
        "overall": _summary(results),
        "kinds": {kind: _summary(rs) for kind, rs in sorted(by_kind.items())},
        "groups": {"answerable": _summary([r for r in results if r.case.answerable]),
                   "unanswerable": _summary(unanswerable)},
        "abstention": {
            "unanswerable": len(unanswerable),
            "abstained": len(abstained),
            "precision": _rate(correct_abstentions, len(abstained)),
            "recall": _rate(sum(not r.answered for r in unanswerable), len(unanswerable)),
        },
        "followups": {"total": len(followups), "correct": sum(f["ok"] for f in followups),
                      "conversations": followups},
        "misses": misses,
        "seconds": round(seconds, 3),
    }


def _pct(value: float | None) -> str:
    return "   -" if value is None else f"{value * 100:5.1f}%"


_HEADER = (f"{'kind':<14}{'n':>5}{'top-1':>8}{'top-3':>8}{'short':>8}{'EM':>8}{'F1':>8}"
           f"{'abstained':>11}{'answered':>10}{'declined':>10}")


def _row(label: str, row: dict[str, Any]) -> str:
    """One line of the table: hit rates over answerable questions, "answered" the share of
    answerable questions answered, "declined" the share of unanswerable ones declined."""
    return (f"{label[:13]:<14}{row['questions']:>5}{_pct(row['top1']):>8}"
            f"{_pct(row['top3']):>8}{_pct(row['short_answer_accuracy']):>8}"
            f"{_pct(row.get('exact_match')):>8}{_pct(row.get('f1')):>8}{row['abstained']:>11}"
            f"{_pct(row.get('answerable_answered')):>10}"
            f"{_pct(row.get('unanswerable_declined')):>10}")


def format_report(report: dict[str, Any], *, max_misses: int = 20) -> str:
    """The report as a table for people."""
    lines = [_HEADER]
    for kind, row in report["kinds"].items():
        lines.append(_row(kind, row))
    lines.append("-" * len(_HEADER))
    for group, row in report.get("groups", {}).items():
        if row["questions"]:
            lines.append(_row(group, row))
    lines.append(_row("ALL", report["overall"]))
    ab = report["abstention"]
    lines.append("")
    lines.append(f"abstention: {ab['abstained']} abstained; precision {_pct(ab['precision'])}, "
                 f"recall {_pct(ab['recall'])} over {ab['unanswerable']} unanswerable")
    o = report["overall"]
    lines.append(f"short answers shown: {o['short_answers_shown']}; "
                 f"{_pct(o['short_answer_precision'])} of them right")
    fu = report["followups"]
    if fu["total"]:
        lines.append(f"follow-ups: {fu['correct']}/{fu['total']} correct")
        for convo in fu["conversations"]:
            if not convo["ok"]:
                lines.append(f"  failed {convo['id']}: {' → '.join(convo['turns'])}")
                lines.append(f"      got: {(convo.get('last_quote') or '—')[:90]!r}")
    lines.append(f"time: {report['seconds']:.2f} s for {report['overall']['questions']} questions")
    misses = report["misses"]
    if misses:
        lines.append("")
        lines.append(f"misses ({len(misses)}):")
        for m in misses[:max_misses]:
            quote = (m["first_quote"] or "—")[:90]
            lines.append(f"  {m['id']} [{m['kind']}] {m['question']}")
            lines.append(f"      got: {quote!r} answer={m['answer']!r}")
            lines.append(f"      expected: {m['expected']} answer={m['expected_answer']}")
        if len(misses) > max_misses:
            lines.append(f"  … and {len(misses) - max_misses} more (--json lists them all)")
    return "\n".join(lines)


def format_held_out(report: dict[str, Any]) -> str:
    """Leave-one-article-out figures, an article a row, then all questions pooled."""
    header = (f"{'held-out article':<28}{'n':>5}{'top-1':>8}{'top-3':>8}{'EM':>8}{'F1':>8}"
              f"{'answered':>10}{'declined':>10}")
    lines = [header]
    rows = [(name, r["overall"]) for name, r in report["articles"].items()]
    for name, row in [*rows, ("pooled", report["pooled"])]:
        if name == "pooled":
            lines.append("-" * len(header))
        lines.append(
            f"{name[:27]:<28}{row['questions']:>5}{_pct(row['top1']):>8}{_pct(row['top3']):>8}"
            f"{_pct(row.get('exact_match')):>8}{_pct(row.get('f1')):>8}"
            f"{_pct(row.get('answerable_answered')):>10}"
            f"{_pct(row.get('unanswerable_declined')):>10}")
    lines.append("")
    lines.append("Each article answered with weights and thresholds fitted on the others only; "
                 "\"answered\": answerable questions answered, \"declined\": unanswerable "
                 "ones declined.")
    return "\n".join(lines)
