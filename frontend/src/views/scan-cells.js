// @ts-check
// Why each cell of a page was kept or dropped: the extraction's preview enlarged, a map of the page's 600 cells
// coloured by decision with a legend (kept, empty, unreadable), and for a clicked cell its cut-out from the page,
// enlarged, with the reason and the 28 x 28 sample the extraction made of it.
import { t } from "../i18n/index.js";
import { api, authImageUrl } from "../state.js";
import { clear, errorBox, h, modal } from "../dom.js";

/** @typedef {import("../api/types").ScanPublic} ScanPublic */
/** @typedef {import("../api/types").CellPublic} CellPublic */

const COLUMNS = 20;
const ROWS = 30;
/** The decision a student sees: kept, an empty box, or unreadable (with the extraction's reason). */
const KINDS = ["kept", "blank", "rejected"];

/** @param {CellPublic} cell */
function kindOf(cell) { return cell.status === "kept" ? "kept" : cell.status === "blank" ? "blank" : "rejected"; }

/** @param {CellPublic} cell */
function reasonText(cell) {
  if (cell.status === "kept") return t("cells.keptWhy");
  return t(`cells.reason.${cell.reason || (cell.status === "blank" ? "empty" : "other")}`);
}

/**
 * @param {number} pid
 * @param {ScanPublic} scan  an extracted page (its preview_url set)
 */
export function openScanCells(pid, scan) {
  const preview = h("img", { class: "cells-preview", alt: t("scans.imageOf", { name: scan.filename }) });
  if (scan.preview_url) authImageUrl(scan.preview_url).then((url) => { preview.src = url; }, () => { preview.alt = t("scans.noImage"); });
  const legend = h("ul", { class: "cells-legend" }, KINDS.map((kind) =>
    h("li", {}, h("span", { class: `swatch ${kind}`, "aria-hidden": "true" }), t(`cells.legend.${kind}`))));
  const map = h("div", { class: "cells-map", role: "grid", "aria-label": t("cells.map") });
  const detail = h("div", { class: "cell-detail", "aria-live": "polite" }, h("p", { class: "muted" }, t("cells.pick")));
  const dialog = modal(t("cells.title", { name: scan.filename }), preview, legend, map, detail);
  dialog.classList.add("cells-dialog");
  preview.addEventListener("click", () => preview.classList.toggle("zoomed"));

  api.get(`/api/projects/${pid}/dataset/cells`, { scan_id: scan.id, which: "all", limit: 1000 }).then((/** @type {{items: CellPublic[]}} */ page) => {
    /** @type {(CellPublic | undefined)[]} */
    const byIndex = new Array(ROWS * COLUMNS);
    for (const cell of page.items) if (cell.row !== null && cell.col !== null) byIndex[cell.row * COLUMNS + cell.col] = cell;
    const counts = { kept: 0, blank: 0, rejected: 0 };
    for (let row = 0; row < ROWS; row++) {
      const line = h("div", { class: "cells-row", role: "row" });
      for (let col = 0; col < COLUMNS; col++) {
        const cell = byIndex[row * COLUMNS + col];
        const kind = cell ? kindOf(cell) : "blank";
        counts[kind] += 1;
        line.append(h("button", { type: "button", role: "gridcell", class: `map-cell ${kind}`, dataset: { row: String(row), col: String(col) },
          "aria-label": t("cells.cellLabel", { row: row + 1, col: col + 1, what: cell ? reasonText(cell) : t("cells.reason.empty") }),
          onclick: () => cell && showCell(cell) }));
      }
      map.append(line);
    }
    legend.querySelectorAll("li").forEach((li, i) => li.append(` (${counts[/** @type {"kept"|"blank"|"rejected"} */ (KINDS[i])]})`));
  }, (err) => clear(map, errorBox(err)));

  /** @param {CellPublic} cell */
  function showCell(cell) {
    const cutout = h("img", { class: "cell-cutout", alt: t("cells.cutout"), width: "224", height: "224" });
    authImageUrl(`/api/projects/${pid}/scans/${scan.id}/cutout?row=${cell.row}&col=${cell.col}`)
      .then((url) => { cutout.src = url; }, () => { cutout.alt = t("scans.noImage"); });
    const sample = cell.image ? h("figure", {}, h("img", { class: "cell-sample", src: cell.image, alt: t("cells.sample"), width: "112", height: "112" }),
      h("figcaption", { class: "muted" }, t("cells.sample"))) : null;
    clear(detail, h("p", {}, h("strong", {}, t("cells.where", { row: (cell.row ?? 0) + 1, col: (cell.col ?? 0) + 1, label: cell.label })), " ",
      h("span", { class: `decision ${kindOf(cell)}` }, reasonText(cell))),
    h("div", { class: "cell-images" }, h("figure", {}, cutout, h("figcaption", { class: "muted" }, t("cells.cutout"))), sample));
  }
  return dialog;
}
