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

// New mail and session end arrive as server-sent events (see GET /events).
document.addEventListener("htmx:sseMessage", (event) => {
  const message = event.detail;
  if (!message || !message.type) return;
  if (message.type === "expired") {
    window.location.assign(document.querySelector(".brand") ? "/login" : window.location.href);
  } else if (message.type === "newmail" && "Notification" in window && Notification.permission === "granted") {
    try {
      for (const mail of JSON.parse(message.data)) {
        new Notification(mail.from || "New mail", { body: mail.subject || "" });
      }
    } catch (error) { /* a malformed event is ignored */ }
  }
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
      e: () => submitReader("archive"),
      "#": () => submitReader("delete"),
      "!": () => submitReader("junk"),
      m: () => { const select = document.querySelector("#move-to"); if (select) select.focus(); },
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
