"""Answering apart from the event loop: `quotebot serve` answers questions in processes of
their own, so /healthz is answered while answering is saturated, and a process that dies
is replaced."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import random
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from quotebot.bot.answer_processes import AnswerProcesses, Opening
from quotebot.bot.answerer import Answerer, corpus_turn
from quotebot.session import SessionState, follow_up

from conftest import quotes_the_stabbings
from servers import descendants, serve, wait_until

pytestmark = pytest.mark.slow

TICKS = os.sysconf("SC_CLK_TCK")
WORDS = ("harbour council budget river bridge school teacher market farmer winter station "
         "railway engineer museum painting library novel doctor hospital patient mayor "
         "election voter festival concert orchestra stadium player coach season factory "
         "worker strike union miner village mountain forest ranger storm flood rescue").split()


def write_corpus(folder: Path, sentences: int) -> None:
    """Articles of ``sentences`` plain sentences made of :data:`WORDS` (seeded)."""
    rng = random.Random(22)
    folder.mkdir()
    for n in range(sentences // 100):
        lines = []
        for _ in range(100):
            words = rng.sample(WORDS, 9)
            lines.append(f"The {words[0]} of the {words[1]} met {rng.randint(2, 999)} "
                         f"{words[2]}s near the {words[3]} and the {words[4]} after the "
                         f"{words[5]} {words[6]} told the {words[7]} about the {words[8]}.")
        paragraphs = "\n\n".join(" ".join(lines[i:i + 5]) for i in range(0, 100, 5))
        (folder / f"article-{n:03d}.txt").write_text(f"Article {n}\n\n{paragraphs}\n")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def answering_processes(pid: int) -> list[int]:
    """The server's answering processes (each names itself quotebot-answer)."""
    named = []
    for child in descendants(pid):
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() == "quotebot-answer":
                named.append(child)
        except OSError:
            continue
    return named


def health_of(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url + "/healthz", timeout=20) as reply:
        found: dict[str, object] = json.loads(reply.read())
    return found


def ask(url: str, question: str, timeout: float = 30, k: int = 3
        ) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url + "/v1/ask", method="POST",
                                     data=json.dumps({"question": question, "k": k}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_healthz_is_answered_while_answering_is_saturated_and_answers_run_apart(
        tmp_path: Path) -> None:
    """Catches: answering on the server's event loop process (a thread of it), where every
    answer takes turns with /healthz for the interpreter lock, and an answering process
    that competes with the event loop for a core at the same priority. While 16 clients
    keep the answering process busy, /healthz is answered again and again, "ok", and the
    CPU of the answers is spent in the answering process, not in the process serving
    HTTP."""
    write_corpus(tmp_path / "corpus", 3000)
    rng = random.Random(7)
    questions = [f"why did the {a} and the {b} tell the {c} about {d} {e}?"
                 for a, b, c, d, e in (rng.sample(WORDS, 5) for _ in range(400))]
    env = {"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_RATE_LIMIT_IP": "0",
           "QUOTEBOT_CORPUS": str(tmp_path / "corpus"),
           "QUOTEBOT_INDEX": str(tmp_path / "index")}
    with serve(env=env, timeout=120) as server:
        pid = server.proc.pid
        # The server answers at once, itself until its answering process is ready.
        assert ask(server.url, questions[0])[0] == 200
        assert wait_until(lambda: health_of(server.url)["answer_processes"] == 1, 60)
        answering = answering_processes(pid)
        assert len(answering) == 1, server.log()
        # It yields the cores to the event loop: a session (a CPU group) of its own, batch
        # work, ten steps nicer (the default).
        assert os.getsid(answering[0]) not in (os.getsid(pid), os.getsid(0))
        assert os.sched_getscheduler(answering[0]) == os.SCHED_BATCH
        assert os.getpriority(os.PRIO_PROCESS, answering[0]) == min(
            19, os.getpriority(os.PRIO_PROCESS, pid) + 10)
        assert ask(server.url, questions[1])[0] == 200  # reads what later answers share
        serving_before = cpu_seconds(pid)
        answering_before = cpu_seconds(answering[0])
        statuses: list[int] = []
        health: list[dict[str, object]] = []
        asking = threading.Event()
        asking.set()

        def poll() -> None:
            while asking.is_set():
                health.append(health_of(server.url))
                time.sleep(0.05)

        poller = threading.Thread(target=poll)
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            poller.start()
            try:
                statuses = [s for s, _ in pool.map(lambda q: ask(server.url, q), questions)]
            finally:
                asking.clear()
                poller.join(30)
        serving = cpu_seconds(pid) - serving_before
        answered = cpu_seconds(answering[0]) - answering_before
        log = server.log()
    assert statuses == [200] * len(questions), log
    # /healthz came back all along (each within its bounded wait), never held until the
    # questions were done.
    assert len(health) >= 10
    assert {h["status"] for h in health} == {"ok"}
    # The answers' work was done apart from the process serving HTTP.
    print(f"\nwhile saturated: answering process {answered:.2f} s of CPU, serving process "
          f"{serving:.2f} s; /healthz answered {len(health)} times")
    assert answered > serving, (answered, serving)
    assert "Traceback" not in log


def test_a_question_whose_answering_process_died_is_one_sentence_and_the_next_is_answered(
        ) -> None:
    """Catches: a server that hangs, or answers 500 with a traceback for ever, once its
    answering process is killed (out of memory, by an operator), and `--answer-nice 0`
    not heard (a process nicer than the server, or its replacement)."""
    # As nice as the server (--answer-nice 0), the one started in its place too.
    env = {"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_RATE_LIMIT_IP": "0",
           "QUOTEBOT_ANSWER_NICE": "0"}
    with serve(env=env) as server:
        assert wait_until(lambda: health_of(server.url)["answer_processes"] == 1, 60)
        status, body = ask(server.url, "how many stabbings?")
        assert status == 200 and quotes_the_stabbings(body)
        (answering,) = answering_processes(server.proc.pid)
        nice = os.getpriority(os.PRIO_PROCESS, server.proc.pid)
        assert os.getpriority(os.PRIO_PROCESS, answering) == nice
        os.kill(answering, signal.SIGKILL)
        status, body = ask(server.url, "how many shootings?")
        if status != 200:
            assert status == 503, body
            error = body["error"]
            assert isinstance(error, dict) and error["code"] == "answering_stopped"
            assert str(error["message"]).endswith("please ask again.")
        replies: list[tuple[int, dict[str, object]]] = []
        # Each with another k: a first question asked before is answered from memory.
        assert wait_until(lambda: replies.append(ask(server.url, "how many stabbings?",
                                                     k=len(replies) + 4))
                          or replies[-1][0] == 200, timeout=60, step=0.5), replies
        assert quotes_the_stabbings(replies[-1][1])
        # Another process takes the questions again.
        assert wait_until(lambda: health_of(server.url)["answer_processes"] == 1, 60)
        (again,) = answering_processes(server.proc.pid)
        assert again != answering
        assert os.getpriority(os.PRIO_PROCESS, again) == nice
        status, body = ask(server.url, "how many stabbings?", k=2)
        assert status == 200 and quotes_the_stabbings(body)
        log = server.log()
    assert "Traceback" not in log


def asked_and_heard(port: int, question: str, k: int = 50) -> socket.socket:
    """A client that asked ``question`` and whose request the server's handler began (it
    said "100 Continue"); the answer is still to read from it."""
    body = json.dumps({"question": question, "k": k}).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    sock.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 100 "), head
    return sock


def status_of_reply(sock: socket.socket) -> int:
    """The status of the answer ``sock``'s client waits for (after "100 Continue")."""
    with sock, sock.makefile("rb") as reply:
        line = reply.readline()
        while line in (b"\r\n", b"") or line.startswith(b"HTTP/1.1 100 "):
            assert line, "the server closed the connection"
            line = reply.readline()
        return int(line.split()[1])


def test_a_question_whose_client_hung_up_is_not_answered_and_holds_up_no_one(
        tmp_path: Path) -> None:
    """Catches: a question that waits for its turn to be answered still answered in full
    after its client hung up (aiohttp leaves a handler running when its client goes
    away), so that the next client's question waits for it too. One answering process
    holds two questions (the one it answers and the next); four more costly questions
    wait, and their clients hang up: the next ordinary question waits for the two held
    only, in CPU time of the answering process (which holds under load)."""
    write_corpus(tmp_path / "corpus", 100_000)
    rng = random.Random(5)

    def costly() -> str:  # each new: an answer asked before is given from memory
        return "who told the " + " and the ".join(rng.sample(WORDS, 40)) + "?"

    env = {"QUOTEBOT_SEMANTIC": "off", "QUOTEBOT_RATE_LIMIT_IP": "0",
           "QUOTEBOT_CORPUS": str(tmp_path / "corpus"),
           "QUOTEBOT_INDEX": str(tmp_path / "index")}
    with serve(env=env, timeout=240) as server:
        assert wait_until(lambda: health_of(server.url)["answer_processes"] == 1, 120)
        (answering,) = answering_processes(server.proc.pid)
        assert ask(server.url, costly(), k=50, timeout=120)[0] == 200  # pages read once
        before = cpu_seconds(answering)
        assert ask(server.url, costly(), k=50, timeout=120)[0] == 200
        one_costly = cpu_seconds(answering) - before
        held = [asked_and_heard(server.port, costly()) for _ in range(2)]
        for _ in range(4):
            asked_and_heard(server.port, costly()).close()  # its client hangs up
        assert wait_until(lambda: server.metric(
            "quotebot_http_requests_total", route="/v1/ask", method="POST",
            status="499") == 4, 60, 0.05), server.log()
        before = cpu_seconds(answering)
        status, body = ask(server.url, "how many farmers met the mayor?", timeout=120)
        waited = cpu_seconds(answering) - before
        assert status == 200 and body["answered"], body
        assert [status_of_reply(sock) for sock in held] == [200, 200]
        log = server.log()
    print(f"\none costly question: {one_costly:.2f} s of CPU; the next ordinary question "
          f"waited {waited:.2f} s of the answering process's CPU")
    # Two costly questions (the two held), not six (and the four whose clients hung up).
    assert waited < 4 * one_costly, (waited, one_costly)
    assert "Traceback" not in log


def test_answers_from_a_process_are_the_ones_given_here_and_askers_who_left_free_its_place(
        tmp_path: Path) -> None:
    """Catches: answers that differ from the engine's own once they travel (a conversation
    state lost on the way), and a process whose place is never given back when the asker
    of a question it holds went away (a client that hung up): the questions after it
    would wait for ever."""
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 200)
    index = tmp_path / "index"
    here = Answerer.open(str(corpus), str(index), semantic="off", watch_seconds=0)
    questions = [f"how many {a}s met the {b}?" for a, b in zip(WORDS[:8], WORDS[8:16], strict=True)]
    expected = []
    state = SessionState()
    for question in questions[:3]:  # a conversation: each turn follows the one before
        answer, state = follow_up(here.engine, state, question)
        expected.append(answer.to_json())
    alone = [follow_up(here.engine, SessionState(), q)[0].to_json() for q in questions[3:]]
    here.close()

    async def ask_apart() -> tuple[list[object], list[object], list[object]]:
        processes = AnswerProcesses(Opening(str(corpus), str(index), "off", 0.0, None, None))
        processes.start()
        try:
            for _ in range(600):  # bounded: 60 s for the process to open the index
                if processes.ready:
                    break
                await asyncio.sleep(0.1)
            assert processes.ready == 1
            turns: list[object] = []
            state = SessionState()
            for question in questions[:3]:
                answer, state = await processes.call(corpus_turn, (state, question, 3, {}))
                turns.append(answer.to_json())
            asked = [asyncio.ensure_future(processes.call(corpus_turn,
                                                          (SessionState(), q, 3, {})))
                     for q in questions[3:]]
            await asyncio.sleep(0)
            for left in asked[:3]:
                left.cancel()  # their askers went away: one is sent, others wait
            outcomes = await asyncio.gather(*asked, return_exceptions=True)
            # The process answers again, as many times as it has places.
            after = [await processes.call(corpus_turn, (SessionState(), q, 3, {}))
                     for q in questions[3:]]
            return turns, list(outcomes), [a.to_json() for a, _ in after]
        finally:
            processes.close()

    turns, outcomes, after = asyncio.run(ask_apart())
    assert turns == expected
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes[:3])
    assert [o[0].to_json() for o in outcomes[3:]] == alone[3:]  # type: ignore[index]
    assert after == alone


def test_a_server_stopped_while_a_process_starts_leaves_that_process_its_socket(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches: the process's end of the socket closed while it is being sent to the fork
    server, when the start is cancelled (a server that could not listen stops as its
    processes start). The process then got whatever file came next under that number and
    printed a traceback ("Socket operation on non-socket") below the server's one-line
    error. Here sending takes half a second, as it can on a busy machine; the process must
    start all the same and exit quietly once it finds the server gone."""
    import multiprocessing.context

    corpus = tmp_path / "corpus"
    write_corpus(corpus, 100)
    index = tmp_path / "index"
    Answerer.open(str(corpus), str(index), semantic="off", watch_seconds=0).close()
    sent: list[multiprocessing.process.BaseProcess] = []
    real_start = multiprocessing.context.ForkServerProcess.start

    def slow_start(process: multiprocessing.process.BaseProcess) -> None:
        time.sleep(0.5)
        sent.append(process)
        real_start(process)

    monkeypatch.setattr(multiprocessing.context.ForkServerProcess, "start", slow_start)

    async def stop_while_starting() -> None:
        processes = AnswerProcesses(Opening(str(corpus), str(index), "off", 0.0, None, None))
        processes.start()
        await asyncio.sleep(0.1)  # its start is in a thread, sending
        processes.close()
        # Leaving: asyncio.run cancels the start, as a stopping server's loop does.

    asyncio.run(stop_while_starting())
    assert len(sent) == 1
    assert sent[0].pid is not None, "the process was never started"
    sent[0].join(60)
    assert sent[0].exitcode == 0
