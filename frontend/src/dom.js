// Tiny DOM helpers shared by the views (no framework: elements are built directly).
import { t, errorText } from "./i18n/index.js";

/** h("button", {class: "x", onclick}, "text", child) -> element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A progress bar with an accessible label; returns {el, set(fraction, text)}. */
export function progressBar(label) {
  const bar = h("progress", { max: "1", value: "0", "aria-label": label });
  const text = h("span", { class: "progress-text" });
  const el = h("div", { class: "progress" }, bar, text);
  return {
    el,
    set(fraction, note = "") {
      if (fraction === null) bar.removeAttribute("value");
      else bar.value = Math.max(0, Math.min(1, fraction));
      text.textContent = note;
    },
  };
}

/** An inline error box in the view (in words from errorText). */
export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, errorText(error));
}

let flashTimer = null;
/** A short message at the top of the page; errors stay until the next one. */
export function flash(message, kind = "info") {
  const box = document.getElementById("flash");
  if (!box) return;
  clearTimeout(flashTimer);
  clear(box, h("div", { class: `flash ${kind}` }, message,
    h("button", { class: "ghost", type: "button", "aria-label": t("close"), onclick: () => clear(box) }, "×")));
  if (kind !== "error") flashTimer = setTimeout(() => clear(box), 4000);
}

export function showError(error) {
  flash(errorText(error), "error");
}

export function formatPercent(x) {
  return x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)} %`;
}

export function formatNumber(x, digits = 3) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(digits);
}

export function formatSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "";
  s = Math.max(0, Math.round(s));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/** A modal dialog (native <dialog>: focus trapping and Escape for free). */
export function modal(title, ...content) {
  const dialog = h("dialog", { class: "modal", "aria-label": title },
    h("div", { class: "modal-head" }, h("h2", {}, title),
      h("button", { type: "button", class: "ghost", "aria-label": t("close"), onclick: () => dialog.close() }, "×")),
    h("div", { class: "modal-body" }, ...content));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Trigger a browser download of a Blob. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
