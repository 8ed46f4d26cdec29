// @ts-check
// One class. Its teachers get a tab bar (roster, students, join codes, class data set, challenge, scans, settings);
// its students get their page of it (their writer number, the class data set as anonymous images, the
// leaderboard).
import { t } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox } from "../dom.js";
import * as roster from "./class-roster.js";
import * as members from "./class-members.js";
import * as codes from "./class-codes.js";
import * as dataset from "./class-dataset.js";
import * as challenge from "./class-challenge.js";
import * as scans from "./class-scans.js";
import * as settings from "./class-settings.js";
import * as learner from "./class-learner.js";

/** @typedef {import("../api/types").ClassPublic} ClassPublic */
/**
 * What every tab of a class gets.
 * @typedef {{schoolClass: ClassPublic, cid: number, reload: () => void}} ClassContext
 */
/** @typedef {(body: HTMLElement, ctx: ClassContext) => Promise<(() => void) | null> | (() => void) | null} ClassTabRender */

/** @type {{id: string, view: {render: ClassTabRender}}[]} */
const TABS = [
  { id: "roster", view: roster },
  { id: "students", view: members },
  { id: "codes", view: codes },
  { id: "dataset", view: dataset },
  { id: "challenge", view: challenge },
  { id: "scans", view: scans },
  { id: "settings", view: settings },
];

/**
 * The class's name in the breadcrumb, for this screen and the screens below it.
 * @param {{id: number, name: string}} schoolClass
 * @param {...(Node | string)} more  what follows the class's name
 */
export function classCrumbs(schoolClass, ...more) {
  clear(document.getElementById("crumbs"), h("a", { href: "#/classes" }, t("classes.crumb")), " › ",
    more.length ? h("a", { href: `#/classes/${schoolClass.id}` }, schoolClass.name) : h("span", {}, schoolClass.name),
    more.flatMap((m) => [" › ", typeof m === "string" ? h("span", {}, m) : m]));
}

/**
 * @param {HTMLElement} main
 * @param {import("../router.js").RouteParams} params  cid and tab of #/classes/:cid/:tab
 */
export async function render(main, { cid, tab }) {
  /** @type {ClassPublic} */
  let schoolClass;
  try {
    schoolClass = await api.get(`/api/classes/${cid}`);
  } catch (err) {
    main.append(errorBox(err), h("p", {}, h("a", { href: "#/classes" }, t("classes.back"))));
    return null;
  }
  document.title = `${schoolClass.name} – Digit Lab`;
  classCrumbs(schoolClass);
  /** @type {ClassContext} */
  const ctx = { schoolClass, cid: schoolClass.id, reload: () => window.dispatchEvent(new HashChangeEvent("hashchange")) };
  const heading = h("h1", {}, schoolClass.name, schoolClass.closed ? h("span", { class: "badge failed heading-badge" }, t("classes.closed")) : null);
  if (schoolClass.role !== "teacher") {
    main.append(heading);
    return learner.render(main, ctx);
  }
  const active = tab || "roster";
  const nav = h("nav", { class: "tabs", "aria-label": t("class.sections") },
    TABS.map((tb) => h("a", { href: `#/classes/${cid}/${tb.id}`, class: tb.id === active ? "active" : "",
      id: `class-tab-${tb.id}`, "aria-current": tb.id === active ? "page" : null }, t(`class.tab.${tb.id}`))));
  const body = h("section", { class: "tab-body" });
  main.append(heading, nav, body);
  const entry = TABS.find((tb) => tb.id === active);
  if (!entry) { body.append(errorBox({ status: 404, code: "not_found", detail: "" })); return null; }
  return entry.view.render(body, ctx);
}
