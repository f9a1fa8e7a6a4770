/* Mail without a connection. The first half (WMOffline) is shared with the service worker
   (static/sw.js imports this file): the device's copy of one user's mail in IndexedDB
   (wm-offline-<key>) and the Cache API (wm-mail-<key>), under the opaque key the server gives
   (web/offline.py). The second half runs in pages: it registers the worker, says when the page
   shows mail saved on this device, searches that mail, and shows what waits to be sent. */
"use strict";

(function (scope) {
  const WM = (scope.WMOffline = {});
  WM.DB_PREFIX = "wm-offline-";
  WM.CACHE_PREFIX = "wm-mail-";

  WM.request = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

  const open = {};
  WM.openDb = (key) => {
    if (!open[key]) {
      open[key] = new Promise((resolve, reject) => {
        const request = indexedDB.open(WM.DB_PREFIX + key, 1);
        request.onupgradeneeded = () => {
          const db = request.result;
          db.createObjectStore("messages", { keyPath: "id" });
          db.createObjectStore("queue", { keyPath: "id", autoIncrement: true });
          db.createObjectStore("conflicts", { keyPath: "id", autoIncrement: true });
          db.createObjectStore("meta");
        };
        request.onsuccess = () => {
          const db = request.result;
          // Signing out deletes the database: let go of it at once so that nothing blocks that.
          db.onversionchange = () => { db.close(); delete open[key]; };
          resolve(db);
        };
        request.onerror = () => { delete open[key]; reject(request.error); };
      });
    }
    return open[key];
  };

  WM.store = async (key, name, mode, work) => {
    const db = await WM.openDb(key);
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(name, mode);
      let result;
      Promise.resolve(work(transaction.objectStore(name))).then((value) => { result = value; }, reject);
      transaction.oncomplete = () => resolve(result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  };
  WM.all = (key, name) => WM.store(key, name, "readonly", (store) => WM.request(store.getAll()));
  WM.put = (key, name, value, id) => WM.store(key, name, "readwrite", (store) => WM.request(id === undefined ? store.put(value) : store.put(value, id)));
  WM.get = (key, name, id) => WM.store(key, name, "readonly", (store) => WM.request(store.get(id)));
  WM.remove = (key, name, id) => WM.store(key, name, "readwrite", (store) => WM.request(store.delete(id)));

  /* Everything this device keeps of any user's mail, except the user `keep` (the signed-in one). */
  WM.forget = async (keep) => {
    const names = await caches.keys();
    await Promise.all(names.filter((name) => name.startsWith(WM.CACHE_PREFIX) && name !== WM.CACHE_PREFIX + keep)
      .map((name) => caches.delete(name)));
    const databases = indexedDB.databases ? await indexedDB.databases() : [];
    await Promise.all(databases.filter((db) => db.name && db.name.startsWith(WM.DB_PREFIX) && db.name !== WM.DB_PREFIX + keep)
      .map((db) => {
        const key = db.name.slice(WM.DB_PREFIX.length);
        if (open[key]) open[key].then((opened) => opened.close(), () => {});
        delete open[key];
        return WM.request(indexedDB.deleteDatabase(db.name)).catch(() => {});
      }));
  };

  /* What a kept message is searched by: sender, subject and text, without case or accents. */
  WM.fold = (text) => String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  WM.matches = (record, words) => {
    const haystack = WM.fold([record.from, record.from_email, record.to, record.subject, record.preview, record.text].join(" "));
    return words.every((word) => haystack.includes(word));
  };
})(self);

if (typeof document !== "undefined") (function () {
  const WM = self.WMOffline;
  const body = document.body;
  const root = body.dataset.root || "";
  const key = body.dataset.offlineKey;
  const worker = navigator.serviceWorker;

  if ("offlineForget" in body.dataset) {
    // The sign-in page: nobody is signed in on this device, so nothing of anyone's mail stays.
    WM.forget("").catch(() => {});
    if (worker && worker.controller) worker.controller.postMessage({ type: "forget" });
    return;
  }
  if (!key || !worker) return;

  worker.register(body.dataset.sw, { scope: root + "/" }).catch(() => { /* not offered (no TLS, private window) */ });
  // A page that loaded while the worker was starting is not yet its: ask for it to be.
  worker.ready.then((registration) => {
    if (!worker.controller && registration.active) registration.active.postMessage({ type: "claim" });
  });

  const csrf = () => {
    try { return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; } catch (error) { return ""; }
  };
  const tell = (message) => worker.ready.then((registration) => {
    if (registration.active) registration.active.postMessage({ ...message, key, csrf: csrf() });
  });
  const offline = () => !navigator.onLine || "offlineCopy" in body.dataset;
  let backOnline = false;  // the connection came back while this page was open

  /* A quiet line at the top while the page shows what this device kept. */
  function banner() {
    let line = document.getElementById("offline-banner");
    if (!offline()) { if (line) line.remove(); return; }
    if (!line) {
      line = document.createElement("p");
      line.id = "offline-banner";
      line.className = "offline-banner";
      line.setAttribute("role", "status");
      body.prepend(line);
    }
    if (backOnline) {
      // Back online on a page the device kept: it may be behind the mailbox.
      const latest = document.createElement("a");
      latest.href = location.href;
      latest.textContent = "Show the latest";
      line.replaceChildren("Back online — this page is the copy saved on this device. ", latest);
    } else line.textContent = "Offline — showing mail saved on this device";
  }

  /* What waits on this device, and what could not be done when it was sent on. */
  async function pending() {
    let queue = [];
    let conflicts = [];
    try {
      queue = await WM.all(key, "queue");
      conflicts = await WM.all(key, "conflicts");
    } catch (error) { return; }
    let note = document.getElementById("offline-pending");
    const mails = queue.filter((entry) => entry.kind === "send").length;
    const changes = queue.length - mails;
    const parts = [];
    if (mails) parts.push(`${mails === 1 ? "1 message waits" : `${mails} messages wait`} in the outbox on this device; ${mails === 1 ? "it is" : "they are"} sent when you are back online.`);
    if (changes) parts.push(`${changes === 1 ? "1 change waits" : `${changes} changes wait`} on this device until you are back online.`);
    if (parts.length) {
      if (!note) {
        note = document.createElement("p");
        note.id = "offline-pending";
        note.className = "offline-pending";
        note.setAttribute("role", "status");
        body.prepend(note);
      }
      note.textContent = parts.join(" ");
    } else if (note) note.remove();
    let list = document.getElementById("offline-conflicts");
    if (conflicts.length && !list) {
      list = document.createElement("div");
      list.id = "offline-conflicts";
      list.className = "offline-conflicts";
      list.setAttribute("role", "alert");
      body.prepend(list);
    }
    if (list) {
      list.replaceChildren();
      conflicts.forEach((conflict) => {
        const item = document.createElement("p");
        item.textContent = `Done offline but not possible now: ${conflict.what}. ${conflict.words}`;
        const dismiss = document.createElement("button");
        dismiss.type = "button";
        dismiss.className = "btn btn-small";
        dismiss.textContent = "OK";
        dismiss.addEventListener("click", () => WM.remove(key, "conflicts", conflict.id).then(pending));
        item.append(" ", dismiss);
        list.append(item);
      });
      if (!conflicts.length) list.remove();
    }
    overlay(queue);
  }

  /* Changes made offline show at once on the kept pages (the server has them once sent on). */
  function overlay(queue) {
    queue.forEach((entry) => {
      if (!entry.uid) return;
      document.querySelectorAll(`#message-list li[data-uid="${entry.uid}"]`).forEach((row) => {
        if (entry.list && location.pathname !== entry.list && !location.pathname.startsWith(entry.list + "/")) return;
        if (entry.gone) row.hidden = true;
        if (entry.flag === "flagged") {
          row.classList.toggle("flagged", entry.value === "1");
          const star = row.querySelector(":scope > .star") || (window.giveStar && window.giveStar(row));
          if (star) star.setAttribute("aria-pressed", entry.value === "1" ? "true" : "false");
        }
        if (entry.flag === "seen") row.classList.toggle("unseen", entry.value !== "1");
      });
    });
  }

  /* Offline, a search of the list looks through the mail kept on this device. */
  async function searchKept() {
    const params = new URLSearchParams(location.search);
    const q = (params.get("q") || "").trim();
    const list = document.querySelector("#message-list ul, #message-list ol");
    if (!q || !offline() || !list) return;
    const words = WM.fold(q).split(/\s+/).filter(Boolean);
    const records = (await WM.all(key, "messages")).filter((record) => WM.matches(record, words))
      .sort((a, b) => (b.date || "").localeCompare(a.date || ""));
    const input = document.querySelector('form.search input[name="q"]');
    if (input) input.value = q;
    list.replaceChildren();
    records.forEach((record) => {
      const row = document.createElement("li");
      row.className = "msg" + (record.flags.includes("\\Seen") ? "" : " unseen") + (record.flags.includes("\\Flagged") ? " flagged" : "");
      row.dataset.uid = record.uid;
      const link = document.createElement("a");
      link.className = "row-link";
      link.href = record.url;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = record.from || record.from_email || "(unknown sender)";
      const subject = document.createElement("span");
      subject.className = "subject";
      subject.textContent = record.subject || "(no subject)";
      const preview = document.createElement("span");
      preview.className = "preview";
      preview.textContent = record.preview || "";
      link.append(who, subject, preview);
      row.append(link);
      list.append(row);
    });
    let note = document.getElementById("offline-search");
    if (!note) {
      note = document.createElement("p");
      note.id = "offline-search";
      note.className = "offline-search";
      note.setAttribute("role", "status");
      list.before(note);
    }
    note.textContent = records.length
      ? `${records.length === 1 ? "1 message" : `${records.length} messages`} saved on this device ${records.length === 1 ? "matches" : "match"}.`
      : "No message saved on this device matches.";
    document.querySelectorAll("#message-list .pager, #message-list .empty").forEach((element) => { element.hidden = true; });
  }

  function refresh() {
    banner();
    pending();
    searchKept().catch(() => {});
  }

  worker.addEventListener("message", (event) => {
    const kind = event.data && event.data.type;
    if (kind === "replayed" || kind === "synced") { backOnline = true; banner(); }  // the server answered
    if (["queued", "replayed", "synced"].includes(kind)) pending();
  });
  // A kept page keeps trying (the browser's online event does not always come): what waits goes
  // as soon as the server answers.
  if ("offlineCopy" in body.dataset) setInterval(() => tell({ type: "sync" }), 10000);
  // Back online: send on what waits and look again at once (things changed meanwhile).
  window.addEventListener("online", () => { backOnline = true; banner(); tell({ type: "sync", force: true }); });
  window.addEventListener("offline", () => { backOnline = false; banner(); });
  // Offline, a link or search a person used loads the whole page, which the device may have kept;
  // a refresh in the background just waits for the connection.
  document.addEventListener("htmx:sendError", (event) => {
    const detail = event.detail || {};
    const config = detail.requestConfig || {};
    const source = config.elt instanceof Element ? config.elt : null;
    if (config.verb !== "get" || !source || !source.closest("a[href], form") || !detail.pathInfo) return;
    location.assign(detail.pathInfo.finalRequestPath);
  });
  // Live changes (new mail, flags, expunges) reach the device's copy as they reach the page.
  let soon = null;
  document.addEventListener("htmx:sseMessage", (event) => {
    const kind = event.detail && event.detail.type;
    if (kind !== "mailbox" && kind !== "newmail") return;
    clearTimeout(soon);
    soon = setTimeout(() => tell({ type: "sync", force: true }), 300);
  });
  // A page from the network: the copy follows (in the background); a page from the device: see
  // what is still to send.
  refresh();  // deferred: the document is parsed
  // Online: send on what waits, then bring the copy up to date, once the page has what it needs.
  if (!offline()) setTimeout(() => tell({ type: "online" }), 1000);
})();
