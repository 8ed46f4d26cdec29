// @ts-check
// Placing the grid's four corners by hand, for a page whose grid was not found (or not found right): the page,
// four handles to drag (pointer events: mouse, touch and pen alike; arrow keys move a focused handle), then the
// corners are saved on the scan and this page is extracted with them.
import { t } from "../i18n/index.js";
import { api, authImageUrl } from "../state.js";
import { h, modal, showError } from "../dom.js";
import { clampToPage, cornersValid, defaultCorners, fromBox, toPercent } from "../render/corners.js";

/** @typedef {import("../api/types").ScanPublic} ScanPublic */
/** @typedef {import("../render/corners.js").Point} Point */

const NAMES = ["topLeft", "topRight", "bottomRight", "bottomLeft"];
const SVG = "http://www.w3.org/2000/svg";

/**
 * Opens the editor in a dialog; `onSaved(scan)` runs once the corners are stored (the caller extracts the page).
 * @param {number} pid
 * @param {ScanPublic} scan
 * @param {(scan: ScanPublic) => void} onSaved
 */
export function openCornerEditor(pid, scan, onSaved) {
  const { width, height } = scan;
  const start = /** @type {Point[] | null} */ (scan.manual_corners || scan.corners);
  /** @type {Point[]} */
  const corners = (start && start.length === 4 ? start : defaultCorners(width, height)).map(([x, y]) => [x, y]);

  const img = h("img", { alt: t("corners.imageOf", { name: scan.filename }), draggable: "false" });
  authImageUrl(`/api/projects/${pid}/scans/${scan.id}/page`).then((url) => { img.src = url; },
    () => { img.alt = t("scans.noImage"); });
  const outline = document.createElementNS(SVG, "polygon");
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 100 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  svg.append(outline);
  const handles = NAMES.map((name, i) => {
    const handle = h("button", { type: "button", class: "corner-handle", dataset: { corner: name },
      "aria-label": t(`corners.${name}`) });
    handle.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      handle.setPointerCapture(e.pointerId);
      handle.focus();
    });
    handle.addEventListener("pointermove", (e) => {
      if (!handle.hasPointerCapture(e.pointerId)) return;
      const box = stage.getBoundingClientRect();
      corners[i] = fromBox(e.clientX - box.left, e.clientY - box.top, box.width, box.height, width, height);
      draw();
    });
    handle.addEventListener("keydown", (e) => {
      const step = (e.shiftKey ? 0.01 : 0.002) * Math.max(width, height);
      const move = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
      if (!move) return;
      e.preventDefault();
      corners[i] = clampToPage([corners[i][0] + move[0], corners[i][1] + move[1]], width, height);
      draw();
    });
    return handle;
  });
  const stage = h("div", { class: "corner-stage", dataset: { pageSize: JSON.stringify([width, height]) } }, img, svg,
    ...handles);
  const problem = h("p", { class: "error", "aria-live": "polite" });
  const save = h("button", { type: "button", id: "corners-save", onclick: async () => {
    save.disabled = true;
    try {
      /** @type {ScanPublic} */
      const saved = await api.put(`/api/projects/${pid}/scans/${scan.id}/corners`, { corners });
      dialog.close();
      onSaved(saved);
    } catch (err) { showError(err); save.disabled = false; }
  } }, t("corners.save"));

  function draw() {
    const percent = corners.map((c) => toPercent(c, width, height));
    percent.forEach(([x, y], i) => { handles[i].style.left = `${x}%`; handles[i].style.top = `${y}%`; });
    outline.setAttribute("points", percent.map(([x, y]) => `${x},${y}`).join(" "));
    const ok = cornersValid(corners, width, height);
    save.disabled = !ok;
    problem.textContent = ok ? "" : t("corners.invalid");
  }

  const dialog = modal(t("corners.title"), h("p", { class: "hint" }, t("corners.hint")), stage, problem,
    h("div", { class: "actions" }, save,
      h("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, t("cancel"))));
  dialog.classList.add("corner-dialog");
  draw();
  return dialog;
}
