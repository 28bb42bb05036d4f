// depotflow UI behaviour, by event delegation (no inline scripts: the CSP forbids them).
const body = document.body;

function showToasts(root) {
  root.querySelectorAll(".toast:not(.showing):not(.show)").forEach((el) => {
    window.bootstrap?.Toast.getOrCreateInstance(el, { delay: 5000 }).show();
  });
}

function toast(message, level) {
  const el = document.createElement("div");
  el.className = `toast text-bg-${level === "error" ? "danger" : "secondary"} border-0`;
  el.setAttribute("role", level === "error" ? "alert" : "status");
  el.dataset.bsAutohide = level === "error" ? "false" : "true";
  const inner = document.createElement("div");
  inner.className = "toast-body";
  inner.textContent = message;
  el.appendChild(inner);
  document.getElementById("toasts")?.appendChild(el);
  showToasts(document.getElementById("toasts"));
}

document.addEventListener("DOMContentLoaded", () => showToasts(document));
document.addEventListener("htmx:load", (evt) => showToasts(evt.target));

// Confirm dialog instead of window.confirm.
document.addEventListener("htmx:confirm", (evt) => {
  const question = evt.detail.question;
  if (!question) return;
  evt.preventDefault();
  const modalEl = document.getElementById("confirm-modal");
  document.getElementById("confirm-modal-text").textContent = question;
  const modal = window.bootstrap.Modal.getOrCreateInstance(modalEl);
  const ok = document.getElementById("confirm-modal-ok");
  const onOk = () => { ok.removeEventListener("click", onOk); modal.hide(); evt.detail.issueRequest(true); };
  ok.addEventListener("click", onOk);
  modal.show();
});

// Errors that are not swapped (403, 404, 5xx) become a toast with the request id.
document.addEventListener("htmx:responseError", (evt) => {
  const rid = evt.detail.xhr.getResponseHeader("X-Request-ID") || "";
  toast(`${body.dataset.msgError} ${rid}`, "error");
});
document.addEventListener("htmx:sendError", () => toast(body.dataset.msgConnection, "error"));

// After a 422 swap, focus the error summary.
document.addEventListener("htmx:afterSwap", (evt) => {
  const summary = evt.detail.target.querySelector?.(".df-error-summary");
  if (summary) summary.focus();
});

// Upload progress on forms marked data-upload-progress.
document.addEventListener("htmx:xhr:progress", (evt) => {
  const form = evt.target.closest?.("[data-upload-progress]");
  const bar = form?.querySelector("progress");
  if (!bar || !evt.detail.lengthComputable) return;
  bar.hidden = false;
  bar.value = Math.round((evt.detail.loaded / evt.detail.total) * 100);
});
