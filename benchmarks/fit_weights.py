"""Fit quotebot's semantic weights and decision thresholds, and report them held out.

    python benchmarks/fit_weights.py            # leave-one-article-out figures
    python benchmarks/fit_weights.py --write    # … then fit on all articles and write
                                                #     src/quotebot/data/weights.toml
    python benchmarks/fit_weights.py --conversations [--write]
                        # the [conversation] weights, on ../shared/training/coqa
    python benchmarks/fit_weights.py --gate-only --write   # only the short-answer gate
    python benchmarks/fit_weights.py --candidates --write  # only how many candidates are
                        # reranked by words alone ([retrieval] words_candidates)
    python benchmarks/fit_weights.py --gate-only --real-only   # … fitted without the wrong
                        # short answers given without the paragraphs that answer, nor those
                        # to questions changed so that they no longer answer (reported on
                        # either way)
    python benchmarks/fit_weights.py --gate-only --perturbed-weight 0.25   # … with the L2
                        # strength and evidence chosen on the real short answers alone, then
                        # those to changed questions weighing 0.25 each
    python benchmarks/fit_weights.py --gate-only --rows rows.npz   # keep every group's short
                        # answers in rows.npz (read from it when it exists, not asked again)

The articles are ../shared/training/* (two SQuAD v1.1 articles and one SQuAD 2.0 article
with unanswerable questions) and the visible half of ../shared/benchmarks/squad-superbowl50.
For each article the numbers are fitted on the other three (quotebot.fitting: a listwise
logistic model for the weights, a grid for the thresholds) and the article's questions are
answered through the engine with them; only those held-out figures are printed and
recorded, next to plain BM25 (rank-bm25 over Snowball stems, stop words dropped) on the
same questions. Indexes and sentence vectors are kept in benchmarks/.cache/ (git-ignored),
so each article is embedded once. Deterministic: the same data give the same numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from bench_quality import plain_bm25

from quotebot.engine import QuoteEngine
from quotebot.evaluate import load_cases
from quotebot.fitting import (
    ArticleData,
    examine,
    find_articles,
    fit,
    fitted_values,
    held_out,
    open_article,
    write_figures,
    write_weights,
)
from quotebot.fitting_gate import (
    THRESHOLD,
    Rows,
    answer_rows,
    choose_penalty,
    choose_target,
    choose_weighting,
    combined,
    expected_threshold,
    fit_gate,
    held_out_probabilities,
    nested_probabilities,
    nested_report,
    without_removed,
    write_gate,
)
from quotebot.fitting_gate import held_out as gate_held_out
from quotebot.tuning import WEIGHTS_FILE, default_tuning

HERE = Path(__file__).resolve().parent


def _find_shared() -> Path:
    """../shared beside the checkout, or beside the folder that holds it."""
    for folder in (HERE.parent.parent, HERE.parent.parent.parent):
        if (folder / "shared" / "training").is_dir():
            return folder / "shared"
    return HERE.parent.parent / "shared"


SHARED = _find_shared()
DEFAULT_ARTICLES = [SHARED / "training", SHARED / "benchmarks" / "squad-superbowl50"]
CACHE = HERE / ".cache"
WEIGHTS = HERE.parent / "src" / "quotebot" / "data" / WEIGHTS_FILE


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("articles", nargs="*", type=Path, default=DEFAULT_ARTICLES,
                        help="folders of articles with their questions")
    parser.add_argument("--write", action="store_true",
                        help="fit on all articles and write the weights file")
    parser.add_argument("--json", type=Path, help="also write the full report here")
    parser.add_argument("--figures-only", action="store_true",
                        help="with --write: write only the held-out figures into [fit], "
                             "leaving the values as they were fitted (the short-answer gate, "
                             "refitted apart, changes the figures, not the values)")
    parser.add_argument("--conversations", action="store_true",
                        help="fit the [conversation] weights on ../shared/training/coqa "
                             "instead (leave-one-conversation-out figures, then --write)")
    parser.add_argument("--gate-only", action="store_true",
                        help="fit only the short-answer gate ([answer]), with the other "
                             "numbers as they are")
    parser.add_argument("--real-only", action="store_true",
                        help="with --gate-only: fit the gate without the short answers given "
                             "to answerable questions asked without the paragraphs that "
                             "answer them, or changed so that the paragraph no longer "
                             "answers them (a word replaced, a negation, an opposite, a name "
                             "swapped, an unstated qualifier; as wrong ones); they are "
                             "reported on either way")
    parser.add_argument("--perturbed-weight", type=float, metavar="W",
                        help="with --gate-only: choose the L2 strength and the evidence kept "
                             "on the real short answers alone, then fit with each short answer "
                             "to a changed question weighing W (e.g. 0.25) "
                             "instead of choosing W by held-out log loss")
    parser.add_argument("--rows", type=Path,
                        help="with --gate-only: the short answers' evidence, kept in this "
                             ".npz file when it does not exist and read from it when it does")
    parser.add_argument("--candidates", action="store_true",
                        help="fit only how many of BM25's candidates are reranked by words "
                             "alone (leave-one-article-out figures, then --write)")
    args = parser.parse_args()
    if args.candidates:
        fit_words_candidates(find_articles(args.articles), write=args.write)
        return
    if args.conversations:
        fit_conversations(write=args.write)
        return
    if args.gate_only:
        fit_answer_gate(*cached_gate_rows(find_articles(args.articles), args.rows),
                        write=args.write, left_out=not args.real_only, json_path=args.json,
                        perturbed_weight=args.perturbed_weight)
        return

    started = time.perf_counter()
    articles = find_articles(args.articles)
    data: list[ArticleData] = []
    for article in articles:
        engine = open_article(article, index_dir=CACHE / article.name)
        data.append(examine(article, engine))
        print(f"examined {article.name}: {len(data[-1].questions)} questions",
              file=sys.stderr)
    base = default_tuning()
    report = held_out(data, base, progress=lambda m: print(m, file=sys.stderr),
                      words_too=True)
    bm25 = {d.article.name: plain_bm25(d.engine, [c for c in d.cases if c.answerable])
            for d in data}

    print(f"\nLeave-one-article-out: each article scored with numbers fitted on the others "
          f"({time.perf_counter() - started:.0f} s)\n")
    print("| held-out article | questions | plain BM25 top-1 | top-3 | quotebot top-1 | "
          "top-3 | short-answer F1 | answerable answered | unanswerable declined |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    held: dict[str, dict[str, Any]] = {}
    for name, r in report["articles"].items():
        o = r["overall"]
        held[name] = {"questions": o["questions"], "top1": o["top1"], "top3": o["top3"],
                      "f1": o.get("f1"), "answerable_answered": o["answerable_answered"],
                      "unanswerable_declined": o["unanswerable_declined"],
                      "bm25_top1": round(bm25[name]["top1"], 4),
                      "bm25_top3": round(bm25[name]["top3"], 4)}
    n_all = sum(len([c for c in d.cases if c.answerable]) for d in data)
    p = report["pooled"]
    held["pooled"] = {
        "questions": p["questions"], "top1": p["top1"], "top3": p["top3"], "f1": p["f1"],
        "answerable_answered": p["answerable_answered"],
        "unanswerable_declined": p["unanswerable_declined"],
        "bm25_top1": round(sum(bm25[d.article.name]["top1"] * len(
            [c for c in d.cases if c.answerable]) for d in data) / n_all, 4),
        "bm25_top3": round(sum(bm25[d.article.name]["top3"] * len(
            [c for c in d.cases if c.answerable]) for d in data) / n_all, 4)}
    for name, h in held.items():
        print(f"| {name} | {h['questions']} | {pct(h['bm25_top1'])} | {pct(h['bm25_top3'])} | "
              f"{pct(h['top1'])} | {pct(h['top3'])} | {pct(h['f1'])} | "
              f"{pct(h['answerable_answered'])} | {pct(h['unanswerable_declined'])} |")
    print("\nBy words alone (no vectors: --semantic off, or a corpus over the automatic "
          "limit):\n")
    print("| held-out article | questions | quotebot top-1 | top-3 | short-answer F1 | "
          "answerable answered | unanswerable declined |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    words: dict[str, dict[str, Any]] = {}
    for name, r in [*report["words"]["articles"].items(),
                    ("pooled", {"overall": report["words"]["pooled"]})]:
        o = r["overall"]
        words[name] = {"questions": o["questions"], "top1": o["top1"], "top3": o["top3"],
                       "f1": o.get("f1"), "answerable_answered": o["answerable_answered"],
                       "unanswerable_declined": o["unanswerable_declined"]}
        w = words[name]
        print(f"| {name} | {w['questions']} | {pct(w['top1'])} | {pct(w['top3'])} | "
              f"{pct(w['f1'])} | {pct(w['answerable_answered'])} | "
              f"{pct(w['unanswerable_declined'])} |")
    print("\nFitted per fold:")
    for name, r in report["articles"].items():
        values = ", ".join(f"{k.split('.')[1]}={v:g}" for k, v in r["fitted"].items())
        print(f"  without {name}: {values}")
    if args.json:
        args.json.write_text(json.dumps({"held_out": held, "report": report}, indent=2) + "\n")
    if args.write and args.figures_only:
        fit_table = tomllib.loads(WEIGHTS.read_text(encoding="utf-8"))["fit"]
        write_figures(WEIGHTS, {
            "command": fit_table["command"], "data": fit_table["data"],
            "folds": fit_table["folds"], "date": fit_table["date"],
            "figures": (f"held-out figures measured by python benchmarks/fit_weights.py "
                        f"--write --figures-only ({dt.date.today().isoformat()}), with the "
                        f"values of {fit_table['date']} and today's [answer]"),
            "held_out": held, "held_out_words": words})
        print(f"\nwrote the held-out figures into [fit] of {WEIGHTS.relative_to(HERE.parent)}")
    elif args.write:
        final = fit(data, base)
        provenance = {
            "command": "python benchmarks/fit_weights.py --write",
            "data": [f"{a.name}: ../{a.questions.relative_to(SHARED.parent)}"
                     for a in articles],
            "folds": (f"leave-one-article-out over {len(articles)} articles; the values "
                      f"below are fitted on all {len(articles)}"),
            "date": dt.date.today().isoformat(),
            "held_out": held,
            "held_out_words": words,
        }
        write_weights(WEIGHTS, final, provenance)
        values = ", ".join(f"{k}={v:g}" for k, v in fitted_values(final).items())
        print(f"\nwrote {WEIGHTS.relative_to(HERE.parent)}: {values}")


def fit_words_candidates(articles: list[Any], *, write: bool) -> None:
    """Leave-one-article-out figures of the count of candidates reranked by words alone
    (quotebot.fitting_candidates), then (``write``) the count chosen on every article."""
    from quotebot.fitting_candidates import (
        GRID,
        article_hits,
        choose_count,
        held_out_counts,
        write_count,
    )

    base = default_tuning()
    hits = {}
    for article in articles:
        engine = QuoteEngine.open(article.corpus, index_dir=CACHE / article.name,
                                  semantic="off")
        cases, conversations, _ = load_cases(article.questions)
        hits[article.name] = article_hits(engine, cases, conversations, base)
        print(f"scored {article.name} at {len(GRID)} counts", file=sys.stderr)
    print("\nTop-1 / top-3 by words alone, each article at each count of candidates:\n")
    print("| article | " + " | ".join(str(c) for c in GRID) + " |")
    print("|---|" + "---:|" * len(GRID))
    for name, by_count in hits.items():
        n = max(by_count[GRID[-1]].answerable, 1)
        print(f"| {name} | " + " | ".join(
            f"{by_count[c].top1 / n:.3f} / {by_count[c].top3 / n:.3f}" for c in GRID) + " |")
    held = held_out_counts(hits)
    print("\nLeave-one-article-out: the count chosen on the others, the article scored with "
          f"it and with {GRID[-1]}:\n")
    print(f"| held-out article | questions | count | top-1 | top-3 | top-1 at {GRID[-1]} | "
          f"top-3 at {GRID[-1]} |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, h in held.items():
        print(f"| {name} | {h['questions']} | {h['count']} | {pct(h['top1'])} | "
              f"{pct(h['top3'])} | {pct(h['top1_largest'])} | {pct(h['top3_largest'])} |")
    count = choose_count(list(hits.values()))
    print(f"\nchosen on all {len(hits)} articles: {count}")
    if write:
        folds = ", ".join(
            f"{name} {h['count']} (held out top-1 {h['top1']:.3f}, top-3 {h['top3']:.3f}; "
            f"at {GRID[-1]} {h['top1_largest']:.3f}, {h['top3_largest']:.3f})"
            for name, h in held.items())
        source = (f"fitted by python benchmarks/fit_weights.py --candidates --write "
                  f"({dt.date.today().isoformat()}) on {', '.join(hits)}: the smallest of "
                  f"{', '.join(map(str, GRID))} whose top-1 and top-3 by words alone reach "
                  f"those of {GRID[-1]}; chosen without each article: {folds}")
        WEIGHTS.write_text(write_count(WEIGHTS.read_text(encoding="utf-8"), count, source),
                           encoding="utf-8")
        print(f"wrote words_candidates = {count} into {WEIGHTS.relative_to(HERE.parent)}")


def fit_conversations(*, write: bool) -> None:
    """Leave-one-conversation-out figures on training/coqa, then (``write``) the weights
    fitted on every conversation."""
    from quotebot.conversation_eval import format_conversation_report, read_conversations
    from quotebot.conversation_fit import (
        fit_on_own_anchors,
        write_conversation_weights,
    )
    from quotebot.engine import QuoteEngine
    from quotebot.eval_command import evaluate_conversation_set

    coqa = SHARED / "training" / "coqa"
    path = coqa / "conversations.json"
    report = evaluate_conversation_set(path, str(coqa / "corpus"), None, "auto",
                                       held_out=True)
    print(format_conversation_report(report, max_misses=0))
    if write:
        engine = QuoteEngine.open(coqa / "corpus")
        cases = read_conversations(path)
        weights = fit_on_own_anchors(engine, cases, default_tuning().conversation)
        write_conversation_weights(WEIGHTS, weights, data="../shared/training/coqa",
                                   conversations=len(cases))
        print(f"\nwrote [conversation] of {WEIGHTS.relative_to(HERE.parent)}: "
              f"context_weight={weights.context_weight:g}, "
              f"prior_weight={weights.prior_weight:g}, "
              f"far_weight={weights.far_weight:g}, "
              f"asked_weight={weights.asked_weight:g}, "
              f"other_doc_weight={weights.other_doc_weight:g}, "
              f"home_weight={weights.home_weight:g}, home_decay={weights.home_decay:g}, "
              f"home_reach={weights.home_reach}, said_weight={weights.said_weight:g}, "
              f"meaning_weight={weights.meaning_weight:g}, "
              f"talk_meaning_weight={weights.talk_meaning_weight:g}")


#: What a group's short answers are kept as (:class:`Rows`' fields).
ROW_PARTS = ("x", "right", "answerable", "left_out", "perturbed", "changes")


def cached_gate_rows(articles: list[Any], path: Path | None
                     ) -> tuple[dict[str, Rows], dict[str, Rows]]:
    """:func:`gate_rows`, kept in (or read from) the .npz file at ``path`` if given."""
    if path is not None and path.exists():
        stored = np.load(path)
        found: tuple[dict[str, Rows], dict[str, Rows]] = ({}, {})
        for key in stored.files:
            which, name, part = key.split("/")
            if part == "x":
                kept = {p: stored[f"{which}/{name}/{p}"] for p in ROW_PARTS
                        if f"{which}/{name}/{p}" in stored.files}
                found[which == "words"][name] = Rows(
                    kept["x"], kept["right"], int(kept["answerable"]), kept["left_out"],
                    kept["perturbed"], kept.get("changes", np.full(len(kept["perturbed"]),
                                                                  "word")))
        print(f"read the short answers of {', '.join(found[0])} from {path}", file=sys.stderr)
        return found
    rows, words = gate_rows(articles)
    if path is not None:
        np.savez_compressed(path, **{
            f"{which}/{name}/{part}": np.asarray(getattr(r, part))
            for which, sets in (("meaning", rows), ("words", words))
            for name, r in sets.items()
            for part in ROW_PARTS})
    return rows, words


def gate_rows(articles: list[Any], *, left_out: bool = True
              ) -> tuple[dict[str, Rows], dict[str, Rows]]:
    """Every group's short answers found with meaning and by words alone: each article
    one group (with ``left_out``, also the short answers given to its answerable questions
    without the paragraphs that answer them, and to them with a word replaced), and the
    CoQA conversations over short passages one group per source."""
    from quotebot.conversation_eval import read_conversations
    from quotebot.fitting_gate import conversation_rows

    rows: dict[str, Rows] = {}
    words: dict[str, Rows] = {}
    for article in articles:
        engine = open_article(article, index_dir=CACHE / article.name)
        cases, _, _ = load_cases(article.questions)
        rows[article.name] = answer_rows(engine, cases, left_out=left_out,
                                         perturbed=left_out)
        words[article.name] = answer_rows(QuoteEngine(engine.index, tuning=engine.tuning),
                                          cases, left_out=left_out, perturbed=left_out)
        print(f"examined {article.name}: {len(rows[article.name].right)} short answers",
              file=sys.stderr)
    coqa = SHARED / "training" / "coqa"
    path = coqa / "conversations.json"
    sources = {c["doc"]: c["source"] for c in
               json.loads(path.read_text(encoding="utf-8"))["conversations"]}
    conversations = read_conversations(path)
    engine = QuoteEngine.open(coqa / "corpus", index_dir=CACHE / "coqa", semantic="on")
    for source in sorted(set(sources.values())):
        group = [c for c in conversations if sources[c.doc] == source]
        name = f"coqa-{source}"
        rows[name] = conversation_rows(engine, group)
        words[name] = conversation_rows(QuoteEngine(engine.index, tuning=engine.tuning), group)
        print(f"examined {name}: {len(group)} conversations, "
              f"{len(rows[name].right)} short answers", file=sys.stderr)
    return rows, words


def print_gate_report(label: str, report: dict[str, Any]) -> None:
    print(f"\nShort answers held out ({label})\n")
    print("| held-out group | short answers | right | precision before | shown | "
          "precision shown | recall before | recall shown | AUC | answer removed: short "
          "answers | shown | a question changed: short answers | shown |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in report.items():
        if name == "threshold":
            continue
        if "short_answers" not in r:
            continue
        print(f"| {name} | {r['short_answers']} | {r['right_before_gate']} | "
              f"{pct(r['precision_before_gate'])} | {r['shown']} | {pct(r['precision'])} | "
              f"{pct(r['recall_before_gate'])} | {pct(r['recall'])} | "
              f"{'–' if r['auc'] is None else format(r['auc'], '.3f')} | "
              f"{r.get('removed', '–')} | {r.get('removed_shown', '–')} "
              f"({pct(r.get('removed_shown_share'))}) | {r.get('perturbed', '–')} | "
              f"{r.get('perturbed_shown', '–')} ({pct(r.get('perturbed_shown_share'))}) |")
    pooled = report["pooled"]
    if "perturbed_by_change" in pooled:
        print("\nShort answers to changed questions, by what was changed: given / shown "
              "(share)\n")
        for change, r in pooled["perturbed_by_change"].items():
            print(f"  {change}: {r['given']} / {r['shown']} ({pct(r['shown_share'])})")
    if "reliability" in pooled:
        print(f"\nReliability (log loss {pooled['log_loss']:.4f}):\n")
        print("| probability | short answers | mean probability | share right |")
        print("|---|---:|---:|---:|")
        for b in pooled["reliability"]:
            print(f"| {b['bin']} | {b['n']} | {b['predicted']:.3f} | {b['observed']:.3f} |")


def fit_answer_gate(rows: dict[str, Rows], words: dict[str, Rows], *, write: bool,
                    left_out: bool = True, json_path: Path | None = None,
                    perturbed_weight: float | None = None) -> None:
    """The short-answer gate on every group's short answers (``rows`` found with meaning,
    ``words`` by words alone): the penalty chosen by leave-one-group-out log loss (with
    ``perturbed_weight``, on the real short answers alone, those to questions with a word
    replaced then weighing that much), the
    thresholds' target chosen by what thresholds fitted without each group give on it,
    leave-one-group-out figures with vectors and by words alone, then (``write``) the gate
    fitted on all groups."""
    # One gate judges the short answers found with meaning and by words alone (a corpus
    # over the automatic limit, or --semantic off, has no vectors): it is fitted on both;
    # on those given without the passages that answer with ``left_out``, and judged on
    # them either way.
    both = combined(rows, words) if left_out else without_removed(combined(rows, words))
    if perturbed_weight is None:
        penalty, losses = choose_weighting(both)
    else:
        penalty, by_l2 = choose_penalty(both, perturbed=0.0)
        penalty = replace(penalty, perturbed=perturbed_weight)
        losses = {0.0: by_l2}
    print("\nHeld-out log loss of the real short answers by the weight of those to questions "
          "with a word replaced, and by L2 strength (evidence whose weight changes sign "
          "between folds left out):")
    for share, by_l2 in losses.items():
        print(f"  {share:g}: " + ", ".join(f"{l2:g}: {v:.4f}" for l2, v in by_l2.items()))
    print(f"chosen: weight {penalty.perturbed:g}, L2 {penalty.l2:g}, left out: "
          f"{', '.join(sorted(penalty.dropped)) or '–'}")
    # Each threshold is the lowest probability at which the short answers shown are
    # expected, by their held-out probabilities, to be right a share of the time: one for
    # an engine with vectors, one for an engine of words alone. The share is the lowest
    # whose thresholds, fitted without each group, show short answers right 0.9 of the time
    # on it: held out, probabilities run high.
    nested = [(nested_probabilities(both, judged, penalty), judged) for judged in (rows, words)]
    target, by_target = choose_target(nested)
    print("\nThresholds fitted without each group, by the share they expect right: pooled "
          "shown / precision (95% lower bound) / recall, with meaning | words alone")
    for t, pooled in by_target.items():
        print(f"  {t:g}: " + " | ".join(
            f"{r['shown']} / {pct(r['precision'])} ({pct(r['precision_low'])}) / "
            f"{pct(r['recall'])}" for r in pooled))
    thresholds = tuple(
        expected_threshold(np.concatenate(list(held_out_probabilities(
            both, judged, penalty=penalty).values())), target)
        for judged in (rows, words))
    print(f"chosen: {target:g}; thresholds: {thresholds[0]:.4f} with meaning, "
          f"{thresholds[1]:.4f} by words alone")
    nested_reports = {
        "with meaning, weights and threshold fitted without the group":
            nested_report(nested[0][0], rows, target),
        "words alone, weights and threshold fitted without the group":
            nested_report(nested[1][0], words, target),
    }
    reports = {
        f"with meaning, shown at the threshold {thresholds[0]:.4f}":
            gate_held_out(both, judged=rows, penalty=penalty, threshold=thresholds[0]),
        f"words alone, shown at the threshold {thresholds[1]:.4f}":
            gate_held_out(both, judged=words, penalty=penalty, threshold=thresholds[1]),
        f"with meaning, shown at a probability of {THRESHOLD:g}":
            gate_held_out(both, judged=rows, penalty=penalty),
        f"words alone, shown at a probability of {THRESHOLD:g}":
            gate_held_out(both, judged=words, penalty=penalty),
    }
    for label, report in {**nested_reports, **reports}.items():
        print_gate_report(label, report)
    if json_path is not None:
        json_path.write_text(json.dumps({"losses": {str(k): {str(l2): v for l2, v in by.items()}
                                                    for k, by in losses.items()},
                                         "l2": penalty.l2, "perturbed": penalty.perturbed,
                                         "dropped": sorted(penalty.dropped),
                                         "target": target,
                                         "by_target": {str(k): v for k, v in
                                                       by_target.items()},
                                         "thresholds": thresholds, "nested": nested_reports,
                                         "reports": reports}, indent=2) + "\n")
    if write:
        weights = fit_gate(both, penalty)
        command = "--gate-only --write" if left_out else "--gate-only --real-only --write"
        chosen = "L2 and that weight"
        if perturbed_weight is not None:
            command += f" --perturbed-weight {perturbed_weight:g}"
            chosen = "L2, on the real short answers alone,"
        fitted_on = "short answers" + (
            " and those given without the paragraphs that answer and (weighing "
            f"{penalty.perturbed:g} each) to questions with a word the answering paragraph "
            "holds replaced by one it does not" if left_out else "")
        source = (f"fitted by python benchmarks/fit_weights.py {command} "
                  f"({dt.date.today().isoformat()}) on the {fitted_on} of {', '.join(rows)}, "
                  f"L2 {penalty.l2:g}; {chosen} chosen by leave-one-group-out log loss, "
                  f"left out as "
                  f"changing sign between folds: {', '.join(sorted(penalty.dropped)) or 'none'}")
        precisions = tuple(r["pooled"]["precision"] for r in nested_reports.values())
        write_gate(WEIGHTS, weights, (thresholds[0], thresholds[1]),
                   (precisions[0], precisions[1]), source, target)
        print(f"\nwrote [answer] of {WEIGHTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
