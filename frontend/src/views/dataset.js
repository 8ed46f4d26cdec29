// @ts-check
// The dataset: one sheet per label. Cleaning thousands of samples must be quick: select many (click, shift-click,
// select all), leave them out or move them to another label with one key, see where on which page a sample was
// written. A left-out sample stays where it is (greyed), so the sheet does not jump; a relabel is confirmed inline.
// Where a sample was written sits beside the sheet; on a phone (the sheet is thousands of samples long) it is a sheet
// over the bottom of the screen that a tap or the arrow keys open, Tab reaches, and its button or Escape closes.
// Below: export the data set (zip of PNGs or mnist.npz) and import one.
import { t } from "../i18n/index.js";
import { api, authImageUrl } from "../state.js";
import { h, clear, errorBox, saveBlob, showError } from "../dom.js";
import { errorText } from "../i18n/index.js";
import { CANVAS_SIDE } from "../inference/preprocess.js";
import { cellOnPage, nextIndex } from "./dataset-grid.js";
import { labelCheckPanel, suspiciousFirst, scoreText } from "./label-check.js";

/** @typedef {import("../api/types").DatasetSummary} DatasetSummary */
/** @typedef {import("../api/types").CellPage} CellPage */
/** @typedef {import("../api/types").CellPublic} CellPublic */
/** @typedef {import("../api/types").CellUpdate} CellUpdate */
/** @typedef {import("../api/types").ScanPublic} ScanPublic */
/** @typedef {import("../api/types").ImportResult} ImportResult */

const PARALLEL = 6; // requests at once when many samples change

/**
 * @param {HTMLElement} body
 * @param {import("./project.js").ProjectContext} ctx  sub: the label whose sheet is shown first
 */
export async function render(body, { project, pid, sub, readOnly }) {
  let stopped = false;
  const counts = h("div", { class: "label-tabs", role: "tablist", "aria-label": t("dataset.labels") });
  const sheet = h("div", { class: "sheet" });
  const total = h("p", { class: "muted" });
  const status = h("p", { class: "sr-only", "aria-live": "polite" });
  body.append(h("section", { class: "card" }, h("h2", {}, t(readOnly ? "dataset.titleReadOnly" : "dataset.title")),
    h("p", {}, t(readOnly ? "dataset.hintReadOnly" : "dataset.hint")),
    readOnly ? null : h("p", { class: "hint", id: "dataset-keys" }, t("dataset.keys")), total, counts), status, sheet);
  if (!readOnly) body.append(transferCard());
  let current = sub !== undefined && project.labels.includes(sub) ? sub : project.labels[0];
  // Suspicious samples first: a label check's order and its "check labels" button, above the sheet.
  const checks = labelCheckPanel(pid, readOnly, () => loadSheet());
  counts.after(checks.el);
  /** @type {Map<number, import("../api/types").SampleScorePublic>} */
  let scores = new Map();

  /** @type {CellPublic[]} */
  let items = [];
  /** @type {Set<number>} */
  const selected = new Set();
  /** Ids moved to another label while this sheet is open: they stay in place, marked, until the next load. */
  /** @type {Map<number, string>} */
  const moved = new Map();
  let focusIndex = 0;
  let anchor = 0; // where a shift-click or shift-arrow range starts
  /** @type {HTMLElement[]} */
  let buttons = [];
  const grid = h("div", { class: "cells", role: "listbox", "aria-multiselectable": "true", "aria-label": "",
    "aria-describedby": "dataset-keys", "aria-controls": "cell-where" });
  const toolbar = h("div", { class: "cell-toolbar row wrap" });
  const confirmBox = h("div", { class: "confirm-inline", role: "group", hidden: true });
  const whereBody = h("div", { class: "where-body", "aria-live": "polite" });
  const where = h("section", { class: "cell-where", id: "cell-where", "aria-labelledby": "cell-where-title",
    onkeydown: (/** @type {KeyboardEvent} */ e) => { if (e.key === "Escape") { e.preventDefault(); closeWhere(true); } } },
  h("div", { class: "where-head" }, h("h4", { id: "cell-where-title" }, t("dataset.whereTitle")),
    h("button", { type: "button", class: "ghost small-button where-close", onclick: () => closeWhere(true) }, t("close"))),
  whereBody);
  // On a phone the panel floats over the bottom of the screen: keep room below the last samples for it, and the
  // chosen sample above it, also when its content (the page picture) changes its height.
  new ResizeObserver(() => fitWhere()).observe(where);
  /** @type {Map<number, ScanPublic>} */
  let scansById = new Map();

  async function refreshCounts() {
    /** @type {DatasetSummary} */
    let summary;
    try { summary = await api.get(`/api/projects/${pid}/dataset`); }
    catch (err) { clear(counts, errorBox(err)); return; }
    total.textContent = t("dataset.total", { n: summary.total });
    clear(counts, summary.labels.map((l) => h("button", { type: "button", role: "tab",
      "aria-selected": String(l.label === current), class: l.label === current ? "active" : "",
      onclick: () => { current = l.label; refreshCounts(); loadSheet(); } },
    h("span", { class: "big" }, l.label), h("span", { class: "count" }, t("dataset.count", { n: l.included })),
    l.excluded ? h("span", { class: "muted small" }, t("dataset.excludedCount", { n: l.excluded })) : null)));
  }

  async function loadSheet() {
    clear(sheet, h("p", { class: "muted" }, t("loading")));
    /** @type {CellPublic[]} */
    const loaded = [];
    try {
      // Included and excluded samples of this label (blank and rejected cells are not part of the sheet).
      for (const which of ["included", "excluded"]) {
        for (let offset = 0; ; offset += 1000) {
          /** @type {CellPage} */
          const page = await api.get(`/api/projects/${pid}/dataset/cells`, { label: current, which, offset, limit: 1000 });
          loaded.push(...page.items);
          if (offset + page.items.length >= page.total || !page.items.length) break;
        }
      }
      if (!readOnly && !scansById.size) {
        /** @type {ScanPublic[]} */
        const scans = await api.get(`/api/projects/${pid}/scans`, { limit: 1000 });
        scansById = new Map(scans.map((s) => [s.id, s]));
      }
      const found = await checks.scores(current);
      scores = found || new Map();
      // In the order they were written (page, then row and column), left-out ones in their place; or the
      // samples the check's networks disagree with most first.
      items = loaded.sort((a, b) => a.id - b.id);
      if (found) items = suspiciousFirst(items, found.ordered);
    } catch (err) { clear(sheet, errorBox(err)); return; }
    if (stopped) return;
    selected.clear();
    moved.clear();
    focusIndex = anchor = 0;
    if (!items.length) { clear(sheet, h("p", { class: "muted" }, t("dataset.empty"))); return; }
    if (readOnly) {
      clear(sheet, h("h3", {}, t("dataset.sheetOf", { label: current })), h("div", { class: "cells" }, items.map(readOnlyCell)));
      return;
    }
    grid.setAttribute("aria-label", t("dataset.sheetOf", { label: current }));
    buttons = items.map(cellButton);
    clear(grid, ...buttons);
    clear(sheet, h("h3", {}, t("dataset.sheetOf", { label: current })), toolbar, confirmBox,
      h("div", { class: "cells-with-where" }, grid, where));
    updateAll();
    showWhere(items[0]);
  }

  /** @param {CellPublic} cell */
  function readOnlyCell(cell) {
    return h("span", { class: `cell ${cell.included ? "" : "excluded"}`, title: cell.included ? t("dataset.in") : t("dataset.out") },
      h("img", { src: cell.image, alt: t("dataset.cellLabel", { id: cell.id, label: cell.label, state: cell.included ? t("dataset.in") : t("dataset.out") }),
        width: CANVAS_SIDE, height: CANVAS_SIDE }));
  }

  /** @param {CellPublic} cell @param {number} index */
  function cellButton(cell, index) {
    const el = h("div", { role: "option", class: "cell", tabindex: "-1",
      onclick: (/** @type {MouseEvent} */ e) => clickCell(index, e),
      onfocus: () => { focusIndex = index; showWhere(cell); } },
    h("img", { src: cell.image, alt: "", width: CANVAS_SIDE, height: CANVAS_SIDE }));
    return el;
  }

  /** @param {number} index @param {MouseEvent} e */
  function clickCell(index, e) {
    if (e.shiftKey) selectRange(anchor, index, e.ctrlKey || e.metaKey);
    else if (e.ctrlKey || e.metaKey) { toggle(index); anchor = index; }
    else { selected.clear(); selected.add(items[index].id); anchor = index; }
    focusCell(index);
    updateAll();
    openWhere();
  }

  /** @param {number} from @param {number} to @param {boolean} keep  add to the selection instead of replacing it */
  function selectRange(from, to, keep) {
    if (!keep) selected.clear();
    for (let i = Math.min(from, to); i <= Math.max(from, to); i++) selected.add(items[i].id);
  }

  /** @param {number} index */
  function toggle(index) {
    const id = items[index].id;
    if (selected.has(id)) selected.delete(id); else selected.add(id);
  }

  /** @param {number} index */
  function focusCell(index) {
    focusIndex = index;
    buttons.forEach((b, i) => b.setAttribute("tabindex", i === index ? "0" : "-1"));
    buttons[index]?.focus();
  }

  /** Columns of the grid as laid out now (for up and down). */
  function columns() {
    const top = buttons[0]?.offsetTop;
    const n = buttons.findIndex((b) => b.offsetTop !== top);
    return n > 0 ? n : buttons.length;
  }

  grid.addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
    if (!items.length || e.altKey) return;
    const key = e.key;
    const next = nextIndex(key, focusIndex, items.length, columns());
    if (next !== null) {
      e.preventDefault();
      if (e.shiftKey) selectRange(anchor, next, false);
      else if (!(e.ctrlKey || e.metaKey)) anchor = next;
      focusCell(next);
      updateAll();
      openWhere();
    } else if (key === " " || key === "Enter") {
      e.preventDefault();
      toggle(focusIndex);
      anchor = focusIndex;
      updateAll();
      openWhere();
    } else if ((e.ctrlKey || e.metaKey) && key.toLowerCase() === "a") {
      e.preventDefault();
      selectAll();
    } else if (key === "Escape") {
      selected.clear();
      updateAll();
      closeWhere(false);
    } else if (!e.ctrlKey && !e.metaKey && key.toLowerCase() === "x") {
      e.preventDefault();
      toggleExcluded();
    } else if (!e.ctrlKey && !e.metaKey && project.labels.includes(key) && key !== current) {
      e.preventDefault();
      askRelabel(key);
    }
  });

  function selectAll() {
    for (const cell of items) if (!moved.has(cell.id)) selected.add(cell.id);
    updateAll();
  }

  /** The selected samples, or the focused one when nothing is selected. */
  function targets() {
    const chosen = items.filter((c) => selected.has(c.id) && !moved.has(c.id));
    return chosen.length ? chosen : items[focusIndex] && !moved.has(items[focusIndex].id) ? [items[focusIndex]] : [];
  }

  /**
   * @param {CellPublic[]} cells
   * @param {CellUpdate} change
   * @returns {Promise<number>} how many were changed
   */
  async function patchAll(cells, change) {
    let done = 0;
    /** @type {unknown} */
    let failure = null;
    const queue = [...cells];
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, async () => {
      for (let cell = queue.shift(); cell; cell = queue.shift()) {
        try {
          /** @type {CellPublic} */
          const updated = await api.patch(`/api/projects/${pid}/dataset/cells/${cell.id}`, change);
          Object.assign(cell, updated);
          done += 1;
        } catch (err) { failure = failure || err; }
      }
    }));
    if (failure) showError(failure);
    return done;
  }

  async function toggleExcluded() {
    const cells = targets();
    if (!cells.length) return;
    // Mixed selections are left out together; only an all-left-out selection comes back.
    const include = cells.every((c) => !c.included);
    const n = await patchAll(cells, { included: include });
    status.textContent = t(include ? "dataset.includedN" : "dataset.excludedN", { n });
    updateAll();
    refreshCounts();
  }

  /** @param {string} label */
  function askRelabel(label) {
    const cells = targets();
    if (!cells.length) return;
    const yes = h("button", { type: "button", id: "confirm-relabel", onclick: async () => {
      confirmBox.hidden = true;
      const n = await patchAll(cells, { label, included: true });
      for (const cell of cells) if (cell.label === label) { moved.set(cell.id, label); selected.delete(cell.id); }
      status.textContent = t("dataset.movedN", { n, label });
      updateAll();
      refreshCounts();
      buttons[focusIndex]?.focus();
    } }, t("dataset.confirmMove", { label }));
    const no = h("button", { type: "button", class: "ghost", onclick: () => { confirmBox.hidden = true; buttons[focusIndex]?.focus(); } }, t("cancel"));
    clear(confirmBox, h("p", {}, t("dataset.askMove", { n: cells.length, from: current, label })), yes, no);
    confirmBox.hidden = false;
    confirmBox.addEventListener("keydown", (e) => { if (e.key === "Escape") no.click(); });
    yes.focus();
  }

  function updateAll() {
    items.forEach((cell, i) => {
      const el = buttons[i];
      const to = moved.get(cell.id);
      const score = scores.get(cell.id);
      el.className = `cell${cell.included ? "" : " excluded"}${selected.has(cell.id) ? " selected" : ""}${to !== undefined ? " moved" : ""}${score?.issue ? " suspect" : ""}`;
      el.setAttribute("aria-selected", String(selected.has(cell.id)));
      const state = to !== undefined ? t("dataset.movedTo", { label: to }) : cell.included ? t("dataset.in") : t("dataset.out");
      el.setAttribute("aria-label", t("dataset.cellLabel", { id: cell.id, label: current, state }));
      el.title = score && to === undefined ? `${state} · ${scoreText(score, cell.label)}` : state;
      el.dataset.cellId = String(cell.id);
      const badge = el.querySelector(".moved-badge");
      if (to !== undefined && !badge) el.append(h("span", { class: "moved-badge", "aria-hidden": "true" }, `→${to}`));
      el.setAttribute("tabindex", i === focusIndex ? "0" : "-1");
    });
    const n = selected.size;
    const relabel = h("select", { id: "relabel-to", "aria-label": t("dataset.relabel") },
      project.labels.filter((l) => l !== current).map((l) => h("option", { value: l, selected: l === suggestion() }, l)));
    clear(toolbar,
      h("span", { class: "muted", id: "selection-count" }, t("dataset.selectedN", { n })),
      h("button", { type: "button", class: "ghost small-button", id: "select-all", onclick: selectAll }, t("dataset.selectAll")),
      h("button", { type: "button", class: "ghost small-button", disabled: !n, onclick: () => { selected.clear(); updateAll(); } }, t("dataset.selectNone")),
      h("button", { type: "button", class: "small-button", id: "exclude-selected", disabled: !targets().length, onclick: toggleExcluded },
        t(targets().length && targets().every((c) => !c.included) ? "dataset.include" : "dataset.exclude")),
      h("label", { class: "inline", for: "relabel-to" }, t("dataset.relabel")), relabel,
      h("button", { type: "button", class: "ghost small-button", id: "relabel-selected", disabled: !targets().length,
        onclick: () => askRelabel(relabel.value) }, t("dataset.applyLabel")));
  }

  /** What the label check's network reads in the first sample to change (preselected as its new label). */
  function suggestion() {
    const score = scores.get(targets()[0]?.id ?? -1);
    return score && score.suggested !== current ? score.suggested : undefined;
  }

  /** Open where the focused sample was written (on a phone: the sheet at the bottom; beside the sheet it always is). */
  function openWhere() {
    where.classList.add("open");
    fitWhere();
  }

  /** @param {boolean} refocus  back to the sample (the close button or Escape inside the panel) */
  function closeWhere(refocus) {
    where.classList.remove("open");
    fitWhere();
    if (refocus) buttons[focusIndex]?.focus();
  }

  /** On a phone (the panel is fixed to the bottom): room for it below the last samples, the chosen sample above it. */
  function fitWhere() {
    const floating = where.isConnected && where.classList.contains("open") && getComputedStyle(where).position === "fixed";
    sheet.style.paddingBottom = floating ? `${where.offsetHeight}px` : "";
    const cell = buttons[focusIndex];
    if (!floating || !cell) return;
    const hidden = cell.getBoundingClientRect().bottom - where.getBoundingClientRect().top;
    if (hidden > 0) window.scrollBy(0, hidden + 8);
  }

  /** Where the sample was written: the page, its row and column, and the page with the cell marked. */
  /** @param {CellPublic | undefined} cell */
  async function showWhere(cell) {
    if (!cell) { clear(whereBody); return; }
    const scan = cell.scan_id !== null ? scansById.get(cell.scan_id) : undefined;
    const score = scores.get(cell.id);
    const large = h("div", { class: "where-sample" }, h("img", { src: cell.image, alt: t("dataset.sampleImage"), class: "cell-large", width: "112", height: "112" }),
      score ? h("p", { class: "hint", id: "check-verdict" }, scoreText(score, cell.label)) : null);
    if (!scan || cell.row === null || cell.col === null) {
      clear(whereBody, large, h("p", { class: "muted where-text" }, t(cell.source === "import" ? "dataset.fromImport" : "dataset.fromUnknown")));
      return;
    }
    const pageName = scan.page_count > 1 ? `${scan.filename} (${t("scans.page", { n: scan.page_index + 1, of: scan.page_count })})` : scan.filename;
    const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", { class: "where-page", role: "img",
      "aria-label": t("dataset.whereImage", { row: cell.row + 1, col: cell.col + 1 }) }));
    clear(whereBody, large, h("p", { class: "where-text" }, t("dataset.where", { page: pageName, row: cell.row + 1, col: cell.col + 1 })), canvas);
    try {
      const url = await authImageUrl(scan.thumbnail_url);
      const img = new Image();
      img.src = url;
      await img.decode();
      if (!canvas.isConnected) return;
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
      ctx.drawImage(img, 0, 0);
      const quad = cellOnPage(/** @type {number[][] | null} */ (scan.corners), cell.row, cell.col, img.naturalWidth / scan.width);
      if (quad) {
        ctx.lineWidth = 3;
        ctx.strokeStyle = "#c62828";
        ctx.beginPath();
        quad.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
        ctx.closePath();
        ctx.stroke();
      }
    } catch { /* the text says where; the picture is a bonus */ }
  }

  /** Export (zip of PNGs, or mnist.npz) and import of a data set. */
  function transferCard() {
    const result = h("div", { "aria-live": "polite" });
    /** @param {"zip" | "npz"} format */
    const exportButton = (format) => {
      const btn = h("button", { type: "button", class: "ghost", id: `export-${format}`, onclick: async () => {
        btn.disabled = true;
        try { saveBlob(await api.blob(`/api/projects/${pid}/dataset/export?format=${format}`), `digitlab-${pid}.${format}`); }
        catch (err) { showError(err); }
        finally { btn.disabled = false; }
      } }, t(`dataset.export.${format}`));
      return btn;
    };
    const input = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "import-file", accept: ".zip,.npz,application/zip" }));
    const importBtn = h("button", { type: "button", id: "import-start", onclick: () => {
      const file = input.files?.[0];
      if (!file) { clear(result, h("p", { class: "error" }, t("dataset.import.choose"))); return; }
      importBtn.disabled = true;
      clear(result, h("p", { class: "muted" }, t("loading")));
      api.upload(`/api/projects/${pid}/dataset/import`, file, () => {}, "file").promise.then((/** @type {ImportResult} */ r) => {
        clear(result, h("p", { class: "ok" }, t("dataset.import.done", { n: r.imported })));
        input.value = "";
        refreshCounts();
        loadSheet();
      }, (err) => clear(result, h("p", { class: "error" }, errorText(err)))).finally(() => { importBtn.disabled = false; });
    } }, t("dataset.import.start"));
    return h("section", { class: "card", id: "dataset-transfer" }, h("h2", {}, t("dataset.transfer")),
      h("p", {}, t("dataset.export.hint")), h("div", { class: "row wrap" }, exportButton("zip"), exportButton("npz")),
      h("h3", {}, t("dataset.import.title")), h("p", { class: "hint" }, t("dataset.import.hint")),
      h("label", { for: "import-file" }, t("dataset.import.file")), input, importBtn, result);
  }

  await refreshCounts();
  await checks.load();
  await loadSheet();
  return () => { stopped = true; checks.stop(); };
}
