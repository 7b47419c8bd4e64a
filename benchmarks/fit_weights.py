"""Fit quotebot's semantic weights and decision thresholds, and report them held out.

    python benchmarks/fit_weights.py            # leave-one-article-out figures
    python benchmarks/fit_weights.py --write    # … then fit on all articles and write
                                                #     src/quotebot/data/weights.toml
    python benchmarks/fit_weights.py --conversations [--write]
                        # the [conversation] weights, on ../shared/training/coqa
    python benchmarks/fit_weights.py --gate-only --write   # only the short-answer gate
    python benchmarks/fit_weights.py --gate-only --left-out   # … fitted on the wrong short
                        # answers given without the paragraphs that answer as well

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
    write_weights,
)
from quotebot.fitting_gate import (
    THRESHOLD,
    Rows,
    answer_rows,
    choose_penalty,
    combined,
    expected_threshold,
    fit_gate,
    held_out_probabilities,
    nested_held_out,
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
    parser.add_argument("--conversations", action="store_true",
                        help="fit the [conversation] weights on ../shared/training/coqa "
                             "instead (leave-one-conversation-out figures, then --write)")
    parser.add_argument("--gate-only", action="store_true",
                        help="fit only the short-answer gate ([answer]), with the other "
                             "numbers as they are")
    parser.add_argument("--left-out", action="store_true",
                        help="with --gate-only: also fit the gate on the short answers given "
                             "to answerable questions asked without the paragraphs that "
                             "answer them (as wrong ones)")
    args = parser.parse_args()
    if args.conversations:
        fit_conversations(write=args.write)
        return
    if args.gate_only:
        fit_answer_gate(find_articles(args.articles), write=args.write, left_out=args.left_out,
                        json_path=args.json)
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
    if args.write:
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
              f"home_reach={weights.home_reach}")


def gate_rows(articles: list[Any], *, left_out: bool = False
              ) -> tuple[dict[str, Rows], dict[str, Rows]]:
    """Every group's short answers found with meaning and by words alone: each article
    one group (with ``left_out``, also the short answers given without the paragraphs that
    answer), and the CoQA conversations over short passages one group per source."""
    from quotebot.conversation_eval import read_conversations
    from quotebot.fitting_gate import conversation_rows

    rows: dict[str, Rows] = {}
    words: dict[str, Rows] = {}
    for article in articles:
        engine = open_article(article, index_dir=CACHE / article.name)
        cases, _, _ = load_cases(article.questions)
        rows[article.name] = answer_rows(engine, cases, left_out=left_out)
        words[article.name] = answer_rows(QuoteEngine(engine.index, tuning=engine.tuning),
                                          cases, left_out=left_out)
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
          "precision shown | recall before | recall shown | AUC |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in report.items():
        if name == "threshold":
            continue
        if "short_answers" not in r:
            continue
        print(f"| {name} | {r['short_answers']} | {r['right_before_gate']} | "
              f"{pct(r['precision_before_gate'])} | {r['shown']} | {pct(r['precision'])} | "
              f"{pct(r['recall_before_gate'])} | {pct(r['recall'])} | "
              f"{'–' if r['auc'] is None else format(r['auc'], '.3f')} |")
    pooled = report["pooled"]
    if "reliability" in pooled:
        print(f"\nReliability (log loss {pooled['log_loss']:.4f}):\n")
        print("| probability | short answers | mean probability | share right |")
        print("|---|---:|---:|---:|")
        for b in pooled["reliability"]:
            print(f"| {b['bin']} | {b['n']} | {b['predicted']:.3f} | {b['observed']:.3f} |")


def fit_answer_gate(articles: list[Any], *, write: bool, left_out: bool = False,
                    json_path: Path | None = None) -> None:
    """The short-answer gate: every group's short answers, the penalty chosen by
    leave-one-group-out log loss, leave-one-group-out figures with vectors and by words
    alone, then (``write``) the gate fitted on all groups."""
    rows, words = gate_rows(articles, left_out=left_out)
    # One gate judges the short answers found with meaning and by words alone (a corpus
    # over the automatic limit, or --semantic off, has no vectors): it is fitted on both.
    both = combined(rows, words)
    penalty, losses = choose_penalty(both)
    print("\nHeld-out log loss by L2 strength (evidence whose weight changes sign between "
          "folds left out): " + ", ".join(f"{l2:g}: {v:.4f}" for l2, v in losses.items()))
    print(f"chosen: L2 {penalty.l2:g}, left out: {', '.join(sorted(penalty.dropped)) or '–'}")
    # Each threshold is the lowest probability at which the short answers shown are
    # expected, by their held-out probabilities, to be right 0.9 of the time: one for an
    # engine with vectors, one for an engine of words alone.
    thresholds = tuple(
        expected_threshold(np.concatenate(list(held_out_probabilities(
            both, judged, penalty=penalty).values())))
        for judged in (rows, words))
    print(f"thresholds: {thresholds[0]:.4f} with meaning, {thresholds[1]:.4f} by words alone")
    nested = {
        "with meaning, weights and threshold fitted without the group":
            nested_held_out(both, judged=rows, penalty=penalty),
        "words alone, weights and threshold fitted without the group":
            nested_held_out(both, judged=words, penalty=penalty),
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
    for label, report in {**nested, **reports}.items():
        print_gate_report(label, report)
    if json_path is not None:
        json_path.write_text(json.dumps({"losses": {str(k): v for k, v in losses.items()},
                                         "l2": penalty.l2, "dropped": sorted(penalty.dropped),
                                         "thresholds": thresholds, "nested": nested,
                                         "reports": reports}, indent=2) + "\n")
    if write:
        weights = fit_gate(both, penalty)
        command = "--gate-only --left-out --write" if left_out else "--gate-only --write"
        source = (f"fitted by python benchmarks/fit_weights.py {command} "
                  f"({dt.date.today().isoformat()}) on {', '.join(rows)}, L2 {penalty.l2:g} "
                  f"chosen by leave-one-group-out log loss, left out as changing sign "
                  f"between folds: {', '.join(sorted(penalty.dropped)) or 'none'}")
        precisions = tuple(r["pooled"]["precision"] for r in nested.values())
        write_gate(WEIGHTS, weights, (thresholds[0], thresholds[1]),
                   (precisions[0], precisions[1]), source)
        print(f"\nwrote [answer] of {WEIGHTS.relative_to(HERE.parent)}")

if __name__ == "__main__":
    main()
