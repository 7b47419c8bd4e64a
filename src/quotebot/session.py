"""Conversations: "more" continues the last answer; pronouns and "what about X?" refer to
what the last answer was about.

After each answer the conversation remembers its *referents*: the people, groups and
things the answer was about, most recent first, each with the pronoun the article itself
uses for it. That pronoun is learned from the article's own text, never from a list of
first names: a title before the name ("Ms Ek", "Mr Hale"), the pronoun that opens the
sentence after a mention ("… Karin Ek … . She said …"), or the first pronoun after it in
the same sentence ("Lena Moss scored …, her ninth goal"). A pronoun of the question then
stands for the most recent referent it fits ("she" a woman, "he" a man, "they" a group or
several things); a name whose pronoun the article does not show fits none of them, and one
referent fills one slot at most: when unsure, the user's words stay as written and the
conversation works as retrieval context instead. "It" is never rewritten: what it stands
for is too often not the last thing named (see :data:`REWRITTEN_KINDS`). Dates and places
are never people, and a place is what "there" means.

"What about X?" asks the last question again with X in the slot the last question was
about ("What did the chief executive say?" + "the union" → "What did the union say?");
a phrase with no subject to swap in ("And in Canada?") asks the last question again with
it beside, and a question of its own ("And are they targeting terrorists?") is asked as
written. Every rewrite is returned as ``resolved_question``.

The state is a small JSON-serialisable record, so a front end can keep it in memory or in
Redis; :func:`follow_up` is a pure function of (engine, state, text).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import Any

from quotebot import analysis, lexicon
from quotebot.analysis import Token
from quotebot.context import Context
from quotebot.engine import QuoteEngine
from quotebot.extract import name_spans
from quotebot.models import Answer, ShortAnswer
from quotebot.names import can_be_name, is_acronym, is_calendar_word, is_capitalised
from quotebot.question import Kind, Question, as_question, parse_question, validate_question
from quotebot.store.model import SentenceIndex
from quotebot.yesno import yes_no_answer

_MORE_RE = re.compile(
    r"^(?:/?more|next|continue|go on|keep going|tell me more|show more|more please|"
    r"next please|any ?more|anything else|what else)[\s.!?]*$",
    re.IGNORECASE,
)
_WHAT_ABOUT = re.compile(r"^(?:what|how)\s+about\s+(?P<x>.+?)[\s?.!]*$|^and\s+(?P<y>.+?)\?\s*$",
                         re.IGNORECASE)
_THERE_RE = re.compile(r"\bthere\b", re.IGNORECASE)
#: Quoted speech: pronouns inside it ("I just hit it") are the speaker's, not the narrator's.
_QUOTED = re.compile(r"“[^”]*(?:”|$)|\"[^\"]*(?:\"|$)|«[^»]*(?:»|$)")

#: Why "more" with nothing before it is not answered.
NOTHING_TO_CONTINUE = "Ask a question first; \"more\" continues the last answer."
#: Why "more" has nothing left to show.
NO_MORE = "There are no more passages about this."
#: Why "more" has nothing left to show when the passages shown came from a document removed
#: since.
REMOVED = ("The document {doc!r}, which the last answer quoted, has been removed; ask a new "
           "question.")
#: How many passages of one question a conversation remembers having shown.
MAX_SEEN = 60

#: The pronouns a referent can be called by; "" is a name the article gives no pronoun for
#: (it fits any), "place" a place (only "there").
PRONOUN_KINDS = ("she", "he", "they", "it")
#: The pronouns a question's rewrite replaces. Not "it": on training/coqa (510 turns asked
#: as conversations) the 49 turns whose "it"/"its" was replaced read mostly wrong ("Where
#: is it located?" → "Where is a population located?" about Bonn), and keeping the user's
#: words put the right sentence first on 13 of their 38 turns with an answer span against 9
#: rewritten; replacing "he"/"she" helps (23 against 18 of 48), "they" changes little.
REWRITTEN_KINDS = ("she", "he", "they")
REFERENT_KINDS = (*PRONOUN_KINDS, "", "place")
#: How many referents a conversation remembers.
MAX_REFERENTS = 6
#: How many of the last turns' short answers inform the next one's retrieval (their
#: questions' words lead back to the last answer, which the position prior weighs
#: already: with them the held-out figures on training/coqa are lower).
HISTORY_TURNS = 2
#: How many of the conversation's earlier questions tell retrieval what it is about, and
#: how many characters of them a conversation keeps (bounds, not fits: a CoQA conversation
#: has 15 turns on average, of 40 characters a question).
ASKED_TURNS = 20
ASKED_CHARS = 2000
#: How many of the last answers' documents tell the next turn where the conversation has
#: been (a bound, not a fit: the answer i turns back counts home_decay ** i, fitted).
HOME_TURNS = 8
#: How many mentions of a name are read to learn its pronoun.
MAX_MENTIONS = 16
#: How many words into the next sentence its opening pronoun may come ("Their leader …",
#: "… she said" once the quotation is left out).
OPENING_WORDS = 3


@cache
def _pronoun_kinds() -> dict[str, str]:
    """Pronoun → the kind of referent it stands for."""
    files = {"she": "pronouns_female", "he": "pronouns_male", "they": "pronouns_plural",
             "it": "pronouns_thing"}
    return {word: kind for kind, name in files.items() for word in lexicon.words(name)}


@cache
def _title_kinds() -> dict[str, str]:
    return {**{w: "she" for w in lexicon.words("titles_female")},
            **{w: "he" for w in lexicon.words("titles_male")}}


@cache
def _pronoun_re() -> re.Pattern[str]:
    words = "|".join(sorted(_pronoun_kinds(), key=len, reverse=True))
    return re.compile(rf"\b(?:{words})\b", re.IGNORECASE)


_POSSESSIVES = frozenset({"his", "hers", "its", "their", "theirs"})


@dataclass(frozen=True, slots=True)
class SessionState:
    """What a conversation remembers between turns."""

    #: The last question, as resolved, that "more" continues.
    question: str | None = None
    #: ``question`` as the person wrote it, where the conversation rewrote it.
    said: str | None = None
    #: The name a pronoun of ``question`` stood for (searched as one concept; kept for "more").
    question_entity: str | None = None
    #: The document ``question`` was asked of alone (``--doc``), if any.
    scope: str | None = None
    #: The document ``question`` preferred (the one the conversation was about then).
    prefer: str | None = None
    #: The document of the last answer: follow-ups prefer it.
    doc: str | None = None
    #: What pronouns may stand for, most recent first: (text, kind), kind in REFERENT_KINDS.
    referents: tuple[tuple[str, str], ...] = ()
    #: The place "there" stands for.
    place: str | None = None
    #: Quotes of ``question`` shown so far.
    shown: int = 0
    #: The short answers of the last turns, newest first.
    history: tuple[str, ...] = ()
    #: Where the last answer was: the start of its first quote in ``doc``.
    anchor: int | None = None
    #: The context ``question`` was asked in (its words, document and start), for "more".
    asked_in: tuple[str, str | None, int | None] | None = None
    #: The questions of the conversation before ``question``, newest first.
    asked: tuple[str, ...] = ()
    #: The passages of ``question`` shown so far (document, start): "more" never repeats one.
    seen: tuple[tuple[str, int], ...] = ()
    #: Where the last answers' first quotes were (document, start), newest first.
    homes: tuple[tuple[str, int], ...] = ()
    #: ``homes`` as they were when ``question`` was asked, for "more".
    asked_homes: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["referents"] = [list(r) for r in self.referents]
        data["history"] = list(self.history)
        data["asked"] = list(self.asked)
        data["asked_in"] = list(self.asked_in) if self.asked_in is not None else None
        data["seen"] = self.seen_json()
        data["homes"] = [list(h) for h in self.homes]
        data["asked_homes"] = [list(h) for h in self.asked_homes]
        return data

    def seen_json(self) -> list[list[Any]]:
        return [[doc, start] for doc, start in self.seen]

    def context(self) -> Context | None:
        """What this conversation tells the next turn's retrieval (None before any turn)."""
        if self.question is None:
            return None
        return Context(" ".join(self.history), self.doc, self.anchor,
                       " ".join((self.question, *self.asked)), self.homes)

    @classmethod
    def from_json(cls, data: object) -> SessionState:
        """A state from its JSON form; anything malformed gives a fresh state."""
        if not isinstance(data, dict):
            return cls()
        fields: dict[str, Any] = {}
        for name in ("question", "said", "question_entity", "scope", "prefer", "doc",
                     "place"):
            value = data.get(name)
            fields[name] = value if isinstance(value, str) else None
        shown = data.get("shown")
        fields["shown"] = shown if isinstance(shown, int) and shown >= 0 else 0
        history = data.get("history")
        if isinstance(history, list) and all(isinstance(h, str) for h in history):
            fields["history"] = tuple(history[:HISTORY_TURNS])
        asked_before = data.get("asked")
        if isinstance(asked_before, list) and all(isinstance(q, str) for q in asked_before):
            fields["asked"] = _kept(asked_before)
        for name in ("homes", "asked_homes"):
            places = data.get(name)
            if isinstance(places, list) and all(
                    isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                    and isinstance(p[1], int) for p in places):
                fields[name] = tuple((p[0], p[1]) for p in places[:HOME_TURNS])
        anchor = data.get("anchor")
        fields["anchor"] = anchor if isinstance(anchor, int) and anchor >= 0 else None
        asked = data.get("asked_in")
        if (isinstance(asked, list) and len(asked) == 3 and isinstance(asked[0], str)
                and (asked[1] is None or isinstance(asked[1], str))
                and (asked[2] is None or isinstance(asked[2], int))):
            fields["asked_in"] = (asked[0], asked[1], asked[2])
        seen = data.get("seen")
        if isinstance(seen, list) and all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                and isinstance(p[1], int) for p in seen):
            fields["seen"] = tuple((p[0], p[1]) for p in seen[-MAX_SEEN:])
        referents = data.get("referents")
        if isinstance(referents, list) and all(
                isinstance(r, list) and len(r) == 2 and isinstance(r[0], str) and r[0]
                and r[1] in REFERENT_KINDS for r in referents):
            fields["referents"] = tuple((r[0], r[1]) for r in referents[:MAX_REFERENTS])
        return cls(**fields)

    def referent_for(self, pronoun: str) -> str | None:
        """The most recent referent ``pronoun`` fits: one the article itself calls by a
        pronoun of its kind. A name the article shows no pronoun for fits none (CNN is
        no "him", a product's maker no "it"), nor does a place or an acronym ("US",
        "CNN": a country code or an organisation, which pronoun is too uncertain)."""
        kind = _pronoun_kinds().get(pronoun.lower())
        if kind not in REWRITTEN_KINDS:
            return None
        for text, referent_kind in self.referents:
            if referent_kind == kind and not _is_acronym(text):
                return text
        return None


def is_more(text: str) -> bool:
    """True for "more", "next", "/more" and the like."""
    return bool(_MORE_RE.match(text.strip()))


def follow_up(engine: QuoteEngine, state: SessionState, text: str, k: int = 3, *,
              doc: str | None = None) -> tuple[Answer, SessionState]:
    """Answer ``text`` in the context of ``state``; returns the answer and the new state.

    ``doc`` answers from that document alone; without it, equal answers go to the
    document of the last answer.
    """
    text = validate_question(text)
    if is_more(text):
        if state.question is None:
            return Answer(question=text, answered=False, reason=NOTHING_TO_CONTINUE), state
        # The context the question was asked in: its earlier questions are those before it.
        asked = (Context(*state.asked_in, " ".join(state.asked), state.asked_homes,
                         state.said or "")
                 if state.asked_in is not None else None)
        answer = engine.answer_question(state.question, k, offset=state.shown,
                                        entity=state.question_entity, doc=state.scope,
                                        prefer_doc=state.prefer, context=asked)
        fresh = tuple(q for q in answer.quotes if [q.doc, q.start] not in state.seen_json())
        if not fresh:
            # Whatever stopped the question (its words may have gone with a document), what
            # the person asked for is more of what was shown: say why there is none.
            answer = replace(answer, answered=False, quotes=(), short=None, closest=(),
                             reason=_why_no_more(engine, state))
        elif len(fresh) < len(answer.quotes):
            answer = replace(answer, quotes=fresh)
        answer = replace(answer, question=text, resolved_question=state.question, continued=True)
        return answer, replace(state, shown=state.shown + len(answer.quotes),
                               seen=_seen(state.seen, answer))

    said = analysis.tokenize(text)
    resolved, entity = resolve(text, state, said)
    # Parsed once for every stage of the turn: planning, the yes/no reading, referents
    # (from the words as said when they were not rewritten).
    question = parse_question(validate_question(resolved), said if resolved == text else None)
    prefer = state.doc if doc is None else None
    context = state.context()
    if context is not None and resolved != text:
        # The question as written is weighed beside the rewrite (see quotebot.context).
        context = replace(context, said=text)
    answer = engine.answer_question(question, k, entity=entity, doc=doc, prefer_doc=prefer,
                                    context=context)
    if answer.answered and answer.short is None and answer.quotes:
        yes_no = yes_no_answer(question, answer.quotes[0],
                               engine.tuning.conversation.yes_no_coverage)
        if yes_no is not None:
            answer = replace(answer, short=yes_no)
    if resolved != text:
        answer = replace(answer, question=text, resolved_question=resolved)
    # What a pronoun was replaced by stays what it was (not re-read from the rewrite).
    kept = [(t, kind) for t, kind in state.referents
            if t.casefold() in resolved.casefold() and t.casefold() not in text.casefold()]
    found, place = referents_of(engine.index, answer, question, kept)
    new_state = SessionState(
        question=resolved,
        said=text if resolved != text else None,
        question_entity=entity,
        scope=doc,
        prefer=prefer,
        doc=answer.quotes[0].doc if answer.quotes else state.doc,
        referents=_merge(found, state.referents),
        place=place or state.place,
        shown=len(answer.quotes),
        history=((lead.text if (lead := _lead(answer)) else ""),
                 *state.history)[:HISTORY_TURNS],
        anchor=answer.quotes[0].start if answer.quotes else state.anchor,
        asked_in=(context.words, context.doc, context.start) if context else None,
        seen=_seen((), answer),
        asked=_kept((state.question, *state.asked) if state.question else state.asked),
        homes=_homes(state.homes, answer),
        asked_homes=state.homes,
    )
    return answer, new_state


def _why_no_more(engine: QuoteEngine, state: SessionState) -> str:
    """Why "more" has nothing to add: a document the shown passages came from was removed,
    or there is nothing more about the question."""
    known = {d.id for d in engine.documents}
    gone = next((doc for doc, _ in state.seen if doc not in known), None)
    if gone is None and state.doc is not None and state.doc not in known:
        gone = state.doc
    return NO_MORE if gone is None else REMOVED.format(doc=gone)


def _homes(homes: tuple[tuple[str, int], ...], answer: Answer
           ) -> tuple[tuple[str, int], ...]:
    """Where the last answers were, with ``answer``'s first quote."""
    if not answer.quotes:
        return homes
    first = answer.quotes[0]
    return ((first.doc, first.start), *homes)[:HOME_TURNS]


def _lead(answer: Answer) -> ShortAnswer | None:
    """The short answer a conversation goes on from: the one shown, else the one withheld
    (see :attr:`Answer.withheld`)."""
    return answer.short or answer.withheld


def _kept(asked: Sequence[str]) -> tuple[str, ...]:
    """The newest of ``asked`` a conversation keeps (see :data:`ASKED_TURNS`)."""
    kept: list[str] = []
    size = 0
    for question in asked[:ASKED_TURNS]:
        size += len(question)
        if size > ASKED_CHARS:
            break
        kept.append(question)
    return tuple(kept)


def _seen(seen: tuple[tuple[str, int], ...], answer: Answer) -> tuple[tuple[str, int], ...]:
    """The passages shown of the question so far, with ``answer``'s."""
    return (*seen, *((q.doc, q.start) for q in answer.quotes))[-MAX_SEEN:]


def answer_once(engine: QuoteEngine, text: str, k: int = 3, *, doc: str | None = None
                ) -> Answer:
    """The answer :func:`follow_up` gives on a fresh conversation, without keeping state."""
    return follow_up(engine, SessionState(), text, k, doc=doc)[0]


# -- resolving a question ---------------------------------------------------------------------


def resolve(text: str, state: SessionState, tokens: Sequence[Token] | None = None
            ) -> tuple[str, str | None]:
    """(question with fragments, pronouns, "there" and "what about X" resolved, the name a
    pronoun stood for, searched as one concept). ``tokens`` are ``text``'s, if made already."""
    if state.question and is_fragment(text, tokens):
        return complete_fragment(text, state.question), state.question_entity
    match = _WHAT_ABOUT.match(text)
    about = (match.group("x") or match.group("y")) if match else None
    if about is not None and state.question and not _is_clause(about):
        subject, entity = _replace_pronouns(about, state)
        if _is_phrase(subject):
            return swap_subject(state.question, subject, state.question_entity), entity
        # "And in Canada?", "How about to the south?": no subject to swap in, the last
        # question asked again about it.
        return f"{state.question.rstrip(' ?.!')} ({subject})?", state.question_entity
    resolved, entity = _replace_pronouns(text, state)
    if state.place and _THERE_RE.search(resolved):
        resolved = _THERE_RE.sub(f"in {state.place}", resolved, count=1)
        entity = entity or state.place
    return resolved, entity


def _is_clause(text: str) -> bool:
    """Whether "what about …"/"and …" goes on as a question of its own ("And are they
    targeting terrorists?", "What about the site does she find useful?"): it has a verb
    of its own, a question word or a pronoun, and is asked as written."""
    words = {t.norm for t in analysis.tokenize(text)}
    return bool(words & (lexicon.AUXILIARIES | set(lexicon.words("do_support"))
                         | lexicon.QUESTION_WORDS | {"why"} | set(_pronoun_kinds())))


def _is_phrase(text: str) -> bool:
    """A subject to swap into the last question: a name or a noun phrase, not a
    preposition's phrase ("in Canada") nor only small words ("another")."""
    tokens = analysis.tokenize(text)
    small = set(lexicon.words("determiners"))
    return (bool(tokens) and tokens[0].norm not in _FRAGMENT_OPENERS
            and any(not t.is_stop and t.norm not in small for t in tokens))


#: Words that open a fragment before its question word ("And when?", "For how long?").
_FRAGMENT_OPENERS = frozenset({"and", "but", "so", "then", "for", "by", "from", "to", "as",
                               "in", "at", "with", "since", "until", "over", "of", "about"})
#: Words a question word takes with it ("how many", "how long", "what for").
_FRAGMENT_TAILS = frozenset({"many", "much", "long", "often", "far", "old", "else", "for",
                             "then", "exactly", "now"})
_ONLY_THEN = re.compile(r"^(?:and\s+)?then(?:\s+what)?[\s?.!]*$|^and\s+after\s+that[\s?.!]*$",
                        re.IGNORECASE)


def is_fragment(text: str, tokens: Sequence[Token] | None = None) -> bool:
    """A question of a question word and nothing to ask about: "When?", "Why?", "By who?",
    "How many?", "And then?", "For how long?" (``tokens``: ``text``'s, if made already)."""
    if _ONLY_THEN.match(text.strip()):
        return True
    words = [t.norm for t in (analysis.tokenize(text) if tokens is None else tokens)]
    if not words or len(words) > 4:
        return False
    asks = [w for w in words if w in lexicon.QUESTION_WORDS or w == "why"]
    return bool(asks) and all(
        w in lexicon.QUESTION_WORDS or w == "why" or w in _FRAGMENT_OPENERS
        or w in _FRAGMENT_TAILS for w in words)


def complete_fragment(fragment: str, last: str) -> str:
    """A fragment completed from the frame of the last question: "When?" after "Where did
    she go?" → "When did she go?"; after a question that does not open with a question
    word and an auxiliary, the last question stays beside it: "Why (who closed the
    road)?"."""
    core = re.sub(r"^(?:and|but|so)\s+", "", fragment.strip().rstrip("?.! "),
                  flags=re.IGNORECASE)
    core = core[:1].upper() + core[1:]
    frame = _unwrapped(last.strip().rstrip("?.! "))
    if _ONLY_THEN.match(fragment.strip()):
        return f"What happened then ({frame[:1].lower() + frame[1:]})?"
    tokens = analysis.tokenize(frame)
    # The last question's own question word (with what it takes: "how many", "in what
    # year") gives way to the fragment's.
    i = 0
    while i < len(tokens) and (tokens[i].norm in _FRAGMENT_OPENERS
                               or tokens[i].norm in lexicon.QUESTION_WORDS
                               or tokens[i].norm == "why"
                               or (i and tokens[i].norm in _FRAGMENT_TAILS)):
        i += 1
    if 0 < i < len(tokens) and tokens[i].norm in lexicon.AUXILIARIES:
        return f"{core} {frame[tokens[i].start:]}?"
    return f"{core} ({frame[:1].lower() + frame[1:]})?"


#: A question completed from a fragment beside the frame it took: "Who (was she born in
#: Leeds)".
_BESIDE = re.compile(r"^(?P<head>[^()]+?)\s+\((?P<frame>.+)\)$")


def _unwrapped(question: str) -> str:
    """The frame of ``question`` (no "?"): when it is a fragment completed beside the
    question before it ("Who (was she born in Leeds)"), that question, so that the next
    fragment takes the frame the person gave ("When (was she born in Leeds)?", not "When
    was she born in Leeds)?" nor "When (who (was she born in Leeds))?")."""
    while (match := _BESIDE.match(question)) and is_fragment(match.group("head")):
        question = match.group("frame")
    return question


def _replace_pronouns(text: str, state: SessionState) -> tuple[str, str | None]:
    """``text`` with each pronoun that fits a referent replaced by it, and the first name
    put in (for the engine's entity concept)."""
    entity: str | None = None
    out: list[str] = []
    pos = 0
    used: set[str] = set()
    matches = list(_pronoun_re().finditer(text))
    # Several slots ("who did they grant them to"): rewritten only when each gets a
    # referent of its own; one left open, or two wanting the same, and the user's words
    # stay. "It" is no slot: it is never rewritten.
    slots = [m for m in matches if not _possessive(m.group(), text[m.end():])
             and _pronoun_kinds()[m.group().lower()] in REWRITTEN_KINDS]
    if len(slots) > 1:
        fills = [state.referent_for(m.group()) for m in slots]
        if None in fills or len({f.casefold() for f in fills if f}) < len(fills):
            return text, None
    for match in matches:
        pronoun = match.group()
        referent = state.referent_for(pronoun)
        # One referent fills one slot; a second pronoun for it keeps the user's word.
        if referent is None or referent.casefold() in used:
            continue
        used.add(referent.casefold())
        possessive = _possessive(pronoun, text[match.end():])
        replacement = f"{referent}'s" if possessive else referent
        if pronoun[:1].isupper() and match.start() == 0:
            replacement = replacement[:1].upper() + replacement[1:]
        out.append(text[pos:match.start()])
        out.append(replacement)
        pos = match.end()
        if entity is None and _is_name(referent):
            entity = referent
    out.append(text[pos:])
    return "".join(out), entity


def _possessive(pronoun: str, after: str) -> bool:
    """"his/its/their …" always; "her" when a word follows ("her goal", not "tell her")."""
    word = pronoun.lower()
    if word in _POSSESSIVES:
        return True
    if word != "her":
        return False
    following = analysis.tokenize(after[:40])
    return bool(following) and not following[0].is_stop and after[:1] == " "


def swap_subject(question: str, subject: str, entity: str | None = None) -> str:
    """The last question with ``subject`` in the slot it asked about:
    "What did the chief executive say?" + "the union" → "What did the union say?",
    "how many stabbings?" + "shootings" → "how many shootings?"."""
    slot = _slot(question, subject, entity)
    if slot is None:
        # Nothing of the same sort to swap: the same question, about the subject.
        return f"{question.rstrip(' ?.!')} ({subject})?"
    start, end = slot
    return question[:start] + subject + question[end:]


def _slot(question: str, subject: str, entity: str | None) -> tuple[int, int] | None:
    """The (start, end) characters of what ``question`` asked about (see :func:`swap_subject`)."""
    if entity and entity in question:
        start = question.index(entity)
        return start, start + len(entity)
    parsed = parse_question(question)
    tokens = parsed.tokens
    names = [(tokens[a].start, tokens[b].end) for a, b in _question_names(question, tokens)]
    phrases = _noun_phrases(question, tokens)
    counted = _counted(parsed, tokens) if parsed.kind is Kind.HOW_MANY else None
    subject_tokens = analysis.tokenize(subject)
    if _is_name(subject):
        # A name takes the place of a name or of a phrase ("the chief executive"), never
        # of the thing counted ("how many Voltra …").
        return _longest(names) or (phrases[0] if phrases else None)
    if subject_tokens and subject_tokens[0].norm in lexicon.words("articles"):
        order = [phrases[0] if phrases else None, _longest(names), counted]
    else:
        order = [counted, phrases[0] if phrases else None, _longest(names)]
    for slot in order:
        if slot is not None:
            return slot
    nouns = [t for t in parsed.content if not _is_verb(t, tokens, question)]
    words = nouns or list(parsed.content)
    return (words[-1].start, words[-1].end) if words else None


def _longest(spans: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    return max(spans, key=lambda s: s[1] - s[0]) if spans else None


def _counted(parsed: Any, tokens: Sequence[Token]) -> tuple[int, int] | None:
    """"how many [jobs] will be cut?": the words counted."""
    norms = [t.norm for t in tokens]
    for i, norm in enumerate(norms[:-2]):
        if norm == "how" and norms[i + 1] in ("many", "much"):
            words = []
            for token in tokens[i + 2:]:
                if token.is_stop or _is_verb(token, tokens, parsed.text):
                    break
                words.append(token)
            if words:
                return words[0].start, words[-1].end
            return None
    return None


def _question_names(question: str, tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """Names in a question: capitalised phrases, not a lone capital opening it."""
    return [s for s in name_spans(question, tokens) if s[0] > 0 or s[1] > 0]


def _noun_phrases(text: str, tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """(start, end) of "the tram extension", "the chief executive": a determiner, then the
    words up to a small word, a punctuation mark or a verb."""
    determiners = frozenset(lexicon.words("articles"))
    phrases = []
    for i, token in enumerate(tokens):
        if token.norm not in determiners:
            continue
        words: list[Token] = []
        previous = token
        for nxt in tokens[i + 1:]:
            if (nxt.is_stop or text[previous.end:nxt.start].strip()
                    or _is_verb(nxt, tokens, text)
                    # "Is [the plant] closing?"; "the winning goal" keeps its first word.
                    or (words and nxt.norm.endswith(("ing", "ed")) and _can_be_verb(nxt.norm))):
                break
            words.append(nxt)
            previous = nxt
        # "How much will [the scheme] cost …?": after "will"/"did" the phrase is the
        # subject, and its last word, when it can be a verb, is the question's verb.
        if (len(words) >= 2 and i > 0 and tokens[i - 1].norm in lexicon.words("do_support")
                and _can_be_verb(words[-1].norm)):
            words.pop()
        if words:
            phrase = _without_possessive(text[token.start:words[-1].end])
            phrases.append((token.start, token.start + len(phrase)))
    return phrases


def _without_possessive(phrase: str) -> str:
    """"the club's" → "the club": the referent, not what it owns."""
    return re.sub(r"['’]s$", "", phrase)


def _is_verb(token: Token, tokens: Sequence[Token], text: str) -> bool:
    """A verb: a word that is only ever a verb ("approved"), or the bare verb that ends a
    question after "did"/"will" ("What did the chief executive say?")."""
    do_support = lexicon.words("do_support")
    if token.start == tokens[-1].start and any(t.norm in do_support for t in tokens[:-1]):
        return True
    return _only_verb(token.norm)


@cache
def _can_be_verb(word: str) -> bool:
    if not word.isalpha() or not word.isascii():
        return False
    from lemminflect import getAllLemmas

    return "VERB" in getAllLemmas(word)


@cache
def _only_verb(word: str) -> bool:
    if not word.isalpha() or not word.isascii():
        return False
    from lemminflect import getAllLemmas

    found = getAllLemmas(word)
    return "VERB" in found and "NOUN" not in found and "ADJ" not in found


def _is_acronym(text: str) -> bool:
    words = text.split()
    return len(words) == 1 and is_acronym(words[0])


def _is_name(text: str) -> bool:
    """Written as a name: capitalised words (no dates, no numbers)."""
    words = analysis.tokenize(text)
    return (bool(words) and any(is_capitalised(t.surface) for t in words)
            and all(can_be_name(t.surface) or t.is_stop for t in words)
            and not any(t.surface[:1].isdigit() for t in words))


# -- what an answer was about -----------------------------------------------------------------


def referents_of(index: SentenceIndex, answer: Answer, question: str | Question,
                 kept: Sequence[tuple[str, str]] = ()
                 ) -> tuple[list[tuple[str, str]], str | None]:
    """(the referents an answer makes, most important first; the place it names).

    ``kept`` are referents the question was rewritten with: they stay as they were, and
    their words are not read again as names or phrases of the question.
    """
    parsed = as_question(question)
    masked = parsed.text
    for text, _ in kept:
        masked = re.sub(re.escape(text), lambda m: " " * len(m.group()), masked,
                        flags=re.IGNORECASE)
    tokens = list(parsed.tokens) if masked == parsed.text else analysis.tokenize(masked)
    found: list[tuple[str, str]] = []
    place: str | None = None

    def add(text: str, *, name: bool) -> None:
        if not any(not t.is_stop for t in analysis.tokenize(text)):
            return
        kind = learn_kind(index, text, name=name)
        nonlocal place
        if kind == "place" and place is None:
            place = text
        if all(text.casefold() != t.casefold() for t, _ in found):
            found.append((text, kind))

    question_names = [_without_possessive(masked[tokens[a].start:tokens[b].end])
                      for a, b in _question_names(masked, tokens)]
    lead = _lead(answer)
    short = lead.text if answer.answered and lead is not None else None
    if short is not None and parsed.kind is Kind.WHERE:
        place = short
    elif short is not None and parsed.kind in (Kind.WHO, Kind.WHAT) and not (
            _asks_who_a_name_is(parsed, [*question_names, *(t for t, _ in kept)])) \
            and not _is_date(short):
        if _is_name(short):
            add(short, name=True)
        elif parsed.kind is Kind.WHO:
            add(short, name=False)  # "Senior Met police officers"
    for text, kind in kept:
        if all(text.casefold() != t.casefold() for t, _ in found):
            found.append((text, kind))
    for name in question_names:
        add(name, name=True)
    for start, end in _noun_phrases(masked, tokens):
        add(masked[start:end], name=False)
    if (parsed.kind is Kind.WHO and answer.answered and answer.quotes
            and not any(k in ("she", "he", "") for _, k in found)):
        quoted = _quoted_name(answer.quotes[0].text, parsed)
        if quoted is not None:
            add(quoted, name=True)
    return found, place


def _asks_who_a_name_is(parsed: Any, names: Sequence[str]) -> bool:
    """"Who is Karin Ek?": the conversation is about Karin Ek, not about the answer's words."""
    named = {t.norm for name in names for t in analysis.tokenize(name)}
    return bool(parsed.copula and names and parsed.content
                and all(t.norm in named for t in parsed.content))


def _is_date(text: str) -> bool:
    return any(is_calendar_word(t.surface) or t.surface[:1].isdigit()
               for t in analysis.tokenize(text))


def _quoted_name(text: str, question: str | Question) -> str | None:
    """The first name of two words or more in a quote: one the question names, else a new one."""
    tokens = analysis.tokenize(text)
    question_norms = {t.norm for t in as_question(question).tokens}
    names = [tokens[a:b + 1] for a, b in name_spans(text, tokens) if b > a]
    names = [words for words in names if not any(is_calendar_word(t.surface) for t in words)]
    for words in sorted(names, key=lambda w: not all(t.norm in question_norms for t in w)):
        return text[words[0].start:words[-1].end]
    return None


def _merge(new: list[tuple[str, str]], old: Sequence[tuple[str, str]]
           ) -> tuple[tuple[str, str], ...]:
    merged: list[tuple[str, str]] = []
    for text, kind in (*new, *old):
        if all(text.casefold() != t.casefold() for t, _ in merged):
            merged.append((text, kind))
    return tuple(merged[:MAX_REFERENTS])


def learn_kind(index: SentenceIndex, text: str, *, name: bool) -> str:
    """The pronoun the corpus uses for ``text`` ("she", "he", "they", "it"), "place" for a
    name written after "in"/"to"/"at", or "" when the text does not show it.

    Evidence, strongest first: a title before a mention ("Ms Ek"), the pronoun opening
    the sentence after one where it is the subject, the first pronoun after a mention
    (quotations left out: their "I" and "it" are the speaker's). A mention that only
    qualifies the next word ("Riverside manager Tom Hale said his …") is no evidence.
    """
    words = [t for t in analysis.tokenize(text) if not t.is_stop]
    if not words:
        return ""
    key = words[-1]
    # A thing is "it" or "they"; only a person (a name, or a role such as "the chief
    # executive") can be "she" or "he".
    person = name or key.norm in lexicon.WHO_NOUNS or key.norm in lexicon.TITLES
    allowed = set(PRONOUN_KINDS) if person else {"it", "they"}
    titles: Counter[str] = Counter()
    opening: Counter[str] = Counter()
    later: Counter[str] = Counter()
    places = mentions = 0
    for sid in _mentions(index, key):
        tokens = index.sentence_tokens(sid)
        text_of = index.sentence(sid).text
        unquoted = _unquoted(text_of, tokens)
        subject = False
        for p, token in enumerate(tokens):
            if token.norm != key.norm or (name and not token.surface[:1].isupper()):
                continue
            if _qualifies_next(text_of, tokens, p):
                continue
            mentions += 1
            first = p - len(words) + 1 if _ends_with(tokens, p, words) else p
            # Before the sentence's first verb: its subject, whom the next sentence's
            # opening pronoun most likely goes on about.
            subject = subject or not any(_only_verb(t.norm) for t in tokens[:first])
            for earlier in reversed(tokens[max(first - 3, 0):first]):
                if earlier.norm in _title_kinds():
                    titles[_title_kinds()[earlier.norm]] += 1
                    break
            if first > 0 and tokens[first - 1].norm in lexicon.PLACE_PREPOSITIONS:
                places += 1
            kind = _first_pronoun([t for t in unquoted if t.start > token.start], allowed)
            if kind is not None:
                later[kind] += 1
        following = sid + 1
        if (subject and following < index.n_sentences
                and index.doc_idx[following] == index.doc_idx[sid]):
            next_tokens = _unquoted(index.sentence(following).text,
                                    index.sentence_tokens(following))
            kind = _first_pronoun(next_tokens[:OPENING_WORDS], allowed)
            if kind is not None:
                opening[kind] += 1
    if name and mentions and places * 2 >= mentions and not titles:
        return "place"
    for counts in (titles, opening, later):
        ranked = counts.most_common(2)
        if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
            return ranked[0][0]
    if name:
        return ""
    return _number_of(key)


def _qualifies_next(text: str, tokens: Sequence[Token], p: int) -> bool:
    """Whether token ``p`` is followed, with only a space between, by a lower-case noun it
    qualifies ("Riverside manager", "Green group") or by more of a longer name ("New York
    Police Department")."""
    if p + 1 >= len(tokens):
        return False
    nxt = tokens[p + 1]
    if text[tokens[p].end:nxt.start].strip() or nxt.is_stop:
        return False
    return is_capitalised(nxt.surface) or _has_noun(nxt.norm)


@cache
def _has_noun(word: str) -> bool:
    if not word.isalpha() or not word.isascii():
        return False
    from lemminflect import getAllLemmas

    return "NOUN" in getAllLemmas(word)


def _number_of(head: Token) -> str:
    """"they" for a plural noun ("jobs", "officers"), "it" otherwise; a role ("the chief
    executive") is a person whose pronoun is not known."""
    if head.norm in lexicon.WHO_NOUNS or head.norm in lexicon.TITLES:
        return "they" if _plural(head.norm) else ""
    return "they" if _plural(head.norm) else "it"


@cache
def _plural(word: str) -> bool:
    if not word.isalpha() or not word.isascii():
        return False
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word).get("NOUN", ())
    return bool(lemmas) and word not in lemmas


def _mentions(index: SentenceIndex, key: Token) -> list[int]:
    vocab = index.term_ids
    terms = [vocab[t] for t in key.terms if t in vocab]
    if not terms:
        return []
    return [int(s) for s in index.matrix.postings(terms[0])[:MAX_MENTIONS]]


def _ends_with(tokens: Sequence[Token], p: int, words: Sequence[Token]) -> bool:
    """Whether the tokens ending at ``p`` are ``words`` (a full mention, "Karin Ek")."""
    start = p - len(words) + 1
    return start >= 0 and [t.norm for t in tokens[start:p + 1]] == [w.norm for w in words]


def _unquoted(text: str, tokens: Sequence[Token]) -> list[Token]:
    spans = [m.span() for m in _QUOTED.finditer(text)]
    return [t for t in tokens if not any(a <= t.start < b for a, b in spans)]


def _first_pronoun(tokens: Sequence[Token], allowed: set[str]) -> str | None:
    """The kind of the first third-person pronoun among ``tokens``, if it is ``allowed``."""
    kinds = _pronoun_kinds()
    for token in tokens:
        if token.norm in kinds:
            kind = kinds[token.norm]
            return kind if kind in allowed else None
    return None


class Session:
    """A conversation with an engine: ``ask`` remembers the last answer for follow-ups.

    ``doc`` (when set) answers from that document alone.
    """

    def __init__(self, engine: QuoteEngine, state: SessionState | None = None,
                 doc: str | None = None) -> None:
        self.engine = engine
        self.state = state or SessionState()
        self.doc = doc

    def ask(self, text: str, k: int = 3) -> Answer:
        answer, self.state = follow_up(self.engine, self.state, text, k, doc=self.doc)
        return answer
