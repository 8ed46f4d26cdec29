// @ts-check
// Scans: print the sheet, upload scans (one XHR per file, with progress), run the extraction and
// see each page's preview with the detected grid, or why it failed.
import { getLanguage, t } from "../i18n/index.js";
import { api, authImageUrl } from "../state.js";
import { h, clear, errorBox, progressBar, showError, saveBlob, formatSeconds, confirmDialog } from "../dom.js";
import { errorText, jobErrorText } from "../i18n/index.js";
import { openCornerEditor } from "./corners-editor.js";
import { openScanCells } from "./scan-cells.js";

/** @typedef {import("../api/types").ScanPublic} ScanPublic */
/** @typedef {import("../api/types").JobPublic} JobPublic */
/**
 * One page of an extraction job's result (JobPublic.result is a free-form object in the API's schema).
 * @typedef {{scan_id: number, filename?: string, page_index?: number, status: string, kept?: number, blank?: number,
 *            rejected?: number, error?: string | null, error_code?: string | null,
 *            error_params?: Record<string, unknown> | null}} PageResult
 */
/** @typedef {{pages?: PageResult[], kept?: number, failed_pages?: number}} ExtractionResult */

/**
 * Why a page failed, in the student's language (the server's sentence is English).
 * @param {string | null | undefined} code
 * @param {string | null | undefined} detail
 * @param {Record<string, unknown> | null | undefined} params
 */
function pageError(code, detail, params) {
  return errorText({ code: code || undefined, detail: detail || undefined, extra: params || {} });
}

/**
 * @param {HTMLElement} body
 * @param {import("./project.js").ProjectContext} ctx
 */
export function render(body, { project, pid, readOnly }) {
  let stopped = false;
  const uploads = h("ul", { class: "uploads", "aria-live": "polite" });
  const scanList = h("div", { class: "scan-grid" });
  const jobBox = h("div", { class: "job", "aria-live": "polite" });
  const fileInput = h("input", { type: "file", id: "scan-files", multiple: true, accept: "image/png,image/jpeg,image/tiff,application/pdf,.png,.jpg,.jpeg,.tif,.tiff,.pdf", class: "sr-only", tabindex: "-1", "aria-hidden": "true" });
  const drop = h("div", { class: "dropzone", tabindex: "0", role: "button", "aria-describedby": "drop-hint",
    onclick: () => fileInput.click(),
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fileInput.click(); } } },
  h("strong", {}, t("scans.drop")), h("span", { id: "drop-hint", class: "muted" }, t("scans.dropHint")));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    uploadAll([...(e.dataTransfer?.files || [])]);
  });
  fileInput.addEventListener("change", () => { uploadAll([...(fileInput.files || [])]); fileInput.value = ""; });

  // The sheet's options (the API's sheet.pdf query): the language of its printed instructions (the screen's by
  // default), how many sheets (each gets its own page number in its code), or the legacy plain grid.
  const sheetLang = h("select", { id: "sheet-lang" }, ["de", "en"].map((lang) =>
    h("option", { value: lang, selected: lang === getLanguage() }, t(`scans.sheetLang.${lang}`))));
  const sheetVersion = h("select", { id: "sheet-version" },
    h("option", { value: "2", selected: true }, t("scans.sheetVersion.2")), h("option", { value: "1" }, t("scans.sheetVersion.1")));
  const sheetPages = h("input", { id: "sheet-pages", type: "number", min: "1", max: "30", value: "1", inputmode: "numeric" });
  sheetVersion.addEventListener("change", () => { sheetPages.disabled = sheetVersion.value === "1"; });
  const sheetOptions = h("div", { class: "sheet-options" },
    h("label", {}, t("scans.sheetLang"), " ", sheetLang), h("label", {}, t("scans.sheetPages"), " ", sheetPages),
    h("label", {}, t("scans.sheetVersion"), " ", sheetVersion));
  const sheetBtn = h("button", { type: "button", class: "ghost", id: "sheet-download", onclick: async () => {
    sheetBtn.disabled = true;
    const version = sheetVersion.value;
    const pages = Math.min(Math.max(Math.round(Number(sheetPages.value)) || 1, 1), 30);
    const query = version === "2" ? { version, lang: sheetLang.value, pages } : { version, lang: sheetLang.value };
    try { saveBlob(await api.blob(`/api/projects/${pid}/sheet.pdf`, query), `digitlab-sheet-${pid}.pdf`); }
    catch (err) { showError(err); }
    finally { sheetBtn.disabled = false; }
  } }, t("scans.sheet"));

  const extractBtn = h("button", { type: "button", id: "extract", onclick: () => startExtraction() }, t("scans.extract"));

  // No printer or scanner: ready-made pages (MNIST handwriting on our sheet), added like uploaded scans.
  const examplesNote = h("p", { "aria-live": "polite" });
  const examplesBtn = h("button", { type: "button", class: "ghost", id: "add-examples", onclick: async () => {
    examplesBtn.disabled = true;
    try {
      /** @type {ScanPublic[]} */
      const created = await api.post(`/api/projects/${pid}/scans/examples`, {});
      clear(examplesNote, h("span", { class: "ok" }, t("scans.examplesAdded", { pages: created.length })));
      refreshScans();
    } catch (err) { clear(examplesNote, h("span", { class: "error" }, errorText(err))); }
    finally { examplesBtn.disabled = false; }
  } }, t("scans.examples"));

  // Read-only (a teacher helping): the student's pages and how they went, nothing that uploads or deletes.
  if (!readOnly) {
    body.append(
      h("section", { class: "card" }, h("h2", {}, t("scans.step1")), h("p", {}, t("scans.sheetHint", { labels: project.labels.join(", ") })), sheetOptions, sheetBtn,
        h("p", { class: "hint" }, t("scans.examplesHint")), examplesBtn, examplesNote),
      h("section", { class: "card" }, h("h2", {}, t("scans.step2")), fileInput, drop, uploads),
      h("section", { class: "card" }, h("h2", {}, t("scans.step3")), h("p", { class: "muted" }, t("scans.extractHint")), extractBtn, jobBox));
  }
  body.append(h("section", {}, h("h2", {}, t(readOnly ? "scans.listReadOnly" : "scans.list")), scanList));

  /** @param {File[]} files */
  function uploadAll(files) {
    // One request per file, in parallel: each file has its own progress bar and its own error.
    const pending = files.map((file) => {
      const bar = progressBar(t("scans.uploading", { name: file.name }));
      const status = h("span", { class: "status" });
      const item = h("li", {}, h("span", { class: "file-name" }, file.name), bar.el, status);
      uploads.append(item);
      const { promise } = api.upload(`/api/projects/${pid}/scans`, file, (f) => bar.set(f, `${Math.round(100 * f)} %`));
      return promise.then((/** @type {ScanPublic[]} */ created) => {
        item.classList.add("ok");
        status.textContent = t("scans.uploaded", { pages: created.length });
      }, (err) => {
        item.classList.add("failed");
        bar.set(0, "");
        status.replaceChildren(h("span", { class: "error" }, errorText(err)));
      });
    });
    Promise.all(pending).then(() => { if (!stopped) refreshScans(); });
  }

  async function refreshScans() {
    /** @type {ScanPublic[]} */
    let scans;
    try { scans = await api.get(`/api/projects/${pid}/scans`); }
    catch (err) { clear(scanList, errorBox(err)); return; }
    if (stopped) return;
    if (!scans.length) { clear(scanList, h("p", { class: "muted" }, t("scans.none"))); return; }
    clear(scanList, scans.map(scanCard));
  }

  /** @param {ScanPublic} scan */
  function scanCard(scan) {
    const img = h("img", { alt: t("scans.imageOf", { name: scan.filename }), loading: "lazy" });
    const src = scan.preview_url || scan.thumbnail_url;
    authImageUrl(src).then((url) => { img.src = url; }, () => { img.alt = t("scans.noImage"); });
    const pageNote = scan.page_count > 1 ? ` (${t("scans.page", { n: scan.page_index + 1, of: scan.page_count })})` : "";
    const status = scan.status === "failed" ? h("p", { class: "error" }, t("scans.failedReason", { reason: pageError(scan.error_code, scan.error, scan.error_params) }))
      : scan.status === "extracted" || scan.kept_count ? h("p", { class: "ok" }, t("scans.counts", { kept: scan.kept_count, blank: scan.blank_count, rejected: scan.rejected_count }))
        : h("p", { class: "muted" }, t(`scans.status.${scan.status}`));
    const del = h("button", { type: "button", class: "ghost danger", "aria-label": t("scans.deleteNamed", { name: scan.filename }), onclick: async () => {
      if (!await confirmDialog(t("scans.deleteConfirm", { name: scan.filename }), t("delete"))) return;
      try { await api.delete(`/api/projects/${pid}/scans/${scan.id}`); refreshScans(); } catch (err) { showError(err); }
    } }, t("delete"));
    // Where the grid was not found (or not found right), the student places its corners and this page is extracted.
    const corners = readOnly || scan.status === "uploaded" ? null : h("button", { type: "button",
      class: scan.status === "failed" ? "corners-open" : "ghost corners-open",
      onclick: () => openCornerEditor(pid, scan, (saved) => startExtraction([saved.id])) },
    t(scan.status === "failed" ? "scans.placeCorners" : "scans.adjustCorners"));
    const byHand = scan.manual_corners ? h("p", { class: "muted" }, t("scans.cornersByHand")) : null;
    // An extracted page: a click on its preview shows why each cell was kept or dropped.
    if (scan.status === "extracted") {
      img.classList.add("clickable");
      img.setAttribute("role", "button");
      img.setAttribute("tabindex", "0");
      img.setAttribute("title", t("scans.cellsWhy"));
      img.addEventListener("click", () => openScanCells(pid, scan));
      img.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openScanCells(pid, scan); } });
    }
    const why = scan.status === "extracted" ? h("button", { type: "button", class: "ghost cells-open", onclick: () => openScanCells(pid, scan) }, t("scans.cellsWhy")) : null;
    return h("figure", { class: `card scan ${scan.status}` }, img,
      h("figcaption", {}, h("strong", {}, scan.filename + pageNote), status, byHand, why, corners, readOnly ? null : del));
  }

  /** @param {number[]} [scanIds] only these pages (default: all) */
  async function startExtraction(scanIds) {
    extractBtn.disabled = true;
    const bar = progressBar(t("scans.extracting"));
    clear(jobBox, bar.el);
    jobBox.scrollIntoView?.({ block: "nearest" });
    try {
      /** @type {JobPublic} */
      const job = await api.post(`/api/projects/${pid}/extractions`, scanIds ? { scan_ids: scanIds } : {});
      await followJob(job.id, bar);
    } catch (err) {
      jobBox.append(errorBox(err));
    } finally {
      extractBtn.disabled = false;
      if (!stopped) refreshScans();
    }
  }

  /**
   * @param {number} jobId
   * @param {import("../dom.js").ProgressBar} bar
   */
  async function followJob(jobId, bar) {
    const started = performance.now();
    for (;;) {
      if (stopped) return;
      /** @type {JobPublic} */
      const job = await api.get(`/api/jobs/${jobId}`);
      const elapsed = (performance.now() - started) / 1000;
      const left = job.progress > 0.05 ? elapsed * (1 - job.progress) / job.progress : null;
      bar.set(job.progress, [job.message, left !== null ? t("timeLeft", { time: formatSeconds(left) }) : ""].filter(Boolean).join(" · "));
      if (["succeeded", "failed", "cancelled"].includes(job.status)) {
        bar.set(1, t(`job.${job.status}`));
        if (job.result) jobBox.append(pageResults(/** @type {ExtractionResult} */ (job.result)));
        if (job.status === "failed") jobBox.append(h("p", { class: "error" }, jobErrorText(job) || t("job.failed")));
        return;
      }
      await new Promise((r) => setTimeout(r, 700));
    }
  }

  /** @param {ExtractionResult} result */
  function pageResults(result) {
    const pages = result.pages || [];
    return h("div", {}, h("p", { class: "ok" }, t("scans.extractDone", { kept: result.kept, failed: result.failed_pages })),
      h("ul", { class: "page-results" }, pages.map((p) => h("li", { class: p.status === "ok" ? "ok" : "error" },
        `${p.filename || "#" + p.scan_id}${p.page_index ? ` (${t("scans.page", { n: p.page_index + 1, of: "…" })})` : ""}: `,
        p.status === "ok" ? t("scans.counts", { kept: p.kept, blank: p.blank, rejected: p.rejected }) : t("scans.failedReason", { reason: pageError(p.error_code, p.error, p.error_params) })))));
  }

  refreshScans();
  return () => { stopped = true; };
}
