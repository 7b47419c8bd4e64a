"""Health and metrics: ``GET /healthz`` and ``GET /metrics``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .http_common import (
    ANSWERER,
    CONFIG,
    METRICS,
    STORE,
    dumps_json,
)


async def healthz(request: web.Request) -> web.Response:
    """"ok", or "degraded" with the reason while answers go on without what was configured
    (Redis unreachable or refusing the password: conversations are per process then), or
    cannot be given (a search shard down: questions get 503 ``shard_unavailable``).
    Always 200 while the server answers, so a load balancer keeps sending it questions."""
    answerer = request.app[ANSWERER]
    engine = answerer.engine
    store = request.app[STORE]
    problem = await store.health()
    shards = getattr(engine.search, "health", None)
    if shards is not None:
        down = await asyncio.to_thread(shards)
        problem = "; ".join(p for p in (down, problem) if p) or None
    body: dict[str, Any] = {
        "status": "degraded" if problem else "ok",
        "documents": len(engine.documents),
        "sentences": engine.index.n_sentences,
        "generation": engine.index.generation or None,
        "worker": request.app[CONFIG].worker,
        "semantic": answerer.semantic_status,
        "telegram": request.app[CONFIG].telegram_webhook_enabled,
        "sessions": store.kind,
        # Processes answering apart from this one (0: this process answers, in a thread).
        "answer_processes": answerer.elsewhere.ready if answerer.elsewhere is not None else 0,
    }
    if problem:
        body["reason"] = problem
    return web.json_response(body, dumps=dumps_json)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS].render(),
                        content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})
