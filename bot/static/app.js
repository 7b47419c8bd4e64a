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
  const mine = document.getElementById("mine");
  let session = sessionStorage.getItem("quotebot-session");
  let lastQuestion = "";
  // After "New conversation": the next question starts afresh (the tab's documents stay).
  let afresh = false;
  const added = [];
  let corpusDocs = [];
  // The conversation shown: each question with the server's answer, for the download links.
  const transcript = [];

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

  // `asked` is the question the answer is about (for "more", the one it continues, or ""
  // when there is none); `isMore` says the reader asked for more.
  function render(turn, data, asked, isMore) {
    const question = data.resolved_question || asked;
    if (data.error) {
      turn.appendChild(el("p", "error", data.error.message));
      return;
    }
    if (data.searched_for) turn.appendChild(el("p", "muted", "searched for: " + data.searched_for));
    if (data.resolved_question && !isMore)
      turn.appendChild(el("p", "muted", "understood as: " + data.resolved_question));
    if (!data.answered) {
      // After "more", the server's reason says it all (nothing more, or nothing to continue).
      turn.appendChild(el("p", "none", isMore ? data.reason || "No more passages about this."
        : "The article doesn't say."));
      if (data.reason && !isMore) turn.appendChild(el("p", "muted", data.reason));
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

  // A question the documents answer, in the question box, shows what to ask of them.
  function suggest(examples) {
    if (Array.isArray(examples) && typeof examples[0] === "string") {
      input.placeholder = "e.g. " + examples[0];
    }
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
      const known = added.findIndex(d => d.doc === data.doc);
      if (known >= 0) added[known] = data; else added.push(data);
      addedLine.textContent = `Added ${data.title} (${data.sentences} sentences). ` +
        "Ask about it below; what it does not say comes from the " +
        (corpusDocs.length === 1 ? "article" : "documents") + " above.";
      suggest(data.examples);
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
      const fields = {question: question};
      if (afresh) fields.new = true;
      const data = await converse("/v1/ask", fields);
      if (!data.error) afresh = false;
      const isMore = question.toLowerCase() === "more";
      render(turn, data, isMore ? lastQuestion : question, isMore);
      if (!isMore) lastQuestion = question;
      if (!data.error) {
        // The session id stays out of what is saved: a file passed on must not give
        // its reader this conversation and its documents.
        const {session: _session, ...answer} = data;
        transcript.push({question: question, answer: answer});
        offerDownloads();
      }
    } catch (err) {
      turn.appendChild(el("p", "error", "Could not reach quotebot: " + err));
    }
    // The ask form stays at the bottom of the screen: the answer ends above it.
    turn.style.scrollMarginBottom = (form.offsetHeight + 8) + "px";
    turn.scrollIntoView({block: "end"});
  }

  function newConversation() {
    log.replaceChildren();
    transcript.length = 0;
    offerDownloads();
    lastQuestion = "";
    afresh = true;
    moreButton.disabled = true;
    input.focus();
  }

  // The tab's own documents, each with a button that removes it.
  function showMine() {
    mine.replaceChildren();
    for (const d of added) {
      const item = el("li");
      item.appendChild(el("span", "", `${d.title} (${d.sentences} sentences)`));
      const remove = el("button", "remove", "Remove");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove " + d.title);
      remove.addEventListener("click", () => removeDoc(d));
      item.appendChild(remove);
      mine.appendChild(item);
    }
  }

  async function removeDoc(d) {
    try {
      const response = await fetch(`/v1/session/docs/${encodeURIComponent(d.doc)}?session=` +
        encodeURIComponent(session || ""), {method: "DELETE"});
      const data = await response.json();
      if (data.error && data.error.code !== "unknown_document") {
        addedLine.className = "error";
        addedLine.textContent = data.error.message;
        return;
      }
      added.splice(added.indexOf(d), 1);
      addedLine.className = "muted";
      addedLine.textContent = `Removed ${d.title}; questions are no longer answered from it.`;
      showSources();
    } catch (err) {
      addedLine.className = "error";
      addedLine.textContent = "Could not reach quotebot: " + err;
    }
  }

  // The two download links hold the conversation so far (hidden while it is empty), as
  // data: addresses (the page's content policy lets a link save them; nothing is fetched
  // when one is clicked). The Markdown is the server's (POST /v1/transcript), the same the
  // REPL's :save writes; a reply that comes after a newer turn is dropped.
  let downloads = 0;
  function dataUrl(type, text) {
    return `data:${type};charset=utf-8,` + encodeURIComponent(text);
  }
  async function offerDownloads() {
    const version = ++downloads;
    const json = document.getElementById("save-json");
    const markdown = document.getElementById("save");
    // Both links show at once (the page does not move when the Markdown comes); the
    // Markdown link has no address until it does.
    json.hidden = markdown.hidden = transcript.length === 0;
    json.removeAttribute("href");
    markdown.removeAttribute("href");
    if (transcript.length === 0) return;
    const turns = JSON.stringify({turns: transcript});
    json.href = dataUrl("application/json", JSON.stringify({turns: transcript}, null, 2));
    try {
      const response = await fetch("/v1/transcript", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: turns});
      const text = await response.text();
      if (response.ok && version === downloads) markdown.href = dataUrl("text/markdown", text);
    } catch (err) { /* the JSON download still holds the conversation */ }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value;
    input.value = "";
    ask(question);
  });
  moreButton.addEventListener("click", () => ask("more"));
  document.getElementById("new").addEventListener("click", newConversation);
  addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const url = linkInput.value;
    linkInput.value = "";
    addLink(url);
  });

  function showSources() {
    const docs = corpusDocs.concat(added);
    const parts = corpusDocs.map(d => `${d.title} (${d.sentences} sentences)`);
    document.getElementById("sources").textContent = "Reading: " + parts.join(", ") +
      (added.length ? ` and ${added.length === 1 ? "your document" : "your " + added.length +
        " documents"} below` : "");
    showMine();
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
      const config = await (await fetch("/v1/config")).json();
      uploads = config.uploads === true;
      suggest(config.examples);
    } catch (err) { /* an older server: no links */ }
    addForm.hidden = !uploads;
    // A reloaded tab keeps its conversation: list the documents it added.
    if (uploads && session) {
      try {
        const mineNow = await (await fetch("/v1/session/docs?session=" +
          encodeURIComponent(session))).json();
        if (Array.isArray(mineNow.documents)) {
          added.splice(0, added.length, ...mineNow.documents);
          showSources();
        }
      } catch (err) { /* the page still asks */ }
    }
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
