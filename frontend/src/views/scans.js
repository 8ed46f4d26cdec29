// Scans: print the sheet, upload scans (one XHR per file, with progress), run the extraction and
// see each page's preview with the detected grid, or why it failed.
import { t } from "../i18n/index.js";
import { api, authImageUrl } from "../state.js";
import { h, clear, errorBox, progressBar, showError, saveBlob, formatSeconds } from "../dom.js";
import { errorText } from "../i18n/index.js";

export function render(body, { project, pid }) {
  let stopped = false;
  const uploads = h("ul", { class: "uploads", "aria-live": "polite" });
  const scanList = h("div", { class: "scan-grid" });
  const jobBox = h("div", { class: "job", "aria-live": "polite" });
  const fileInput = h("input", { type: "file", id: "scan-files", multiple: true, accept: "image/png,image/jpeg,image/tiff,application/pdf,.png,.jpg,.jpeg,.tif,.tiff,.pdf", class: "sr-only" });
  const drop = h("div", { class: "dropzone", tabindex: "0", role: "button", "aria-describedby": "drop-hint",
    onclick: () => fileInput.click(),
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fileInput.click(); } } },
  h("strong", {}, t("scans.drop")), h("span", { id: "drop-hint", class: "muted" }, t("scans.dropHint")));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    uploadAll([...e.dataTransfer.files]);
  });
  fileInput.addEventListener("change", () => { uploadAll([...fileInput.files]); fileInput.value = ""; });

  const sheetBtn = h("button", { type: "button", class: "ghost", onclick: async () => {
    sheetBtn.disabled = true;
    try { saveBlob(await api.blob(`/api/projects/${pid}/sheet.pdf`), `digitlab-sheet-${pid}.pdf`); }
    catch (err) { showError(err); }
    finally { sheetBtn.disabled = false; }
  } }, t("scans.sheet"));

  const extractBtn = h("button", { type: "button", id: "extract", onclick: () => startExtraction() }, t("scans.extract"));

  body.append(
    h("section", { class: "card" }, h("h2", {}, t("scans.step1")), h("p", {}, t("scans.sheetHint", { labels: project.labels.join(", ") })), sheetBtn),
    h("section", { class: "card" }, h("h2", {}, t("scans.step2")), fileInput, drop, uploads),
    h("section", { class: "card" }, h("h2", {}, t("scans.step3")), h("p", { class: "muted" }, t("scans.extractHint")), extractBtn, jobBox),
    h("section", {}, h("h2", {}, t("scans.list")), scanList));

  function uploadAll(files) {
    // One request per file, in parallel: each file has its own progress bar and its own error.
    const pending = files.map((file) => {
      const bar = progressBar(t("scans.uploading", { name: file.name }));
      const status = h("span", { class: "status" });
      const item = h("li", {}, h("span", { class: "file-name" }, file.name), bar.el, status);
      uploads.append(item);
      const { promise } = api.upload(`/api/projects/${pid}/scans`, file, (f) => bar.set(f, `${Math.round(100 * f)} %`));
      return promise.then((created) => {
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
    let scans;
    try { scans = await api.get(`/api/projects/${pid}/scans`); }
    catch (err) { clear(scanList, errorBox(err)); return; }
    if (stopped) return;
    if (!scans.length) { clear(scanList, h("p", { class: "muted" }, t("scans.none"))); return; }
    clear(scanList, scans.map(scanCard));
  }

  function scanCard(scan) {
    const img = h("img", { alt: t("scans.imageOf", { name: scan.filename }), loading: "lazy" });
    const src = scan.preview_url || scan.thumbnail_url;
    authImageUrl(src).then((url) => { img.src = url; }, () => { img.alt = t("scans.noImage"); });
    const pageNote = scan.page_count > 1 ? ` (${t("scans.page", { n: scan.page_index + 1, of: scan.page_count })})` : "";
    const status = scan.status === "failed" ? h("p", { class: "error" }, t("scans.failedReason", { reason: scan.error || "" }))
      : scan.status === "extracted" || scan.kept_count ? h("p", { class: "ok" }, t("scans.counts", { kept: scan.kept_count, blank: scan.blank_count, rejected: scan.rejected_count }))
        : h("p", { class: "muted" }, t(`scans.status.${scan.status}`));
    const del = h("button", { type: "button", class: "ghost danger", "aria-label": t("scans.deleteNamed", { name: scan.filename }), onclick: async () => {
      if (!confirm(t("scans.deleteConfirm", { name: scan.filename }))) return;
      try { await api.delete(`/api/projects/${pid}/scans/${scan.id}`); refreshScans(); } catch (err) { showError(err); }
    } }, t("delete"));
    return h("figure", { class: `card scan ${scan.status}` }, img,
      h("figcaption", {}, h("strong", {}, scan.filename + pageNote), status, del));
  }

  async function startExtraction() {
    extractBtn.disabled = true;
    const bar = progressBar(t("scans.extracting"));
    clear(jobBox, bar.el);
    try {
      const job = await api.post(`/api/projects/${pid}/extractions`, {});
      await followJob(job.id, bar);
    } catch (err) {
      jobBox.append(errorBox(err));
    } finally {
      extractBtn.disabled = false;
      if (!stopped) refreshScans();
    }
  }

  async function followJob(jobId, bar) {
    const started = performance.now();
    for (;;) {
      if (stopped) return;
      const job = await api.get(`/api/jobs/${jobId}`);
      const elapsed = (performance.now() - started) / 1000;
      const left = job.progress > 0.05 ? elapsed * (1 - job.progress) / job.progress : null;
      bar.set(job.progress, [job.message, left !== null ? t("timeLeft", { time: formatSeconds(left) }) : ""].filter(Boolean).join(" · "));
      if (["succeeded", "failed", "cancelled"].includes(job.status)) {
        bar.set(1, t(`job.${job.status}`));
        if (job.result) jobBox.append(pageResults(job.result));
        if (job.status === "failed") jobBox.append(h("p", { class: "error" }, job.error || t("job.failed")));
        return;
      }
      await new Promise((r) => setTimeout(r, 700));
    }
  }

  function pageResults(result) {
    const pages = result.pages || [];
    return h("div", {}, h("p", { class: "ok" }, t("scans.extractDone", { kept: result.kept, failed: result.failed_pages })),
      h("ul", { class: "page-results" }, pages.map((p) => h("li", { class: p.status === "ok" ? "ok" : "error" },
        `${p.filename || "#" + p.scan_id}${p.page_index ? ` (${t("scans.page", { n: p.page_index + 1, of: "…" })})` : ""}: `,
        p.status === "ok" ? t("scans.counts", { kept: p.kept, blank: p.blank, rejected: p.rejected }) : t("scans.failedReason", { reason: p.error })))));
  }

  refreshScans();
  return () => { stopped = true; };
}
