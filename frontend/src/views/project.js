// @ts-check
// One project: a tab bar over its screens (scans & extraction, dataset, training, evaluation, playground).
import { t } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox } from "../dom.js";
import * as scans from "./scans.js";
import * as dataset from "./dataset.js";
import * as training from "./training.js";
import * as trainingDetail from "./training-detail.js";
import * as compare from "./compare.js";
import * as playground from "./playground.js";
import { classCrumbs } from "./class.js";

/** @typedef {import("../api/types").ProjectPublic} ProjectPublic */
/** @typedef {import("../api/types").ClassPublic} ClassPublic */
/** @typedef {import("../api/types").MemberPublic} MemberPublic */
/**
 * What every tab of a project gets: the project, its id, and the route's last part (a label, a training id);
 * `base` is the project's address in the app ("/projects/3", or under the class for its teacher), `readOnly`
 * whether the screens leave out everything that changes it (a teacher looking at a student's project), and
 * `classId` the class it is seen through (teachers) or null.
 * @typedef {{project: ProjectPublic, pid: number, sub: string | undefined, base: string, readOnly: boolean,
 *            classId: number | null}} ProjectContext
 */
/** @typedef {(body: HTMLElement, ctx: ProjectContext) => Promise<(() => void) | null> | (() => void) | null} TabRender */

/** @type {{id: string, view: {render: TabRender}}[]} */
const TABS = [
  { id: "scans", view: scans },
  { id: "dataset", view: dataset },
  { id: "training", view: training },
  { id: "playground", view: playground },
];

/**
 * @param {HTMLElement} main
 * @param {import("../router.js").RouteParams} params  pid, tab and sub of #/projects/:pid/:tab/:sub; with mode
 *   "teacher" also cid and uid (#/classes/:cid/students/:uid/projects/:pid/...: read-only)
 */
export async function render(main, { pid, tab = "scans", sub, mode, cid, uid }) {
  const teacher = mode === "teacher";
  const back = teacher ? `#/classes/${cid}/students/${uid}` : "#/projects";
  /** @type {ProjectPublic} */
  let project;
  /** @type {[ClassPublic, MemberPublic[]] | null} */
  let seenThrough = null;
  try {
    if (teacher) {
      let schoolClass, people;
      [project, schoolClass, people] = await Promise.all([api.get(`/api/projects/${pid}`), api.get(`/api/classes/${cid}`),
        api.get(`/api/classes/${cid}/members`)]);
      seenThrough = [schoolClass, people];
    } else {
      project = await api.get(`/api/projects/${pid}`);
    }
  } catch (err) {
    main.append(errorBox(err), h("p", {}, h("a", { href: back }, t(teacher ? "project.backToStudent" : "projects.back"))));
    return null;
  }
  const base = teacher ? `/classes/${cid}/students/${uid}/projects/${project.id}` : `/projects/${project.id}`;
  document.title = `${project.name} – Digit Lab`;
  /** @type {HTMLElement | null} */
  let notice = null;
  if (seenThrough) {
    const [schoolClass, people] = seenThrough;
    const nickname = people.find((m) => String(m.user_id) === uid)?.username || "?";
    classCrumbs(schoolClass, h("a", { href: back }, nickname), project.name);
    notice = h("p", { class: "read-only-note", id: "read-only-note" }, t("project.readOnly", { name: nickname }));
  } else {
    clear(document.getElementById("crumbs"), h("a", { href: "#/projects" }, t("projects.title")), " › ", h("span", {}, project.name));
  }
  const activeTab = tab === "trainings" || tab === "compare" ? "training" : tab;
  const nav = h("nav", { class: "tabs", "aria-label": t("project.sections") },
    TABS.map((tb) => h("a", { href: `#${base}/${tb.id}`, class: tb.id === activeTab ? "active" : "",
      "aria-current": tb.id === activeTab ? "page" : null }, t(`tab.${tb.id}`))));
  const body = h("section", { class: "tab-body" });
  main.append(h("h1", {}, project.name), ...(notice ? [notice] : []), nav, body);
  /** @type {ProjectContext} */
  const ctx = { project, pid: project.id, sub, base, readOnly: teacher, classId: teacher ? Number(cid) : null };
  if (tab === "trainings" && sub) return trainingDetail.render(body, ctx);
  if (tab === "compare") return compare.render(body, ctx);
  const entry = TABS.find((tb) => tb.id === tab);
  if (!entry) { body.append(errorBox({ status: 404, code: "not_found", detail: "" })); return null; }
  return entry.view.render(body, ctx);
}
