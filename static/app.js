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
