"use strict";
// The chat page: asks POST /v1/ask and renders the answer JSON. The first answer carries the
// id of the conversation the server started; later questions in this tab send it back.
// Everything from the article is inserted as text, never as HTML.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("ask");
  const input = document.getElementById("question");
  const moreButton = document.getElementById("more");
  const STOP = new Set(("a an and are as at be by did do does for from had has have how i in is it " +
    "its of on or she he they the their this to was were what when where which who whom why will " +
    "with about many much more").split(" "));
  let session = sessionStorage.getItem("quotebot-session");
  let lastQuestion = "";

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

  function quoteBlock(q, question, cls) {
    const block = el("blockquote", cls);
    block.appendChild(highlighted(q.text, question));
    block.appendChild(el("span", "cite",
      `${q.title} — ${q.doc} ¶${q.paragraph} s${q.sentence}, chars ${q.start}–${q.end}`));
    return block;
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
    for (const q of data.quotes) turn.appendChild(quoteBlock(q, question, ""));
    moreButton.disabled = false;
  }

  async function post(question) {
    const body = {question: question};
    if (session) body.session = session;
    const response = await fetch("/v1/ask", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
    });
    return response.json();
  }

  // The answer, in this tab's conversation; a new one if the server no longer knows it.
  async function converse(question) {
    let data = await post(question);
    if (session && data.error && data.error.code === "unknown_session") {
      session = null;
      sessionStorage.removeItem("quotebot-session");
      data = await post(question);
    }
    if (typeof data.session === "string") {
      session = data.session;
      sessionStorage.setItem("quotebot-session", session);
    }
    return data;
  }

  async function ask(question) {
    question = question.trim();
    if (!question) return;
    const turn = el("div", "turn");
    turn.appendChild(el("p", "q", question));
    log.appendChild(turn);
    try {
      const data = await converse(question);
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

  fetch("/v1/docs").then(r => r.json()).then(data => {
    const docs = data.documents || [];
    document.getElementById("sources").textContent =
      "Reading: " + docs.map(d => `${d.title} (${d.sentences} sentences)`).join(", ");
  }).catch(() => {});

  // /?q=… asks straight away (links, bookmarks, tests).
  const initial = new URLSearchParams(location.search).get("q");
  if (initial) ask(initial);
})();
