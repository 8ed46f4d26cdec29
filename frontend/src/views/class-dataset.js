// @ts-check
// The class data set: the class's handwriting pooled from all (or chosen) students. Teachers build it and see
// whose samples it holds; students see the same counts with writers as numbers ("writer 3") and the samples as
// anonymous images.
import { CANVAS_SIDE } from "../inference/preprocess.js";
import { t, getLanguage } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, flash, showError, confirmDialog, tableScroll } from "../dom.js";
import { ApiError } from "../api/client.js";
import { writerWords } from "../classroom.js";
import { formatDateTime } from "../time.js";

/** @typedef {import("../api/types").ClassDatasetPublic} ClassDatasetPublic */
/** @typedef {import("../api/types").ClassDatasetBuild} ClassDatasetBuild */
/** @typedef {import("../api/types").ClassSamplePage} ClassSamplePage */
/** @typedef {import("../api/types").MemberPublic} MemberPublic */

/** Samples shown per label: enough to see the different handwritings, few enough for a school laptop. */
const SAMPLES_SHOWN = 300;

/** "writer 3", "you (writer 3)", or for teachers "writer 3 (mia)". @param {Parameters<typeof writerWords>[0]} writer */
export function writerText(writer) {
  const words = writerWords(writer);
  return t(words.key, words.params);
}

/**
 * The class data set, or null when the teacher has not built one yet.
 * @param {number} cid
 * @returns {Promise<ClassDatasetPublic | null>}
 */
export async function loadDataset(cid) {
  try { return await api.get(`/api/classes/${cid}/dataset`); }
  catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/**
 * Counts per label and per writer, and a browser of the samples by label.
 * @param {number} cid
 * @param {ClassDatasetPublic} ds
 */
export function datasetView(cid, ds) {
  const maxLabel = Math.max(1, ...ds.per_label.map((l) => l.samples));
  const samples = h("div", { class: "class-samples", id: "class-samples", "aria-live": "polite" });
  const labelButtons = h("div", { class: "label-tabs", role: "tablist", "aria-label": t("dataset.labels") },
    ds.per_label.map((l) => h("button", { type: "button", role: "tab", "aria-selected": "false", onclick: (e) => {
      for (const b of labelButtons.querySelectorAll("button")) { b.classList.remove("active"); b.setAttribute("aria-selected", "false"); }
      const button = /** @type {HTMLElement} */ (e.currentTarget);
      button.classList.add("active");
      button.setAttribute("aria-selected", "true");
      showSamples(l.label);
    } }, h("span", { class: "big" }, l.label), h("span", { class: "count" }, t("dataset.count", { n: l.samples })))));

  /** @param {string} label */
  async function showSamples(label) {
    clear(samples, h("p", { class: "muted" }, t("loading")));
    /** @type {ClassSamplePage} */
    let page;
    try { page = await api.get(`/api/classes/${cid}/dataset/samples`, { label, limit: SAMPLES_SHOWN }); }
    catch (err) { clear(samples, errorBox(err)); return; }
    clear(samples,
      h("p", { class: "hint" }, t(page.total > page.items.length ? "cds.samplesSome" : "cds.samplesAll", { n: page.items.length, total: page.total, label })),
      h("div", { class: "cells" }, page.items.map((s) => h("span", { class: "cell",
        title: s.writer_number !== null ? writerText({ writer_number: s.writer_number, nickname: s.nickname }) : "" },
      h("img", { src: s.image, alt: "", width: CANVAS_SIDE, height: CANVAS_SIDE })))));
  }

  return h("div", { class: "class-dataset", id: "class-dataset" },
    h("p", { class: "muted", id: "class-dataset-summary" }, t("cds.summary", { total: ds.total, writers: ds.per_writer.length,
      date: formatDateTime(ds.built_at, getLanguage()), version: ds.version })),
    h("div", { class: "eval-grid" },
      h("section", { class: "card" }, h("h3", {}, t("cds.perLabel")),
        h("ul", { class: "bars" }, ds.per_label.map((l) => h("li", {}, h("span", { class: "bar-label" }, l.label),
          h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: { width: `${100 * l.samples / maxLabel}%` } })),
          h("span", { class: "bar-value" }, String(l.samples)))))),
      h("section", { class: "card" }, h("h3", {}, t("cds.perWriter")),
        tableScroll(h("table", { class: "data", id: "writer-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("cds.writer")), h("th", { scope: "col", class: "num" }, t("cds.samples")))),
          h("tbody", {}, ds.per_writer.map((w) => h("tr", { class: w.you ? "you" : null },
            h("td", {}, writerText(w)), h("td", { class: "num" }, String(w.samples)))))), t("cds.perWriter")))),
    h("section", { class: "card" }, h("h3", {}, t("cds.browse")), h("p", { class: "hint" }, t("cds.browseHint")), labelButtons, samples));
}

/**
 * Teachers: build (from all or chosen students), rebuild, delete; the data set with its sources.
 * @param {HTMLElement} body
 * @param {import("./class.js").ClassContext} ctx
 */
export async function render(body, { cid }) {
  const current = h("div", { id: "class-dataset-box" }, h("p", { class: "muted" }, t("loading")));
  const errors = h("div", { "aria-live": "polite" });
  const all = h("input", { type: "radio", name: "cds-who", id: "cds-all", checked: true });
  const chosen = h("input", { type: "radio", name: "cds-who", id: "cds-chosen" });
  const studentBox = h("fieldset", { class: "student-choice", hidden: true }, h("legend", {}, t("cds.chooseStudents")));
  const build = h("button", { type: "submit", id: "build-dataset" }, t("cds.build"));
  const sync = () => { studentBox.hidden = !chosen.checked; };
  all.addEventListener("change", sync);
  chosen.addEventListener("change", sync);
  body.append(h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    /** @type {ClassDatasetBuild} */
    const request = {};
    if (chosen.checked) {
      request.student_ids = [...studentBox.querySelectorAll("input:checked")].map((i) => Number(/** @type {HTMLInputElement} */ (i).value));
      if (!request.student_ids.length) { errors.replaceChildren(h("p", { class: "error" }, t("cds.chooseSome"))); return; }
    }
    build.disabled = true;
    try {
      /** @type {ClassDatasetPublic} */
      const ds = await api.request("PUT", `/api/classes/${cid}/dataset`, { json: request });
      flash(t("cds.built", { n: ds.total }));
      show(ds);
    } catch (err) { errors.replaceChildren(errorBox(err)); }
    finally { build.disabled = false; }
  } },
  h("h2", {}, t("cds.title")),
  h("p", { class: "hint" }, t("cds.hint")),
  h("div", { class: "row wrap" }, h("label", { class: "check" }, all, t("cds.allStudents")), h("label", { class: "check" }, chosen, t("cds.someStudents"))),
  studentBox, errors, build), current);

  api.get(`/api/classes/${cid}/members`).then((/** @type {MemberPublic[]} */ people) => {
    studentBox.append(h("div", { class: "row wrap" }, people.filter((m) => m.role !== "teacher").map((m) =>
      h("label", { class: "check" }, h("input", { type: "checkbox", value: String(m.user_id) }), m.username))));
  }, () => { /* the choice stays empty; "all students" still works */ });

  /** @param {ClassDatasetPublic | null} ds */
  function show(ds) {
    if (!ds) { clear(current, h("p", { class: "card muted" }, t("cds.none"))); return; }
    build.textContent = t("cds.rebuild");
    clear(current, datasetView(cid, ds),
      ds.sources && ds.sources.length ? h("details", { class: "card" }, h("summary", {}, t("cds.sources", { n: ds.sources.length })),
        h("ul", {}, ds.sources.map((s) => h("li", {}, t("cds.source", { name: s.nickname, n: s.writer_number, project: s.project_name, samples: s.samples }))))) : null,
      ds.skipped && ds.skipped.length ? h("section", { class: "card warn" }, h("h3", {}, t("cds.skippedTitle")),
        h("ul", {}, ds.skipped.map((s) => h("li", {}, t("cds.skipped", { name: s.nickname, project: s.project_name, labels: s.labels.join(" ") }))))) : null,
      h("button", { type: "button", class: "ghost danger", onclick: async () => {
        if (!await confirmDialog(t("cds.deleteConfirm"), t("delete"))) return;
        try { await api.delete(`/api/classes/${cid}/dataset`); show(null); build.textContent = t("cds.build"); } catch (err) { showError(err); }
      } }, t("cds.delete")));
  }

  try { show(await loadDataset(cid)); } catch (err) { clear(current, errorBox(err)); }
  return null;
}
