// Compose (needs app.js): the form of the compose page, of the panel over the mailbox and of a
// reply under the message. initCompose(form) wires one form; its handle closes it again. Without
// this file the same form is a page of its own (/compose), and works as well.

// The compose editor: plain text (a textarea) or formatted (contenteditable, a few commands).
function composeEditor(form) {
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
}

// Compose: attachments uploaded as they are chosen (with progress), drafts saved every 30 seconds
// and when the page is left, and a copy in this browser offered back after a crash or close.
function composeKeeping(form, handle) {
  const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
  const draftField = form.querySelector('input[name="draft_id"]');
  const status = document.getElementById("draft-status");
  const STORE = "wm-draft:";

  // ---- attachments
  const input = form.querySelector("#attachments");
  const progressBox = document.getElementById("upload-progress");
  function upload(file) {
    const row = document.createElement("div");
    row.className = "upload-row";
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
  // By name only: with chips, the field a person types in has the id "to" and no name.
  const named = (name) => form.querySelector(`[name="${name}"]`);
  const editor = form.querySelector("#html-editor");
  function snapshot() {
    const data = { at: Date.now(), html: editor ? editor.innerHTML : "" };
    fields.forEach((name) => { const field = named(name); data[name] = field ? field.value : ""; });
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
  let leaving = null;  // the submit that takes the form away (send, send later, discard)
  form.addEventListener("submit", (event) => {
    leaving = event;
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
      fields.forEach((name) => {
        const field = named(name);
        if (!field) return;
        field.value = data[name] || "";
        field.dispatchEvent(new Event("recipients:reload"));
      });
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
      if (response.status === 507) dirty = true;  // mailbox full: tried again at the next autosave, the browser copy stays
      return response.ok;
    } catch (error) {
      dirty = true;
      status.textContent = "Not saved: no connection. The text is kept in this browser.";
      return false;
    }
  }
  if (saveButton) {
    saveButton.addEventListener("click", saveDraft);
    handle.timers.push(setInterval(() => { if (dirty && !(leaving && !leaving.defaultPrevented)) saveDraft(); }, 30000));
    window.addEventListener("pagehide", () => {
      // Not after a send or a discard went out: a late save would bring the draft back.
      if (leaving && !leaving.defaultPrevented) return;
      if (dirty && navigator.sendBeacon) navigator.sendBeacon(saveButton.dataset.url, draftData());
    }, { signal: handle.signal });
  }
  handle.isDirty = () => dirty;
  handle.touch = () => { dirty = true; };
  // Saved in Drafts now (before the form leaves the page): true if it is.
  handle.save = async () => Boolean(saveButton) && saveDraft();
}

// Recipients as chips over the plain text fields (which still carry the names to/cc/bcc):
// Enter, comma or leaving the field confirms a recipient, and never sends; a pasted list becomes
// chips; Backspace in an empty field takes the last one back for editing; addresses that cannot
// be right are red and hold the message back; suggestions come from the address book, its
// groups and the people written to before.
const EMAIL = /^[^@\s<>(),;:"]+@[^@\s<>(),;:"]+$/;
// Split on , ; and newlines outside quotes and angle brackets (as the server does).
function addressPieces(text) {
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
function validAddress(piece) {
  const inAngles = /<([^>]*)>\s*$/.exec(piece);
  return EMAIL.test(inAngles ? inAngles[1] : piece);
}
function recipientFields(form) {
  const base = document.querySelector(".contacts-suggest-url");
  const endpoint = base ? base.dataset.url : appURL("/contacts/suggest");
  form.querySelectorAll("input[data-recipients]").forEach((entry) => {
    const name = entry.name;
    const field = document.createElement("input");
    field.type = "hidden";
    field.name = name;
    field.value = entry.value;
    entry.removeAttribute("name");
    entry.value = "";
    const box = document.createElement("div");
    box.className = "chips";
    entry.replaceWith(box);
    box.append(entry, field);
    let chips = [];

    function sync() {
      field.value = [...chips, entry.value.trim()].filter(Boolean).join(", ");
      const bad = chips.filter((chip) => !validAddress(chip));
      entry.setCustomValidity(bad.length ? `Not valid: ${bad.join(", ")}` : "");
      field.dispatchEvent(new Event("input", { bubbles: true }));
    }
    function chipFor(value, index) {
      const chip = document.createElement("span");
      const valid = validAddress(value);
      chip.className = valid ? "chip" : "chip invalid";
      chip.title = valid ? value : `Not a valid address: ${value}`;
      const text = document.createElement("span");
      text.className = "chip-text";
      const named = /^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$/.exec(value);
      text.textContent = named && named[1] ? named[1] : value;
      chip.append(text);
      if (!valid) {
        const why = document.createElement("span");
        why.className = "visually-hidden";
        why.textContent = " (not a valid address)";
        chip.append(why);
      }
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "icon-btn";
      remove.setAttribute("aria-label", `Remove ${value}`);
      remove.innerHTML = '<svg class="icon" aria-hidden="true" width="14" height="14"><use href="' + iconHref("close") + '"></use></svg>';
      remove.addEventListener("click", () => { chips.splice(index, 1); render(); sync(); entry.focus(); });
      chip.append(remove);
      text.addEventListener("click", () => {  // edit it
        commit();
        chips.splice(chips.indexOf(value), 1);
        entry.value = value;
        render(); sync(); entry.focus();
      });
      return chip;
    }
    function render() {
      box.querySelectorAll(".chip").forEach((chip) => chip.remove());
      chips.forEach((value, index) => box.insertBefore(chipFor(value, index), entry));
      entry.placeholder = chips.length ? "" : entry.dataset.placeholder || "";
    }
    function commit() {
      const added = addressPieces(entry.value);
      if (!added.length) { entry.value = ""; return; }
      chips.push(...added);
      entry.value = "";
      render();
      sync();
    }
    function load() { chips = addressPieces(field.value); entry.value = ""; render(); sync(); }
    field.addEventListener("recipients:reload", load);
    load();
    box.addEventListener("click", (event) => { if (event.target === box) entry.focus(); });

    // suggestions
    const list = document.createElement("ul");
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.id = `${entry.id}-suggestions`;
    list.hidden = true;
    entry.setAttribute("aria-controls", list.id);
    entry.setAttribute("aria-autocomplete", "list");
    box.parentElement.appendChild(list);
    let active = -1;
    let items = [];
    function close() { list.hidden = true; active = -1; }
    function choose(index) {
      const item = items[index];
      if (!item) return;
      entry.value = item.value;
      close();
      commit();
      entry.focus();
    }
    function highlight() {
      Array.from(list.children).forEach((li, i) => li.setAttribute("aria-selected", i === active ? "true" : "false"));
    }
    let pending = null;
    entry.addEventListener("input", () => {
      sync();
      const text = entry.value.trim();
      clearTimeout(pending);
      if (text.length < 2 || !window.fetch) { close(); return; }
      pending = setTimeout(async () => {
        try {
          const response = await fetch(`${endpoint}?q=${encodeURIComponent(text)}`, { credentials: "same-origin" });
          items = response.ok ? await response.json() : [];
        } catch (error) { items = []; }
        if (entry.value.trim() !== text) return;  // typed on meanwhile
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
    entry.addEventListener("keydown", (event) => {
      const open = !list.hidden && items.length;
      if (open && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
        highlight();
      } else if (event.key === "Enter") {
        event.preventDefault();  // confirms the recipient; sending is the Send button's job
        if (open && active >= 0) choose(active); else commit();
      } else if (event.key === "Tab" && open && active >= 0 && !event.shiftKey) {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape" && open) {
        event.stopPropagation();
        close();
      } else if ((event.key === "," || event.key === ";") && !/"[^"]*$/.test(entry.value)) {
        event.preventDefault();
        commit();
      } else if (event.key === "Backspace" && !entry.value && chips.length) {
        event.preventDefault();
        entry.value = chips.pop();
        render(); sync();
      }
    });
    entry.addEventListener("paste", (event) => {
      const text = event.clipboardData ? event.clipboardData.getData("text") : "";
      if (!/[,;\n]/.test(text)) return;
      event.preventDefault();
      entry.value += text;
      commit();
    });
    entry.addEventListener("blur", () => setTimeout(() => { close(); if (document.activeElement !== entry) commit(); }, 150));
  });

  // Cc and Bcc behind links, open when they have recipients (a draft, a reply to all).
  const links = form.querySelector(".more-recipients");
  if (links) {
    links.hidden = false;
    form.querySelectorAll(".field-row[data-optional]").forEach((row) => {
      const field = row.querySelector('input[type="hidden"]');
      const link = links.querySelector(`[data-reveal="${row.id}"]`);
      const empty = !field || !field.value;
      row.hidden = empty;
      if (link) {
        link.hidden = !empty;
        link.setAttribute("aria-expanded", String(!empty));
        link.addEventListener("click", () => {
          row.hidden = false;
          link.hidden = true;
          const entry = row.querySelector("input[data-recipients]");
          if (entry) entry.focus();
        });
      }
    });
  }
}
function iconHref(name) {
  const use = document.querySelector("svg.icon use");
  const sprite = use ? use.getAttribute("href").split("#")[0] : appURL("/static/icons.svg");
  return `${sprite}#${name}`;
}

// Compose: changing the From identity swaps its signature in the text; a message without a
// subject or a text asks once before it goes.
function composeChecks(form) {
  const identity = form.querySelector("select#identity");
  const body = form.querySelector("#body");
  const SEPARATOR = "-- ";
  function signatureOf(option) { return option ? option.dataset.signature || "" : ""; }
  let previous = identity ? identity.selectedOptions[0] : null;
  if (identity && body) {
    identity.addEventListener("change", () => {
      const before = signatureOf(previous);
      const after = signatureOf(identity.selectedOptions[0]);
      previous = identity.selectedOptions[0];
      const oldBlock = `${SEPARATOR}\n${before}`;
      const newBlock = `${SEPARATOR}\n${after}`;
      if (before && body.value.includes(oldBlock)) {
        body.value = after ? body.value.replace(oldBlock, newBlock) : body.value.replace(`\n\n${oldBlock}`, "").replace(oldBlock, "");
      } else if (after && !body.value.includes(newBlock)) {
        const quote = body.value.search(/\n\n(On .* wrote:|-{5,} Forwarded message)/);
        const at = quote >= 0 ? quote : body.value.length;
        body.value = `${body.value.slice(0, at)}\n\n${newBlock}${body.value.slice(at)}`;
      }
      const warning = document.getElementById("from-warning");
      if (warning) {  // the server is known to refuse this From address
        const refusal = identity.selectedOptions[0].dataset.refusal || "";
        warning.querySelector("span").textContent = refusal;
        warning.hidden = !refusal;
      }
      const editor = document.getElementById("html-editor");
      if (editor && before && after) {
        editor.querySelectorAll("div, p").forEach((node) => {
          if (node.textContent === before) node.textContent = after;
        });
      }
      body.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  const warning = document.getElementById("empty-warning");
  const sendButton = form.querySelector(".send-button");
  let confirmed = false;
  function written() {
    const html = form.querySelector('input[name="format"]:checked');
    const editor = document.getElementById("html-editor");
    let text = html && html.value === "html" && editor ? editor.innerText : (body ? body.value : "");
    const signature = signatureOf(identity ? identity.selectedOptions[0] : null);
    const cut = text.indexOf(`\n${SEPARATOR}\n`);
    if (cut >= 0 && (!signature || text.slice(cut).includes(signature))) {
      const rest = text.slice(cut + SEPARATOR.length + 2 + signature.length);
      text = text.slice(0, cut) + rest;
    } else if (text.startsWith(`${SEPARATOR}\n`)) text = "";
    return text.trim() !== "";
  }
  form.addEventListener("submit", (event) => {
    if (!warning || confirmed || event.submitter !== sendButton) return;
    const subject = form.elements.subject ? form.elements.subject.value.trim() : "x";
    const missing = [];
    if (!subject) missing.push("subject");
    if (!written()) missing.push("text");
    if (!missing.length) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    warning.querySelector("p").textContent = `This message has no ${missing.join(" and no ")}. Send it anyway?`;
    warning.hidden = false;
    document.getElementById("send-anyway").focus();
  }, true);
  if (warning) {
    document.getElementById("send-anyway").addEventListener("click", () => {
      confirmed = true;
      warning.hidden = true;
      form.requestSubmit(sendButton);
    });
    document.getElementById("keep-writing").addEventListener("click", () => {
      warning.hidden = true;
      const target = form.elements.subject && !form.elements.subject.value.trim() ? form.elements.subject : body;
      if (target) target.focus();
    });
  }
}

function initCompose(form) {
  const controller = new AbortController();
  const handle = { form, signal: controller.signal, timers: [], isDirty: () => false, touch: () => {}, save: async () => false };
  composeEditor(form);
  composeKeeping(form, handle);
  recipientFields(form);
  composeChecks(form);
  handle.close = () => { controller.abort(); handle.timers.forEach(clearInterval); };
  form.composeHandle = handle;
  return handle;
}
document.querySelectorAll("form.compose-form").forEach(initCompose);

// ---------------------------------------------------------------- the panel and replies in place
// On the mailbox page (it has #compose-dock) a compose link opens the form without leaving the
// mail: in a panel over the list (full screen on a phone) that can be minimised to a bar while
// other mail is read, or, for a reply, under the message itself. The form posts by fetch, and
// what comes back is what the page would have shown: the form again (a refusal, a question), or
// the mailbox with its toast (sent, scheduled, discarded), whose toast then shows here.
(function composePanel() {
  const dock = document.getElementById("compose-dock");
  if (!dock || !window.fetch || !window.DOMParser) return;
  const COMPOSE = appURL("/compose");
  const HEADERS = { "HX-Request": "true", "HX-Target": "compose-dock" };  // the form alone
  const phone = window.matchMedia("(max-width: 759px)");
  let open = null;  // { section, handle, url }

  function composeURL(link) {
    const url = new URL(link.href, location.href);
    return url.origin === location.origin && url.pathname === COMPOSE ? url : null;
  }
  async function request(url, init = {}) {
    const response = await fetch(url, { credentials: "same-origin", ...init, headers: HEADERS });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    page.queued = response.status === 204;  // the offline worker (sw.js) keeps it on the device
    return page;
  }
  const inline = () => Boolean(open && open.section.closest("#inline-compose"));

  function mount(section, where) {
    const box = where || dock;
    box.replaceChildren(section);
    section.classList.toggle("compose-inline", Boolean(where));
    section.querySelectorAll(".compose-minimise, .compose-popout").forEach((button) => { button.hidden = false; });
    if (window.htmx) window.htmx.process(section);
    const handle = initCompose(section.querySelector("form.compose-form"));
    open = { section, handle, url: open ? open.url : "" };
    wire(section, handle);
    minimise(false, { focus: false });
    return open;
  }

  function wire(section, handle) {
    const { form, signal } = handle;
    const title = section.querySelector("#compose-title");
    const subject = form.querySelector("#subject");
    const retitle = () => { title.textContent = (subject && subject.value.trim()) || section.dataset.heading; };
    if (subject) subject.addEventListener("input", retitle, { signal });
    retitle();
    section.querySelector(".compose-minimise").addEventListener("click", (event) => {
      event.stopPropagation();
      if (inline()) { toDock(true); return; }
      minimise(!dock.classList.contains("minimised"));
    }, { signal });
    section.querySelector(".compose-head").addEventListener("click", (event) => {
      if (dock.classList.contains("minimised") && !event.target.closest("a, button")) minimise(false);
    }, { signal });
    section.querySelector(".compose-popout").addEventListener("click", popOut, { signal });
    section.querySelector(".compose-close").addEventListener("click", (event) => {
      event.preventDefault();
      close();
    }, { signal });
    form.addEventListener("submit", submit, { signal });
  }

  // A phone's full-screen panel is the whole page for the keyboard and screen readers too.
  function shieldPage() {
    const shell = document.querySelector("body > .shell");
    const covering = Boolean(open) && phone.matches && !inline() && !dock.classList.contains("minimised");
    if (shell) shell.inert = covering;
    document.querySelectorAll("body > .topbar").forEach((bar) => { bar.inert = covering; });
  }
  phone.addEventListener("change", shieldPage);

  function minimise(yes, { focus = true } = {}) {
    if (!open) return;
    dock.classList.toggle("minimised", yes && !inline());
    shieldPage();
    const button = open.section.querySelector(".compose-minimise");
    button.setAttribute("aria-expanded", String(!yes));
    button.title = yes ? "Restore" : "Minimise";
    button.querySelector(".visually-hidden").textContent = yes ? "Restore the message" : "Minimise";
    if (!yes && focus) focusFirst();
  }
  function focusFirst() {
    const form = open.handle.form;
    const to = form.querySelector("#to");
    const hidden = form.querySelector('input[type="hidden"][name="to"]');
    const target = to && !(hidden && hidden.value) ? to : form.querySelector("#body:not([hidden])") || form.querySelector("#html-editor");
    if (!target) return;
    target.focus({ preventScroll: true });
    if (target.id === "body") { target.setSelectionRange(0, 0); target.scrollTop = 0; }
  }

  // Under another message, or anywhere else: the reply moves to the dock, minimised.
  function toDock(minimised) {
    const box = open.section.closest("#inline-compose");
    dock.replaceChildren(open.section);
    open.section.classList.remove("compose-inline");
    if (box) box.remove();
    minimise(minimised);
  }
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (open && inline() && event.detail.target && event.detail.target.id === "reader") toDock(true);
  });

  // Closing keeps the message in Drafts (when something was written since it was last saved).
  async function close() {
    if (!open) return true;
    const { section, handle } = open;
    if (handle.isDirty()) {
      if (!(await handle.save())) return false;  // the status line says why; the message stays
      flash("The message is kept in Drafts.", false);
    }
    forget(section);
    return true;
  }
  function forget(section) {
    const id = section.querySelector('input[name="draft_id"]');
    if (id) localStorage.removeItem(`wm-draft:${id.value}`);  // in Drafts, or sent, or discarded
    open.handle.close();
    const box = section.closest("#inline-compose");
    section.remove();
    if (box) box.remove();
    dock.classList.remove("minimised");
    open = null;
    shieldPage();
  }

  async function popOut() {
    const { section, handle } = open;
    const id = section.querySelector('input[name="draft_id"]').value;
    if (await handle.save()) {
      location.href = `${COMPOSE}?${new URLSearchParams({ draft_id: id })}`;
      return;
    }
    // No Drafts folder to go through: the form itself goes to the page.
    const button = document.createElement("button");
    button.type = "submit";
    button.hidden = true;
    button.formAction = appURL("/compose/restore");
    handle.form.dataset.native = "1";
    handle.form.append(button);
    handle.form.requestSubmit(button);
  }

  async function openCompose(url, link) {
    const article = link && !phone.matches ? link.closest("#reader article.message") : null;
    if (open) {
      if (open.url === url.href && !article) { minimise(false); return; }
      if (!(await close())) return;
    }
    let section = null;
    try { section = (await request(url.href)).querySelector(".compose-panel"); } catch (error) { /* below */ }
    if (!section) { location.href = url.href; return; }  // the page itself says what went wrong
    let where = null;
    if (article) {
      where = document.createElement("div");
      where.id = "inline-compose";
      where.className = "inline-compose";
      (article.querySelector(".message-scroll") || article).appendChild(where);
    }
    mount(section, where).url = url.href;
    if (where) section.scrollIntoView({ block: "nearest" });
    focusFirst();
  }

  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target instanceof Element ? event.target.closest("a[href]") : null;
    if (!link || link.closest(".compose-panel") || link.hasAttribute("download")) return;
    const url = composeURL(link);
    if (!url) return;
    event.preventDefault();
    const menu = link.closest("details[open]");
    if (menu) menu.open = false;
    openCompose(url, link);
  });

  async function submit(event) {
    const form = event.currentTarget;
    if (event.defaultPrevented || form.dataset.native) return;
    event.preventDefault();
    const submitter = event.submitter;
    const action = submitter && submitter.hasAttribute("formaction") ? submitter.formAction : form.action;
    const data = new FormData(form, submitter);
    const footer = form.querySelector(".compose-footer");
    footer.setAttribute("aria-busy", "true");
    form.querySelectorAll(".compose-footer button").forEach((button) => { button.disabled = true; });
    let page = null;
    try { page = await request(action, { method: "POST", body: data }); } catch (error) { /* below */ }
    if (!open || open.handle.form !== form) return;  // closed meanwhile
    footer.removeAttribute("aria-busy");
    form.querySelectorAll(".compose-footer button").forEach((button) => { button.disabled = false; });
    if (!page) { flash("Cannot reach the webmail server. Nothing was sent; the message is still here."); return; }
    if (page.queued) {  // offline: it goes when the connection is back
      forget(open.section);
      flash("No connection: the message waits on this device and goes when the connection is back.", false);
      return;
    }
    const again = page.querySelector(".compose-panel");
    if (again) {  // refused, or a question (the attachment reminder): the form back, as the server sent it
      const where = open.section.closest("#inline-compose");
      open.handle.close();
      mount(again, where);
      return;
    }
    if (page.querySelector("#message-list")) {  // sent, scheduled or discarded
      forget(open.section);
      showToast(page.querySelector(".toast"));
      return;
    }
    const words = page.querySelector(".flash-message, .error");
    flash(words ? words.textContent.trim() : "The server could not complete this request. Please try again.");
  }

  function showToast(toast) {
    if (!toast) return;
    document.querySelectorAll("body > .toast").forEach((old) => old.remove());
    const shell = document.querySelector("body > .shell");
    if (shell) shell.before(toast); else document.body.append(toast);
    if (window.htmx) window.htmx.process(toast);
    armToast(toast);
  }

  // The toast's Undo of a send or of Discard brings the message back into the panel.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.closest(".toast")) return;
    const path = new URL(form.action, location.href).pathname;
    if (!(path === appURL("/compose/restore") || /\/compose\/outbox\/\d+\/undo$/.test(path))) return;
    event.preventDefault();
    if (open && !(await close())) return;
    let page = null;
    try { page = await request(form.action, { method: "POST", body: new FormData(form) }); } catch (error) { /* below */ }
    const section = page && page.querySelector(".compose-panel");
    const words = page && page.querySelector(".flash-message");
    if (!section && !words) { HTMLFormElement.prototype.submit.call(form); return; }
    form.closest(".toast").remove();
    if (!section) { flash(words.textContent.trim()); return; }  // too late: it went
    mount(section, null);
    focusFirst();
  });
})();
