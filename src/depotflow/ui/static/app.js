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
  modalEl.addEventListener("hidden.bs.modal", () => ok.removeEventListener("click", onOk), { once: true });
  modal.show();
});

// The same dialog for plain (non-htmx) forms: `data-df-confirm` (or `hx-confirm`) on the form or
// its submit button asks first, then submits with the same button.
document.addEventListener("submit", (evt) => {
  const form = evt.target;
  if (form.hasAttribute("hx-post") || form.dataset.dfConfirmed === "1") return;
  const submitter = evt.submitter;
  const question = submitter?.dataset.dfConfirm || submitter?.getAttribute("hx-confirm")
    || form.dataset.dfConfirm || form.getAttribute("hx-confirm");
  if (!question) return;
  evt.preventDefault();
  evt.stopImmediatePropagation();
  const modalEl = document.getElementById("confirm-modal");
  document.getElementById("confirm-modal-text").textContent = question;
  const modal = window.bootstrap.Modal.getOrCreateInstance(modalEl);
  const ok = document.getElementById("confirm-modal-ok");
  const onOk = () => {
    ok.removeEventListener("click", onOk);
    modal.hide();
    form.dataset.dfConfirmed = "1";
    form.requestSubmit(submitter || undefined);
  };
  ok.addEventListener("click", onOk);
  modalEl.addEventListener("hidden.bs.modal", () => ok.removeEventListener("click", onOk), { once: true });
  modal.show();
}, true);

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

// Dialogs: content swapped into #dialog-content opens the shared modal; a 2xx response that
// carries HX-Trigger "df:close-dialog" (or an element with data-df-close) closes it.
// Bootstrap ignores hide() while the modal is still fading in, and a fast answer (a keyboard user
// who signs at once) can arrive in that window: the close then waits for "shown".
const dialogEl = document.getElementById("dialog");
let dialogPhase = "hidden";
if (dialogEl) {
  dialogEl.addEventListener("show.bs.modal", () => { dialogPhase = "showing"; });
  dialogEl.addEventListener("shown.bs.modal", () => { dialogPhase = "shown"; });
  dialogEl.addEventListener("hide.bs.modal", () => { dialogPhase = "hiding"; });
  dialogEl.addEventListener("hidden.bs.modal", () => {
    dialogPhase = "hidden";
    document.getElementById("dialog-content").replaceChildren();
    // Focus goes back to what opened the dialog, or to the page heading when that is gone
    // (after a signature the main region has been replaced).
    if (dialogOpener?.isConnected) dialogOpener.focus(); else focusHeading();
    dialogOpener = null;
  });
}
function focusHeading() {
  const heading = document.querySelector("#main h1");
  if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); } else document.getElementById("main")?.focus();
}
let dialogOpener = null;
document.addEventListener("htmx:beforeRequest", (evt) => {
  if (evt.detail.target?.id === "dialog-content" && dialogPhase === "hidden") dialogOpener = evt.detail.elt;
});
function closeDialog() {
  if (!dialogEl) return;
  const modal = window.bootstrap.Modal.getOrCreateInstance(dialogEl);
  if (dialogPhase === "showing") dialogEl.addEventListener("shown.bs.modal", () => modal.hide(), { once: true });
  else if (dialogPhase === "shown") modal.hide();
}
document.addEventListener("htmx:afterSwap", (evt) => {
  if (evt.detail.target.id !== "dialog-content") return;
  if (evt.detail.target.querySelector("[data-df-close]")) { closeDialog(); return; }
  window.bootstrap.Modal.getOrCreateInstance(dialogEl).show();
  const first = evt.detail.target.querySelector("[autofocus], input:not([type=hidden]):not([disabled]), select, textarea, button.btn-primary");
  // Focus the first field, unless focus is already inside (the error summary after a 422, or a
  // user who has started typing): the timer must never move a keyboard user's caret.
  if (first) setTimeout(() => { if (!evt.detail.target.contains(document.activeElement)) first.focus(); }, 50);
});
document.addEventListener("df:close-dialog", closeDialog);
// After a signature (HX-Trigger-After-Settle "df:refresh-main"): the dialog closes and the main
// region is read again in place, so the state badge, the approval panel and the history show the
// new state without a page reload.
document.addEventListener("df:refresh-main", () => {
  closeDialog();
  window.htmx.ajax("GET", window.location.href, { target: "#main", select: "#main", swap: "outerHTML" })
    .then(() => { if (dialogPhase === "hidden" && document.activeElement === document.body) focusHeading(); });
});

// Buttons are disabled while their request is in flight (a double click signs or posts once).
document.addEventListener("htmx:beforeRequest", (evt) => {
  const form = evt.target.closest?.("form");
  form?.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; b.dataset.dfBusy = "1"; });
});
document.addEventListener("htmx:afterRequest", (evt) => {
  const form = evt.target.closest?.("form");
  form?.querySelectorAll("button[data-df-busy]").forEach((b) => { b.disabled = false; delete b.dataset.dfBusy; });
});
document.addEventListener("submit", (evt) => {
  const form = evt.target;
  if (form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) return;
  setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
});

// Combobox (ARIA 1.2 pattern): the visible input searches, the listbox shows options, the hidden
// input keeps the chosen id. Arrows move, Enter chooses, Escape closes.
function comboParts(el) {
  const root = el.closest("[data-df-combobox]");
  if (!root) return null;
  return {
    root,
    input: root.querySelector("[role=combobox]"),
    list: root.querySelector("[role=listbox]"),
    value: root.querySelector("[data-df-combobox-value]"),
  };
}
function comboOpen(c, open) {
  c.list.hidden = !open;
  c.input.setAttribute("aria-expanded", open ? "true" : "false");
  if (!open) c.input.removeAttribute("aria-activedescendant");
}
function comboChoose(c, option) {
  c.value.value = option.dataset.value;
  c.input.value = option.dataset.label || option.textContent.trim();
  c.value.dispatchEvent(new Event("change", { bubbles: true }));
  comboOpen(c, false);
}
document.addEventListener("htmx:afterSwap", (evt) => {
  const c = comboParts(evt.detail.target);
  if (!c || evt.detail.target !== c.list) return;
  const options = c.list.querySelectorAll("[role=option]");
  options.forEach((o, i) => { if (!o.id) o.id = `${c.list.id}-o${i}`; o.setAttribute("aria-selected", "false"); });
  comboOpen(c, document.activeElement === c.input && options.length > 0);
});
document.addEventListener("input", (evt) => {
  const c = comboParts(evt.target);
  if (c && evt.target === c.input) c.value.value = "";
});
document.addEventListener("keydown", (evt) => {
  const c = comboParts(evt.target);
  if (!c || evt.target !== c.input) return;
  const options = [...c.list.querySelectorAll("[role=option]")];
  const current = options.findIndex((o) => o.id === c.input.getAttribute("aria-activedescendant"));
  if (evt.key === "ArrowDown" || evt.key === "ArrowUp") {
    if (!options.length) return;
    evt.preventDefault();
    comboOpen(c, true);
    const next = evt.key === "ArrowDown" ? Math.min(current + 1, options.length - 1) : Math.max(current - 1, 0);
    options.forEach((o, i) => { o.setAttribute("aria-selected", i === next ? "true" : "false"); o.classList.toggle("active", i === next); });
    c.input.setAttribute("aria-activedescendant", options[next].id);
    options[next].scrollIntoView({ block: "nearest" });
  } else if (evt.key === "Enter" && !c.list.hidden && current >= 0) {
    evt.preventDefault();
    comboChoose(c, options[current]);
  } else if (evt.key === "Escape" && !c.list.hidden) {
    evt.preventDefault();
    comboOpen(c, false);
  }
});
document.addEventListener("click", (evt) => {
  const option = evt.target.closest?.("[data-df-combobox] [role=option]");
  if (option) { comboChoose(comboParts(option), option); return; }
  document.querySelectorAll("[data-df-combobox] [role=listbox]:not([hidden])").forEach((list) => {
    if (!list.closest("[data-df-combobox]").contains(evt.target)) comboOpen(comboParts(list), false);
  });
});

// Unsaved changes: forms marked data-df-dirty-guard warn before the page is left with edits.
let dirtyForm = null;
document.addEventListener("input", (evt) => {
  const form = evt.target.closest?.("form[data-df-dirty-guard]");
  if (form) dirtyForm = form;
});
document.addEventListener("submit", (evt) => { if (evt.target === dirtyForm) dirtyForm = null; });
document.addEventListener("htmx:beforeRequest", (evt) => { if (evt.target === dirtyForm || evt.target.closest?.("form") === dirtyForm) dirtyForm = null; });
window.addEventListener("beforeunload", (evt) => {
  if (dirtyForm && document.body.contains(dirtyForm)) { evt.preventDefault(); evt.returnValue = ""; }
});

// Keyboard shortcuts (not while typing): "/" focuses the page's search box, "g" then "d" goes home.
let lastKey = "";
document.addEventListener("keydown", (evt) => {
  const t = evt.target;
  if (evt.ctrlKey || evt.metaKey || evt.altKey || t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName)) return;
  if (evt.key === "/") {
    const search = document.querySelector("main input[type=search], main input[name=q]");
    if (search) { evt.preventDefault(); search.focus(); }
  } else if (lastKey === "g" && evt.key === "d") {
    window.location.assign("/web/dashboard");
  }
  lastKey = evt.key;
});

// Session timeout warning: two minutes before the idle limit, offer to stay signed in. Any
// request to the server (a page, an htmx call, the ping) counts as activity.
const idleMeta = document.querySelector("meta[name=df-session-idle-minutes]");
if (idleMeta) {
  const idleMs = Number(idleMeta.content) * 60_000;
  let warnTimer = null;
  let logoutTimer = null;
  const arm = () => {
    clearTimeout(warnTimer);
    clearTimeout(logoutTimer);
    document.getElementById("df-timeout-toast")?.remove();
    warnTimer = setTimeout(() => {
      const el = document.createElement("div");
      el.id = "df-timeout-toast";
      el.className = "toast text-bg-warning border-0";
      el.setAttribute("role", "alert");
      el.dataset.bsAutohide = "false";
      const inner = document.createElement("div");
      inner.className = "toast-body d-flex gap-2 align-items-center";
      const text = document.createElement("span");
      text.textContent = body.dataset.msgTimeout;
      const stay = document.createElement("button");
      stay.type = "button";
      stay.className = "btn btn-sm btn-dark";
      stay.textContent = body.dataset.msgStay;
      stay.addEventListener("click", () => {
        fetch("/web/session/ping", { method: "POST", headers: JSON.parse(body.getAttribute("hx-headers") || "{}"), credentials: "same-origin" })
          .then((r) => { if (r.ok) arm(); else window.location.reload(); });
      });
      inner.append(text, stay);
      el.appendChild(inner);
      document.getElementById("toasts")?.appendChild(el);
      showToasts(document.getElementById("toasts"));
    }, Math.max(idleMs - 120_000, 10_000));
    logoutTimer = setTimeout(() => window.location.reload(), idleMs + 5_000);
  };
  arm();
  document.addEventListener("htmx:afterRequest", arm);
}
