"""Fitting how a conversation informs the next turn (``[conversation]`` of weights.toml) on
conversations, and scoring conversations with weights fitted on the others.

Each conversation is examined once, turn by turn, asked through a Session with neutral
weights (nothing fitted): for a turn whose answer has a span, the context is what the
conversation held then (the last turns' short answers, and where quotebot's last
answer was), and every candidate the engine weighs (see
:meth:`QuoteEngine.scores_in_context`) is labelled by whether it overlaps the answer.
Fitting works on those arrays:

- the position prior: the share of next answers found at each offset from the last
  (-window … +window sentences, one added to each count), as a log-share;
- the weights of the context's words, of the prior, of being farther than the window in
  the same document, of being in another document, of the earlier questions' words in
  the document, of the places the conversation answered from before and of the question
  as the person wrote it (where it was rewritten), by the same listwise logistic model as
  the semantic weights, in the units of :func:`quotebot.context.question_strength` (the
  question's own score's weight is 1);
- the share of a yes/no question's words its quote must hold to answer "Yes"/"No"
  (:func:`fit_yes_no`);
- the floor of "more" (:func:`fit_more_floor`).

:func:`held_out_conversations` is leave-one-conversation-out: each conversation is asked
with weights fitted on the others only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quotebot import context as conversation
from quotebot.context import Context
from quotebot.conversation_eval import (
    ConversationCase,
    TurnResult,
    run_conversations,
    start_session,
)
from quotebot.engine import QuoteEngine
from quotebot.tuning import Conversation
from quotebot.yesno import read_yes_no

FloatArray = npt.NDArray[np.float64]
#: Offset code of a candidate farther than the window from the last answer, in its document.
FAR = 10**6
#: Offset code of a candidate in another document than the last answer's.
ELSEWHERE = 2 * 10**6


@dataclass(frozen=True, slots=True)
class ExaminedTurn:
    conversation: str
    #: Per candidate: the question's own score relative to the best candidate's, times
    #: :func:`quotebot.context.question_strength`, and the context words' score
    #: relative to the best candidate's.
    question: FloatArray
    words: FloatArray
    #: Per candidate: its document's best paragraph BM25 for the earlier questions' words,
    #: relative to the best candidate's.
    asked: FloatArray
    #: Per candidate: its offset in sentences from the last answer (FAR: beyond the
    #: window; ELSEWHERE: in another document).
    offsets: npt.NDArray[np.int64]
    positive: npt.NDArray[np.bool_]
    #: The offset of the answer itself (FAR, ELSEWHERE as above).
    answer_offset: int
    #: Per candidate and last answer (newest first): 1 where the candidate is in that
    #: answer's document (see :func:`quotebot.context.home_matches`; None: no answer).
    homes: FloatArray | None = None
    #: The answer's offset in sentences from the conversation's latest answer in the
    #: answer's document (None: it has answered from another document only).
    home_offset: int | None = None
    #: Per candidate: the score of the question as the person wrote it, counted as the
    #: question's own is (the question's own where it was not rewritten; None: the same).
    said: FloatArray | None = None
    #: Per candidate and text of :func:`quotebot.context.meaning_texts`: its cosine less
    #: the best candidate's (None: no sentence vectors).
    meaning: FloatArray | None = None


def _sid_at(engine: QuoteEngine, doc: str, offset: int) -> int | None:
    return conversation.anchor_sid(engine.index, Context("", doc, offset))


def _offsets(engine: QuoteEngine, sids: npt.NDArray[np.int64], anchor: int, window: int
             ) -> npt.NDArray[np.int64]:
    doc_idx = np.asarray(engine.index.doc_idx)
    offset = sids - anchor
    same = doc_idx[sids] == doc_idx[anchor]
    near = same & (np.abs(offset) <= window)
    return np.where(near, offset, np.where(same, FAR, ELSEWHERE)).astype(np.int64)


def _home_offset(engine: QuoteEngine, context: Context, answer_sid: int) -> int | None:
    doc_idx = np.asarray(engine.index.doc_idx)
    for sid in conversation.home_sids(engine.index, context):
        if doc_idx[sid] == doc_idx[answer_sid]:
            return answer_sid - sid
    return None


@dataclass(frozen=True, slots=True)
class YesNoTurn:
    """A yes/no turn: what its first quote says, how much of the question it holds, and
    whether that is the answer the person gave."""

    conversation: str
    coverage: float
    right: bool


@dataclass(frozen=True, slots=True)
class Examined:
    turns: list[ExaminedTurn]
    yes_no: list[YesNoTurn]


def neutral_weights(base: Conversation) -> Conversation:
    """``base`` with nothing of the conversation weighed: each turn ranked as if alone."""
    return replace(base, context_weight=0.0, prior_weight=0.0, far_weight=0.0,
                   other_doc_weight=0.0, asked_weight=0.0, home_weight=0.0,
                   said_weight=0.0, meaning_weight=0.0, talk_meaning_weight=0.0)


def examine_conversations(engine: QuoteEngine, cases: Sequence[ConversationCase],
                          asked_with: Conversation | None = None, *, moving: bool = True
                          ) -> Examined:
    """Every turn with a span asked after an answer, as the engine weighs it in the
    context a conversation gives it: each conversation is asked through a Session with
    ``asked_with`` (the neutral weights when None), and each turn's candidates are
    examined in the context the conversation had then (the anchors the fitted weights
    will see are our own answers, not the people's)."""
    from quotebot.fitting import with_tuning

    window = engine.tuning.conversation.window
    neutral = neutral_weights(engine.tuning.conversation)
    asking = neutral if asked_with is None else asked_with
    plain = with_tuning(engine, replace(engine.tuning, conversation=asking))
    index = engine.index
    out = []
    yes_no = []
    for number, case in enumerate(cases):
        # Asked after another passage's question, its first turn is one that moves on:
        # the weights learn when a conversation leaves its passage, not only that it stays.
        session = start_session(plain, cases, number, moving=moving)
        for turn in case.turns:
            context = session.state.context()
            answer = session.ask(turn.question)
            if turn.yesno is not None and answer.quotes:
                read = read_yes_no(answer.resolved_question or turn.question, answer.quotes[0])
                if read is not None and read.says is not None:
                    yes_no.append(YesNoTurn(case.id, read.coverage,
                                            read.says.casefold() == turn.yesno))
            if turn.span is None or context is None or not context.anchor_known:
                continue
            question = answer.resolved_question or turn.question
            if answer.resolved_question:
                context = replace(context, said=answer.question)
            assert context.doc is not None and context.start is not None
            plan, sids, scores = plain.scores_in_context(question, context,
                                                         session.state.question_entity)
            anchor_sid = _sid_at(engine, context.doc, context.start)
            answer_sid = _sid_at(engine, case.doc, turn.span[0])
            if not sids.size or anchor_sid is None or answer_sid is None:
                continue
            meant = plain.meaning_in_context(question, context, sids)
            x = conversation.features(plan, scores, sids, index, context, neutral,
                                      said=plain.said_scores(context, sids), meaning=meant)
            doc_ok = np.asarray(index.doc_idx)[sids] == index.doc_position(case.doc)
            positive = doc_ok & (np.asarray(index.start)[sids] < turn.span[1]) & (
                np.asarray(index.end)[sids] > turn.span[0])
            answer_offset = int(_offsets(engine, np.array([answer_sid]), anchor_sid,
                                         window)[0])
            out.append(ExaminedTurn(case.id, x[:, 0], x[:, 1], x[:, 5],
                                    _offsets(engine, sids, anchor_sid, window), positive,
                                    answer_offset,
                                    conversation.home_matches(index, context, sids),
                                    _home_offset(engine, context, answer_sid), x[:, 7],
                                    None if meant is None else x[:, 8:]))
    return Examined(out, yes_no)


#: What a wrong "Yes"/"No" costs against a right one: said only where it is right at least
#: twice as often as wrong (hand-set: precision first).
YES_NO_COST = 2.0
#: The shares of the question's words a yes/no threshold is chosen from.
YES_NO_GRID = tuple(round(x, 2) for x in np.arange(0.05, 1.001, 0.05))


def fit_yes_no(turns: Sequence[YesNoTurn]) -> float:
    """The least share of a yes/no question's words in its quote at which answering
    "Yes"/"No" gains most (right answers less :data:`YES_NO_COST` times wrong ones); 1.0
    (all of them) when none gains."""
    best, best_gain = 1.0, 0.0
    for threshold in sorted(YES_NO_GRID, reverse=True):
        given = [t for t in turns if t.coverage >= threshold - 1e-9]
        gain = sum(t.right for t in given) - YES_NO_COST * sum(not t.right for t in given)
        if gain > best_gain:
            best, best_gain = threshold, gain
    return best


#: The share of the right passages below the best that "more" must still reach.
MORE_REACH = 0.95


def fit_more_floor(turns: Sequence[ExaminedTurn]) -> float:
    """The floor of "more": the question's own score (relative to its best passage's)
    that :data:`MORE_REACH` of the right passages ranked below the best reach, over the
    turns whose right passage the question finds by its own words but not first."""
    found = []
    for turn in turns:
        best = float(turn.question.max()) if turn.question.size else 0.0
        if best <= 0 or not turn.positive.any() \
                or turn.positive[int(np.argmax(turn.question))]:
            continue
        score = float(turn.question[turn.positive].max()) / best
        if score > 0:
            found.append(score)
    if not found:
        return 0.0
    return round(float(np.quantile(found, 1.0 - MORE_REACH)), 4)


#: The share of next answers in a document the conversation has answered from that a
#: follow-up's candidates reach (see :func:`fit_home_reach`).
HOME_REACH = 0.9


def fit_home_reach(turns: Sequence[ExaminedTurn]) -> int:
    """How far from the conversation's latest answer in a document a follow-up's
    candidates reach: the distance in sentences within which :data:`HOME_REACH` of the
    next answers in a document it has answered from lie."""
    found = [abs(t.home_offset) for t in turns if t.home_offset is not None]
    if not found:
        return 0
    return int(np.quantile(found, HOME_REACH, method="inverted_cdf"))


#: The decays of the home feature tried (the answer i turns back counts decay ** i): the
#: one whose fitted weights explain the turns best is kept.
HOME_DECAYS = (0.25, 0.5, 0.75, 1.0)


def fit_conversation(examined: Examined, base: Conversation) -> Conversation:
    """The prior and weights fitted on ``examined`` (``base`` where there is nothing to
    fit)."""
    from quotebot.fitting import fit_listwise, listwise_log_loss

    base = replace(base, yes_no_coverage=fit_yes_no(examined.yes_no),
                   more_floor=fit_more_floor(examined.turns),
                   home_reach=fit_home_reach(examined.turns))
    turns = [t for t in examined.turns if t.positive.any()]

    window = base.window
    counts = np.ones(2 * window + 2)  # the last one: farther, or elsewhere
    for turn in examined.turns:
        counts[turn.answer_offset + window if abs(turn.answer_offset) <= window else -1] += 1
    log_share = np.log(counts / counts.sum())
    if not turns:
        return base
    positives = [turn.positive for turn in turns]
    found: list[tuple[float, float, FloatArray]] = []
    for decay in HOME_DECAYS:
        xs = [_columns(turn, log_share, window, decay) for turn in turns]
        w = fit_listwise(xs, positives)
        found.append((listwise_log_loss(xs, positives, w), decay, w))
    _, decay, w = min(found, key=lambda f: (f[0], -f[1]))
    if w[0] <= 0 or w[2] <= 0:
        return base
    return replace(base, context_weight=round(float(w[1] / w[0]), 4),
                   prior_weight=round(float(w[2] / w[0]), 4),
                   prior=tuple(round(float(v), 4) for v in log_share[:-1]),
                   far_weight=round(float(w[3] / w[0]), 4),
                   other_doc_weight=round(float(w[4] / w[0]), 4),
                   asked_weight=round(float(w[5] / w[0]), 4),
                   home_weight=round(float(w[6] / w[0]), 4), home_decay=decay,
                   said_weight=round(float(w[7] / w[0]), 4),
                   meaning_weight=round(float(w[8] / w[0]), 4),
                   talk_meaning_weight=round(float(w[9] / w[0]), 4))


def _columns(turn: ExaminedTurn, log_share: FloatArray, window: int, decay: float
             ) -> FloatArray:
    """The features of :func:`quotebot.context.features` for ``turn``'s candidates, with
    the prior ``log_share`` and the home feature's ``decay``."""
    far = turn.offsets == FAR
    elsewhere = turn.offsets == ELSEWHERE
    beyond = far | elsewhere
    prior = np.where(beyond, 0.0, log_share[np.where(beyond, 0, turn.offsets + window)])
    home = (np.zeros(turn.offsets.shape[0]) if turn.homes is None
            else conversation.home_share(turn.homes, decay))
    said = turn.question if turn.said is None else turn.said
    meaning = (np.zeros((turn.offsets.shape[0], conversation.MEANINGS)) if turn.meaning is None
               else turn.meaning)
    return np.column_stack([turn.question, turn.words, prior, far.astype(float),
                            elsewhere.astype(float), turn.asked, home, said, meaning])


def leaving_out(examined: Examined, conversations: Collection[str]) -> Examined:
    """``examined`` without the turns of ``conversations``."""
    return Examined([t for t in examined.turns if t.conversation not in conversations],
                    [t for t in examined.yes_no if t.conversation not in conversations])


def fit_on_own_anchors(engine: QuoteEngine, cases: Sequence[ConversationCase],
                       base: Conversation) -> Conversation:
    """The weights fitted on turns examined in the context the fitted weights give them:
    fitted once on the turns asked with neutral weights, then again on the turns asked
    with those (see :func:`held_out_conversations`)."""
    first = fit_conversation(examine_conversations(engine, cases), base)
    return fit_conversation(examine_conversations(engine, cases, first), base)


def held_out_conversations(engine: QuoteEngine, cases: Sequence[ConversationCase], *,
                           k: int = 3, moving: bool = False
                           ) -> tuple[list[TurnResult], dict[str, Any]]:
    """Each conversation asked with weights fitted on the others only (after the previous
    one's first question when ``moving``); the results and the weights of each fold.

    Asked with neutral weights, a conversation's answers leave its passage far more often
    than asked with fitted ones (152 of 370 examined turns on training/coqa followed an
    answer in another passage), and weights fitted on those turns learn that staying in
    the last answer's passage matters little. So the turns are examined again, asked with
    fitted weights, and the weights fitted on those, as :func:`fit_on_own_anchors` does.
    Without leakage: the conversations are split in two halves (every other one); a
    conversation's fold examines every turn with the weights fitted on the other half's
    neutral turns, which never saw it, and is fitted on the others' turns so examined."""
    from quotebot.fitting import with_tuning

    base = engine.tuning.conversation
    neutral = examine_conversations(engine, cases)
    again: dict[str, Examined] = {}
    for half in (cases[0::2], cases[1::2]):
        ids = {c.id for c in half}
        anchors = fit_conversation(leaving_out(neutral, ids), base)
        examined = examine_conversations(engine, cases, anchors)
        again.update((c.id, examined) for c in half)
    engines: dict[str, QuoteEngine] = {}
    fitted: dict[str, Any] = {}
    for case in cases:
        weights = fit_conversation(leaving_out(again[case.id], {case.id}), base)
        engines[case.id] = with_tuning(engine, replace(engine.tuning, conversation=weights))
        fitted[case.id] = {"context_weight": weights.context_weight,
                           "prior_weight": weights.prior_weight,
                           "far_weight": weights.far_weight,
                           "other_doc_weight": weights.other_doc_weight,
                           "asked_weight": weights.asked_weight,
                           "home_weight": weights.home_weight,
                           "home_decay": weights.home_decay,
                           "said_weight": weights.said_weight,
                           "meaning_weight": weights.meaning_weight,
                           "talk_meaning_weight": weights.talk_meaning_weight,
                           "home_reach": weights.home_reach,
                           "yes_no_coverage": weights.yes_no_coverage,
                           "more_floor": weights.more_floor}
    results = run_conversations(engine, cases, k=k, engine_for=lambda c: engines[c.id],
                                moving=moving)
    return results, fitted


def write_conversation_weights(path: Path, weights: Conversation, *, data: str,
                               conversations: int) -> None:
    """Write the fitted ``[conversation]`` values into the weights file, each with its
    source."""
    source = (f"fitted by python benchmarks/fit_weights.py --conversations --write "
              f"({dt.date.today().isoformat()}) on {data}: {conversations} conversations, "
              f"held-out figures from quotebot eval --held-out")
    text = path.read_text(encoding="utf-8")
    for name in ("context_weight", "prior_weight", "prior", "far_weight", "other_doc_weight",
                 "asked_weight", "home_weight", "home_decay", "said_weight", "meaning_weight",
                 "talk_meaning_weight", "home_reach",
                 "yes_no_coverage",
                 "more_floor"):
        value = getattr(weights, name)
        shown = ("[" + ", ".join(f"{v:g}" for v in value) + "]" if isinstance(value, tuple)
                 else f"{value:g}")
        line = f'{name} = {{ value = {shown}, source = "{source}" }}'
        section = text.index("[conversation]")
        pattern = re.compile(rf"^{name} = .*$", re.MULTILINE)
        match = pattern.search(text, section)
        if match is None:
            raise ValueError(f"[conversation] has no {name}")
        text = text[:match.start()] + line + text[match.end():]
    path.write_text(text, encoding="utf-8")
