"""The sentence index on Xapian remote shards: two real `xapian-tcpsrv` servers on
127.0.0.1, and nothing else of the corpus, answer every question of the shipped question
set with the same quotes, in the same order and with the same scores as the embedded
index; a shard that is down gives a clear error, never an answer from part of the
corpus."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quotebot.engine import QuoteEngine
from quotebot.index import DEFAULT_QA
from quotebot.plan import plan_question
from quotebot.question import parse_question
from quotebot.session import Session

from conftest import ROOT, quotes_the_stabbings, requires, run_cli
from fake_bot_api import free_port
from servers import Process, serve, start_xapian_shard, stop_xapian_shard, wait_until

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
            ) -> tuple[QuoteEngine, QuoteEngine]:
    from quotebot.xapian_backend import open_sharded_engine

    embedded = QuoteEngine.open(corpus, index_dir=tmp_path_factory.mktemp("index"),
                                semantic="off")
    return embedded, open_sharded_engine(url_of(servers))


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
        corpus: Path, shards: Path, engines: tuple[QuoteEngine, QuoteEngine]) -> None:
    from quotebot.xapian_backend import ShardUnavailable, open_sharded_engine

    embedded, _ = engines
    own = [start_xapian_shard(shards / f"shard-{i}") for i in range(2)]
    try:
        url = url_of(own)
        engine = open_sharded_engine(url)
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


@requires("xapian-replicate", "xapian-replicate-server")
def test_a_replica_made_by_xapian_replicate_serves_the_same_answers(
        shards: Path, servers: list[Process], engines: tuple[QuoteEngine, QuoteEngine],
        tmp_path: Path) -> None:
    from quotebot.xapian_backend import open_sharded_engine

    port = free_port()
    master = subprocess.Popen(
        ["xapian-replicate-server", "--interface", "127.0.0.1", "--port", str(port),
         str(shards)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    replica: Process | None = None
    try:
        assert wait_until(lambda: can_connect(port), 10, 0.05)
        copied = subprocess.run(
            ["xapian-replicate", "--host", "127.0.0.1", "--port", str(port), "--master",
             "shard-1", "--one-shot", "--timeout", "10", str(tmp_path / "shard-1")],
            capture_output=True, text=True, timeout=60, check=False)
        assert copied.returncode == 0, copied.stderr
        replica = start_xapian_shard(tmp_path / "shard-1")
        embedded, _ = engines
        url = f"xapian://127.0.0.1:{servers[0].port},127.0.0.1:{replica.port}"
        engine = open_sharded_engine(url)
        for question in QUESTIONS:
            same_answers(embedded.answer_question(question), engine.answer_question(question))
    finally:
        if replica is not None:
            stop_xapian_shard(replica)
        if master.poll() is None:
            os.kill(master.pid, signal.SIGTERM)
        master.wait(10)


def can_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
    except OSError:
        return False
    return True


def test_a_connection_the_server_closed_when_idle_is_opened_again(
        shards: Path, engines: tuple[QuoteEngine, QuoteEngine]) -> None:
    from quotebot.xapian_backend import open_sharded_engine

    embedded, _ = engines
    own = [start_xapian_shard(shards / f"shard-{i}", options=("--idle-timeout", "300"))
           for i in range(2)]
    try:
        engine = open_sharded_engine(url_of(own))
        assert engine.answer_question("how many stabbings?").answered
        time.sleep(1.0)  # the servers close the idle connections after 0.3 s
        same_answers(embedded.answer_question("who went to New York?"),
                     engine.answer_question("who went to New York?"))
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
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetches split into batches of 3, and what was fetched forgotten beyond 4 sentences
    or paragraphs: the same answers, only more requests."""
    import quotebot.xapian_backend as shards

    monkeypatch.setattr(shards, "_FETCH_BATCH", 3)
    monkeypatch.setattr(shards, "_KEPT_SENTENCES", 4)
    embedded, _ = engines
    sharded = shards.open_sharded_engine(url_of(servers))
    for question in QUESTIONS[:8]:
        same_answers(embedded.answer_question(question, k=5),
                     sharded.answer_question(question, k=5))
