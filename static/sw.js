/* The service worker (served at <root>/sw.js?v=<static version>, web/routes/offline.py).
   Online it keeps, for the signed-in user only, the pages and message bodies of recent mail and
   follows the server's changes; offline it shows them, and queues changes and sent messages on
   the device until the connection is back. It never fetches anything from another origin
   (remote images stay the browser's and the body's CSP's business) and never renders mail itself:
   what it shows is the server's own, sanitised output. */
"use strict";

const VERSION = new URL(self.location.href).searchParams.get("v") || "0";
const ROOT = new URL("./", self.location.href).pathname.replace(/\/$/, "");
const SHELL = `wm-shell-${VERSION}`;
const META = "wm-meta";
importScripts(`${ROOT}/static/offline.js?v=${VERSION}`);
const WM = self.WMOffline;
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
  + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
// POSTs that change mail and may wait on the device: one message's actions, the list's, sending.
const ACTION = /^\/mail\/(.+)\/(\d+)\/(flags|archive|delete|move|junk|not-junk)$/;
const BULK = /^\/mail\/(.+)\/bulk$/;
const MESSAGE = /^\/mail\/(.+)\/(\d+)(\/body|\/part\/[0-9.]+)?$/;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL)
    .then((cache) => cache.addAll(self.SHELL_FILES.map((file) => `${ROOT}/static/${file}`)))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name.startsWith("wm-shell-") && name !== SHELL).map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

/* ---- whose copy this is ---------------------------------------------------------------- */

async function current() {
  const meta = await caches.open(META);
  const found = await meta.match(`${ROOT}/offline/current`);
  return found ? found.json() : { key: "", enabled: false };
}

async function setCurrent(key, enabled) {
  const meta = await caches.open(META);
  await meta.put(`${ROOT}/offline/current`, new Response(JSON.stringify({ key, enabled })));
  await WM.forget(enabled ? key : "");
}

async function forgetAll() {
  await setCurrent("", false);
}

/* ---- pages ----------------------------------------------------------------------------- */

function appPath(url) {
  return url.pathname.startsWith(`${ROOT}/`) ? url.pathname.slice(ROOT.length) : null;
}

/* The name a page is kept under: its path (a list's page number too); the rest of the query
   (the uidvalidity of the link, highlighted words) does not change what is kept. */
function keptAs(url) {
  const page = url.searchParams.get("page");
  const path = appPath(url);
  if (path && path.includes("/part/") && url.searchParams.get("inline") === "1") return `${url.origin}${url.pathname}?inline=1`;
  return `${url.origin}${url.pathname}${page && page !== "1" && !MESSAGE.test(path) ? `?page=${page}` : ""}`;
}

function keepable(path, url, request) {
  if (request.headers.get("HX-Request")) return false;  // a partial: the full page is kept
  if (path === "/compose") return url.search === "";
  if (!path.startsWith("/mail/") || /\/(raw|source|export|attachments\.zip|next|prev)$/.test(path)) return false;
  return !url.searchParams.get("q");
}

async function keep(key, url, copy, state) {
  if (!key) return;
  if (state.key !== key) {
    // A signed-in page of someone else: the device is theirs now, and keeps nothing of the other.
    await setCurrent(key, true);
  } else if (!state.enabled) return;
  const cache = await caches.open(WM.CACHE_PREFIX + key);
  if (appPath(url).includes("/part/")) {
    // Attachments come along up to the size the user chose.
    const limits = await WM.get(key, "meta", "state").catch(() => null);
    const blob = limits ? await upTo(copy, limits.attachment_bytes) : null;
    if (blob) await cache.put(keptAs(url), new Response(blob, { status: copy.status, headers: copy.headers }));
    return;
  }
  await cache.put(keptAs(url), copy);
}

/* The body if it is no larger than `limit` bytes; a larger one is not read to its end. */
async function upTo(response, limit) {
  const declared = Number(response.headers.get("Content-Length") || 0);
  if (declared > limit || !response.body) return null;
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return new Blob(chunks);
    size += value.length;
    if (size > limit) { reader.cancel(); return null; }
    chunks.push(value);
  }
}

async function fromNetwork(event, url, path) {
  const request = event.request;
  try {
    const response = await fetch(request);
    const key = response.headers.get("X-Offline-Key");
    if (key && response.ok && keepable(path, url, request)) {
      const copy = response.clone();  // now: the page reads the original
      event.waitUntil(current().then((state) => keep(key, url, copy, state)).catch(() => {}));
    }
    return response;
  } catch (error) {
    // htmx asked for part of a page: it fails as without a worker, and the page loads the whole
    // page (which this device may have kept) if a person asked for it (offline.js).
    if (request.headers.get("HX-Request")) return Response.error();
    return fromDevice(url, path);
  }
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function page(title, key, content, status = 200) {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)} — Webmail</title>
<link rel="stylesheet" href="${ROOT}/static/app.css"><script src="${ROOT}/static/offline.js" defer></script></head>
<body data-root="${ROOT}" data-offline-key="${escape(key)}" data-sw="${ROOT}/sw.js?v=${VERSION}" data-offline-copy>
<main class="offline-page">${content}
<p><a class="btn" href="${ROOT}/mail/INBOX">Back to the Inbox</a></p></main></body></html>`;
  return new Response(html, {
    status,
    headers: { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CSP, "Cache-Control": "no-store" },
  });
}

async function markedKept(response) {
  const text = await response.text();
  const headers = new Headers(response.headers);
  return new Response(text.replace("<body ", "<body data-offline-copy "), { status: response.status, headers });
}

async function fromDevice(url, path) {
  const state = await current();
  const unavailable = (what) => page("Not available offline", state.key,
    `<h1>Not available offline</h1><p>${what} is not saved on this device. It shows again once you are back online.</p>`, 503);
  if (!state.key || !state.enabled) return unavailable("This page");
  const cache = await caches.open(WM.CACHE_PREFIX + state.key);
  const message = path.match(MESSAGE);
  const kept = (await cache.match(keptAs(url))) || (message && message[3] ? await cache.match(`${url.origin}${url.pathname}`) : undefined);
  if (kept) return message && message[3] ? kept : markedKept(kept);
  if (message && message[3]) {
    return new Response("<!doctype html><p>This part of the message is not saved on this device.</p>",
      { status: 503, headers: { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": "default-src 'none'" } });
  }
  if (message) {
    const record = await WM.get(state.key, "messages", `${url.origin}${url.pathname}`).catch(() => null);
    if (record && record.body) {
      const from = record.from ? `${record.from} <${record.from_email}>` : record.from_email;
      const when = record.date ? new Date(record.date).toLocaleString() : "";
      const thread = conversation(record, await WM.all(state.key, "messages"));
      const others = thread.length < 2 ? "" : `<nav class="offline-thread" aria-label="Conversation"><h2>In this conversation, saved on this device</h2><ol>${
        thread.map((r) => `<li>${r.id === record.id ? `<strong>${escape(r.from || r.from_email)}: ${escape(r.subject || "(no subject)")}</strong>`
          : `<a href="${escape(r.url)}">${escape(r.from || r.from_email)}: ${escape(r.subject || "(no subject)")}</a>`}</li>`).join("")}</ol></nav>`;
      const parts = (record.parts || []).length ? `<ul class="offline-attachments" aria-label="Attachments">${record.parts.map((part) =>
        `<li><a href="${escape(record.url)}/part/${escape(part.section)}" download>${escape(part.name)}</a></li>`).join("")}</ul>` : "";
      return page(record.subject || "(no subject)", state.key, `<article class="offline-reader">
<h1>${escape(record.subject || "(no subject)")}</h1><p class="offline-from">${escape(from)}</p><p class="hint">${escape(when)}</p>
<iframe class="mail-body" src="${escape(record.url)}/body" title="Message body" sandbox="allow-same-origin" referrerpolicy="no-referrer"></iframe>${parts}</article>${others}`);
    }
    return unavailable("This message");
  }
  if (path.startsWith("/mail/") && url.searchParams.get("q")) {
    // A search: the kept list, which the page searches on this device (offline.js).
    const folder = await cache.match(`${url.origin}${url.pathname}`);
    if (folder) return markedKept(folder);
  }
  return unavailable(path.startsWith("/mail/") ? "This folder" : "This page");
}

/* The kept messages of the record's conversation (joined by In-Reply-To), oldest first. */
function conversation(record, records) {
  const byId = new Map(records.filter((r) => r.message_id).map((r) => [r.message_id, r]));
  const start = (r) => {
    const seen = new Set();
    while (r.in_reply_to && byId.has(r.in_reply_to) && !seen.has(r.in_reply_to)) {
      seen.add(r.in_reply_to);
      r = byId.get(r.in_reply_to);
    }
    return r.message_id || r.id;
  };
  const root = start(record);
  return records.filter((r) => start(r) === root).sort((a, b) => (a.date || "").localeCompare(b.date || ""));
}

async function fromShell(request) {
  const cache = await caches.open(SHELL);
  const found = await cache.match(request, { ignoreSearch: true });
  if (found) return found;
  return fetch(request);
}

/* ---- changes made offline -------------------------------------------------------------- */

function describe(path, fields, records) {
  const one = path.match(ACTION);
  const bulk = path.match(BULK);
  const entry = { kind: "change" };
  const folderPath = one ? one[1] : bulk ? bulk[1] : "";
  entry.list = `${ROOT}/mail/${folderPath}`;
  entry.uid = one ? Number(one[2]) : Number(fields.get("uid") || 0);
  const action = one ? one[3] : fields.get("action") || "";
  if (action === "flags") {
    entry.flag = fields.get("flag");
    entry.value = fields.get("value");
  } else if (action === "star" || action === "unstar") {
    entry.flag = "flagged";
    entry.value = action === "star" ? "1" : "0";
  } else if (action === "read" || action === "unread") {
    entry.flag = "seen";
    entry.value = action === "read" ? "1" : "0";
  } else entry.gone = ["archive", "delete", "move", "junk", "not-junk"].includes(action);
  const names = { flagged: entry.value === "1" ? "Star" : "Remove the star", seen: entry.value === "1" ? "Mark as read" : "Mark as unread" };
  const verb = entry.flag ? names[entry.flag] || `Tag ${entry.flag}` : { archive: "Archive", delete: "Delete", move: `Move to ${fields.get("to") || "a folder"}`, junk: "Junk", "not-junk": "Not junk" }[action] || action;
  const record = records.find((r) => r.url === `${entry.list}/${entry.uid}`);
  entry.what = `${verb} “${record ? record.subject || "(no subject)" : `message ${entry.uid}`}”`;
  return entry;
}

function queueable(path) {
  return ACTION.test(path) || BULK.test(path) || path === "/compose/send" || path === "/compose/draft";
}

async function orQueue(request, path) {
  const body = await request.clone().arrayBuffer();
  try {
    return await fetch(request);
  } catch (error) {
    const state = await current();
    if (!state.key) throw error;
    if (path === "/compose/draft") return new Response(null, { status: 204 });  // kept on the device by app.js
    const type = request.headers.get("Content-Type") || "";
    const fields = type.startsWith("application/x-www-form-urlencoded") ? new URLSearchParams(new TextDecoder().decode(body)) : new URLSearchParams();
    let entry;
    if (path === "/compose/send") {
      entry = { kind: "send", what: "Send the message written offline" };
    } else {
      entry = describe(path, fields, await WM.all(state.key, "messages").catch(() => []));
    }
    const headers = {};
    ["Content-Type", "HX-Request", "HX-Current-URL", "HX-Target"].forEach((name) => {
      if (request.headers.get(name)) headers[name] = request.headers.get(name);
    });
    entry.url = request.url;
    entry.headers = headers;
    entry.csrf = request.headers.get("X-CSRF-Token") || "";
    entry.body = body;
    entry.at = Date.now();
    await WM.put(state.key, "queue", entry);
    notify({ type: "queued" });
    const next = fields.get("next") || "";
    const back = path === "/compose/send" || entry.gone || !next.startsWith(`${ROOT}/`) ? `${entry.list || `${ROOT}/mail/INBOX`}` : next;
    if (request.headers.get("HX-Request")) {
      // A flag stays where it is (offline.js shows it), and so does the compose panel (204: it
      // says the message waits, static/compose.js); a message that leaves goes back to its list.
      return entry.gone ? new Response("", { status: 200, headers: { "HX-Redirect": back } }) : new Response(null, { status: 204 });
    }
    return Response.redirect(new URL(back, self.location.origin).href, 303);
  }
}

let replaying = null;

/* The queue in the order it was made, through the app's normal routes; stops while offline. */
function replay(csrf) {
  if (!replaying) replaying = sendOn(csrf).finally(() => { replaying = null; });
  return replaying;
}

async function sendOn(csrf) {
  const state = await current();
  if (!state.key) return;
  const queue = (await WM.all(state.key, "queue")).sort((a, b) => a.id - b.id);
  let done = 0;
  for (const entry of queue) {
    let response;
    try {
      response = await fetch(entry.url, {
        method: "POST",
        body: entry.body,
        headers: { ...entry.headers, "X-CSRF-Token": csrf || entry.csrf },
        credentials: "same-origin",
        redirect: "manual",
      });
    } catch (error) {
      break;  // still offline
    }
    if (response.status === 401) break;  // signed out meanwhile: it waits for the next sign-in
    if (response.type !== "opaqueredirect" && response.status >= 400) {
      await WM.put(state.key, "conflicts", { what: entry.what, words: await wordsOf(response), at: Date.now() });
    }
    await WM.remove(state.key, "queue", entry.id);
    done += 1;
  }
  if (done) notify({ type: "replayed" });
}

/* The server's reason, from its error page or flash fragment (text only). */
async function wordsOf(response) {
  const html = await response.text().catch(() => "");
  const found = html.match(/class="flash-message[^"]*">([^<]+)</) || html.match(/<p class="error[^"]*"[^>]*>([^<]+)</) || html.match(/<h1[^>]*>([^<]+)</);
  const text = found ? found[1].replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)))
    .replace(/&quot;/g, "\"").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").trim() : "";
  return text || `The server refused it (${response.status}).`;
}

async function notify(message) {
  const clients = await self.clients.matchAll({ includeUncontrolled: true });
  clients.forEach((client) => client.postMessage(message));
}

/* ---- keeping the copy fresh -------------------------------------------------------------- */

let syncing = null;
let lastSync = { at: 0, key: "" };

/* At most every 15 s for page loads; at once for live changes and for a new user. */
function sync(force, key) {
  if (syncing) return syncing.then(() => (force ? sync(false, key) : undefined));
  if (!force && key === lastSync.key && Date.now() - lastSync.at < 15000) return Promise.resolve();
  syncing = refreshCopy().catch(() => {}).finally(() => { syncing = null; lastSync = { at: Date.now(), key }; });
  return syncing;
}

// The worker's own requests say so: they take no message meant for the person (web/flash.py).
const BACKGROUND = { credentials: "same-origin", headers: { "X-Offline-Copy": "1" } };

async function getJSON(path) {
  const response = await fetch(`${ROOT}${path}`, BACKGROUND);
  return { status: response.status, data: response.ok ? await response.json() : null };
}

function textOf(html) {
  return html.replace(/<(style|script|head)[\s\S]*?<\/\1>/gi, " ").replace(/<[^>]+>/g, " ")
    .replace(/&nbsp;/g, " ").replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)))
    .replace(/&quot;/g, "\"").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")
    .replace(/\s+/g, " ").trim().slice(0, 5000);
}

async function refreshCopy() {
  const answer = await getJSON("/offline/state");
  if (answer.status === 401) { await forgetAll(); return; }
  if (!answer.data) return;
  const state = answer.data;
  await setCurrent(state.key, state.enabled);
  if (!state.enabled) return;
  const key = state.key;
  await WM.put(key, "meta", state, "state");
  const cache = await caches.open(WM.CACHE_PREFIX + key);
  const known = new Map((await WM.all(key, "messages")).map((record) => [record.id, record]));
  const wanted = [];
  const lists = [];
  for (const folder of state.folders) {
    const found = await getJSON(`/offline/messages?folder=${encodeURIComponent(folder)}`);
    if (!found.data) continue;  // a folder gone: its messages leave the copy below
    lists.push(found.data.url);
    found.data.messages.forEach((message) => {
      const url = `${found.data.url}/${message.uid}`;
      const id = `${self.location.origin}${url}`;
      const before = known.get(id);
      const fresh = before && before.uidvalidity === found.data.uidvalidity;
      wanted.push({ ...message, id, url, folder: found.data.folder, uidvalidity: found.data.uidvalidity,
        body: fresh ? before.body : false, bytes: fresh ? before.bytes : 0, text: fresh ? before.text : "" });
    });
  }
  wanted.sort((a, b) => (b.date || "").localeCompare(a.date || ""));
  const keepIds = new Set(wanted.slice(0, state.messages).map((record) => record.id));
  // Gone from the server (deleted, moved, expunged elsewhere) or past the limit: gone from here.
  for (const [id] of known) {
    if (!keepIds.has(id)) await dropMessage(key, cache, id);
  }
  const kept = wanted.filter((record) => keepIds.has(record.id));
  let bytes = kept.reduce((sum, record) => sum + (record.body ? record.bytes : 0), 0);
  for (const record of kept) await WM.put(key, "messages", record);
  // The lists as the server shows them now, and a form to write in.
  for (const list of lists) await fetchAndKeep(key, cache, `${list}`);
  if (!(await cache.match(`${self.location.origin}${ROOT}/compose`))) await fetchAndKeep(key, cache, `${ROOT}/compose`);
  for (const record of kept) {
    if (record.body) continue;
    const response = await fetch(`${record.url}/body?uv=${record.uidvalidity}`, BACKGROUND).catch(() => null);
    if (!response || !response.ok) continue;
    const html = await response.clone().text();
    if (bytes + html.length > state.max_bytes) break;
    bytes += html.length;
    await cache.put(`${self.location.origin}${record.url}/body`, response);
    const saved = { ...record, body: true, bytes: html.length, text: textOf(html), parts: [] };
    if (record.attachment && state.attachment_bytes > 0) bytes += await keepParts(cache, saved, state.max_bytes - bytes);
    await WM.put(key, "messages", saved);
  }
  notify({ type: "synced" });
}

/* A kept message's small attachments (as small as the user chose), within the room left. */
async function keepParts(cache, record, room) {
  const folder = encodeURIComponent(record.folder);
  const listed = await getJSON(`/offline/attachments?folder=${folder}&uid=${record.uid}`).catch(() => ({ data: null }));
  let used = 0;
  for (const part of (listed.data && listed.data.attachments) || []) {
    if (used + part.size > room) break;
    const response = await fetch(`${record.url}/part/${part.section}`, BACKGROUND).catch(() => null);
    if (!response || !response.ok) continue;
    await cache.put(`${self.location.origin}${record.url}/part/${part.section}`, response);
    record.parts.push(part);
    record.bytes += part.size;
    used += part.size;
  }
  return used;
}

async function fetchAndKeep(key, cache, path) {
  const response = await fetch(path, BACKGROUND).catch(() => null);
  if (response && response.ok && response.headers.get("X-Offline-Key") === key) {
    await cache.put(`${self.location.origin}${path}`, response);
  }
}

async function dropMessage(key, cache, id) {
  await WM.remove(key, "messages", id);
  const names = await cache.keys();
  await Promise.all(names.filter((request) => request.url === id || request.url.startsWith(`${id}/`) || request.url.startsWith(`${id}?`))
    .map((request) => cache.delete(request)));
}

/* ---- wiring ------------------------------------------------------------------------------ */

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "claim") event.waitUntil(self.clients.claim());
  if (data.type === "forget") event.waitUntil(forgetAll());
  if (data.type === "online") event.waitUntil(replay(data.csrf).then(() => sync(false, data.key)));
  if (data.type === "sync") event.waitUntil(replay(data.csrf).then(() => sync(Boolean(data.force), data.key)));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;  // never anything remote
  const path = appPath(url);
  if (path === null) return;
  if (request.method === "GET") {
    if (path.startsWith("/static/")) event.respondWith(fromShell(request));
    else if (path === "/compose" || (path.startsWith("/mail/") && !path.endsWith("/export"))) event.respondWith(fromNetwork(event, url, path));
    return;
  }
  if (request.method !== "POST") return;
  if (path === "/logout") {
    // Signing out sends on what waits (while the session still holds), then leaves nothing of
    // this user's mail on the device, online or not.
    event.respondWith(replay("").catch(() => {}).then(() => forgetAll()).catch(() => {}).then(() => fetch(request))
      .catch(() => Response.redirect(new URL(`${ROOT}/login?signed_out=1`, self.location.origin).href, 303)));
  } else if (queueable(path)) {
    event.respondWith(orQueue(request, path));
  }
});
