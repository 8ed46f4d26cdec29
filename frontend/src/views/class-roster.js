// @ts-check
// The roster: every student of the class with how far they got and where they are stuck, live during the lesson
// (the roster WebSocket sends it again whenever a student uploads, extracts, edits or trains).
import { t, getLanguage } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, formatPercent } from "../dom.js";
import { followSnapshots } from "../api/ws.js";
import { studentState, rosterOrder, rosterCounts } from "../classroom.js";
import { relativeTime, formatDateTime } from "../time.js";

/** @typedef {import("../api/types").RosterPublic} RosterPublic */
/** @typedef {import("../api/types").RosterStudent} RosterStudent */

/** "Last activity" says "2 minutes ago": say it again as time goes by, without waiting for a change. */
const RELATIVE_REFRESH_MS = 30000;

/**
 * @param {HTMLElement} body
 * @param {import("./class.js").ClassContext} ctx
 */
export function render(body, { cid }) {
  const live = h("span", { class: "live-state", id: "roster-live", "aria-live": "polite" }, t("loading"));
  const headline = h("p", { class: "roster-headline", id: "roster-headline" });
  const table = h("div", { class: "roster-box", id: "roster" });
  body.append(h("div", { class: "row wrap roster-top" }, headline, live), table,
    h("p", { class: "hint" }, t("roster.hint")));

  /** @type {RosterPublic | null} */
  let latest = null;
  const draw = () => { if (latest) drawRoster(latest); };

  /** @param {RosterPublic} roster */
  function drawRoster(roster) {
    const counts = rosterCounts(roster.students);
    headline.textContent = t("roster.counts", counts);
    if (!roster.students.length) {
      clear(table, h("p", { class: "card muted" }, t("roster.empty"), " ", h("a", { href: `#/classes/${cid}/codes` }, t("roster.emptyLink"))));
      return;
    }
    clear(table, h("table", { class: "data roster" },
      h("caption", { class: "sr-only" }, t("roster.caption")),
      h("thead", {}, h("tr", {}, [t("roster.student"), t("roster.pages"), t("roster.samples"), t("roster.trainings"),
        t("roster.best"), t("roster.last"), t("roster.state"), t("roster.projects")].map((c, i) =>
        h("th", { scope: "col", class: i >= 1 && i <= 4 ? "num" : null }, c)))),
      h("tbody", {}, rosterOrder(roster.students).map((s) => row(s)))));
  }

  /** @param {RosterStudent} s */
  function row(s) {
    const state = studentState(s);
    const detail = `#/classes/${cid}/students/${s.user_id}`;
    return h("tr", { class: `roster-row ${state.kind}`, dataset: { userId: String(s.user_id), nickname: s.nickname } },
      h("th", { scope: "row" }, h("a", { href: detail, class: "student-name" }, s.nickname),
        s.writer_number !== null ? h("span", { class: "muted small writer-no" }, ` · ${t("writer.n", { n: s.writer_number })}`) : null),
      h("td", { class: "num", dataset: { field: "pages" } }, String(s.pages_uploaded)),
      h("td", { class: "num", dataset: { field: "samples" } }, String(s.samples_kept)),
      h("td", { class: "num", dataset: { field: "trainings" } }, String(s.trainings)),
      h("td", { class: "num", dataset: { field: "best" } }, formatPercent(s.best_test_accuracy)),
      h("td", {}, s.last_activity ? h("time", { datetime: s.last_activity, title: formatDateTime(s.last_activity, getLanguage()) },
        relativeTime(Date.now() - Date.parse(s.last_activity), getLanguage())) : h("span", { class: "muted" }, t("roster.never"))),
      h("td", { class: "state-cell", dataset: { field: "state" }, title: state.reason ? t(state.reason.key, state.reason.params) : null }, h("span", { class: `state-dot ${state.kind}`, "aria-hidden": "true" }),
        t(state.words.key, state.words.params)),
      h("td", {}, s.projects.length
        ? s.projects.map((p) => h("a", { href: `${detail}/projects/${p.id}`, class: "project-link",
          "aria-label": t("roster.openProject", { project: p.name, name: s.nickname }) }, p.name))
        : h("span", { class: "muted" }, "–")));
  }

  const stop = followSnapshots(api, `/api/classes/${cid}/roster`, (/** @type {RosterPublic} */ roster) => {
    latest = roster;
    drawRoster(roster);
    body.dataset.updates = String(Number(body.dataset.updates || 0) + 1); // for the end-to-end test
  }, (how) => {
    live.className = `live-state ${how}`;
    live.textContent = t(`roster.live.${how}`);
  });
  const ticker = setInterval(draw, RELATIVE_REFRESH_MS);
  return () => { stop(); clearInterval(ticker); };
}
