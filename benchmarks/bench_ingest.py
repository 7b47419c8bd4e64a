"""Bringing your own article: how long adding one and asking about it takes, next to asking
about the shipped article.

    python benchmarks/bench_ingest.py [--runs 3] [--semantic auto|off]

(a) A ~10 KB news page (the shipped article inside a news site's page: head, cookie banner,
    navigation, related stories, footer): `quotebot add page.html --to DIR` into a new
    folder, then the first `quotebot ask … --corpus DIR`, as fresh processes, against one
    plain `quotebot ask …` on the shipped article (its index already cached). Target ≤ 3×.
(b) The 34 KB Super Bowl 50 article (../shared/benchmarks/squad-superbowl50/): the same add
    and first ask, against the same plain ask. Target ≤ 5×.
(c) Telegram: `quotebot telegram` polling a local fake of the Bot API (tests/fake_bot_api.py)
    and a link to the page of (a) on a local web server: seconds from the update arriving
    to the acknowledgement ("Added …", with suggested questions) being sent, for several
    chats in turn (each a new library; the first also loads what adding needs).

Medians of --runs (after one untimed plain ask, which builds the shipped article's cached
index as a first `quotebot ask` does). Prints a table and writes
benchmarks/results/ingest.json.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))  # the fake Bot API and the page server

PY = sys.executable
ARTICLE = ROOT / "index" / "met-police-nypd-visit.txt"
#: The shared data sit beside the checkout (../shared) or beside its worktree folder.
SB50 = next((base / "shared" / "benchmarks" / "squad-superbowl50" / "super-bowl-50.txt"
             for base in (ROOT.parent, ROOT.parent.parent)
             if (base / "shared" / "benchmarks" / "squad-superbowl50").is_dir()),
            ROOT.parent / "shared" / "benchmarks" / "squad-superbowl50" / "super-bowl-50.txt")
QUESTION = "how many stabbings?"
SB50_QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"
TARGETS = {"news_page": 3.0, "superbowl50": 5.0}
TELEGRAM_CHATS = 5


def news_page(text: str) -> bytes:
    """The article as a news site serves it: about 10 KB of page around its paragraphs."""
    title = "Met police officers visit New York to study how the NYPD tackles gang violence"
    paragraphs = "\n".join(f"    <p>{html.escape(p)}</p>" for p in text.splitlines() if p)
    sections = ["News", "UK", "World", "Politics", "Business", "Sport", "Culture", "Lifestyle",
                "Travel", "Property", "Opinion", "Weather"]
    nav = "\n".join(f'      <li><a href="/{s.lower()}">{s}</a></li>' for s in sections)
    related = "\n".join(
        f'    <li><a href="/news/related-story-{n}">Related story {n}: what the city did next '
        f'about crime, transport and housing in the capital</a> <time>{n} hours ago</time></li>'
        for n in range(1, 17))
    footer = "\n".join(
        f'    <li><a href="/about/{s.lower()}">{s} — contact, corrections and how we work</a></li>'
        for s in sections)
    page = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} | The Evening Paper</title>
  <meta name="description" content="Senior Met officers travelled to New York to see how
    the NYPD tackles gang violence.">
  <meta name="author" content="Justin Davenport">
  <meta property="og:type" content="article">
  <meta property="og:title" content="{title}">
  <meta property="og:url" content="https://news.example.org/news/crime/met-police-nypd-visit">
  <meta property="article:published_time" content="2018-12-05T18:00:00+00:00">
  <link rel="canonical" href="https://news.example.org/news/crime/met-police-nypd-visit">
  <link rel="stylesheet" href="/static/site.css">
  <script type="application/ld+json">
  {{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "{title}",
   "datePublished": "2018-12-05T18:00:00+00:00",
   "author": {{"@type": "Person", "name": "Justin Davenport"}}}}
  </script>
  <script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}
  gtag('js', new Date()); gtag('config', 'G-EXAMPLE', {{anonymize_ip: true}});</script>
</head>
<body>
<div id="cookie-banner" role="dialog" aria-label="Cookie consent">
  <p>We use cookies to improve your experience and to show you personalised advertising.
  By clicking Accept all you agree to our use of cookies.</p>
  <button>Accept all</button> <button>Manage preferences</button>
</div>
<header class="site-header">
  <a class="logo" href="/">The Evening Paper</a>
  <nav class="main-nav" aria-label="Sections">
    <ul>
{nav}
    </ul>
  </nav>
  <form class="search" action="/search"><input name="q" placeholder="Search">
    <button>Search</button></form>
</header>
<main>
  <article>
    <h1>{title}</h1>
    <p class="byline">By <a href="/author/justin-davenport">Justin Davenport</a>,
    <time datetime="2018-12-05T18:00:00+00:00">5 December 2018</time></p>
{paragraphs}
  </article>
  <aside class="related">
    <h2>More on this story</h2>
    <ul>
{related}
    </ul>
  </aside>
</main>
<footer>
  <ul>
{footer}
  </ul>
  <p>© The Evening Paper. All rights reserved. Registered in England and Wales.</p>
</footer>
<script src="/static/app.js" defer></script>
</body>
</html>
"""
    return page.encode()


def child_env(semantic: str) -> dict[str, str]:
    env = dict(os.environ, QUOTEBOT_SEMANTIC=semantic)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - started, done.stdout


def add_and_ask(source: Path, question: str, env: dict[str, str]) -> dict[str, Any]:
    """One `quotebot add SOURCE --to DIR` into a new folder and the first ask of it."""
    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp) / "library"
        add_s, _ = run([PY, "-m", "quotebot", "add", str(source), "--to", str(library)], env)
        ask_s, out = run([PY, "-m", "quotebot", "ask", question, "--corpus", str(library),
                          "--json"], env)
    answer = json.loads(out)
    return {"add_s": add_s, "ask_s": ask_s, "total_s": add_s + ask_s,
            "answer": answer.get("answer")}


def median_of(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def telegram(page: bytes, semantic: str) -> dict[str, Any]:
    """Seconds from a link arriving at `quotebot telegram` to its acknowledgement."""
    from fake_bot_api import FakeBotApi
    from pages import PageSite

    site = PageSite({"/news/met-police-nypd-visit": (page, "text/html")}).start()
    times: list[float] = []
    try:
        with FakeBotApi() as api, tempfile.TemporaryDirectory() as data:
            env = dict(child_env(semantic), TELEGRAM_BOT_TOKEN=api.token,
                       TELEGRAM_API_BASE_URL=api.base_url, QUOTEBOT_DATA_DIR=data,
                       QUOTEBOT_ALLOW_PRIVATE_URLS="1", QUOTEBOT_RATE_LIMIT_CHAT="0")
            proc = subprocess.Popen([PY, "-m", "quotebot", "telegram"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL)
            try:
                if not api.wait_for(lambda a: any(c[0] == "getUpdates" for c in a.calls), 120):
                    raise RuntimeError("the bot never polled")
                for chat in range(9001, 9001 + TELEGRAM_CHATS):
                    arrived = time.monotonic()
                    api.push(api.message_update(chat, site.url("/news/met-police-nypd-visit")))
                    if not api.wait_for(lambda a, c=chat: bool(a.sent_to(c)), 120):
                        raise RuntimeError("no acknowledgement")
                    ack = api.sent_to(chat)[0]
                    if not str(ack["text"]).startswith("Added"):
                        raise RuntimeError(f"not added: {ack['text']}")
                    times.append(ack["sent_at"] - arrived)
            finally:
                proc.terminate()
                proc.wait(20)
    finally:
        site.close()
    return {"ack_s": times, "first_s": times[0], "median_after_first_s":
            statistics.median(times[1:]) if len(times) > 1 else times[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--semantic", default="auto", choices=("auto", "on", "off"),
                        help="QUOTEBOT_SEMANTIC for every process (default: what users get)")
    args = parser.parse_args()
    env = child_env(args.semantic)
    plain_cmd = [PY, "-m", "quotebot", "ask", QUESTION, "--json"]
    run(plain_cmd, env)  # builds the shipped article's cached index, as a first ask does
    plain = [run(plain_cmd, env)[0] for _ in range(args.runs)]
    plain_s = statistics.median(plain)

    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "met-police-nypd-visit.html"
        page = news_page(ARTICLE.read_text(encoding="utf-8"))
        page_path.write_bytes(page)
        news = [add_and_ask(page_path, QUESTION, env) for _ in range(args.runs)]
    superbowl = [add_and_ask(SB50, SB50_QUESTION, env) for _ in range(args.runs)]
    chat = telegram(page, args.semantic)

    results: dict[str, Any] = {
        "runs": args.runs, "semantic": args.semantic, "plain_ask_s": plain_s,
        "plain_ask_runs_s": plain,
        "news_page": {"bytes": len(page), "question": QUESTION, "runs": news,
                      "add_s": median_of(news, "add_s"), "first_ask_s": median_of(news, "ask_s"),
                      "total_s": median_of(news, "total_s"),
                      "ratio": median_of(news, "total_s") / plain_s,
                      "target": TARGETS["news_page"]},
        "superbowl50": {"bytes": SB50.stat().st_size, "question": SB50_QUESTION,
                        "runs": superbowl, "add_s": median_of(superbowl, "add_s"),
                        "first_ask_s": median_of(superbowl, "ask_s"),
                        "total_s": median_of(superbowl, "total_s"),
                        "ratio": median_of(superbowl, "total_s") / plain_s,
                        "target": TARGETS["superbowl50"]},
        "telegram_link_to_ack": chat,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }
    print(f"plain `quotebot ask` on the shipped article: {plain_s:.2f} s "
          f"(QUOTEBOT_SEMANTIC={args.semantic}, median of {args.runs})")
    print(f"{'case':<28}{'bytes':>8}{'add s':>8}{'ask s':>8}{'total s':>9}{'ratio':>7}"
          f"{'target':>8}")
    for key, name in (("news_page", "(a) news page"), ("superbowl50", "(b) Super Bowl 50")):
        row = results[key]
        print(f"{name:<28}{row['bytes']:>8,}{row['add_s']:>8.2f}{row['first_ask_s']:>8.2f}"
              f"{row['total_s']:>9.2f}{row['ratio']:>6.1f}×{'≤' + format(row['target'], 'g'):>7}×")
    print(f"(c) Telegram link → acknowledgement: first {chat['first_s']:.2f} s, then median "
          f"{chat['median_after_first_s']:.2f} s ({', '.join(f'{t:.2f}' for t in chat['ack_s'])})")
    out = HERE / "results" / "ingest.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
