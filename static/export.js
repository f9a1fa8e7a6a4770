// Exports: how far a streamed download is, and a background export that is ready; how far an
// import is while the server appends (the upload's own progress is app.js's).
// The browser downloads the file as usual (the page stays); the page names the export with an
// id of its own (?progress=, or a form field for the selection bar), and the server tells that
// id's progress over the page's live events (GET /events, "export" events, webmail/events.py).
// Without JavaScript, or on a page without live events, the download is the same, just silent.
(function exportProgress() {
  const boxes = new Map();
  const number = (n) => Number(n).toLocaleString("en");

  function newId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function live() {
    return Boolean(document.querySelector("[sse-connect]"));
  }

  function show(id) {
    const box = document.createElement("div");
    box.className = "toast export-progress";
    box.setAttribute("role", "status");
    box.dataset.exportId = id;
    const text = document.createElement("span");
    text.dataset.exportText = "";
    text.textContent = "Preparing the export…";
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.setAttribute("aria-label", "Export");
    box.append(text, bar);
    document.body.append(box);
    boxes.set(id, box);
  }

  function finish(id, words) {
    const box = boxes.get(id);
    if (!box) return;
    box.querySelector("[data-export-text]").textContent = words;
    box.dataset.exportState = "done";
    boxes.delete(id);
    setTimeout(() => box.remove(), 6000);
  }

  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[data-export]") : null;
    if (!link || !live()) return;
    const id = newId();
    const address = new URL(link.href, window.location.href);
    address.searchParams.set("progress", id);
    link.href = address.pathname + address.search;
    show(id);
  });

  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !button || !/^export:/.test(button.value || "") || !live()) return;
    let field = form.querySelector('input[name="progress"]');
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "progress";
      form.append(field);
    }
    field.value = newId();
    show(field.value);
  });

  // The page's stream (htmx's SSE extension opened it) gets a listener for "export" events.
  const heard = new WeakSet();
  document.addEventListener("htmx:sseOpen", (event) => {
    const source = event.detail && event.detail.source;
    if (!source || heard.has(source)) return;
    heard.add(source);
    source.addEventListener("export", onExport);
    source.addEventListener("import", onImport);
  });

  // An import's form carries its id; while the server appends, its status says how far it is.
  function onImport(message) {
    let data;
    try { data = JSON.parse(message.data); } catch (error) { return; }
    const field = Array.from(document.querySelectorAll('form[data-import-form] input[name="progress"]')).find((input) => input.value === data.id);
    const status = field && field.form.querySelector("[data-import-status]");
    if (!status) return;
    status.textContent = `Importing… ${number(data.done)} message${data.done === 1 ? "" : "s"} of the file so far, ${number(data.imported)} imported.`;
  }

  function onExport(message) {
    let data;
    try { data = JSON.parse(message.data); } catch (error) { return; }
    if (data.state === "ready") {
      // A plain notice shown before ("… in the background") gives way; one with Undo stays.
      document.querySelectorAll(".toast:not(.export-progress)").forEach((toast) => { if (!toast.querySelector("form")) toast.remove(); });
      const box = document.createElement("div");
      box.className = "toast export-ready";
      box.setAttribute("role", "status");
      const text = document.createElement("span");
      text.textContent = `Your export of ${number(data.total)} messages is ready.`;
      const link = document.createElement("a");
      // The worker names the path in the app; the page knows where the app is mounted.
      const path = data.download.startsWith("/") && !data.download.startsWith("//") ? data.download : "";
      link.href = path ? (document.body.dataset.root || "") + path : "#";
      link.setAttribute("download", "");
      link.textContent = "Download";
      box.append(text, link);
      document.body.append(box);
      setTimeout(() => box.remove(), 20000);
      return;
    }
    const box = boxes.get(data.id);
    if (!box) return;
    const bar = box.querySelector("progress");
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    if (data.state === "running") {
      box.querySelector("[data-export-text]").textContent = `Exporting ${number(data.done)} of ${number(data.total)} messages`;
    } else if (data.state === "done") {
      finish(data.id, `Exported ${number(data.done)} message${data.done === 1 ? "" : "s"}.`);
    } else {
      finish(data.id, `The export stopped after ${number(data.done)} of ${number(data.total)} messages.`);
    }
  }
})();
