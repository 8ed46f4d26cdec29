// One project: a tab bar over its screens (scans & extraction, dataset, training, evaluation, playground).
import { t } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox } from "../dom.js";
import * as scans from "./scans.js";
import * as dataset from "./dataset.js";
import * as training from "./training.js";
import * as trainingDetail from "./training-detail.js";
import * as playground from "./playground.js";

const TABS = [
  { id: "scans", view: scans },
  { id: "dataset", view: dataset },
  { id: "training", view: training },
  { id: "playground", view: playground },
];

export async function render(main, { pid, tab = "scans", sub }) {
  let project;
  try {
    project = await api.get(`/api/projects/${pid}`);
  } catch (err) {
    main.append(errorBox(err), h("p", {}, h("a", { href: "#/projects" }, t("projects.back"))));
    return null;
  }
  document.title = `${project.name} – Digit Lab`;
  clear(document.getElementById("crumbs"), h("a", { href: "#/projects" }, t("projects.title")), " › ", h("span", {}, project.name));
  const activeTab = tab === "trainings" ? "training" : tab;
  const nav = h("nav", { class: "tabs", "aria-label": t("project.sections") },
    TABS.map((tb) => h("a", { href: `#/projects/${pid}/${tb.id}`, class: tb.id === activeTab ? "active" : "",
      "aria-current": tb.id === activeTab ? "page" : null }, t(`tab.${tb.id}`))));
  const body = h("section", { class: "tab-body" });
  main.append(h("h1", {}, project.name), nav, body);
  const ctx = { project, pid: project.id, sub };
  if (tab === "trainings" && sub) return trainingDetail.render(body, ctx);
  const entry = TABS.find((tb) => tb.id === tab);
  if (!entry) { body.append(errorBox({ status: 404, code: "not_found", detail: "" })); return null; }
  return entry.view.render(body, ctx);
}
