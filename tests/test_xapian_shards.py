"""The sentence index on Xapian remote shards: two real `xapian-tcpsrv` servers on
127.0.0.1, and nothing else of the corpus, answer every question of the shipped question
set with the same quotes, in the same order and with the same scores as the embedded
index; a shard that is down gives a clear error, never an answer from part of the
corpus."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quotebot.engine import QuoteEngine
from quotebot.index import DEFAULT_QA
from quotebot.plan import plan_question
from quotebot.question import parse_question
from quotebot.session import Session

from conftest import ROOT, assert_same_lexicon, quotes_the_stabbings, requires, run_cli
from fake_bot_api import free_port
from servers import (
    Process,
    ends_with_this_process,
    serve,
    start_xapian_shard,
    stop_xapian_shard,
    wait_until,
)

pytestmark = [pytest.mark.slow, requires("xapian-tcpsrv", "xapian")]

QA = json.loads(Path(DEFAULT_QA).read_text(encoding="utf-8"))
QUESTIONS = [case["question"] for case in QA["questions"]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped article and three small articles of our own: documents on both shards."""
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(ROOT / "index" / "met-police-nypd-visit.txt", folder)
    for path in sorted((ROOT / "tests" / "fixtures" / "own-articles").glob("*.txt")):
        shutil.copy(path, folder)
    return folder


@pytest.fixture(scope="module")
def shards(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shards")
    done = run_cli("index", "--corpus", str(corpus), "--out", str(out), "--shards", "2",
                   "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert len(summary["sentences"]) == 2 and min(summary["sentences"]) > 0, summary
    return out


@pytest.fixture(scope="module")
def servers(shards: Path) -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        for i in range(2):
            started.append(start_xapian_shard(shards / f"shard-{i}"))
        yield started
    finally:
        for shard in started:
            stop_xapian_shard(shard)


def url_of(servers: list[Process]) -> str:
    return "xapian://" + ",".join(f"127.0.0.1:{s.port}" for s in servers)


@pytest.fixture(scope="module")
def engines(corpus: Path, servers: list[Process], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[QuoteEngine, QuoteEngine]]:
    from quotebot.xapian_backend import close_shards, open_sharded_engine

    embedded = QuoteEngine.open(corpus, index_dir=tmp_path_factory.mktemp("index"),
                                semantic="off")
    sharded = open_sharded_engine(url_of(servers))
    yield embedded, sharded
    close_shards(sharded)


OpenShards = Callable[..., QuoteEngine]


@pytest.fixture
def open_shards() -> Iterator[OpenShards]:
    """:func:`~quotebot.xapian_backend.open_sharded_engine` for one test, each engine's
    connections to the shard servers closed when it ends."""
    from quotebot.xapian_backend import close_shards, open_sharded_engine

    opened: list[QuoteEngine] = []

    def open_engine(url: str, semantic: str = "off") -> QuoteEngine:
        opened.append(open_sharded_engine(url, semantic))
        return opened[-1]

    yield open_engine
    for engine in opened:
        close_shards(engine)


def same_answers(a: Any, b: Any) -> None:
    assert (a.answered, a.reason) == (b.answered, b.reason)
    assert (a.short.text if a.short else None) == (b.short.text if b.short else None)
    assert [(q.doc, q.start, q.end, q.text) for q in a.quotes] == [
        (q.doc, q.start, q.end, q.text) for q in b.quotes]
    # Quotes carry scores rounded to 4 places: a difference below 1e-6 may flip the last.
    assert [q.score for q in a.quotes] == pytest.approx([q.score for q in b.quotes],
                                                        abs=1.01e-4)


@pytest.mark.parametrize("question", QUESTIONS)
def test_two_shards_answer_every_shipped_question_as_the_embedded_index(
        engines: tuple[QuoteEngine, QuoteEngine], question: str) -> None:
    embedded, sharded = engines
    same_answers(embedded.answer_question(question, k=5),
                 sharded.answer_question(question, k=5))


@pytest.mark.parametrize("question", QUESTIONS)
def test_two_shards_retrieve_the_same_candidates_with_the_same_scores(
        engines: tuple[QuoteEngine, QuoteEngine], question: str) -> None:
    embedded, sharded = engines
    index, backend = embedded.index, sharded.search
    groups = plan_question(parse_question(question), index, embedded.tuning).groups()
    ids, scores = index.top_sentences(groups, 60)
    remote_ids, remote_scores = backend.top_sentences(groups, 60)
    assert ids.tolist() == remote_ids.tolist()
    if not groups:  # a question of no word the corpus has: nothing on either side
        assert not ids.size
        return
    assert np.allclose(scores, remote_scores, rtol=1e-6, atol=1e-6)
    assert np.allclose(index.paragraph_scores(groups, ids),
                       backend.paragraph_scores(groups, ids), rtol=1e-6, atol=1e-6)
    # Sentences asked for by id, in another order, some without any of the words.
    others = np.concatenate([ids[::-1], np.arange(min(5, index.n_sentences))])
    assert np.allclose(index.sentence_scores(groups, others),
                       backend.sentence_scores(groups, others), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", QA["followups"], ids=[c["id"] for c in QA["followups"]])
def test_follow_ups_over_shards_go_as_over_the_embedded_index(
        engines: tuple[QuoteEngine, QuoteEngine], case: dict[str, Any]) -> None:
    embedded, sharded = engines
    local, remote = Session(embedded), Session(sharded)
    for turn in case["turns"]:
        same_answers(local.ask(turn), remote.ask(turn))


def test_ask_over_shards_prints_the_same_json_with_no_copy_of_the_corpus(
        corpus: Path, servers: list[Process], tmp_path: Path) -> None:
    question = "how many stabbings?"
    embedded = run_cli("ask", question, "--corpus", str(corpus), "--semantic", "off",
                       "--json")
    # The answering side has the shard servers' address and nothing else: no corpus, no
    # index (a corpus named that is not there is not read).
    sharded = run_cli("ask", question, "--json",
                      env={"QUOTEBOT_SEARCH_URL": url_of(servers),
                           "QUOTEBOT_CORPUS": str(tmp_path / "absent")})
    assert embedded.returncode == 0 and sharded.returncode == 0, sharded.stderr
    a, b = json.loads(embedded.stdout), json.loads(sharded.stdout)
    assert a["answer"] == b["answer"] and quotes_the_stabbings(a)
    assert [{**q, "score": round(q["score"], 3)} for q in a["quotes"]] == [
        {**q, "score": round(q["score"], 3)} for q in b["quotes"]]


def test_a_shard_down_is_a_clear_error_and_answers_return_with_it(
        corpus: Path, shards: Path, engines: tuple[QuoteEngine, QuoteEngine],
        open_shards: OpenShards) -> None:
    from quotebot.xapian_backend import ShardUnavailable

    embedded, _ = engines
    own = [start_xapian_shard(shards / f"shard-{i}") for i in range(2)]
    try:
        url = url_of(own)
        engine = open_shards(url)
        assert engine.answer_question("how many stabbings?").answered
        stop_xapian_shard(own[1])
        with pytest.raises(ShardUnavailable, match=r"shard-1 at 127\.0\.0\.1:"):
            engine.answer_question("who went to New York?")
        done = run_cli("ask", "who went to New York?", "--corpus", str(corpus),
                       "--semantic", "off", "--json", "--search-url", url, timeout=60)
        assert done.returncode != 0
        assert json.loads(done.stdout)["error"]["code"] == "shard_unavailable"
        plain = run_cli("ask", "who went to New York?", "--corpus", str(corpus),
                        "--semantic", "off", "--search-url", url, timeout=60)
        assert plain.returncode != 0 and not plain.stdout.strip()
        lines = plain.stderr.strip().splitlines()
        assert len(lines) == 1 and "shard-1" in lines[0] and "Traceback" not in plain.stderr
        # The shard comes back on its port: the same engine answers again, in full.
        own[1] = start_xapian_shard(shards / "shard-1", port=own[1].port)
        same_answers(embedded.answer_question("who went to New York?"),
                     engine.answer_question("who went to New York?"))
    finally:
        for shard in own:
            stop_xapian_shard(shard)


def test_serve_answers_from_shards_and_refuses_while_one_is_down(
        corpus: Path, shards: Path, engines: tuple[QuoteEngine, QuoteEngine]) -> None:
    """Over HTTP: the same answer as the embedded index; a shard down is 503
    shard_unavailable and /healthz "degraded" naming it; answers return with the shard."""
    embedded, _ = engines
    own = [start_xapian_shard(shards / f"shard-{i}") for i in range(2)]
    try:
        env = {"QUOTEBOT_CORPUS": str(corpus), "QUOTEBOT_SEMANTIC": "off",
               "QUOTEBOT_SEARCH_URL": url_of(own)}
        with serve(env=env, timeout=90) as server:
            question = {"question": "who went to New York?"}
            status, body = server.post("/v1/ask", question)
            assert status == 200, body
            expected = embedded.answer_question("who went to New York?")
            assert [(q["doc"], q["start"], q["end"]) for q in body["quotes"]] == [
                (q.doc, q.start, q.end) for q in expected.quotes]
            assert health(server)["status"] == "ok"
            stop_xapian_shard(own[1])
            status, body = server.post("/v1/ask", {"question": "how many stabbings?"})
            assert status == 503 and body["error"]["code"] == "shard_unavailable", body
            assert "shard-1" in body["error"]["message"]
            down = health(server)
            assert down["status"] == "degraded" and "shard-1" in down["reason"], down
            own[1] = start_xapian_shard(shards / "shard-1", port=own[1].port)
            status, body = server.post("/v1/ask", {"question": "how many stabbings?"})
            assert status == 200 and quotes_the_stabbings(body), body
            assert health(server)["status"] == "ok"
    finally:
        for shard in own:
            stop_xapian_shard(shard)


def health(server: Process) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
        found: dict[str, Any] = json.loads(response.read())
    return found


@contextlib.contextmanager
def replication_master(folder: Path) -> Iterator[int]:
    """`xapian-replicate-server` for the shards in ``folder`` (its port), in its own
    session, stopped by its PID."""
    port = free_port()
    master = subprocess.Popen(
        ["xapian-replicate-server", "--interface", "127.0.0.1", "--port", str(port),
         str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=ends_with_this_process)
    try:
        assert wait_until(lambda: can_connect(port), 10, 0.05)
        yield port
    finally:
        if master.poll() is None:
            os.kill(master.pid, signal.SIGTERM)
        master.wait(10)


def replicate(port: int, shard: str, to: Path) -> None:
    """One `xapian-replicate --one-shot` of ``shard`` into ``to``."""
    copied = subprocess.run(
        ["xapian-replicate", "--host", "127.0.0.1", "--port", str(port), "--master", shard,
         "--one-shot", "--timeout", "10", str(to)],
        capture_output=True, text=True, timeout=60, check=False)
    assert copied.returncode == 0, copied.stderr


@requires("xapian-replicate", "xapian-replicate-server")
def test_a_replica_made_by_xapian_replicate_serves_the_same_answers(
        shards: Path, servers: list[Process], engines: tuple[QuoteEngine, QuoteEngine],
        tmp_path: Path, open_shards: OpenShards) -> None:

    replica: Process | None = None
    with replication_master(shards) as port:
        replicate(port, "shard-1", tmp_path / "shard-1")
    try:
        replica = start_xapian_shard(tmp_path / "shard-1")
        embedded, _ = engines
        url = f"xapian://127.0.0.1:{servers[0].port},127.0.0.1:{replica.port}"
        engine = open_shards(url)
        for question in QUESTIONS:
            same_answers(embedded.answer_question(question), engine.answer_question(question))
    finally:
        if replica is not None:
            stop_xapian_shard(replica)


def can_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
    except OSError:
        return False
    return True


_HOLDS_A_SHARD = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from servers import start_xapian_shard
shard = start_xapian_shard(Path(sys.argv[2]))
print(shard.port, flush=True)
time.sleep(300)
"""


def shard_servers(port: int) -> list[int]:
    """The running xapian-tcpsrv processes serving ``port`` (a server and the children it
    forks for connections); a zombie nobody has reaped yet has ended."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if (command[0].endswith(b"xapian-tcpsrv") and str(port).encode() in command
                    and state != "Z"):
                found.append(int(entry))
    return found


def test_a_run_killed_outright_leaves_no_shard_server_behind(shards: Path) -> None:
    """Catches: xapian-tcpsrv servers, in sessions of their own, left running with init as
    their parent when the test run that started them is killed (or cut short by a timeout
    that skips teardown)."""
    import selectors
    import sys

    holder = subprocess.Popen([sys.executable, "-c", _HOLDS_A_SHARD, str(ROOT / "tests"),
                               str(shards / "shard-0")], stdout=subprocess.PIPE, text=True)
    port = 0
    try:
        assert holder.stdout is not None
        # (select.select refuses a descriptor past 1023, which a whole run's pytest reaches)
        with selectors.DefaultSelector() as waiting:
            waiting.register(holder.stdout, selectors.EVENT_READ)
            assert waiting.select(60), "the shard server did not start within 60 s"
        port = int(holder.stdout.readline())
        assert shard_servers(port)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        assert wait_until(lambda: not shard_servers(port), 10, 0.05), shard_servers(port)
        assert not can_connect(port)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        for pid in shard_servers(port) if port else []:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def test_a_connection_the_server_closed_when_idle_is_opened_again(
        shards: Path, engines: tuple[QuoteEngine, QuoteEngine], open_shards: OpenShards) -> None:

    embedded, _ = engines
    own = [start_xapian_shard(shards / f"shard-{i}", options=("--idle-timeout", "300"))
           for i in range(2)]
    try:
        engine = open_shards(url_of(own))
        assert engine.answer_question("how many stabbings?").answered
        time.sleep(1.0)  # the servers close the idle connections after 0.3 s
        same_answers(embedded.answer_question("who went to New York?"),
                     engine.answer_question("who went to New York?"))
    finally:
        for shard in own:
            stop_xapian_shard(shard)


def connections_to(servers: list[Process]) -> int:
    """How many of this process's sockets are connected to ``servers`` (from /proc)."""
    ports = {s.port for s in servers}
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) in ports:
                    inodes.add(f"socket:[{fields[9]}]")
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found += os.readlink(f"/proc/self/fd/{fd}") in inodes
    return found


def test_closing_a_sharded_engine_closes_its_connections_at_once(shards: Path) -> None:
    """Not when the collector gets to it: a server that replaces its engine, or stops,
    leaves no connection to the shard servers behind; closing twice does nothing."""
    from quotebot.bot.answerer import Answerer
    from quotebot.xapian_backend import close_shards, open_sharded_engine

    own = [start_xapian_shard(shards / f"shard-{i}") for i in range(2)]
    try:
        engine = open_sharded_engine(url_of(own))
        assert engine.answer_question("how many stabbings?").answered
        assert connections_to(own) == 2
        close_shards(engine)
        assert connections_to(own) == 0
        close_shards(engine)
        # A question asked afterwards (of an engine replaced under it) is answered, and
        # leaves no connection behind either.
        assert engine.answer_question("who went to New York?").answered
        assert connections_to(own) == 0
        close_shards(engine)
        assert connections_to(own) == 0

        answerer = Answerer.open(None, None, search_url=url_of(own), watch_seconds=0)
        assert answerer.engine.answer_question("how many stabbings?").answered
        assert connections_to(own) == 2
        answerer.close()
        assert connections_to(own) == 0
    finally:
        for shard in own:
            stop_xapian_shard(shard)


def test_shards_of_two_corpora_are_refused(servers: list[Process], tmp_path: Path) -> None:
    from quotebot.xapian_backend import ShardUnavailable, open_sharded_engine

    done = run_cli("index", "--corpus", str(ROOT / "tests" / "fixtures" / "own-articles"),
                   "--out", str(tmp_path), "--shards", "2")
    assert done.returncode == 0, done.stderr
    other = start_xapian_shard(tmp_path / "shard-1")
    try:
        mixed = f"xapian://127.0.0.1:{servers[0].port},127.0.0.1:{other.port}"
        with pytest.raises(ShardUnavailable, match=r"shard-1 .* holds another corpus"):
            open_sharded_engine(mixed)
    finally:
        stop_xapian_shard(other)


def test_every_shard_must_be_named_once_in_order(servers: list[Process]) -> None:
    from quotebot.xapian_backend import ShardUnavailable, open_sharded_engine

    one = f"xapian://127.0.0.1:{servers[0].port}"
    with pytest.raises(ShardUnavailable, match="built as 2 but --search-url names 1"):
        open_sharded_engine(one)
    twice = f"xapian://127.0.0.1:{servers[0].port},127.0.0.1:{servers[0].port}"
    with pytest.raises(ShardUnavailable, match="serves shard-0 but stands in place 2"):
        open_sharded_engine(twice)
    swapped = f"xapian://127.0.0.1:{servers[1].port},127.0.0.1:{servers[0].port}"
    with pytest.raises(ShardUnavailable, match="in order, shard-0 first"):
        open_sharded_engine(swapped)


def test_a_document_lives_on_one_shard_whole(shards: Path, corpus: Path,
                                             engines: tuple[QuoteEngine, QuoteEngine]) -> None:
    import xapian

    index = engines[0].index
    where: dict[str, set[int]] = {}
    total = 0
    for i in range(2):
        db = xapian.Database(str(shards / f"shard-{i}"))
        total += db.get_doccount()
        for post in db.postlist(""):
            data = json.loads(db.get_document(post.docid).get_data())
            where.setdefault(data["doc"], set()).add(i)
            sentence = index.document(data["doc"]).text[data["start"]:data["end"]]
            assert data["text"] == sentence
        db.close()
    assert total == index.n_sentences
    assert sorted(where) == sorted(d.id for d in index.docs)
    assert all(len(found) == 1 for found in where.values()), where
    assert len({next(iter(found)) for found in where.values()}) == 2


def test_sharding_refuses_to_overwrite_a_folder_of_something_else(
        corpus: Path, tmp_path: Path) -> None:
    keep = tmp_path / "shard-0" / "notes.txt"
    keep.parent.mkdir()
    keep.write_text("mine", encoding="utf-8")
    done = run_cli("index", "--corpus", str(corpus), "--out", str(tmp_path), "--shards", "2")
    assert done.returncode != 0
    assert "not a quotebot shard" in done.stderr
    assert keep.read_text(encoding="utf-8") == "mine"


def test_a_search_url_that_is_not_one_is_named(corpus: Path) -> None:
    done = run_cli("ask", "who won?", "--corpus", str(corpus), "--search-url",
                   "http://127.0.0.1:7001")
    assert done.returncode != 0
    assert "xapian://HOST:PORT,HOST:PORT" in done.stderr and "Traceback" not in done.stderr


def test_what_answering_fetches_from_the_shards_is_the_corpus_s_own(
        engines: tuple[QuoteEngine, QuoteEngine]) -> None:
    """Texts, tokens, postings and sentences in ranges, as the answering side reads them
    from the shards, are those of the embedded index (beyond what the questions ask)."""
    embedded, sharded = engines
    local, remote = embedded.index, sharded.index
    assert remote is not local and remote.n_sentences == local.n_sentences
    for position in range(len(local.docs)):
        assert remote.texts(position) == local.texts(position)
    sids = np.arange(local.n_sentences, dtype=np.int64)[::-1]
    for a, b in zip(local.tokens.gather(sids), remote.tokens.gather(sids), strict=True):
        assert a.tolist() == b.tolist()
    assert [local.sentence_tokens(s) for s in range(5)] == [
        remote.sentence_tokens(s) for s in range(5)]
    rng = np.random.default_rng(5)
    lo = rng.integers(0, local.n_sentences, 40)
    hi = lo + rng.integers(0, 12, 40)
    hi = np.minimum(hi, local.n_sentences)
    for term in range(0, len(local.vocab), max(1, len(local.vocab) // 60)):
        terms = [term, (term * 7) % len(local.vocab)]
        assert local.matrix.postings(term).tolist() == remote.matrix.postings(term).tolist()
        assert local.matrix.count_in_ranges(terms, lo, hi).tolist() == (
            remote.matrix.count_in_ranges(terms, lo, hi).tolist())
        assert local.matrix.contains(terms, lo).tolist() == (
            remote.matrix.contains(terms, lo).tolist())


def test_the_compose_shard_servers_serve_what_the_replicas_ask(shards: Path) -> None:
    """deploy/compose.shards.yaml: each shard service's command, run here on the folder its
    volume mounts, serves the shard its place in QUOTEBOT_SEARCH_URL names, and the
    replicas (which wait for healthy shards, with the Xapian client in their image)
    answer from them alone."""
    import yaml

    deploy = ROOT / "deploy"
    compose = yaml.safe_load((deploy / "compose.shards.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    bot = services["quotebot"]
    assert bot["build"]["args"]["EXTRAS"] == "xapian"
    assert 'pip install ".${EXTRAS:+[$EXTRAS]}"' in (deploy / "Dockerfile").read_text(
        encoding="utf-8")
    assert "apt-get install -y --no-install-recommends xapian-tools" in (
        deploy / "Dockerfile.shard").read_text(encoding="utf-8")
    url = bot["environment"]["QUOTEBOT_SEARCH_URL"]
    names = [part.split(":")[0] for part in url.removeprefix("xapian://").split(",")]
    assert names == [f"shard-{i}" for i in range(2)]
    started: dict[str, Process] = {}
    try:
        for name in names:
            service = services[name]
            assert bot["depends_on"][name]["condition"] == "service_healthy"
            assert service["build"]["dockerfile"] == "deploy/Dockerfile.shard"
            command = list(service["command"])
            assert command[:3] == ["xapian-tcpsrv", "--port", url.split(f"{name}:")[1][:4]]
            host_side, inside, _ = service["volumes"][0].split(":")
            assert command[-1] == inside and host_side.startswith("./shards/")
            started[name] = start_xapian_shard(shards / host_side.removeprefix("./shards/"),
                                               options=tuple(command[3:-1]))
        here = url
        for name, shard in started.items():
            here = here.replace(f"{name}:{url.split(f'{name}:')[1][:4]}",
                                f"127.0.0.1:{shard.port}")
        done = run_cli("ask", "how many stabbings?", "--json", "--search-url", here)
        assert done.returncode == 0, done.stderr
        assert quotes_the_stabbings(json.loads(done.stdout))
    finally:
        for shard in started.values():
            stop_xapian_shard(shard)


def test_eval_over_shards_gives_the_embedded_index_s_figures(corpus: Path,
                                                             servers: list[Process]) -> None:
    embedded = run_cli("eval", str(DEFAULT_QA), "--corpus", str(corpus), "--semantic", "off",
                       "--json")
    sharded = run_cli("eval", str(DEFAULT_QA), "--search-url", url_of(servers), "--json")
    assert embedded.returncode == 0 and sharded.returncode == 0, sharded.stderr
    a, b = json.loads(embedded.stdout), json.loads(sharded.stdout)
    a.pop("seconds")
    b.pop("seconds")
    assert a["overall"]["questions"] == len(QUESTIONS) and a == b


def test_small_fetch_batches_and_a_small_store_of_fetched_sentences_change_no_answer(
        engines: tuple[QuoteEngine, QuoteEngine], servers: list[Process],
        monkeypatch: pytest.MonkeyPatch, open_shards: OpenShards) -> None:
    """Fetches split into batches of 3, and what was fetched forgotten beyond 4 sentences
    or paragraphs: the same answers, only more requests."""
    import quotebot.xapian_backend as shards

    monkeypatch.setattr(shards, "_FETCH_BATCH", 3)
    monkeypatch.setattr(shards, "_KEPT_SENTENCES", 4)
    embedded, _ = engines
    sharded = open_shards(url_of(servers))
    for question in QUESTIONS[:8]:
        same_answers(embedded.answer_question(question, k=5),
                     sharded.answer_question(question, k=5))


# -- adding through writable shard servers ---------------------------------------------

MET = ROOT / "index" / "met-police-nypd-visit.txt"


@pytest.fixture
def writable(tmp_path: Path) -> Iterator[tuple[Path, list[Process], list[Process]]]:
    """Two shards of three small articles, each served twice: read-only for answering,
    --writable for adding (one writer at a time, readers beside it)."""
    out = tmp_path / "shards"
    done = run_cli("index", "--corpus", str(ROOT / "tests" / "fixtures" / "own-articles"),
                   "--out", str(out), "--shards", "2")
    assert done.returncode == 0, done.stderr
    readers: list[Process] = []
    writers: list[Process] = []
    try:
        for i in range(2):
            readers.append(start_xapian_shard(out / f"shard-{i}"))
            writers.append(start_xapian_shard(out / f"shard-{i}", options=("--writable",)))
        yield out, readers, writers
    finally:
        for shard in readers + writers:
            stop_xapian_shard(shard)


def revisions(out: Path) -> list[str]:
    import xapian

    found = []
    for i in range(2):
        db = xapian.Database(str(out / f"shard-{i}"))
        found.append(db.get_metadata("quotebot.revision").decode())
        db.close()
    return found


def test_a_document_added_through_writable_shards_is_answered_by_every_reader(
        corpus: Path, writable: tuple[Path, list[Process], list[Process]],
        open_shards: OpenShards) -> None:
    """`quotebot add --search-url` puts the article on the shard its id hashes to and the
    corpus's statistics on both: a new `ask` answers about it as the embedded index of
    the four articles does (the same quotes and scores), a server that was answering
    from the shards before answers about it within seconds, an engine opened before
    reads the new corpus, and the older articles are answered as before."""
    from quotebot.xapian_backend import newer_engine, shard_of

    out, readers, writers = writable
    read_url, write_url = url_of(readers), url_of(writers)
    before = open_shards(read_url)
    assert not before.answer_question("how many stabbings?").answered
    assert newer_engine(before) is None
    embedded = QuoteEngine.open(corpus, semantic="off")
    with serve(env={"QUOTEBOT_SEARCH_URL": read_url, "QUOTEBOT_SEMANTIC": "off"},
               timeout=90) as server:
        status, body = server.post("/v1/ask", {"question": "how many stabbings?"})
        assert status == 200 and not body["answered"], body
        added = run_cli("add", str(MET), "--search-url", write_url, "--json")
        assert added.returncode == 0, added.stderr
        assert json.loads(added.stdout) == {
            "doc": "met-police-nypd-visit", "title": "Met police nypd visit",
            "sentences": embedded.index.docs[embedded.index.doc_position(
                "met-police-nypd-visit")].sentences}
        target = shard_of("met-police-nypd-visit", 2)
        assert revisions(out) == ["1", "1"]

        asked = run_cli("ask", "how many stabbings?", "--json", "--search-url", read_url)
        assert asked.returncode == 0, asked.stderr
        body = json.loads(asked.stdout)
        expected = embedded.answer_question("how many stabbings?")
        assert quotes_the_stabbings(body)
        assert [(q["doc"], q["start"], q["end"], q["text"]) for q in body["quotes"]] == [
            (q.doc, q.start, q.end, q.text) for q in expected.quotes]
        assert [q["score"] for q in body["quotes"]] == pytest.approx(
            [q.score for q in expected.quotes], abs=1.01e-4)
        text = embedded.document("met-police-nypd-visit").text
        assert all(text[q["start"]:q["end"]] == q["text"] for q in body["quotes"])

        def served() -> bool:
            status, body = server.post("/v1/ask", {"question": "how many stabbings?"})
            return status == 200 and quotes_the_stabbings(body)

        assert wait_until(served, 20, 0.2)

    after = newer_engine(before)
    assert after is not None and newer_engine(after) is None
    for question in ("how many stabbings?", "who won the cup final?",
                     "how long is the tram extension?"):
        same_answers(embedded.answer_question(question), after.answer_question(question))
    # Only the shard the id hashes to holds the article's sentences.
    import xapian

    held = []
    for i in range(2):
        db = xapian.Database(str(out / f"shard-{i}"))
        held.append({json.loads(db.get_document(p.docid).get_data())["doc"]
                     for p in db.postlist("")})
        db.close()
    assert ["met-police-nypd-visit" in docs for docs in held] == [i == target
                                                                  for i in range(2)]


def test_adding_to_shards_that_are_not_writable_is_one_clear_line_and_changes_nothing(
        writable: tuple[Path, list[Process], list[Process]]) -> None:
    out, readers, writers = writable
    done = run_cli("add", str(MET), "--search-url", url_of(readers))
    assert done.returncode != 0 and not done.stdout.strip()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "shard-0" in lines[0] and "does not take writes" in lines[0]
    assert "xapian-tcpsrv --writable" in lines[0]
    # One shard writable, the other not: still nothing written to either.
    mixed = f"xapian://127.0.0.1:{writers[0].port},127.0.0.1:{readers[1].port}"
    done = run_cli("add", str(MET), "--search-url", mixed, "--json")
    assert done.returncode != 0
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "shard_not_writable" and "shard-1" in error["message"]
    assert revisions(out) == ["0", "0"]


def test_a_second_add_while_one_is_writing_is_told_to_wait(
        writable: tuple[Path, list[Process], list[Process]]) -> None:
    import xapian

    out, _, writers = writable
    holding = xapian.remote_open_writable("127.0.0.1", writers[1].port, 10000, 2000)
    try:
        done = run_cli("add", str(MET), "--search-url", url_of(writers))
        assert done.returncode != 0
        assert "shard-1" in done.stderr and "being written by another" in done.stderr
    finally:
        holding.close()
    assert revisions(out) == ["0", "0"]
    done = run_cli("add", str(MET), "--search-url", url_of(writers))
    assert done.returncode == 0, done.stderr
    assert revisions(out) == ["1", "1"]


def test_an_add_stopped_between_its_commits_is_refused_by_readers_and_completed_by_the_next(
        writable: tuple[Path, list[Process], list[Process]],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, open_shards: OpenShards) -> None:
    """The connection to the second shard to commit fails after the first committed: the
    shards are at two revisions, which readers refuse (after waiting for them to agree)
    rather than answer from; the next add brings the shard behind up, then adds its own
    document, and both documents are answered as by the embedded index."""
    import xapian

    import quotebot.xapian_backend as shards
    from quotebot.models import Document
    from quotebot.xapian_backend import ShardUnavailable, add_to_shards, open_sharded_engine

    out, readers, writers = writable
    monkeypatch.setattr(shards, "SETTLE_S", 0.3)
    real = shards._set_corpus
    written: list[int] = []

    def fails_on_the_second(db: Any, *args: Any) -> None:
        written.append(args[4])
        if len(written) == 2:
            raise xapian.NetworkError("connection reset by peer")
        real(db, *args)

    met = Document("met-police-nypd-visit", "Met police nypd visit",
                   MET.read_text(encoding="utf-8"))
    with monkeypatch.context() as patch:
        patch.setattr(shards, "_set_corpus", fails_on_the_second)
        with pytest.raises(ShardUnavailable, match="run the same `quotebot add` again"):
            add_to_shards(url_of(writers), [met])
    target = shards.shard_of(met.id, 2)
    assert written[0] == target
    assert revisions(out)[target] == "1" and revisions(out)[1 - target] == "0"
    with pytest.raises(ShardUnavailable, match="different revisions"):
        open_sharded_engine(url_of(readers))

    note = tmp_path / "harbour-note.txt"
    note.write_text("The harbour wall was rebuilt in 2019 by a crew of 40 masons.\n",
                    encoding="utf-8")
    done = run_cli("add", str(note), "--search-url", url_of(writers))
    assert done.returncode == 0, done.stderr
    assert revisions(out) == ["2", "2"]
    both = tmp_path / "both"
    shutil.copytree(ROOT / "tests" / "fixtures" / "own-articles", both)
    shutil.copy(MET, both)
    shutil.copy(note, both)
    embedded = QuoteEngine.open(both, semantic="off")
    sharded = open_shards(url_of(readers))
    for question in ("how many stabbings?", "who rebuilt the harbour wall?",
                     "how many masons?", "who won the cup final?"):
        same_answers(embedded.answer_question(question), sharded.answer_question(question))


def test_killing_a_shard_under_load_gives_whole_answers_or_refusals_and_answers_return(
        shards: Path, engines: tuple[QuoteEngine, QuoteEngine]) -> None:
    """Three clients ask `serve` questions without pause while one shard server (and its
    connections' processes) is killed with SIGKILL and started again: every reply is the
    embedded index's whole answer or 503 shard_unavailable — never an answer from the
    shard left — and once the shard is back, every reply is an answer again."""
    import re
    import threading

    embedded, _ = engines
    words = sorted({w.lower() for position in range(len(embedded.index.docs))
                    for w in re.findall(r"[A-Za-z]{5,}", embedded.index.texts(position))})
    questions = QUESTIONS + [f"what does it say about {w}?" for w in words[:240]]
    expected = {q: embedded.answer_question(q) for q in questions}
    own = [start_xapian_shard(shards / f"shard-{i}") for i in range(2)]
    replies: list[tuple[str, str, int, Any]] = []  # (phase, question, status, body)
    phase = ["up"]
    done = threading.Event()

    def client(first: int) -> None:
        i = first
        while not done.is_set() and i < first + 10 * len(questions):
            question = questions[i % len(questions)]
            at = phase[0]
            status, body = server.post("/v1/ask", {"question": question}, timeout=30)
            replies.append((at if at == phase[0] else "changing", question, status, body))
            i += 1

    def count(wanted: str, status: int | None = None) -> int:
        return sum(1 for at, _, s, _ in replies if at == wanted and status in (None, s))

    try:
        env = {"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_SEARCH_URL": url_of(own)}
        with serve(env=env, timeout=90) as server:
            clients = [threading.Thread(target=client, args=(n * 97,)) for n in range(3)]
            for thread in clients:
                thread.start()
            try:
                assert wait_until(lambda: count("up") >= 15, 60, 0.05)
                phase[0] = "down"
                os.killpg(own[1].proc.pid, signal.SIGKILL)  # the server and its children
                own[1].proc.wait(10)
                assert wait_until(lambda: count("down", 503) >= 5, 60, 0.05)
                phase[0] = "back"
                own[1] = start_xapian_shard(shards / "shard-1", port=own[1].port)
                assert wait_until(lambda: count("back", 200) >= 30, 90, 0.05)
            finally:
                done.set()
                for thread in clients:
                    thread.join(60)
    finally:
        for shard in own:
            stop_xapian_shard(shard)
    for at, question, status, body in replies:
        if status == 503:
            assert body["error"]["code"] == "shard_unavailable", body
            assert at != "up", (question, body)
            continue
        assert status == 200, (at, question, status, body)
        want = expected[question]
        assert (body["answered"], body["answer"]) == (
            want.answered, want.short.text if want.short else None), question
        assert [(q["doc"], q["start"], q["end"]) for q in body["quotes"]] == [
            (q.doc, q.start, q.end) for q in want.quotes], question
    # Once the shard was back and answering, nothing was refused any more.
    back = [status for at, _, status, _ in replies if at == "back"]
    first_answer = back.index(200)
    assert all(status == 200 for status in back[first_answer:]), back


@requires("xapian-replicate", "xapian-replicate-server")
def test_a_replica_brought_up_to_date_answers_about_a_document_added_after_it_was_made(
        writable: tuple[Path, list[Process], list[Process]],
        engines: tuple[QuoteEngine, QuoteEngine], tmp_path: Path, open_shards: OpenShards) -> None:
    """The shard the added article goes to is replicated before the add and again after:
    the replica, with the other shard's server, answers the four articles as the embedded
    index does (the add's documents and lexicon travel with the database)."""
    from quotebot.xapian_backend import shard_of

    out, readers, writers = writable
    target = shard_of("met-police-nypd-visit", 2)
    copy = tmp_path / "replica" / f"shard-{target}"
    copy.parent.mkdir()
    with replication_master(out) as port:
        replicate(port, f"shard-{target}", copy)
        done = run_cli("add", str(MET), "--search-url", url_of(writers))
        assert done.returncode == 0, done.stderr
        replicate(port, f"shard-{target}", copy)
    replica = start_xapian_shard(copy)
    try:
        servers = [replica if i == target else readers[i] for i in range(2)]
        engine = open_shards(url_of(servers))
        embedded, _ = engines
        assert engine.answer_question("how many stabbings?").answered
        for question in QUESTIONS[:12]:
            same_answers(embedded.answer_question(question), engine.answer_question(question))
    finally:
        stop_xapian_shard(replica)


def test_shards_written_a_document_at_a_time_are_those_of_the_whole_index(
        corpus: Path, tmp_path: Path) -> None:
    """`quotebot index --shards` reads and analyses the corpus a batch of documents at a
    time: with batches of one document, every shard holds the same sentences (terms,
    frequencies, data), texts and lexicon as shards written from the index built at
    once."""
    import xapian

    from quotebot.corpus import iter_corpus, load_corpus
    from quotebot.store.build import build_index
    from quotebot.store.lexicon import read_lexicon
    from quotebot.xapian_backend import write_shards

    whole = write_shards(build_index(load_corpus(corpus)), tmp_path / "whole", 2)
    streamed = write_shards(iter_corpus(corpus), tmp_path / "streamed", 2, batch_chars=1)
    assert streamed["sentences"] == whole["sentences"]
    for i in range(2):
        a = xapian.Database(str(tmp_path / "whole" / f"shard-{i}"))
        b = xapian.Database(str(tmp_path / "streamed" / f"shard-{i}"))
        assert a.get_doccount() == b.get_doccount() > 0
        for post in a.postlist(""):
            ours, theirs = a.get_document(post.docid), b.get_document(post.docid)
            assert json.loads(ours.get_data()) == json.loads(theirs.get_data())
            assert [(t.term, t.wdf) for t in ours.termlist()] == [
                (t.term, t.wdf) for t in theirs.termlist()]
        keys = list(a.metadata_keys())
        assert keys == list(b.metadata_keys())
        for key in keys:
            if not key.startswith(b"quotebot.lexicon."):
                assert a.get_metadata(key) == b.get_metadata(key), key
        parts = int(a.get_metadata("quotebot.lexicon.parts"))
        x, y = (read_lexicon(b"".join(bytes(db.get_metadata(f"quotebot.lexicon.{j}"))
                                      for j in range(parts))) for db in (a, b))
        assert_same_lexicon(y, x)
        a.close()
        b.close()


def test_a_repl_answering_from_shards_answers_a_document_added_while_it_runs(
        writable: tuple[Path, list[Process], list[Process]]) -> None:
    """The REPL asks the shards before each question whether they hold a newer corpus:
    the article added between two questions is quoted by the second."""
    import queue
    import sys
    import threading

    _, readers, writers = writable
    repl = subprocess.Popen(
        [sys.executable, "-m", "quotebot", "repl", "--search-url", url_of(readers)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        bufsize=1)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert repl.stdout is not None
        for line in repl.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()

    def answer_to(question: str) -> str:
        """Everything the REPL prints for ``question``, up to the blank line after it."""
        assert repl.stdin is not None
        repl.stdin.write(question + "\n")
        repl.stdin.flush()
        printed: list[str] = []
        while not printed or printed[-1].strip() or len(printed) < 3:
            printed.append(lines.get(timeout=60))
        return "".join(printed)

    try:
        assert "72" not in answer_to("how many stabbings?")
        done = run_cli("add", str(MET), "--search-url", url_of(writers))
        assert done.returncode == 0, done.stderr
        after = answer_to("how many stabbings?")
        # The quote answers (a short answer is shown only when the gate is sure enough).
        assert "72 fatal stabbings" in after and "[met-police-nypd-visit ¶9 s15]" in after, after
    finally:
        assert repl.stdin is not None
        repl.stdin.close()
        repl.wait(30)


# -- reranking by meaning over shards ----------------------------------------------------


def test_shards_with_vectors_rerank_by_meaning_as_the_embedded_index_also_after_an_add(
        corpus: Path, tmp_path: Path, open_shards: OpenShards) -> None:
    """`quotebot index --shards 2 --semantic on` stores each sentence's vectors (its own,
    its window's, its paragraph's) in the shards, and `quotebot add` those of the article
    it adds: an engine answering from the shards alone reranks by meaning, and gives every
    shipped question the answer the embedded index of the four articles gives with
    meaning on."""

    out = tmp_path / "shards"
    done = run_cli("index", "--corpus", str(ROOT / "tests" / "fixtures" / "own-articles"),
                   "--out", str(out), "--shards", "2", "--semantic", "on")
    assert done.returncode == 0, done.stderr
    started: list[Process] = []
    try:
        for i in range(2):
            started.append(start_xapian_shard(out / f"shard-{i}"))
            started.append(start_xapian_shard(out / f"shard-{i}", options=("--writable",)))
        readers, writers = started[0::2], started[1::2]
        added = run_cli("add", str(MET), "--search-url", url_of(writers))
        assert added.returncode == 0, added.stderr
        embedded = QuoteEngine.open(corpus, index_dir=tmp_path / "index", semantic="on")
        sharded = open_shards(url_of(readers), "on")
        assert embedded.semantic and sharded.semantic
        for question in QUESTIONS:
            same_answers(embedded.answer_question(question, k=5),
                         sharded.answer_question(question, k=5))
    finally:
        for shard in started:
            stop_xapian_shard(shard)


def test_meaning_asked_of_shards_without_vectors_is_one_clear_line(
        servers: list[Process]) -> None:
    done = run_cli("ask", "who went to New York?", "--search-url", url_of(servers),
                   "--semantic", "on")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "built without vectors" in lines[0], lines
    assert "--semantic on" in lines[0]
    auto = run_cli("ask", "how many stabbings?", "--search-url", url_of(servers), "--json")
    assert auto.returncode == 0 and quotes_the_stabbings(json.loads(auto.stdout))


@requires("shared")
def test_every_super_bowl_50_question_is_answered_over_shards_as_by_the_embedded_index(
        corpus: Path, tmp_path: Path, open_shards: OpenShards) -> None:
    """The Super Bowl 50 article beside the four others, on two shard servers: each of
    its 405 SQuAD questions retrieves the same candidates with the same scores (to 1e-6)
    and gets the same answer as from the embedded index."""
    from quotebot.evaluate import load_cases

    from conftest import SHARED

    squad = SHARED / "benchmarks" / "squad-superbowl50"
    both = tmp_path / "corpus"
    shutil.copytree(corpus, both)
    shutil.copy(squad / "super-bowl-50.txt", both)
    done = run_cli("index", "--corpus", str(both), "--out", str(tmp_path / "shards"),
                   "--shards", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert min(json.loads(done.stdout)["sentences"]) > 0
    cases, _, _ = load_cases(squad / "questions.json")
    assert len(cases) == 405
    own = [start_xapian_shard(tmp_path / "shards" / f"shard-{i}") for i in range(2)]
    try:
        embedded = QuoteEngine.open(both, index_dir=tmp_path / "index", semantic="off")
        sharded = open_shards(url_of(own))
        index, backend = embedded.index, sharded.search
        for case in cases:
            groups = plan_question(parse_question(case.question), index,
                                   embedded.tuning).groups()
            ids, scores = index.top_sentences(groups, 60)
            remote_ids, remote_scores = backend.top_sentences(groups, 60)
            assert ids.tolist() == remote_ids.tolist(), case.question
            assert np.allclose(scores, remote_scores, rtol=1e-6, atol=1e-6), case.question
            same_answers(embedded.answer_question(case.question),
                         sharded.answer_question(case.question))
    finally:
        for shard in own:
            stop_xapian_shard(shard)
