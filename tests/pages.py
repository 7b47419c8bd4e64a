"""A local web site for adding links: an aiohttp server on a free 127.0.0.1 port, in a
thread of its own, serving the pages a test gives it (path → (bytes, content type))."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web

from fake_bot_api import free_port

FIXTURES = Path(__file__).parent / "fixtures"
#: A news page with navigation, a cookie banner, related links and a footer around the
#: article: the page the README adds, so the tests read the very file users are shown.
NEWS_PAGE = Path(__file__).parent.parent / "examples" / "pages" / "kelsey-bay-sea-wall.html"


class PageSite:
    """Serves ``pages``; ``hits`` counts requests per path."""

    def __init__(self, pages: dict[str, tuple[bytes, str]]) -> None:
        self.pages = dict(pages)
        self.hits: dict[str, int] = {}
        self.port = free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())

    async def _page(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        found = self.pages.get(request.path)
        if found is None:
            raise web.HTTPNotFound()
        body, content_type = found
        if ";" in content_type:  # a charset given as the server sends it, whatever it names
            return web.Response(body=body, headers={"Content-Type": content_type})
        return web.Response(body=body, content_type=content_type)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._page)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def start(self) -> PageSite:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the page server did not start")
        return self

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@contextmanager
def page_site(pages: dict[str, tuple[bytes, str]] | None = None) -> Iterator[PageSite]:
    """A site with the news page at /news/sea-wall (and ``pages``)."""
    site = PageSite({"/news/sea-wall": (NEWS_PAGE.read_bytes(), "text/html"),
                     **(pages or {})}).start()
    try:
        yield site
    finally:
        site.close()


def article_page(title: str, paragraphs: list[str]) -> bytes:
    """A small news page around ``paragraphs`` (navigation and a footer that must not be
    read as the article)."""
    from html import escape

    body = "".join(f"<p>{escape(p)}</p>\n" for p in paragraphs)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"</head><body><nav><a href='/'>Home</a> <a href='/sport'>Sport</a></nav>"
            f"<article><h1>{escape(title)}</h1>\n{body}</article>"
            f"<footer>© The Herald. All rights reserved.</footer></body></html>").encode()
