// @ts-check
// Bulk scans from the school copier: the teacher uploads the whole class's sheets at once; each page goes to its
// student's project by the code printed on the sheet. Pages without a readable code wait in the unassigned tray,
// where the teacher looks at them and gives each to a student's project by hand (or discards it).
import { t } from "../i18n/index.js";
import { api, authImageUrl } from "../state.js";
import { h, clear, errorBox, progressBar, showError, flash, modal, confirmDialog, tableScroll } from "../dom.js";

/** @typedef {import("../api/types").BulkScanResult} BulkScanResult */
/** @typedef {import("../api/types").BulkPage} BulkPage */
/** @typedef {import("../api/types").UnassignedPagePublic} UnassignedPagePublic */
/** @typedef {import("../api/types").ScanTarget} ScanTarget */
/** @typedef {import("../api/types").AssignPage} AssignPage */

/**
 * @param {HTMLElement} body
 * @param {import("./class.js").ClassContext} ctx
 */
export async function render(body, { cid }) {
  const results = h("div", { id: "bulk-results", "aria-live": "polite" });
  const tray = h("div", { id: "tray" }, h("p", { class: "muted" }, t("loading")));
  // Opened by the button below: not a tab stop of its own (a hidden, unnamed second stop confuses).
  const fileInput = h("input", { type: "file", id: "bulk-files", multiple: true, class: "sr-only", tabindex: "-1", "aria-hidden": "true",
    accept: "application/pdf,image/png,image/jpeg,image/tiff,.pdf,.png,.jpg,.jpeg,.tif,.tiff" });
  const choose = h("button", { type: "button", id: "bulk-choose", onclick: () => fileInput.click() }, t("bulk.choose"));
  fileInput.addEventListener("change", () => { upload([...(fileInput.files || [])]); fileInput.value = ""; });
  body.append(
    h("section", { class: "card" }, h("h2", {}, t("bulk.title")), h("p", { class: "hint" }, t("bulk.hint")), fileInput, choose, results),
    h("section", { class: "card" }, h("h2", {}, t("bulk.trayTitle")), h("p", { class: "hint" }, t("bulk.trayHint")), tray));

  /** @type {ScanTarget[]} */
  let targets = [];

  /** @param {File[]} files */
  async function upload(files) {
    if (!files.length) return;
    choose.disabled = true;
    clear(results);
    for (const file of files) {
      const bar = progressBar(t("scans.uploading", { name: file.name }));
      const item = h("div", { class: "bulk-file" }, h("strong", {}, file.name), bar.el);
      results.append(item);
      try {
        /** @type {BulkScanResult} */
        const result = await api.upload(`/api/classes/${cid}/bulk-scans`, file, (f) => bar.set(f, `${Math.round(100 * f)} %`)).promise;
        bar.set(1, t("bulk.done", { routed: result.routed, unassigned: result.unassigned, again: result.already_stored }));
        item.append(pageTable(result.pages, file.name));
      } catch (err) {
        bar.set(0, "");
        item.append(errorBox(err));
      }
    }
    choose.disabled = false;
    await refreshTray();
  }

  async function refreshTray() {
    /** @type {UnassignedPagePublic[]} */
    let pages;
    try {
      [pages, targets] = await Promise.all([api.get(`/api/classes/${cid}/unassigned-pages`), api.get(`/api/classes/${cid}/bulk-scans/targets`)]);
    } catch (err) { clear(tray, errorBox(err)); return; }
    clear(tray, pages.length ? h("div", { class: "tray-grid" }, pages.map(trayCard)) : h("p", { class: "muted" }, t("bulk.trayEmpty")));
  }

  /** @param {UnassignedPagePublic} page */
  function trayCard(page) {
    const img = h("img", { alt: t("bulk.pageAlt", { file: page.filename, page: page.page_index + 1 }), loading: "lazy" });
    authImageUrl(page.thumbnail_url).then((url) => { img.src = url; }, () => { img.alt = t("scans.noImage"); });
    const errors = h("div", { "aria-live": "polite" });
    const select = h("select", { "aria-label": t("bulk.assignTo") },
      h("option", { value: "" }, t("bulk.chooseProject")),
      targets.map((target) => h("option", { value: String(target.project_id) }, `${target.student} – ${target.project_name}`)));
    const assign = h("button", { type: "button", onclick: async () => {
      if (!select.value) { select.focus(); return; }
      assign.disabled = true;
      try {
        /** @type {AssignPage} */
        const request = { project_id: Number(select.value) };
        await api.post(`/api/classes/${cid}/unassigned-pages/${page.id}/assign`, request);
        flash(t("bulk.assigned", { to: select.selectedOptions[0]?.textContent || "" }));
        await refreshTray();
      } catch (err) { errors.replaceChildren(errorBox(err)); assign.disabled = false; }
    } }, t("bulk.assign"));
    const discard = h("button", { type: "button", class: "ghost danger", onclick: async () => {
      if (!await confirmDialog(t("bulk.discardConfirm"), t("bulk.discard"))) return;
      try { await api.delete(`/api/classes/${cid}/unassigned-pages/${page.id}`); await refreshTray(); } catch (err) { showError(err); }
    } }, t("bulk.discard"));
    return h("figure", { class: "card scan tray-page", dataset: { pageId: String(page.id) } },
      h("button", { type: "button", class: "image-button", "aria-label": t("bulk.enlarge"), onclick: () => enlarge(page) }, img),
      h("figcaption", {}, h("strong", {}, `${page.filename} (${t("bulk.page", { n: page.page_index + 1 })})`),
        h("p", { class: "error small" }, problemText(page.problem, page.reason)), select, h("div", { class: "row wrap" }, assign, discard), errors));
  }

  /** The page large enough to read the nickname on it. @param {UnassignedPagePublic} page */
  async function enlarge(page) {
    const img = h("img", { class: "page-preview", alt: t("bulk.pageAlt", { file: page.filename, page: page.page_index + 1 }) });
    modal(`${page.filename} (${t("bulk.page", { n: page.page_index + 1 })})`, img);
    try { img.src = await authImageUrl(page.preview_url); } catch (err) { showError(err); }
  }

  await refreshTray();
  return null;
}

/** What happened to each page of an upload. @param {BulkPage[]} pages @param {string} name  the uploaded file's */
function pageTable(pages, name) {
  return tableScroll(h("table", { class: "data bulk-pages" },
    h("thead", {}, h("tr", {}, [t("bulk.page.col"), t("bulk.outcome"), t("bulk.where")].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, pages.map((p) => h("tr", { class: p.outcome },
      h("td", {}, `${p.filename} ${t("bulk.page", { n: p.page_index + 1 })}`),
      h("td", {}, h("span", { class: `badge ${p.outcome === "routed" ? "succeeded" : p.outcome === "unassigned" ? "failed" : ""}` }, t(`bulk.outcome.${p.outcome}`))),
      h("td", {}, p.outcome === "routed" || (p.outcome === "already_stored" && p.student) ? `${p.student} – ${p.project_name}` : problemText(p.problem, p.reason)))))), name);
}

/**
 * Why a page was not sorted to a student, in the page's language (the server's English sentence for a reason
 * the screens do not know).
 * @param {string | null} problem @param {string | null} reason
 */
function problemText(problem, reason) {
  const key = `bulk.problem.${problem}`;
  return problem && t(key) !== key ? t(key) : reason || "";
}
