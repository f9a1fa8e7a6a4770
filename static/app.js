// Small, hypermedia-friendly helpers. Everything works without this file.
"use strict";

// The server shows dates in the browser's time zone unless the user picked one.
(function rememberTimeZone() {
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && !document.cookie.split("; ").includes("wm_tz=" + zone)) {
      document.cookie = "wm_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (error) { /* no Intl: the server uses UTC */ }
})();

function flash(text) {
  const box = document.getElementById("flash");
  if (!box) return;
  box.innerHTML = "";
  const p = document.createElement("p");
  p.className = "flash-message flash-error";
  p.textContent = text;
  box.appendChild(p);
  setTimeout(() => { if (box.contains(p)) box.removeChild(p); }, 8000);
}

document.addEventListener("htmx:responseError", () => flash("The server could not complete this request. Please try again."));
document.addEventListener("htmx:sendError", () => flash("Cannot reach the webmail server. Check your connection."));

// Size the sandboxed message frame to its content (same origin, no scripts inside it).
function fitFrame(frame) {
  try {
    const doc = frame.contentDocument;
    if (doc && doc.documentElement) {
      frame.style.height = Math.max(doc.documentElement.scrollHeight, 120) + 24 + "px";
    }
  } catch (error) { /* keep the CSS height */ }
}
document.addEventListener("load", (event) => {
  if (event.target instanceof HTMLIFrameElement && event.target.classList.contains("mail-body")) {
    fitFrame(event.target);
  }
}, true);

// After the reader changes through htmx: mark the open row, switch small screens to reading.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "reader") {
    const article = event.detail.target.querySelector("article.message");
    document.querySelectorAll(".msg.open").forEach((row) => row.classList.remove("open"));
    if (article) {
      const row = document.getElementById("msg-" + article.dataset.uid);
      if (row) row.classList.add("open");
    }
    const shell = document.querySelector(".shell");
    if (shell) shell.classList.toggle("reading", Boolean(article));
    event.detail.target.scrollTop = 0;
  }
});

// Live updates: after the folder pane or list refreshes, keep the open row and the tab title right.
document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  if (!target) return;
  if (target.id === "message-list") {
    const article = document.querySelector("#reader article.message");
    if (article) {
      const row = document.getElementById("msg-" + article.dataset.uid);
      if (row) row.classList.add("open");
    }
  }
  if (target.id === "folder-list") {
    const badge = document.querySelector("#folder-list .folder-link.current .unread");
    const unread = badge ? badge.textContent.trim() : "";
    document.title = document.title.replace(/^\(\d[\d,]*\) /, "");
    if (unread) document.title = "(" + unread + ") " + document.title;
  }
});

// Live events arrive as server-sent events, their data as webmail/events.py encodes them (GET /events).
document.addEventListener("htmx:sseMessage", (event) => {
  const message = event.detail;
  if (!message || !message.type) return;
  if (message.type === "outbox") {
    try {
      const sent = JSON.parse(message.data);
      if (sent.status === "failed") flash(`“${sent.subject}” was not sent: ${sent.error}`);
      else if (sent.status === "sent" && sent.error) flash(`“${sent.subject}” was sent. ${sent.error}`);
    } catch (error) { /* a malformed event is ignored */ }
  } else if (message.type === "newmail" && "Notification" in window && Notification.permission === "granted") {
    try {
      for (const mail of JSON.parse(message.data).messages) {
        new Notification(mail.sender || "New mail", { body: mail.subject || "" });
      }
    } catch (error) { /* a malformed event is ignored */ }
  }
});

// The session ended (signed out in another tab, password rejected, expired): every page with a
// stream leaves for the sign-in page, whether or not an element there listens for "expired".
const expiryWatched = new WeakSet();
document.addEventListener("htmx:sseOpen", (event) => {
  const source = event.detail && event.detail.source;
  if (!source || expiryWatched.has(source)) return;
  expiryWatched.add(source);
  source.addEventListener("expired", () => {
    source.close();
    window.location.assign(document.querySelector(".brand") ? "/login" : window.location.href);
  });
});

(function offerNotifications() {
  const button = document.getElementById("enable-notifications");
  if (!button || !("Notification" in window) || Notification.permission !== "default") return;
  button.hidden = false;
  button.addEventListener("click", () => {
    Notification.requestPermission().then(() => { button.hidden = true; });
  });
})();

// "/" focuses the search box, unless the user is typing somewhere.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const active = document.activeElement;
  if (active && (active.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName))) return;
  const box = document.querySelector('form.search input[name="q"]');
  if (box) {
    event.preventDefault();
    box.focus();
    box.select();
  }
});

// Shift-click selects the range between the last two clicked rows.
let lastChecked = null;
document.addEventListener("click", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.classList.contains("select")) return;
  if (event.shiftKey && lastChecked && lastChecked !== box) {
    const boxes = Array.from(document.querySelectorAll("#message-list input.select"));
    const [from, to] = [boxes.indexOf(lastChecked), boxes.indexOf(box)].sort((a, b) => a - b);
    if (from >= 0) boxes.slice(from, to + 1).forEach((other) => { other.checked = box.checked; });
  }
  lastChecked = box;
});

// Keyboard shortcuts (Settings can turn them off; "?" lists them). Never while typing.
(function keyboard() {
  if (!document.querySelector('[data-shortcuts="on"]')) return;
  let pendingG = false;
  const rows = () => Array.from(document.querySelectorAll("#message-list li[data-uid]"));
  const cursor = () => document.querySelector("#message-list li.cursor") || document.querySelector("#message-list li.open");
  function moveCursor(step) {
    const all = rows();
    if (!all.length) return;
    const current = cursor();
    let index = current ? all.indexOf(current) + step : 0;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((row) => row.classList.remove("cursor"));
    all[index].classList.add("cursor");
    all[index].scrollIntoView({ block: "nearest" });
  }
  function submitReader(action) {
    const form = document.querySelector(`#reader form[action$="/${action}"]`);
    if (form) form.requestSubmit();
  }
  function follow(selector) {
    const link = document.querySelector(selector);
    if (link) link.click();
  }
  // Selected rows first, then the open message, then the row under the cursor.
  function actOn(action, to) {
    const form = document.getElementById("bulk-form");
    const selected = document.querySelectorAll("#message-list input.select:checked");
    if (!selected.length && !to && document.querySelector(`#reader form[action$="/${action}"]`)) {
      submitReader(action);
      return;
    }
    if (!form) return;
    if (!selected.length) {
      const row = cursor();
      if (!row) return;
      row.querySelector("input.select").checked = true;
    }
    form.querySelector('select[name="action"]').value = action;
    if (to) form.querySelector('select[name="to"]').value = to;
    form.requestSubmit();
  }
  function openFolderPicker() {
    const picker = document.getElementById("folder-picker");
    if (!picker) return;
    const input = picker.querySelector("input");
    input.value = "";
    picker.querySelector("#folder-picker-error").hidden = true;
    picker.showModal();
    input.focus();
  }
  const picker = document.getElementById("folder-picker");
  if (picker) {
    picker.addEventListener("close", () => {
      if (picker.returnValue !== "move") return;
      const name = picker.querySelector("input").value.trim();
      const known = Array.from(picker.querySelectorAll("datalist option")).map((o) => o.value);
      // Type-ahead: an exact name, or the only folder whose name contains what was typed.
      const matches = known.filter((f) => f.toLowerCase().includes(name.toLowerCase()));
      const target = known.includes(name) ? name : (matches.length === 1 ? matches[0] : null);
      if (!name) return;
      if (!target) { flash(`No single folder matches “${name}”.`); return; }
      const readerMove = document.querySelector("#reader form.move-form");
      if (readerMove && !document.querySelector("#message-list input.select:checked")) {
        readerMove.querySelector("select").value = target;
        readerMove.requestSubmit();
      } else {
        actOn("move", target);
      }
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const active = document.activeElement;
    if (active && (active.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName))) return;
    const key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "i") { follow('a[data-folder="INBOX"]'); event.preventDefault(); }
      return;
    }
    const actions = {
      j: () => moveCursor(1),
      k: () => moveCursor(-1),
      o: () => { const row = cursor(); if (row) row.querySelector(".row-link").click(); },
      Enter: () => { const row = document.querySelector("#message-list li.cursor"); if (row) row.querySelector(".row-link").click(); },
      u: () => follow("#reader a.back"),
      x: () => { const row = cursor(); if (row) row.querySelector("input.select").click(); },
      s: () => {
        const readerStar = document.querySelector('#reader-flags input[value="flagged"]');
        if (readerStar) readerStar.form.requestSubmit();
        else { const row = cursor(); if (row) row.querySelector("form.star").requestSubmit(); }
      },
      e: () => actOn("archive"),
      "#": () => actOn("delete"),
      "!": () => actOn("junk"),
      m: () => openFolderPicker(),
      r: () => follow('#reader a[href*="compose?reply="]'),
      a: () => follow('#reader a[href*="compose?reply_all="]'),
      f: () => follow('#reader a[href*="compose?forward="]'),
      c: () => follow("a.compose-link"),
      g: () => { pendingG = true; },
      "?": () => { const help = document.getElementById("shortcut-help"); if (help && !help.open) help.showModal(); },
    };
    const run = actions[key];
    if (run) { event.preventDefault(); run(); }
  });
})();

// Moving, archiving, deleting and junking selected rows: they leave the list at once; if the
// server refuses, they come back and the reason is shown.
const MOVING_ACTIONS = ["archive", "delete", "junk", "move"];
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.id !== "bulk-form" || !window.fetch) return;
  if (event.submitter && event.submitter.hasAttribute("formaction")) return;  // e.g. "Filter messages like this"
  const action = form.querySelector('select[name="action"]').value;
  if (!MOVING_ACTIONS.includes(action) || (action === "delete" && form.dataset.bin)) return;
  if (form.querySelector('input[name="all"]:checked')) return;
  const rows = Array.from(document.querySelectorAll("#message-list input.select:checked")).map((box) => box.closest("li"));
  if (!rows.length) return;
  event.preventDefault();
  rows.forEach((row) => { row.hidden = true; });
  try {
    // form.action would be the select named "action": read the attribute. The redirect is not
    // followed here: the list it leads to shows the flash ("… moved — Undo") once, so the
    // browser loads it itself.
    const bulkURL = form.getAttribute("action");
    const response = await fetch(bulkURL, { method: "POST", body: new FormData(form), credentials: "same-origin", redirect: "manual" });
    if (response.type === "opaqueredirect") {
      window.location.assign(bulkURL.replace(/\/bulk$/, ""));
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const words = page.querySelector(".error-page h1") || page.querySelector(".error");
    rows.forEach((row) => { row.hidden = false; });
    flash(words ? words.textContent.trim() : "The server refused this; nothing was changed.");
  } catch (error) {
    rows.forEach((row) => { row.hidden = false; });
    flash("Cannot reach the webmail server. Nothing was changed.");
  }
});

// Drag rows onto a folder in the folder pane to move them there.
document.addEventListener("dragstart", (event) => {
  const row = event.target instanceof Element ? event.target.closest("#message-list li[data-uid]") : null;
  if (!row) return;
  const box = row.querySelector("input.select");
  if (box && !box.checked) {
    document.querySelectorAll("#message-list input.select:checked").forEach((other) => { other.checked = false; });
    box.checked = true;
  }
  event.dataTransfer.setData("application/x-webmail-uids", row.dataset.uid);
  event.dataTransfer.effectAllowed = "move";
});
function dropTarget(event) {
  const link = event.target instanceof Element ? event.target.closest("#folder-list a[data-folder]") : null;
  return link && event.dataTransfer && Array.from(event.dataTransfer.types).includes("application/x-webmail-uids") ? link : null;
}
document.addEventListener("dragover", (event) => {
  const link = dropTarget(event);
  if (!link || link.classList.contains("current")) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "move";
  link.classList.add("drop-target");
});
document.addEventListener("dragleave", (event) => {
  const link = dropTarget(event);
  if (link) link.classList.remove("drop-target");
});
document.addEventListener("drop", (event) => {
  const link = dropTarget(event);
  const form = document.getElementById("bulk-form");
  if (!link || !form) return;
  event.preventDefault();
  link.classList.remove("drop-target");
  form.querySelector('select[name="action"]').value = "move";
  form.querySelector('select[name="to"]').value = link.dataset.folder;
  form.requestSubmit();
});

// "This page" selects or clears every row shown.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || box.id !== "select-page") return;
  document.querySelectorAll("#message-list input.select").forEach((row) => { row.checked = box.checked; });
});

// The Undo offer stays for 10 seconds.
(function fadeToast() {
  const toast = document.querySelector(".toast");
  if (!toast) return;
  const seconds = Number(toast.dataset.seconds || 10);
  setTimeout(() => toast.remove(), Math.max(seconds, 1) * 1000);
})();

// The compose editor: plain text (a textarea) or formatted (contenteditable, a few commands).
(function composeEditor() {
  const form = document.querySelector("form.compose-form");
  if (!form) return;
  const choice = form.querySelector(".format-choice");
  const wrap = form.querySelector(".html-editor-wrap");
  const editor = form.querySelector("#html-editor");
  const textarea = form.querySelector("#body");
  const hidden = form.querySelector('input[name="body_html"]');
  if (!choice || !editor || !textarea) return;
  choice.hidden = false;
  const htmlMode = () => form.querySelector('input[name="format"]:checked').value === "html";
  function textToHtml(text) {
    return text.split("\n").map((line) => {
      const quote = /^(>+) ?/.exec(line);
      const depth = quote ? quote[1].length : 0;
      const div = document.createElement("div");
      div.textContent = quote ? line.slice(quote[0].length) : line;
      if (!div.textContent) div.innerHTML = "<br>";
      return "<blockquote>".repeat(depth) + div.outerHTML + "</blockquote>".repeat(depth);
    }).join("");
  }
  function show() {
    const html = htmlMode();
    wrap.hidden = !html;
    textarea.hidden = html;
    textarea.labels.forEach((label) => { label.hidden = html; });
  }
  choice.addEventListener("change", () => {
    if (htmlMode()) editor.innerHTML = textToHtml(textarea.value);
    else textarea.value = editor.innerText;
    show();
  });
  form.querySelectorAll(".editor-toolbar button").forEach((button) => {
    button.addEventListener("click", () => {
      editor.focus();
      let value = button.dataset.value || null;
      if (button.dataset.command === "createLink") {
        value = window.prompt("Link address (https://…)", "https://");
        if (!value) return;
      }
      document.execCommand(button.dataset.command, false, value);
    });
  });
  form.addEventListener("submit", () => { hidden.value = htmlMode() ? editor.innerHTML : ""; });
  form.addEventListener("formdata", () => { hidden.value = htmlMode() ? editor.innerHTML : ""; });
  show();
})();

// Compose: attachments uploaded as they are chosen (with progress), drafts saved every 30 seconds
// and when the page is left, and a copy in this browser offered back after a crash or close.
(function composeKeeping() {
  const form = document.querySelector("form.compose-form");
  if (!form) return;
  const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
  const draftField = form.querySelector('input[name="draft_id"]');
  const status = document.getElementById("draft-status");
  const STORE = "wm-draft:";

  // ---- attachments
  const input = form.querySelector("#attachments");
  const progressBox = document.getElementById("upload-progress");
  function upload(file) {
    const row = document.createElement("div");
    const label = document.createElement("span");
    const bar = document.createElement("progress");
    label.textContent = file.name;
    bar.max = file.size || 1;
    bar.value = 0;
    row.append(label, bar);
    progressBox.appendChild(row);
    const request = new XMLHttpRequest();
    request.open("POST", input.dataset.upload.replace(/\/compose\/[^/]+\//, `/compose/${draftField.value}/`));
    request.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
    request.setRequestHeader("X-CSRF-Token", headers["X-CSRF-Token"] || "");
    request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    request.upload.addEventListener("progress", (event) => { if (event.lengthComputable) bar.value = event.loaded; });
    request.addEventListener("loadend", () => {
      row.remove();
      const list = document.getElementById("attachment-list");
      if (request.responseText && list && request.responseText.includes('id="attachment-list"')) {
        list.outerHTML = request.responseText;
        if (window.htmx) window.htmx.process(document.getElementById("attachment-list"));
      } else if (request.status !== 200) {
        flash(`“${file.name}” could not be uploaded. Please try again.`);
      }
      dirty = true;
    });
    request.send(file);
  }
  if (input && window.XMLHttpRequest) {
    input.addEventListener("change", () => {
      Array.from(input.files).forEach(upload);
      input.value = "";  // sent already; not again with the form
    });
    form.addEventListener("dragover", (event) => {
      if (Array.from(event.dataTransfer.types).includes("Files")) { event.preventDefault(); form.classList.add("dropping"); }
    });
    form.addEventListener("dragleave", () => form.classList.remove("dropping"));
    form.addEventListener("drop", (event) => {
      if (!event.dataTransfer.files.length) return;
      event.preventDefault();
      form.classList.remove("dropping");
      Array.from(event.dataTransfer.files).forEach(upload);
    });
  }

  // ---- the browser's copy
  const fields = ["to", "cc", "bcc", "subject", "body"];
  const editor = form.querySelector("#html-editor");
  function snapshot() {
    const data = { at: Date.now(), html: editor ? editor.innerHTML : "" };
    fields.forEach((name) => { data[name] = form.elements[name] ? form.elements[name].value : ""; });
    const format = form.querySelector('input[name="format"]:checked');
    data.format = format ? format.value : "plain";
    return data;
  }
  function keepLocally() {
    try { localStorage.setItem(STORE + draftField.value, JSON.stringify(snapshot())); } catch (error) { /* full or off */ }
  }
  let dirty = false;
  let timer = null;
  form.addEventListener("input", () => {
    dirty = true;
    clearTimeout(timer);
    timer = setTimeout(keepLocally, 800);
  });

  // A message sent from here is no longer offered back.
  const sending = sessionStorage.getItem("wm-sending");
  if (sending) {
    sessionStorage.removeItem("wm-sending");
    if (sending !== draftField.value) localStorage.removeItem(STORE + sending);
  }
  form.addEventListener("submit", () => {
    sessionStorage.setItem("wm-sending", draftField.value);
    localStorage.removeItem(STORE + draftField.value);
    dirty = false;
  });

  const offer = document.getElementById("restore-offer");
  const saved = Object.keys(localStorage).filter((key) => key.startsWith(STORE) && key !== STORE + draftField.value)
    .map((key) => { try { return [key, JSON.parse(localStorage.getItem(key))]; } catch (error) { return null; } })
    .filter((entry) => entry && entry[1] && (entry[1].body || entry[1].subject || entry[1].to))
    .sort((a, b) => b[1].at - a[1].at);
  if (offer && saved.length) {
    const [key, data] = saved[0];
    offer.querySelector("span").textContent =
      `An unsent message from ${new Date(data.at).toLocaleString()} (“${data.subject || "no subject"}”) was kept in this browser.`;
    offer.hidden = false;
    document.getElementById("restore-yes").addEventListener("click", () => {
      fields.forEach((name) => { if (form.elements[name]) form.elements[name].value = data[name] || ""; });
      if (editor && data.html) editor.innerHTML = data.html;
      const format = form.querySelector(`input[name="format"][value="${data.format}"]`);
      if (format && !format.checked) { format.checked = true; format.dispatchEvent(new Event("change", { bubbles: true })); }
      if (editor && data.html) editor.innerHTML = data.html;
      draftField.value = key.slice(STORE.length);  // its server draft and attachments continue
      if (window.htmx) {
        window.htmx.ajax("GET", input.dataset.upload.replace(/\/compose\/[^/]+\//, `/compose/${draftField.value}/`),
                         { target: "#attachment-list", swap: "outerHTML" });
      }
      localStorage.removeItem(key);
      keepLocally();
      offer.hidden = true;
      dirty = true;
    });
    document.getElementById("restore-no").addEventListener("click", () => {
      localStorage.removeItem(key);
      offer.hidden = true;
    });
  }

  // ---- the server's copy, in Drafts
  const saveButton = document.getElementById("save-draft");
  function draftData() {
    const data = new FormData(form);
    data.delete("attachments");
    const format = form.querySelector('input[name="format"]:checked');
    if (editor && format && format.value === "html") data.set("body_html", editor.innerHTML);
    return data;
  }
  async function saveDraft() {
    dirty = false;
    status.textContent = "Saving…";
    try {
      const response = await fetch(saveButton.dataset.url, { method: "POST", body: draftData(), credentials: "same-origin" });
      const text = await response.text();
      status.textContent = response.ok ? `Draft saved at ${new Date().toLocaleTimeString()}` : text;
    } catch (error) {
      dirty = true;
      status.textContent = "Not saved: no connection. The text is kept in this browser.";
    }
  }
  if (saveButton) {
    saveButton.addEventListener("click", saveDraft);
    setInterval(() => { if (dirty) saveDraft(); }, 30000);
    window.addEventListener("pagehide", () => {
      if (dirty && navigator.sendBeacon) navigator.sendBeacon(saveButton.dataset.url, draftData());
    });
  }
})();

// Recipient suggestions from the address book, its groups and the people written to before.
(function recipientSuggestions() {
  const form = document.querySelector("form.compose-form");
  if (!form || !window.fetch) return;
  const base = document.querySelector(".contacts-suggest-url");
  const endpoint = base ? base.dataset.url : "/contacts/suggest";
  ["to", "cc", "bcc"].forEach((name) => {
    const input = form.elements[name];
    if (!input) return;
    const list = document.createElement("ul");
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.id = `${name}-suggestions`;
    list.hidden = true;
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-autocomplete", "list");
    input.insertAdjacentElement("afterend", list);
    let active = -1;
    let items = [];
    const lastToken = () => input.value.split(/[,;\n]/).pop().trim();
    function close() { list.hidden = true; active = -1; }
    function choose(index) {
      const item = items[index];
      if (!item) return;
      const parts = input.value.split(/([,;\n])/);
      parts[parts.length - 1] = (parts.length > 1 ? " " : "") + item.value;
      input.value = parts.join("") + ", ";
      close();
      input.focus();
      input.dispatchEvent(new Event("input", { bubbles: true }));
    }
    function highlight() {
      Array.from(list.children).forEach((li, i) => li.setAttribute("aria-selected", i === active ? "true" : "false"));
    }
    let pending = null;
    input.addEventListener("input", (event) => {
      if (event.isTrusted === false) return;
      const text = lastToken();
      clearTimeout(pending);
      if (text.length < 2) { close(); return; }
      pending = setTimeout(async () => {
        try {
          const response = await fetch(`${endpoint}?q=${encodeURIComponent(text)}`, { credentials: "same-origin" });
          items = response.ok ? await response.json() : [];
        } catch (error) { items = []; }
        list.innerHTML = "";
        items.forEach((item, index) => {
          const li = document.createElement("li");
          li.setAttribute("role", "option");
          li.textContent = item.label;
          li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(index); });
          list.appendChild(li);
        });
        active = items.length ? 0 : -1;
        highlight();
        list.hidden = !items.length;
      }, 150);
    });
    input.addEventListener("keydown", (event) => {
      if (list.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
        highlight();
      } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", () => setTimeout(close, 150));
  });
})();

// Recipient fields say which addresses cannot be right before anything is sent.
(function checkAddresses() {
  const form = document.querySelector("form.compose-form");
  if (!form) return;
  const email = /^[^@\s<>(),;:"]+@[^@\s<>(),;:"]+$/;
  // Split on , ; and newlines outside quotes and angle brackets (as the server does).
  function pieces(text) {
    const out = [];
    let current = "", quoted = false, angle = false;
    for (const char of text) {
      if (char === '"') quoted = !quoted;
      else if (char === "<" && !quoted) angle = true;
      else if (char === ">" && !quoted) angle = false;
      if (",;\n".includes(char) && !quoted && !angle) { out.push(current); current = ""; } else current += char;
    }
    out.push(current);
    return out.map((piece) => piece.trim()).filter(Boolean);
  }
  ["to", "cc", "bcc"].forEach((name) => {
    const input = form.elements[name];
    if (!input) return;
    input.addEventListener("blur", () => {
      const bad = pieces(input.value).filter((piece) => {
        const inAngles = /<([^>]*)>\s*$/.exec(piece);
        return !email.test(inAngles ? inAngles[1] : piece);
      });
      input.setCustomValidity(bad.length ? `Not valid: ${bad.join(", ")}` : "");
      input.classList.toggle("invalid", bad.length > 0);
      input.title = bad.length ? `Not valid: ${bad.join(", ")}` : "";
    });
  });
})();

// Filters: drag a rule to another place; the new order is posted (the arrows do the same without JS).
(function reorderFilters() {
  let dragged = null;
  document.addEventListener("dragstart", (event) => {
    const item = event.target instanceof Element ? event.target.closest("#filter-rules li[data-index]") : null;
    if (!item) return;
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.setData("text/plain", item.dataset.index);
    event.dataTransfer.effectAllowed = "move";
  });
  document.addEventListener("dragover", (event) => {
    const over = event.target instanceof Element ? event.target.closest("#filter-rules li[data-index]") : null;
    if (!dragged || !over || over === dragged) return;
    event.preventDefault();
    const box = over.getBoundingClientRect();
    over.parentNode.insertBefore(dragged, event.clientY < box.top + box.height / 2 ? over : over.nextSibling);
  });
  document.addEventListener("dragend", () => {
    if (!dragged) return;
    const item = dragged;
    dragged = null;
    item.classList.remove("dragging");
    const list = item.closest("ol");
    const form = document.getElementById("filter-order");
    if (!list || !form) return;
    const order = Array.from(list.querySelectorAll("li[data-index]")).map((li) => li.dataset.index);
    if (order.every((index, position) => Number(index) === position)) return;
    form.querySelector('input[name="order"]').value = order.join(",");
    form.requestSubmit();
  });
})();
