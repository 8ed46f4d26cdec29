// The dataset: one sheet per label with counts; clicking a sample excludes, includes or relabels it.
import { t } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, showError, modal } from "../dom.js";

export async function render(body, { project, pid, sub }) {
  const counts = h("div", { class: "label-tabs", role: "tablist", "aria-label": t("dataset.labels") });
  const sheet = h("div", { class: "sheet", "aria-live": "polite" });
  const total = h("p", { class: "muted" });
  body.append(h("section", { class: "card" }, h("h2", {}, t("dataset.title")), h("p", {}, t("dataset.hint")), total, counts),
    sheet);
  let current = sub !== undefined && project.labels.includes(sub) ? sub : project.labels[0];

  async function refreshCounts() {
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
    const items = [];
    try {
      // Included and excluded samples of this label (blank and rejected cells are not part of the sheet).
      for (const which of ["included", "excluded"]) {
        for (let offset = 0; ; offset += 1000) {
          const page = await api.get(`/api/projects/${pid}/dataset/cells`, { label: current, which, offset, limit: 1000 });
          items.push(...page.items);
          if (offset + page.items.length >= page.total || !page.items.length) break;
        }
      }
    } catch (err) { clear(sheet, errorBox(err)); return; }
    if (!items.length) { clear(sheet, h("p", { class: "muted" }, t("dataset.empty"))); return; }
    clear(sheet, h("h3", {}, t("dataset.sheetOf", { label: current })),
      h("div", { class: "cells" }, items.map(cellButton)));
  }

  function cellButton(cell) {
    const btn = h("button", { type: "button", class: `cell ${cell.included ? "" : "excluded"}`,
      title: cell.included ? t("dataset.cellIncluded") : t("dataset.cellExcluded"),
      "aria-label": t("dataset.cellLabel", { id: cell.id, label: cell.label, state: cell.included ? t("dataset.in") : t("dataset.out") }),
      onclick: () => editCell(cell) },
    h("img", { src: cell.image, alt: "", width: "28", height: "28" }));
    return btn;
  }

  function editCell(cell) {
    const select = h("select", { id: "relabel" }, project.labels.map((l) => h("option", { value: l, selected: l === cell.label }, l)));
    const errors = h("div");
    const apply = async (change) => {
      try {
        await api.patch(`/api/projects/${pid}/dataset/cells/${cell.id}`, change);
        dialog.close();
        refreshCounts();
        loadSheet();
      } catch (err) { errors.replaceChildren(errorBox(err)); }
    };
    const dialog = modal(t("dataset.editTitle"),
      h("img", { src: cell.image, alt: t("dataset.sampleImage"), class: "cell-large", width: "112", height: "112" }),
      h("p", {}, t("dataset.cellState", { label: cell.label, state: cell.included ? t("dataset.in") : t("dataset.out") })),
      h("div", { class: "row" },
        h("button", { type: "button", onclick: () => apply({ included: !cell.included }) },
          cell.included ? t("dataset.exclude") : t("dataset.include"))),
      h("div", { class: "row" }, h("label", { for: "relabel" }, t("dataset.relabel")), select,
        h("button", { type: "button", class: "ghost", onclick: () => apply({ label: select.value, included: true }) }, t("dataset.applyLabel"))),
      errors);
  }

  await refreshCounts();
  await loadSheet();
  return null;
}
