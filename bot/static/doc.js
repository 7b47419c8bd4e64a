"use strict";
// The document page (/docs/DOC): #START-END in the address highlights the document's
// text[START:END] (a citation's quote) and scrolls to it. Each <p> of #text holds
// text[data-start:data-end] as one text node; offsets count Unicode code points, as
// quotebot's do, so they are turned into JavaScript's UTF-16 indexes here.
(function () {
  const article = document.getElementById("text");

  // The UTF-16 index in `text` of code point number `points`.
  function utf16Index(text, points) {
    let index = 0;
    for (let seen = 0; seen < points && index < text.length; seen++) {
      const code = text.codePointAt(index);
      index += code > 0xffff ? 2 : 1;
    }
    return index;
  }

  function clear() {
    for (const mark of article.querySelectorAll("mark.quote")) {
      mark.replaceWith(document.createTextNode(mark.textContent));
    }
    for (const p of article.querySelectorAll("p")) p.normalize();
  }

  function highlight() {
    clear();
    const found = /^#(\d+)-(\d+)$/.exec(location.hash);
    if (!found) return;
    const start = Number(found[1]), end = Number(found[2]);
    if (!(start < end)) return;
    let first = null;
    for (const p of article.querySelectorAll("p[data-start]")) {
      const pStart = Number(p.dataset.start), pEnd = Number(p.dataset.end);
      if (pEnd <= start || pStart >= end || !p.firstChild) continue;
      const node = p.firstChild;
      const from = utf16Index(node.data, Math.max(start, pStart) - pStart);
      const to = utf16Index(node.data, Math.min(end, pEnd) - pStart);
      const range = document.createRange();
      range.setStart(node, from);
      range.setEnd(node, to);
      const mark = document.createElement("mark");
      mark.className = "quote";
      range.surroundContents(mark);
      if (!first) first = mark;
    }
    if (first) {
      first.id = "quote";
      first.scrollIntoView({block: "center"});
    }
  }

  window.addEventListener("hashchange", highlight);
  highlight();
})();
