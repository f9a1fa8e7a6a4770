// Small, hypermedia-friendly helpers. Everything works without this file.
"use strict";

// Every URL of the app starts with its root path (WEBMAIL_ROOT_PATH, e.g. /webmail), which the
// server writes on <body>: "" when the app is served at the site's root.
function appURL(path) {
  return (document.body.dataset.root || "") + path;
}

// The server shows dates in the browser's time zone unless the user picked one.
(function rememberTimeZone() {
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && !document.cookie.split("; ").includes("wm_tz=" + zone)) {
      document.cookie = "wm_tz=" + zone + "; path=" + appURL("/") + "; max-age=31536000; SameSite=Lax";
    }
  } catch (error) { /* no Intl: the server uses UTC */ }
})();

function flash(text, error = true) {
  const box = document.getElementById("flash");
  if (!box) return;
  box.innerHTML = "";
  const p = document.createElement("p");
  p.className = error ? "flash-message flash-error" : "flash-message";
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
      const row = document.querySelector(`#message-list li[data-uid="${article.dataset.uid}"]`)
        || Array.from(document.querySelectorAll("#message-list li[data-uids]")).find((li) => li.dataset.uids.split(",").includes(article.dataset.uid));
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
      const row = document.querySelector(`#message-list li[data-uid="${article.dataset.uid}"]`);
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
    window.location.assign(document.querySelector(".brand") ? appURL("/login") : window.location.href);
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

// Typing: in a text field, a list box or an editor (a ticked checkbox is not typing).
function isTyping(element) {
  if (!element) return false;
  if (element.isContentEditable || ["TEXTAREA", "SELECT"].includes(element.tagName)) return true;
  return element.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(element.type);
}

// "/" focuses the search box, unless the user is typing somewhere.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const active = document.activeElement;
  if (isTyping(active)) return;
  const box = document.querySelector('form.search input[name="q"]');
  if (box) {
    event.preventDefault();
    box.focus();
    box.select();
  }
});

// Links inside a [data-htmx-links] container (the list's rows, its toolbar and pager) are fetched
// by htmx into the container's hx-target, pushing the URL, as hx-get on each would; their href is
// the one URL they carry (issue 16: 50 rows, no second copy of it). Without JavaScript they are
// plain links; a middle, Ctrl or Shift click still opens a new tab or window.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("[data-htmx-links] a[href]") : null;
  if (!link || !window.htmx || event.defaultPrevented || event.button !== 0) return;
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  if (link.hasAttribute("download") || link.hasAttribute("hx-get") || link.target || link.closest("[hx-disable]")) return;
  event.preventDefault();
  const done = htmx.ajax("GET", link.getAttribute("href"), { source: link });
  if (done && done.catch) done.catch(() => {});  // htmx shows its own errors (htmx:responseError)
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
    submitBulk(form, to ? `${action}:${to}` : action);
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
        const button = Array.from(readerMove.querySelectorAll('button[name="to"]')).find((b) => b.value === target);
        if (button) readerMove.requestSubmit(button);
      } else {
        actOn("move", target);
      }
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const active = document.activeElement;
    if (isTyping(active)) return;
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
        else { const star = giveStar(cursor()); if (star) star.click(); }
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
// The selection bar and the rows' quick actions submit the bulk form with a button whose value is
// the action ("archive", "move:Projects", "tag:$label1").
function submitBulk(form, action) {
  const button = Array.from(form.querySelectorAll('button[name="action"]')).find((b) => b.value === action);
  if (button) { form.requestSubmit(button); return; }
  const field = document.createElement("input");
  field.type = "hidden";
  field.name = "action";
  field.value = action;
  form.appendChild(field);
  form.requestSubmit();
  field.remove();
}
const MOVING_ACTIONS = ["archive", "delete", "junk", "move"];
document.addEventListener("submit", async (event) => {
  const form = event.target;
  const quick = form instanceof HTMLFormElement && form.classList.contains("quick");
  if (!(form instanceof HTMLFormElement) || (form.id !== "bulk-form" && !quick) || !window.fetch) return;
  if (event.submitter && event.submitter.hasAttribute("formaction")) return;  // e.g. "Filter messages like this"
  const submitted = event.submitter && event.submitter.name === "action" ? event.submitter.value : (form.elements.action ? form.elements.action.value : "");
  const action = submitted.split(":")[0];
  const bin = document.getElementById("bulk-form") && document.getElementById("bulk-form").dataset.bin;
  if (!MOVING_ACTIONS.includes(action) || (action === "delete" && bin)) return;
  if (!quick && form.querySelector('input[name="all"]:checked')) return;
  const rows = quick ? [form.closest("li")]
    : Array.from(document.querySelectorAll("#message-list input.select:checked")).map((box) => box.closest("li"));
  if (!rows.length) return;
  const body = new FormData(form);
  if (event.submitter && event.submitter.name) body.set(event.submitter.name, event.submitter.value);
  event.preventDefault();
  rows.forEach((row) => { row.hidden = true; });
  try {
    // form.action could be an element named "action": read the attribute. The redirect is not
    // followed here: the list it leads to shows the flash ("… moved — Undo") once, so the
    // browser loads it itself.
    const bulkURL = form.getAttribute("action");
    const response = await fetch(bulkURL, { method: "POST", body, credentials: "same-origin", redirect: "manual" });
    if (response.type === "opaqueredirect") {
      const back = body.get("next");
      window.location.assign(typeof back === "string" && back.startsWith("/") ? back : bulkURL.replace(/\/bulk$/, ""));
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    // The error page: on its own (.error-page) or inside the app's chrome (.error-state).
    const words = page.querySelector(".error-page h1, .error-state h1") || page.querySelector(".error");
    rows.forEach((row) => { row.hidden = false; });
    flash(words ? words.textContent.trim() : "The server refused this; nothing was changed.");
  } catch (error) {
    rows.forEach((row) => { row.hidden = false; });
    flash("Cannot reach the webmail server. Nothing was changed.");
  }
});

// The list's rows carry no forms: one #row-tools form (archive, delete, read) is moved into the row
// under the pointer or keyboard focus, with that row's UIDs; it goes back beside the list before
// htmx replaces a row, so it is never swapped away with it.
function placeTools(row) {
  const tools = document.getElementById("row-tools");
  if (!tools || !row || row.classList.contains("open")) return null;
  if (tools.parentElement !== row) row.appendChild(tools);
  tools.elements.uid.value = row.dataset.uids || row.dataset.uid;
  tools.hidden = false;
  return tools;
}
function parkTools() {
  const tools = document.getElementById("row-tools");
  const list = tools && tools.closest("#message-list ul.messages");
  if (list) { tools.hidden = true; list.after(tools); }
}
["mouseover", "focusin"].forEach((type) => document.addEventListener(type, (event) => {
  const row = event.target instanceof Element ? event.target.closest("#message-list li.msg") : null;
  if (!row) return;
  placeTools(row);
  giveStar(row);
  // The rows are sent without draggable and without their dates' long titles (issue 16): a row
  // under the pointer or the focus gets both before it can be dragged or its date read.
  if (row.dataset.uid && !row.classList.contains("search-hit")) row.draggable = true;
  const time = row.querySelector("time[datetime]:not([title])");
  if (time) time.title = fullDate(time.getAttribute("datetime"), row.closest("[data-tz]"));
}));
// An htmx response's rows come without their checkbox and their subject's id, which labels it
// (web/rows.py lean_markup): each row gets them, as _message_row.html writes them, when it is
// inserted (a mutation observer runs before the browser paints and before htmx settles, so nothing
// sees a row without them).
function giveBox(row) {
  const pick = row.querySelector(":scope > .pick");
  if (!pick || pick.querySelector("input") || !row.dataset.uid || row.dataset.uids) return;
  const subject = row.querySelector(":scope > a .subject");
  if (subject && !subject.id) subject.id = `sub-${row.dataset.uid}`;
  const box = document.createElement("input");
  box.type = "checkbox";
  box.className = "select";
  box.name = "uid";
  box.value = row.dataset.uid;
  box.setAttribute("form", "bulk-form");
  box.setAttribute("aria-labelledby", `sel-label sub-${row.dataset.uid}`);
  pick.prepend(box);
}
function completeRows(node) {
  if (!(node instanceof Element)) return;
  if (node.matches("li.msg")) { if (node.closest("#message-list")) giveBox(node); return; }
  if (node.closest("#message-list") || node.querySelector("#message-list")) node.querySelectorAll("li.msg").forEach(giveBox);
}
new MutationObserver((records) => records.forEach((record) => record.addedNodes.forEach(completeRows)))
  .observe(document.documentElement, { childList: true, subtree: true });
if (document.body) completeRows(document.body);

// An htmx response leaves out the star button of an unstarred row (web/rows.py): it shows only on
// hover or focus, so it is added then, as the server writes it (_message_row.html); a row that
// has one keeps it. Not for conversations (no star) or search hits.
function giveStar(row) {
  if (!row || !row.matches("#message-list li.msg[data-uid]:not([data-uids], .search-hit)")) return null;
  let star = row.querySelector(":scope > .star");
  if (star) return star;
  const link = row.querySelector(":scope > a");
  if (!link) return null;
  const flagged = row.classList.contains("flagged");
  star = document.createElement("button");
  star.setAttribute("form", flagged ? "row-unstar" : "row-star");
  star.name = "uid";
  star.value = row.dataset.uid;
  star.className = "star";
  star.title = flagged ? "Remove the star" : "Star";
  star.setAttribute("aria-pressed", String(flagged));
  link.after(star);
  return star;
}
// "Mon, 2 Mar 2026 10:59 (CET)" in the user's zone (the list's data-tz), as the server writes it.
function fullDate(iso, zoned) {
  const when = new Date(iso);
  if (!iso || Number.isNaN(when.getTime())) return "";
  const options = { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" };
  let parts;
  try { parts = new Intl.DateTimeFormat("en-US", { ...options, timeZone: zoned ? zoned.dataset.tz : undefined }).formatToParts(when); }
  catch (error) { parts = new Intl.DateTimeFormat("en-US", options).formatToParts(when); }
  const part = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  return `${part.weekday}, ${part.day} ${part.month} ${part.year} ${part.hour}:${part.minute} (${part.timeZoneName})`;
}
document.addEventListener("htmx:beforeSwap", parkTools);
// Opening a message: that row is about to be the open one, which shows no quick actions.
document.addEventListener("htmx:beforeRequest", (event) => {
  if (event.detail.target && event.detail.target.id === "reader") parkTools();
});
document.addEventListener("htmx:oobBeforeSwap", parkTools);
// A row's star submits #row-star or #row-unstar naming its UID (without JavaScript: the bulk action
// and back to the list); here it sets the message's flag and the answer updates the row in place.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !["row-star", "row-unstar"].includes(form.id) || !window.htmx) return;
  const uid = event.submitter && event.submitter.value;
  if (!uid) return;
  event.preventDefault();
  htmx.ajax("POST", `${form.dataset.flags}/${uid}/flags`,
    { source: form, swap: "none", values: { flag: "flagged", value: form.dataset.value } });
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
  submitBulk(form, `move:${link.dataset.folder}`);
});

// "This page" selects or clears every row shown; the bar says how many are selected.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement)) return;
  if (box.id === "select-page") {
    document.querySelectorAll("#message-list input.select").forEach((row) => { row.checked = box.checked; });
  }
  if (box.id === "select-page" || box.classList.contains("select") || box.name === "all") countSelection();
});
document.addEventListener("click", (event) => {
  if (event.target instanceof Element && event.target.closest("#message-list input.select")) setTimeout(countSelection);
});
function countSelection() {
  const list = document.getElementById("message-list");
  if (!list) return;
  const boxes = Array.from(list.querySelectorAll("input.select"));
  const ticked = boxes.filter((box) => box.checked);
  const all = list.querySelector('.selection-bar input[name="all"]');
  const page = document.getElementById("select-page");
  if (page) {
    page.checked = boxes.length > 0 && ticked.length === boxes.length;
    page.indeterminate = ticked.length > 0 && ticked.length < boxes.length;
  }
  if (all && !ticked.length) all.checked = false;
  if (ticked.length) loadMenus(false);  // the selection bar's menus are about to be used
  const label = list.querySelector(".selected-count");
  if (label) {
    const messages = ticked.reduce((sum, box) => sum + box.value.split(",").length, 0);
    label.textContent = all && all.checked ? `All ${label.dataset.all} selected` : `${messages} selected`;
  }
}

// What the list needs only when the user acts (issue 16): an htmx response's list has an empty
// <template data-menu> in place of each panel of its export, sort, move, tag and more menus and of
// #row-tools (web/rows.py lean_markup, partials/_list_menus.html). They are fetched as a page load
// has them, from the list's own URL (.list-header[data-url]) with HX-Target: list-menus, once per
// list, as the user comes near: the pointer moving or the focus in the list, a ticked row, a menu
// opened (not a live update under a resting pointer: nobody is about to act then).
// Without a connection (or refused) the page itself is asked for, which the device may keep
// (sw.js), and its panels are taken; a failed fetch is tried again after a while, or at once when
// a menu is opened.
const menuLoads = new WeakMap();
function loadMenus(now) {
  const list = document.getElementById("message-list");
  const header = list && list.querySelector(".list-header[data-url]");
  if (!header || !list.querySelector("template[data-menu]")) return Promise.resolve();
  const known = menuLoads.get(header);
  if (known && (known.promise || (!now && Date.now() - known.failed < 10000))) return known.promise || Promise.resolve();
  const url = header.dataset.url;
  const promise = menuSource(url, { "HX-Request": "true", "HX-Target": "list-menus" })
    .then((source) => fillMenus(header, source))
    .catch(() => menuSource(url, {}).then((source) => fillMenus(header, source)))
    .then(() => { menuLoads.set(header, { promise: Promise.resolve() }); },
      () => { menuLoads.set(header, { failed: Date.now() }); });
  menuLoads.set(header, { promise });
  return promise;
}
async function menuSource(url, headers) {
  const response = await fetch(url, { headers, credentials: "same-origin" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return new DOMParser().parseFromString(await response.text(), "text/html");
}
function fillMenus(header, source) {
  if (!header.isConnected) return;  // another list came meanwhile: its own header asks for its own
  let missing = 0;
  header.parentElement.querySelectorAll("template[data-menu]").forEach((slot) => {
    const panel = source.querySelector(`[data-menu="${slot.dataset.menu}"]:not(template)`);
    if (panel) slot.replaceWith(document.importNode(panel, true));
    else missing += 1;
  });
  if (missing) throw new Error(`${missing} menus not in the answer`);
  // The row tools go to the row under the pointer or the focus, as if it had been entered now.
  const row = header.parentElement.querySelector("li.msg:hover, li.msg:focus-within");
  if (row) placeTools(row);
}
["pointermove", "pointerdown", "focusin"].forEach((type) => document.addEventListener(type, (event) => {
  if (event.target instanceof Element && event.target.closest("#message-list")) loadMenus(false);
}, { passive: true }));
document.addEventListener("toggle", (event) => {
  const menu = event.target;
  if (menu instanceof HTMLDetailsElement && menu.open && menu.querySelector(":scope > template[data-menu]")) loadMenus(true);
}, true);

// Menus (details.menu): one open at a time; Escape or a click elsewhere closes it.
document.addEventListener("toggle", (event) => {
  const menu = event.target;
  if (!(menu instanceof HTMLDetailsElement) || !menu.classList.contains("menu") || !menu.open) return;
  document.querySelectorAll("details.menu[open]").forEach((other) => {
    if (other !== menu && !other.contains(menu)) other.open = false;
  });
}, true);
document.addEventListener("click", (event) => {
  const inside = event.target instanceof Element ? event.target.closest("details.menu") : null;
  document.querySelectorAll("details.menu[open]").forEach((menu) => {
    if (menu !== inside && !menu.contains(inside)) menu.open = false;
  });
  // A choice made in a menu closes it (the form it submits may not leave the page).
  const item = event.target instanceof Element ? event.target.closest(".menu-panel .menu-item") : null;
  if (item && inside) setTimeout(() => { inside.open = false; });
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const open = document.querySelector("details.menu[open]");
  if (open) {
    open.open = false;
    const summary = open.querySelector("summary");
    if (summary) summary.focus();
    event.stopPropagation();
  } else if (document.body.classList.contains("drawer-open")) {
    toggleDrawer(false);
  }
}, true);

// Phones: the folders open as a drawer (without JavaScript the link opens it through :target).
function toggleDrawer(open) {
  const button = document.querySelector(".menu-button");
  document.body.classList.toggle("drawer-open", open);
  if (button) button.setAttribute("aria-expanded", String(open));
  const sidebar = document.getElementById("sidebar");
  if (open && sidebar) { const first = sidebar.querySelector("a, button"); if (first) first.focus(); }
  if (!open && button && button.offsetParent) button.focus();
}
document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  if (target.closest(".menu-button")) { event.preventDefault(); toggleDrawer(!document.body.classList.contains("drawer-open")); }
  else if (target.closest(".drawer-close, .drawer-scrim")) { event.preventDefault(); toggleDrawer(false); }
  else if (target.closest("#sidebar a[data-folder]") && document.body.classList.contains("drawer-open")) toggleDrawer(false);
});

// Live updates replace the list's HTML; what the user was doing stays: the ticked rows, the
// keyboard cursor, an open menu, the focused control and the scroll position (kept on the row
// that was at the top, so new mail arriving above does not push the list away).
let liveState = null;
document.addEventListener("htmx:beforeSwap", (event) => {
  const list = event.detail.target;
  if (!list || list.id !== "message-list" || !isLiveRefresh(event)) return;
  const rows = Array.from(list.querySelectorAll("li[data-uid]"));
  const top = rows.find((row) => row.offsetTop + row.offsetHeight > list.scrollTop + headerHeight(list));
  const focused = document.activeElement && list.contains(document.activeElement) ? document.activeElement : null;
  liveState = {
    ticked: new Set(Array.from(list.querySelectorAll("input.select:checked")).flatMap((box) => box.value.split(","))),
    all: Boolean(list.querySelector('.selection-bar input[name="all"]:checked')),
    cursor: (list.querySelector("li.cursor") || {}).dataset?.uid,
    menus: Array.from(list.querySelectorAll("details.menu[open]")).map(menuKey),
    focus: focused ? { uid: (focused.closest("li[data-uid]") || {}).dataset?.uid, key: controlKey(focused) } : null,
    anchor: top ? { uid: top.dataset.uid, offset: top.offsetTop - list.scrollTop } : null,
    scrolled: list.scrollTop,
    tools: keptTools(list),
  };
});
document.addEventListener("htmx:afterSwap", (event) => {
  const list = event.detail.target;
  if (!list || list.id !== "message-list" || !liveState) return;
  const state = liveState;
  const anchor = state.anchor && list.querySelector(`li[data-uid="${state.anchor.uid}"]`);
  list.scrollTop = state.scrolled > 0 && anchor ? anchor.offsetTop - state.anchor.offset : state.scrolled;
  reuseTools(list, state.tools);
});
// The row tools this list already has stay through a live update of it (the same URL, so the same
// form): the row under a resting pointer keeps its quick actions, with no fetch (the browser's
// mouseover on the new row, or the query below, moves them in). If they were still on their way,
// the user was about to act: the new list's are asked for.
function keptTools(list) {
  const header = list.querySelector(".list-header[data-url]");
  const tools = document.getElementById("row-tools");
  if (!header) return null;
  if (tools && list.contains(tools)) return { form: tools, url: header.dataset.url };
  const known = menuLoads.get(header);
  return known && known.promise ? { form: null, url: header.dataset.url } : null;
}
function reuseTools(list, kept) {
  const header = list.querySelector(".list-header[data-url]");
  const slot = list.querySelector('template[data-menu="tools"]');
  if (!kept || !slot || !header) return;
  if (kept.form && header.dataset.url === kept.url) {
    slot.replaceWith(kept.form);
    const row = list.querySelector("li.msg:hover, li.msg:focus-within");
    if (row) placeTools(row);
  } else if (!kept.form && list.matches(":hover, :focus-within")) {
    loadMenus(false);
  }
}
// After htmx settles (it puts the new HTML's attributes back on elements with the same id then).
document.addEventListener("htmx:afterSettle", (event) => {
  const list = event.detail.target;
  if (!list || list.id !== "message-list" || !liveState) return;
  const state = liveState;
  liveState = null;
  list.querySelectorAll("input.select").forEach((box) => {
    if (box.value.split(",").some((uid) => state.ticked.has(uid))) box.checked = true;
  });
  const all = list.querySelector('.selection-bar input[name="all"]');
  if (all && state.all) all.checked = true;
  if (state.cursor) { const row = list.querySelector(`li[data-uid="${state.cursor}"]`); if (row) row.classList.add("cursor"); }
  countSelection();
  // An open menu (and a focused control in it) comes back with its panel: the new list's panels
  // are fetched first (loadMenus), so it never shows empty.
  const reopen = () => {
    list.querySelectorAll("details.menu").forEach((menu) => { if (state.menus.includes(menuKey(menu))) menu.open = true; });
    if (state.focus) {
      const scope = state.focus.uid ? list.querySelector(`li[data-uid="${state.focus.uid}"]`) : list;
      const control = scope && Array.from(scope.querySelectorAll("a, button, input, summary")).find((el) => controlKey(el) === state.focus.key);
      if (control) control.focus({ preventScroll: true });
    }
  };
  if (state.menus.length) loadMenus(true).then(reopen);
  else reopen();
});
// A live update asks for the list as it is shown now: its hx-get is the page load's, and the list
// may have been sorted, paged or searched through htmx since.
document.addEventListener("htmx:configRequest", (event) => {
  const list = event.detail.elt;
  if (!list || list.id !== "message-list" || !isLiveRefresh(event)) return;
  const header = list.querySelector(".list-header[data-url]");
  if (header) event.detail.path = header.dataset.url;
});
function isLiveRefresh(event) {
  const trigger = (event.detail.requestConfig || event.detail).triggeringEvent;  // configRequest: the config itself
  return Boolean(trigger && String(trigger.type).startsWith("sse:"));
}
function headerHeight(list) { const header = list.querySelector(".list-header"); return header ? header.offsetHeight : 0; }
function menuKey(menu) { return menu.className; }
function controlKey(element) {
  return [element.tagName, element.className, element.getAttribute("name"), element.getAttribute("value") || element.id].join("|");
}

// Touch screens: swipe a row right to archive it, left to delete it (Settings can turn this off).
(function swipeRows() {
  const list = document.getElementById("message-list");
  if (!list || list.dataset.swipe !== "on" || !window.matchMedia("(pointer: coarse)").matches) return;
  let start = null;
  list.addEventListener("touchstart", (event) => {
    const row = event.target instanceof Element ? event.target.closest("li[data-uid]") : null;
    if (!row || event.touches.length !== 1 || event.target.closest("input, button, summary")) { start = null; return; }
    start = { row, x: event.touches[0].clientX, y: event.touches[0].clientY, dx: 0, locked: false };
  }, { passive: true });
  list.addEventListener("touchmove", (event) => {
    if (!start) return;
    const dx = event.touches[0].clientX - start.x;
    const dy = event.touches[0].clientY - start.y;
    if (!start.locked && Math.abs(dy) > Math.abs(dx)) { start = null; return; }
    start.locked = true;
    start.dx = dx;
    start.row.classList.add("swiping");
    start.row.style.transform = `translateX(${dx}px)`;
    start.row.classList.toggle("swipe-archive", dx > 60);
    start.row.classList.toggle("swipe-delete", dx < -60);
  }, { passive: true });
  list.addEventListener("touchend", () => {
    if (!start) return;
    const { row, dx } = start;
    start = null;
    row.classList.remove("swiping", "swipe-archive", "swipe-delete");
    row.style.transform = "";
    if (Math.abs(dx) < row.offsetWidth * 0.35) return;
    const form = placeTools(row);
    const button = form && form.querySelector(`button[value="${dx > 0 ? "archive" : "delete"}"]`);
    if (button) form.requestSubmit(button);
  });
})();


// The toast: its Undo offer stays for 10 seconds; "Sending in 5 seconds" counts down to the moment
// the message goes. Also for a toast that arrives later (after sending from the compose panel).
function armToast(toast) {
  const seconds = Number(toast.dataset.seconds || 10);
  setTimeout(() => toast.remove(), Math.max(seconds, 1) * 1000);
  const words = toast.classList.contains("toast-countdown") && toast.querySelector("[data-flash]");
  if (!words) return;
  let left = seconds;
  const timer = setInterval(() => {
    left -= 1;
    if (left <= 0) { clearInterval(timer); words.textContent = "Sending…"; return; }
    words.textContent = words.textContent.replace(/\d+ seconds?/, left === 1 ? "1 second" : `${left} seconds`);
  }, 1000);
}
document.querySelectorAll(".toast").forEach(armToast);

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

// Import: the upload's progress, then "Importing…" while the server appends; the report replaces
// the page's content. Without JavaScript the form posts as usual and the report page comes back.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.matches("[data-import-form]") || !window.XMLHttpRequest || !window.DOMParser) return;
  const box = form.querySelector("[data-import-progress]");
  if (!box) return;
  event.preventDefault();
  const bar = box.querySelector("progress");
  const status = box.querySelector("[data-import-status]");
  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  box.hidden = false;
  form.querySelector('button[type="submit"]').disabled = true;
  status.textContent = "Uploading…";
  request.upload.addEventListener("progress", (progress) => {
    if (!progress.lengthComputable) return;
    bar.value = Math.round((progress.loaded * 100) / progress.total);
    bar.textContent = `${bar.value} %`;
    if (progress.loaded === progress.total) status.textContent = "Importing… (large files take a while)";
  });
  request.addEventListener("load", () => {
    const page = new DOMParser().parseFromString(request.responseText, "text/html");
    const fresh = page.querySelector("main");
    const current = document.querySelector("main");
    if (fresh && current) current.replaceWith(fresh); else form.submit();
  });
  request.addEventListener("error", () => { status.textContent = "The upload failed: check the connection and try again."; form.querySelector('button[type="submit"]').disabled = false; });
  request.send(new FormData(form));
});

// Settings: the theme chosen shows at once (it is saved with the form); the notifications page
// asks the browser and says what it answered.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || input.name !== "theme" || !input.closest("[data-theme-choice]")) return;
  document.documentElement.dataset.theme = input.value;
  const meta = document.querySelector('meta[name="color-scheme"]');
  if (meta) meta.content = input.value === "system" ? "light dark" : input.value;
});
(function notificationSettings() {
  const state = document.getElementById("notify-state");
  const button = document.getElementById("notify-on");
  if (!state || !button) return;
  function show() {
    if (!("Notification" in window)) { state.textContent = "This browser cannot show notifications."; return; }
    const words = { granted: "Notifications are on for this browser.", denied: "This browser was told not to show notifications; change it in the browser's site settings.", default: "Notifications are off for this browser." };
    state.textContent = words[Notification.permission] || words.default;
    button.hidden = Notification.permission !== "default";
  }
  button.addEventListener("click", () => Notification.requestPermission().then(show));
  show();
})();

// POP3 account: the port follows the security choice, unless someone typed a port of their own.
(function portFollowsSecurity() {
  const security = document.querySelector("select[data-ports]");
  const port = document.getElementById("port");
  if (!security || !port) return;
  const ports = JSON.parse(security.dataset.ports);
  const defaults = new Set(Object.values(ports).map(String));
  security.addEventListener("change", () => {
    if (!port.value || defaults.has(port.value)) port.value = ports[security.value] || port.value;
  });
})();
