// @ts-check
// The class challenge: the teacher marks sheets (their own or a few students') as a hidden test set; every
// training of the class is scored on it, and the leaderboard shows nicknames, network kind, parameters and score.
import { CANVAS_SIDE } from "../inference/preprocess.js";
import { t, getLanguage, formatNumber } from "../i18n/index.js";
import { api, authImageUrl } from "../state.js";
import { h, clear, errorBox, flash, showError, formatPercent, confirmDialog, tableScroll } from "../dom.js";
import { ApiError } from "../api/client.js";
import { formatDateTime } from "../time.js";

/** @typedef {import("../api/types").ChallengePublic} ChallengePublic */
/** @typedef {import("../api/types").LeaderboardPublic} LeaderboardPublic */
/** @typedef {import("../api/types").LeaderboardEntry} LeaderboardEntry */
/** @typedef {import("../api/types").ProjectPublic} ProjectPublic */
/** @typedef {import("../api/types").ScanPublic} ScanPublic */
/** @typedef {import("../api/types").RosterPublic} RosterPublic */
/** @typedef {import("../api/types").ChallengeSet} ChallengeSet */

/**
 * Scores come from jobs that finish during the lesson: look again this often while the leaderboard is open (the
 * teacher's screen often; thirty students' screens less often, to spare a small school server).
 */
export const TEACHER_REFRESH_MS = 4000;
export const STUDENT_REFRESH_MS = 15000;
const MAX_SHEETS = 20;

/**
 * The GET, or null on 404 (no challenge yet).
 * @template T
 * @param {string} path
 * @returns {Promise<T | null>}
 */
async function getOrNull(path) {
  try { return await api.get(path); }
  catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/**
 * The leaderboard, kept up to date while it is on the screen.
 * @param {number} cid
 * @param {(entry: LeaderboardEntry) => string | null} [linkOf]  where a row leads (teachers: the training)
 * @param {(entries: number) => void} [onEntries]  told how many entries it shows after each look
 * @param {number} [refreshMs]
 * @returns {{el: HTMLElement, stop: () => void}}
 */
export function leaderboard(cid, linkOf = () => null, onEntries = () => {}, refreshMs = TEACHER_REFRESH_MS) {
  const el = h("section", { class: "card", id: "leaderboard" }, h("h2", {}, t("lb.title")), h("p", { class: "muted" }, t("loading")));
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;
  const refresh = async () => {
    try {
      /** @type {LeaderboardPublic | null} */
      const board = await getOrNull(`/api/classes/${cid}/challenge/leaderboard`);
      if (stopped) return;
      clear(el, h("h2", {}, t("lb.title")), board ? table(board) : h("p", { class: "muted" }, t("lb.noChallenge")));
      onEntries(board ? board.entries.length : 0);
    } catch (err) {
      clear(el, h("h2", {}, t("lb.title")), errorBox(err));
    }
    if (!stopped) timer = setTimeout(refresh, refreshMs);
  };

  /** @param {LeaderboardPublic} board */
  function table(board) {
    if (!board.entries.length) return h("p", { class: "muted" }, t("lb.empty", { n: board.sample_count }));
    return h("div", {}, h("p", { class: "hint" }, t("lb.hint", { n: board.sample_count })),
      tableScroll(h("table", { class: "data leaderboard" },
        // The score next to the name: on a phone the columns after it are reached by scrolling the table.
        h("thead", {}, h("tr", {}, [t("lb.rank"), t("lb.nickname"), t("lb.score"), t("lb.network"), t("lb.params"), t("lb.when")]
          .map((c, i) => h("th", { scope: "col", class: [0, 2, 4].includes(i) ? "num" : null }, c)))),
        h("tbody", {}, board.entries.map((e) => {
          const link = linkOf(e);
          return h("tr", { class: e.you ? "you" : null },
            h("td", { class: "num rank" }, String(e.rank)),
            h("th", { scope: "row" }, link ? h("a", { href: link }, e.nickname) : e.nickname, e.you ? h("span", { class: "badge running" }, t("lb.you")) : null),
            h("td", { class: "num score" }, h("strong", {}, formatPercent(e.score)), h("span", { class: "muted small" }, ` ${e.correct}/${e.count}`)),
            h("td", {}, t(`training.arch.${e.architecture}`)),
            h("td", { class: "num" }, formatNumber(e.total_params)),
            h("td", {}, formatDateTime(e.scored_at, getLanguage())));
        }))), t("lb.title")));
  }

  refresh();
  return { el, stop: () => { stopped = true; clearTimeout(timer); } };
}

/**
 * Teachers: the challenge's sheets, marking new ones, ending it; the leaderboard.
 * @param {HTMLElement} body
 * @param {import("./class.js").ClassContext} ctx
 */
export async function render(body, { cid }) {
  const current = h("div", { id: "challenge-box" }, h("p", { class: "muted" }, t("loading")));
  /** @type {Map<string, number>} nickname -> user id, for links into a student's trainings */
  const userIds = new Map();
  // The challenge's figures (trainings scored) follow the leaderboard as scores come in.
  let shownEntries = -1;
  const boardBox = h("div");
  body.append(h("div", { class: "challenge-grid" }, current, boardBox));

  /** @type {RosterPublic | null} */
  let roster = null;
  try {
    roster = await api.get(`/api/classes/${cid}/roster`);
    for (const s of /** @type {RosterPublic} */ (roster).students) userIds.set(s.nickname, s.user_id);
  } catch { /* links to trainings are left out */ }
  const board = leaderboard(cid, (e) => {
    const uid = userIds.get(e.nickname);
    return uid && e.project_id && e.training_id ? `#/classes/${cid}/students/${uid}/projects/${e.project_id}/trainings/${e.training_id}` : null;
  }, (entries) => {
    if (shownEntries !== -1 && entries !== shownEntries) refreshSummary();
    shownEntries = entries;
  });
  boardBox.append(board.el);

  const summary = h("div");
  async function refreshSummary() {
    /** @type {ChallengePublic | null} */
    let challenge;
    try { challenge = await getOrNull(`/api/classes/${cid}/challenge`); }
    catch (err) { clear(summary, errorBox(err)); return; }
    clear(summary, challenge ? challengeCard(challenge) : h("section", { class: "card" }, h("h2", {}, t("ch.title")), h("p", {}, t("ch.none"))));
  }
  async function refresh() {
    await refreshSummary();
    clear(current, summary, sheetPicker(cid, roster, async () => { await refresh(); }));
  }

  /** The hidden samples themselves, for the teacher only, loaded when opened. */
  function challengeSamples() {
    const box = h("div", { class: "class-samples" });
    const details = h("details", {}, h("summary", {}, t("ch.showSamples")), box);
    details.addEventListener("toggle", async () => {
      if (!details.open || box.childElementCount) return;
      try {
        /** @type {import("../api/types").ChallengeSamplePage} */
        const page = await api.get(`/api/classes/${cid}/challenge/samples`, { limit: 500 });
        clear(box, h("div", { class: "cells" }, page.items.map((s) => h("span", { class: "cell", title: s.label },
          h("img", { src: s.image, alt: s.label, width: CANVAS_SIDE, height: CANVAS_SIDE })))));
      } catch (err) { clear(box, errorBox(err)); }
    });
    return details;
  }

  /** @param {ChallengePublic} c */
  function challengeCard(c) {
    return h("section", { class: "card", id: "challenge-current" }, h("h2", {}, t("ch.title")),
      h("p", {}, t(c.sheets?.length === 1 ? "ch.summaryOneSheet" : "ch.summary", { n: c.sample_count, sheets: c.sheets?.length ?? 0, scored: c.scored_trainings })),
      h("p", { class: "hint" }, t("ch.hidden")),
      c.sheets ? h("ul", { class: "challenge-sheets" }, c.sheets.map((s) => h("li", {},
        t("ch.sheet", { owner: s.owner, project: s.project_name, file: s.filename, page: s.page_index + 1, n: s.samples })))) : null,
      challengeSamples(),
      h("button", { type: "button", class: "ghost danger", onclick: async () => {
        if (!await confirmDialog(t("ch.endConfirm"), t("ch.end"))) return;
        try { await api.delete(`/api/classes/${cid}/challenge`); flash(t("ch.ended")); await refresh(); } catch (err) { showError(err); }
      } }, t("ch.end")));
  }

  await refresh();
  return () => board.stop();
}

/**
 * Choose the challenge's sheets: the teacher's own projects' pages first, the students' on request (one request
 * per project, so only when the teacher opens them).
 * @param {number} cid
 * @param {RosterPublic | null} roster
 * @param {() => Promise<void>} after
 */
function sheetPicker(cid, roster, after) {
  const errors = h("div", { "aria-live": "polite" });
  const own = h("div", { id: "own-sheets" }, h("p", { class: "muted" }, t("loading")));
  const theirs = h("div", { id: "student-sheets" });
  const mark = h("button", { type: "submit", id: "mark-challenge" }, t("ch.mark"));
  const studentsBox = h("details", { class: "student-sheets" }, h("summary", {}, t("ch.studentSheets")), theirs);
  let studentsLoaded = false;
  studentsBox.addEventListener("toggle", () => {
    if (!studentsBox.open || studentsLoaded) return;
    studentsLoaded = true;
    const groups = (roster?.students || []).flatMap((s) => s.projects.map((p) => ({ owner: s.nickname, project: { id: p.id, name: p.name } })));
    fillSheets(theirs, groups);
  });

  const form = h("form", { class: "card", id: "challenge-form", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const ids = [...form.querySelectorAll("input[name=sheet]:checked")].map((i) => Number(/** @type {HTMLInputElement} */ (i).value));
    if (!ids.length) { errors.replaceChildren(h("p", { class: "error" }, t("ch.chooseSome"))); return; }
    if (ids.length > MAX_SHEETS) { errors.replaceChildren(h("p", { class: "error" }, t("ch.tooMany", { n: MAX_SHEETS }))); return; }
    if (!await confirmDialog(t("ch.markConfirm", { n: ids.length }), t("dialog.ok"), false)) return;
    mark.disabled = true;
    try {
      /** @type {ChallengeSet} */
      const request = { scan_ids: ids };
      await api.request("PUT", `/api/classes/${cid}/challenge`, { json: request });
      flash(t("ch.marked"));
      await after();
    } catch (err) { errors.replaceChildren(errorBox(err)); mark.disabled = false; }
  } },
  h("h2", {}, t("ch.markTitle")),
  h("p", { class: "hint" }, t("ch.markHint")),
  h("h3", {}, t("ch.ownSheets")), own, studentsBox, errors, mark);

  api.get("/api/projects").then((/** @type {ProjectPublic[]} */ projects) => {
    if (!projects.length) { clear(own, h("p", { class: "muted" }, t("ch.noOwnProjects"), " ", h("a", { href: "#/projects" }, t("ch.makeProject")))); return; }
    fillSheets(own, projects.map((p) => ({ owner: null, project: { id: p.id, name: p.name } })));
  }, (err) => clear(own, errorBox(err)));
  return form;
}

/**
 * The extracted pages of these projects, each with a checkbox and its thumbnail.
 * @param {HTMLElement} box
 * @param {{owner: string | null, project: {id: number, name: string}}[]} groups
 */
async function fillSheets(box, groups) {
  clear(box, h("p", { class: "muted" }, t("loading")));
  const parts = [];
  for (const { owner, project } of groups) {
    /** @type {ScanPublic[]} */
    let scans;
    try { scans = await api.get(`/api/projects/${project.id}/scans`); } catch { continue; }
    const usable = scans.filter((s) => s.kept_count > 0);
    if (!usable.length) continue;
    parts.push(h("fieldset", { class: "sheet-group" },
      h("legend", {}, owner ? t("ch.groupOf", { owner, project: project.name }) : project.name),
      h("div", { class: "sheet-choices" }, usable.map(sheetChoice))));
  }
  clear(box, parts.length ? parts : h("p", { class: "muted" }, t("ch.noSheets")));
}

/** @param {ScanPublic} scan */
function sheetChoice(scan) {
  const img = h("img", { alt: "", width: "90", height: "127", loading: "lazy" });
  authImageUrl(scan.thumbnail_url).then((url) => { img.src = url; }, () => { /* the name is enough */ });
  const page = scan.page_count > 1 ? ` (${t("scans.page", { n: scan.page_index + 1, of: scan.page_count })})` : "";
  return h("label", { class: "sheet-choice" }, h("input", { type: "checkbox", name: "sheet", value: String(scan.id) }), img,
    h("span", { class: "small" }, scan.filename + page), h("span", { class: "muted small" }, t("ch.sheetSamples", { n: scan.kept_count })));
}
