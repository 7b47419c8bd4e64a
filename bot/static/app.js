"use strict";
// The chat page: asks POST /v1/ask and renders the answer JSON. The first answer carries the
// id of the conversation the server started; later questions in this tab send it back.
// Everything from the article is inserted as text, never as HTML.
// When the server lets the page add links (GET /v1/config), a link pasted into the second
// form joins this conversation's own library (POST /v1/session/docs); questions are then
// answered from it first, and from the server's article when it does not say.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("ask");
  const input = document.getElementById("question");
  const moreButton = document.getElementById("more");
  const STOP = new Set(("a an and are as at be by did do does for from had has have how i in is it " +
    "its of on or she he they the their this to was were what when where which who whom why will " +
    "with about many much more").split(" "));
  const addForm = document.getElementById("add");
  const linkInput = document.getElementById("link");
  const addedLine = document.getElementById("added");
  let session = sessionStorage.getItem("quotebot-session");
  let lastQuestion = "";
  const added = [];
  let corpusDocs = [];

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Highlight words that share their first letters with a word of the question
  // (a light stand-in for the server's stemming: "stabbings" ~ "stabbing").
  function highlighted(text, question) {
    const keys = question.toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
    const stems = keys.filter(w => !STOP.has(w) && w.length > 1).map(w => w.slice(0, Math.max(3, Math.min(w.length, 5))));
    const frag = document.createDocumentFragment();
    const parts = text.split(/([\p{L}\p{N}]+(?:[’'\-][\p{L}\p{N}]+)*)/u);
    for (const part of parts) {
      const low = part.toLowerCase();
      if (part && stems.some(s => low.startsWith(s))) frag.appendChild(el("mark", "", part));
      else if (part) frag.appendChild(document.createTextNode(part));
    }
    return frag;
  }

  // A quote with the question's words highlighted and, when `answer` ({start, end}: offsets
  // in the document) lies inside it, the short answer marked. Offsets count code points.
  function quoteBlock(q, question, cls, answer) {
    const block = el("blockquote", cls);
    const chars = Array.from(q.text);
    if (answer && q.start <= answer.start && answer.start < answer.end && answer.end <= q.end) {
      const from = answer.start - q.start, to = answer.end - q.start;
      block.appendChild(highlighted(chars.slice(0, from).join(""), question));
      block.appendChild(el("mark", "answer", chars.slice(from, to).join("")));
      block.appendChild(highlighted(chars.slice(to).join(""), question));
    } else {
      block.appendChild(highlighted(q.text, question));
    }
    block.appendChild(citation(q));
    return block;
  }

  // "Title › Section ¶ N", linking to the document page with the quote highlighted; a
  // document this tab added to its own library has no page on the server, so its citation
  // links to the page it came from (or is plain text).
  function citation(q) {
    const label = [q.title, ...(q.section || [])].join(" › ") + ` ¶ ${q.paragraph}`;
    const own = added.some(d => d.doc === q.doc) && !corpusDocs.some(d => d.doc === q.doc);
    if (own) {
      if (!/^https?:\/\//i.test(q.url || "")) return el("span", "cite", label);
      const original = el("a", "cite", label);
      original.href = q.url;
      original.rel = "noopener noreferrer";
      return original;
    }
    const link = el("a", "cite", label);
    link.href = `/docs/${encodeURIComponent(q.doc)}#${q.start}-${q.end}`;
    return link;
  }

  function render(turn, data, asked) {
    const question = data.resolved_question || asked;
    if (data.error) {
      turn.appendChild(el("p", "error", data.error.message));
      return;
    }
    if (data.searched_for) turn.appendChild(el("p", "muted", "searched for: " + data.searched_for));
    if (data.resolved_question && asked.toLowerCase() !== "more")
      turn.appendChild(el("p", "muted", "understood as: " + data.resolved_question));
    if (!data.answered) {
      turn.appendChild(el("p", "none", data.quotes.length === 0 && asked.toLowerCase() === "more"
        ? "No more passages about this." : "The article doesn't say."));
      if (data.reason) turn.appendChild(el("p", "muted", data.reason));
      if (data.closest && data.closest.length) {
        turn.appendChild(el("p", "muted", "Closest passages (not an answer):"));
        for (const q of data.closest) turn.appendChild(quoteBlock(q, question, "closest"));
      }
      moreButton.disabled = true;
      return;
    }
    if (data.answer) turn.appendChild(el("p", "short", data.answer));
    const answer = typeof data.answer_start === "number"
      ? {start: data.answer_start, end: data.answer_end} : null;
    // The short answer is verbatim from the first quote.
    data.quotes.forEach((q, i) => turn.appendChild(quoteBlock(q, question, "", i === 0 ? answer : null)));
    moreButton.disabled = false;
  }

  async function post(path, fields) {
    const body = Object.assign({}, fields);
    if (session) body.session = session;
    const response = await fetch(path, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
    });
    return response.json();
  }

  // The server's answer in this tab's conversation; a new conversation if the server no
  // longer knows this one.
  async function converse(path, fields) {
    let data = await post(path, fields);
    if (session && data.error && data.error.code === "unknown_session") {
      session = null;
      sessionStorage.removeItem("quotebot-session");
      data = await post(path, fields);
    }
    if (typeof data.session === "string") {
      session = data.session;
      sessionStorage.setItem("quotebot-session", session);
    }
    return data;
  }

  async function addLink(url) {
    url = url.trim();
    if (!url) return;
    addedLine.className = "muted";
    addedLine.textContent = "Reading " + url + " …";
    try {
      const data = await converse("/v1/session/docs", {url: url});
      if (data.error) {
        addedLine.className = "error";
        addedLine.textContent = data.error.message;
        return;
      }
      added.push(data);
      addedLine.textContent = `Added ${data.title} (${data.sentences} sentences). ` +
        "Ask about it below; what it does not say comes from the article above.";
      showSources();
    } catch (err) {
      addedLine.className = "error";
      addedLine.textContent = "Could not reach quotebot: " + err;
    }
  }

  async function ask(question) {
    question = question.trim();
    if (!question) return;
    const turn = el("div", "turn");
    turn.appendChild(el("p", "q", question));
    log.appendChild(turn);
    try {
      const data = await converse("/v1/ask", {question: question});
      render(turn, data, question.toLowerCase() === "more" ? lastQuestion : question);
      if (question.toLowerCase() !== "more") lastQuestion = question;
    } catch (err) {
      turn.appendChild(el("p", "error", "Could not reach quotebot: " + err));
    }
    turn.scrollIntoView({block: "end"});
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value;
    input.value = "";
    ask(question);
  });
  moreButton.addEventListener("click", () => ask("more"));
  addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const url = linkInput.value;
    linkInput.value = "";
    addLink(url);
  });

  function showSources() {
    const docs = corpusDocs.concat(added);
    const parts = docs.map(d => `${d.title} (${d.sentences} sentences)`);
    document.getElementById("sources").textContent = "Reading: " + parts.join(", ");
    // Say what is being asked about: this server's documents, not an article it may lack.
    document.getElementById("intro").textContent = docs.length === 1
      ? `Ask about “${docs[0].title}”; every answer is a quote from it, with where it ` +
        "comes from."
      : `Ask about these ${docs.length} documents; every answer is a quote from them, ` +
        "with where it comes from.";
  }

  async function start() {
    try {
      const docs = await (await fetch("/v1/docs")).json();
      corpusDocs = docs.documents || [];
      showSources();
    } catch (err) { /* the page still asks */ }
    let uploads = false;
    try {
      uploads = (await (await fetch("/v1/config")).json()).uploads === true;
    } catch (err) { /* an older server: no links */ }
    addForm.hidden = !uploads;
    // /?add=LINK puts a link in the field for the reader to add (a link to this page must
    // not put someone else's text in front of them as quotes); /?q=… asks the server's own
    // articles straight away (links, bookmarks).
    const params = new URLSearchParams(location.search);
    if (uploads && params.get("add")) {
      linkInput.value = params.get("add");
      addedLine.className = "muted";
      addedLine.textContent = "Press Add to read this link, or change it.";
    }
    if (params.get("q")) await ask(params.get("q"));
  }
  start();
})();
