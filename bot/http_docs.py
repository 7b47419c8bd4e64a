"""The corpus's documents: ``GET /v1/docs``, ``GET /v1/docs/{doc}``, the document page
``/docs/{doc}`` and the chat page's static files.
"""

from __future__ import annotations

from html import escape
from importlib import resources
from urllib.parse import quote

from aiohttp import web

from quotebot.errors import UnknownDocument
from quotebot.models import document_json
from quotebot.sentences import paragraph_spans

from .http_common import (
    ANSWERER,
    dumps_json,
)


async def list_docs(request: web.Request) -> web.Response:
    """GET /v1/docs: the corpus's documents, each with its source ``url`` when it came
    from a link."""
    engine = request.app[ANSWERER].engine
    return web.json_response({"documents": [
        document_json(d.id, d.title, d.url, sentences=d.sentences) for d in engine.documents
    ]}, dumps=dumps_json)


async def show_doc(request: web.Request) -> web.Response:
    document = request.app[ANSWERER].engine.document(request.match_info["doc"])
    return web.json_response(document_json(document.id, document.title, document.url,
                                           text=document.text), dumps=dumps_json)


async def download_doc(request: web.Request) -> web.Response:
    """GET /v1/docs/{doc}/text: the document's text as a file to save (UTF-8), named after
    its id; quote offsets count its characters."""
    document = request.app[ANSWERER].engine.document(request.match_info["doc"])
    plain = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_"
                    for c in document.id)[:100] or "document"
    disposition = (f'attachment; filename="{plain}.txt"; '
                   f"filename*=UTF-8''{quote(document.id[:100], safe='')}.txt")
    return web.Response(text=document.text, content_type="text/plain", charset="utf-8",
                        headers={"Content-Disposition": disposition,
                                 "X-Content-Type-Options": "nosniff"})


_STATIC = {"index.html": "text/html", "app.js": "text/javascript", "app.css": "text/css",
           "doc.js": "text/javascript", "favicon.svg": "image/svg+xml"}
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_PAGE_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


async def static(request: web.Request) -> web.Response:
    name = request.match_info.get("name", "index.html")
    if name not in _STATIC:
        raise web.HTTPNotFound()
    body = resources.files("quotebot.bot").joinpath("static", name).read_bytes()
    charset = None if name.endswith(".svg") else "utf-8"
    return web.Response(body=body, content_type=_STATIC[name], charset=charset,
                        headers=_PAGE_HEADERS)


async def favicon(request: web.Request) -> web.Response:
    """GET /favicon.ico: browsers ask for it whatever the page says; the SVG icon (browsers
    go by the Content-Type, not the name)."""
    body = resources.files("quotebot.bot").joinpath("static", "favicon.svg").read_bytes()
    return web.Response(body=body, content_type="image/svg+xml",
                        headers={**_PAGE_HEADERS, "Cache-Control": "max-age=86400"})


async def doc_page(request: web.Request) -> web.Response:
    """GET /docs/{doc}: a document's text as a page to read, one <p> per paragraph, each
    knowing its character offsets, so that /docs/DOC#START-END (a citation's link) shows
    text[START:END] highlighted (static/doc.js); an unknown document is a page saying so."""
    doc_id = request.match_info["doc"]
    try:
        document = request.app[ANSWERER].engine.document(doc_id)
    except UnknownDocument:
        return _page(404, "Document not found",
                     f"<h1>No such document</h1>\n<p>This server has no document called "
                     f"<code>{escape(doc_id)}</code>. Its documents are listed on the "
                     f"<a href=\"/\">chat page</a>.</p>")
    paragraphs = "\n".join(
        f'<p id="p{number}" data-start="{start}" data-end="{end}">'
        f"{escape(document.text[start:end])}</p>"
        for number, (start, end) in enumerate(paragraph_spans(document.text), start=1))
    original = (f' · <a href="{escape(document.url)}" rel="noopener noreferrer">open the '
                f'original</a>' if document.url.startswith(("https://", "http://")) else "")
    original += (f' · <a href="/v1/docs/{escape(quote(document.id, safe=""))}/text">download '
                 f"the text</a>")
    return _page(200, document.title,
                 f"<h1>{escape(document.title)}</h1>\n"
                 f'<p class="muted">{escape(document.id)} · <a href="/">ask about it</a>'
                 f"{original}</p>\n"
                 f'<article id="text">\n{paragraphs}\n</article>\n'
                 f'<script src="/static/doc.js"></script>')


def _page(status: int, title: str, body: str) -> web.Response:
    """An HTML page of ours around ``body`` (already escaped), within the page CSP."""
    html = ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title)} · quotebot</title>\n"
            "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">\n"
            "<link rel=\"stylesheet\" href=\"/static/app.css\">\n</head>\n"
            f"<body class=\"doc\">\n<main>\n{body}\n</main>\n</body>\n</html>\n")
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers=_PAGE_HEADERS)
