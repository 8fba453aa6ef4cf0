// Shared by the studio's pages: DOM building, JSON calls with the session's CSRF token,
// the page's data blocks, announcements for screen readers, downloads and confirmations.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "value") node.value = value;
    else if (key === "checked") node.checked = Boolean(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let uid = 0;
export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

export function labelled(text, control, hint) {
  const id = control.id || nextId("f");
  control.id = id;
  const parts = [el("label", { for: id, text }), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(el("span", { class: "hint", id: hintId, text: hint }));
  }
  return el("div", { class: "field" }, parts);
}

export function select(options, current, attrs = {}) {
  const node = el("select", attrs);
  for (const option of options) {
    const [value, text] = Array.isArray(option) ? option : [option, option];
    node.append(el("option", { value, text, selected: String(value) === String(current ?? "") }));
  }
  node.value = current ?? (options.length ? (Array.isArray(options[0]) ? options[0][0] : options[0]) : "");
  return node;
}

export function readData(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

export async function api(path, body, { raw = false } = {}) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body ?? {}),
  });
  if (raw) return response;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = { errors: [{ field: "body", problem: `the server answered ${response.status}` }] };
  }
  return { ok: response.ok, status: response.status, data };
}

export function announce(text, kind = "info") {
  const node = document.getElementById("status");
  if (!node) return;
  node.textContent = text;
  node.dataset.kind = kind;
}

export function download(filename, text, type = "application/yaml") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el("a", { href: url, download: filename, class: "hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// A modal question; resolves true when the member confirms. Escape or Cancel says no.
export function confirmDialog(text, confirmLabel) {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector("[data-confirm-text]").textContent = text;
  const ok = dialog.querySelector("[data-confirm-ok]");
  ok.textContent = confirmLabel;
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.removeEventListener("close", onClose);
      resolve(answer);
    };
    const onClose = () => done(dialog.returnValue === "ok");
    dialog.addEventListener("close", onClose);
    dialog.returnValue = "";
    dialog.showModal();
    ok.focus();
  });
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function errorsText(data) {
  const errors = (data && data.errors) || [];
  return errors.map((e) => `${e.field}: ${e.problem}`).join("; ");
}
