// Small, hypermedia-friendly helpers. Everything works without this file.
"use strict";

document.addEventListener("htmx:responseError", (event) => {
  const flash = document.getElementById("flash");
  if (flash) {
    flash.textContent = "The server could not complete this request. Please try again.";
    flash.classList.add("flash-error");
  }
});
document.addEventListener("htmx:sendError", () => {
  const flash = document.getElementById("flash");
  if (flash) {
    flash.textContent = "Cannot reach the webmail server. Check your connection.";
    flash.classList.add("flash-error");
  }
});
