// @ts-check
// Tiny DOM helpers shared by the views (no framework: elements are built directly).
import { t, errorText, formatPercent as percentIn, formatFixed } from "./i18n/index.js";

/** @typedef {Node | string | number | boolean | null | undefined} Leaf */
/**
 * A child of h(): nodes and text; null, undefined and false are left out; arrays are flattened.
 * @typedef {Leaf | Leaf[] | Leaf[][]} Child
 */
/**
 * Attributes of h(): on<event> functions become listeners, class/dataset/style are set as such, true is a
 * bare attribute, null/undefined/false leave the attribute out, anything else is set as a string.
 * @typedef {{
 *   [name: string]: unknown,
 *   class?: string | null,
 *   dataset?: Record<string, string>,
 *   style?: Partial<Record<"width" | "height" | "background" | "color", string>>,
 *   onclick?: (event: MouseEvent) => void,
 *   onkeydown?: (event: KeyboardEvent) => void,
 *   oninput?: (event: Event) => void,
 *   onchange?: (event: Event) => void,
 *   onsubmit?: (event: SubmitEvent) => void,
 * }} Attrs
 */

/**
 * h("button", {class: "x", onclick}, "text", child) -> element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (k === "class") el.className = String(v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/**
 * A table in a box that scrolls sideways when the table is wider than the screen: the page never does, and words wrap
 * only between words. A table without a link or button to tab to names its box (`label`): the box becomes a tab stop,
 * so the keyboard can scroll it too.
 * @param {HTMLTableElement} table
 * @param {string} [label]
 */
export function tableScroll(table, label) {
  return h("div", label ? { class: "table-scroll", role: "region", "aria-label": label, tabindex: "0" } : { class: "table-scroll" }, table);
}

/** @param {Element} el @param {Child[]} children */
function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * Replace the children of `el` (nothing when `el` is missing).
 * @template {Element | null} E
 * @param {E} el
 * @param {...Child} children
 * @returns {E}
 */
export function clear(el, ...children) {
  if (!el) return el;
  el.replaceChildren();
  append(el, children);
  return el;
}

/** @typedef {{el: HTMLElement, set(fraction: number | null, note?: string): void}} ProgressBar */

/**
 * A progress bar with an accessible label; set(null) shows an indeterminate bar.
 * @param {string} label
 * @returns {ProgressBar}
 */
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

/**
 * An inline error box in the view (in words from errorText).
 * @param {unknown} error  an ApiError, an ErrorLike, or whatever was thrown
 */
export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, errorText(error));
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let flashTimer;
/**
 * A short message at the top of the page; errors stay until the next one.
 * @param {string} message
 * @param {"info" | "error"} [kind]
 */
export function flash(message, kind = "info") {
  const box = document.getElementById("flash");
  if (!box) return;
  clearTimeout(flashTimer);
  clear(box, h("div", { class: `flash ${kind}` }, message,
    h("button", { class: "ghost", type: "button", "aria-label": t("close"), onclick: () => clear(box) }, "×")));
  if (kind !== "error") flashTimer = setTimeout(() => clear(box), 4000);
}

/** @param {unknown} error  an ApiError, an ErrorLike, or whatever was thrown */
export function showError(error) {
  flash(errorText(error), "error");
}

/** A figure with its name above it, big ("Test accuracy" / "98.0 %"). @param {string} label @param {string} value */
export function figure(label, value) {
  return h("div", { class: "figure card" }, h("span", { class: "muted" }, label), h("strong", {}, value));
}

/**
 * @param {number | null | undefined} x  a fraction, 0.5 -> "50.0 %" (in the language's format), or "–"
 * @param {number} [digits]
 */
export function formatPercent(x, digits = 1) {
  return x === null || x === undefined ? "–" : percentIn(x, undefined, digits);
}

/** @param {number | null | undefined} x @param {number} [digits]  exactly so many decimals, or "–" */
export function formatNumber(x, digits = 3) {
  return x === null || x === undefined ? "–" : formatFixed(Number(x), digits);
}

/** @param {number | null | undefined} s */
export function formatSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "";
  s = Math.max(0, Math.round(s));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/**
 * A modal dialog (native <dialog>: focus trapping and Escape for free).
 * @param {string} title
 * @param {...Child} content
 */
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

/**
 * A short explanation of a word (explain.<term> in i18n) behind a small toggle: "?" next to a form field, or
 * "What is …?" where `labelled`. A <details>, so it works by keyboard and screen reader without script.
 * @param {string} term  e.g. "epochs", "loss"
 * @param {boolean} [labelled]
 */
export function explain(term, labelled = false) {
  const question = t("explain.what", { term: t(`explain.${term}.name`) });
  return h("details", { class: `explain${labelled ? " labelled" : ""}`, dataset: { term } },
    labelled ? h("summary", {}, question) : h("summary", { "aria-label": question, title: question }, "?"),
    h("p", {}, t(`explain.${term}`)));
}

let dialogCount = 0;

/**
 * Our own confirm/prompt: window.confirm/prompt/alert are blocked in the sandboxed iframes of learning
 * platforms. A modal <dialog> (focus stays inside, Escape cancels) that gives focus to its text field, or to
 * its confirm button (Cancel for a `danger` action), and back to where it was when it closes.
 * @param {{message: string, confirmLabel?: string, danger?: boolean, cancel?: boolean,
 *          input?: {label: string, value?: string, readOnly?: boolean}}} options
 * @returns {Promise<string | null>}  the field's text ("" without one) when confirmed, null when cancelled
 */
export function ask({ message, confirmLabel = t("dialog.ok"), danger = false, cancel = true, input }) {
  const opener = document.activeElement;
  const id = `ask-${++dialogCount}`;
  const field = input ? h("input", { type: "text", id: `${id}-input`, value: input.value ?? "", readonly: input.readOnly, autocomplete: "off" }) : null;
  const confirmButton = h("button", { type: "submit", class: danger ? "danger" : null }, confirmLabel);
  const cancelButton = cancel ? h("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, t("cancel")) : null;
  const dialog = h("dialog", { class: "modal ask", "aria-labelledby": `${id}-message` },
    h("form", { class: "modal-body" },
      h("p", { id: `${id}-message` }, message),
      field ? h("label", { for: field.id }, input?.label ?? "") : null, field,
      h("div", { class: "row wrap buttons" }, confirmButton, cancelButton)));
  /** @type {string | null} */
  let answer = null;
  return new Promise((resolve) => {
    dialog.querySelector("form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      answer = field ? field.value : "";
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = field ?? (danger && cancelButton ? cancelButton : confirmButton);
    first.focus();
    if (field) field.select();
  });
}

/**
 * Ask "are you sure?": true when confirmed.
 * @param {string} message @param {string} [confirmLabel] @param {boolean} [danger]  focus starts on Cancel
 */
export async function confirmDialog(message, confirmLabel, danger = true) {
  return (await ask({ message, confirmLabel, danger })) !== null;
}

/**
 * Ask for a line of text (a new name): the text, or null when cancelled.
 * @param {string} message @param {string} label  the field's label @param {string} [value]
 */
export function promptDialog(message, label, value = "") {
  return ask({ message, confirmLabel: t("save"), input: { label, value } });
}

/**
 * Trigger a browser download of a Blob.
 * @param {Blob} blob
 * @param {string} filename
 */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
