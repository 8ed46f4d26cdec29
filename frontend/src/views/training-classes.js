// @ts-check
// A finished training in its classes (shown under its evaluation): tested "on other writers" (the class's
// handwriting of everyone but the student who trained it, with the gap to the student's own test samples: the
// lesson on generalisation), and its score on the class challenge.
import { t, jobErrorText } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, formatPercent } from "../dom.js";
import { ApiError } from "../api/client.js";
import { gapWords } from "../classroom.js";
import { writerText } from "./class-dataset.js";

/** @typedef {import("../api/types").TrainingPublic} TrainingPublic */
/** @typedef {import("../api/types").ClassPublic} ClassPublic */
/** @typedef {import("../api/types").OtherWritersPublic} OtherWritersPublic */
/** @typedef {import("../api/types").ChallengeScorePublic} ChallengeScorePublic */

const POLL_MS = 1500;
const RUNNING = ["queued", "running"];

/**
 * The GET, or null on 404 (not asked for yet, no challenge).
 * @param {string} path
 * @returns {Promise<any>}
 */
async function getOrNull(path) {
  try { return await api.get(path); }
  catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/**
 * @param {TrainingPublic} training  a training that succeeded
 * @param {import("./project.js").ProjectContext} ctx
 * @returns {{el: HTMLElement, stop: () => void}}
 */
export function trainingInClasses(training, ctx) {
  const el = h("div", { class: "training-classes" });
  /** @type {(() => void)[]} */
  const stops = [];
  let stopped = false;
  (async () => {
    /** @type {ClassPublic[]} */
    let classes;
    try {
      classes = ctx.classId !== null ? [await api.get(`/api/classes/${ctx.classId}`)]
        : /** @type {ClassPublic[]} */ (await api.get("/api/classes")).filter((c) => c.role === "student");
    } catch { return; /* the project's own evaluation stands alone */ }
    if (stopped) return;
    for (const schoolClass of classes) {
      const part = classPart(training, schoolClass);
      stops.push(part.stop);
      el.append(part.el);
    }
  })();
  return { el, stop: () => { stopped = true; for (const stop of stops) stop(); } };
}

/**
 * @param {TrainingPublic} training
 * @param {ClassPublic} schoolClass
 */
function classPart(training, schoolClass) {
  const cid = schoolClass.id;
  const base = `/api/classes/${cid}/trainings/${training.id}`;
  const teacher = schoolClass.role === "teacher";
  const others = h("div", { class: "other-writers", id: `other-writers-${cid}`, "aria-live": "polite" }, h("p", { class: "muted" }, t("loading")));
  const challenge = h("div", { class: "challenge-score", id: `challenge-score-${cid}`, "aria-live": "polite" });
  const el = h("section", { class: "card class-part" }, h("h2", {}, t("ow.inClass", { name: schoolClass.name })), others, challenge);
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;
  const later = (/** @type {() => void} */ fn) => { if (!stopped) timer = setTimeout(fn, POLL_MS); };

  const trainedOnClass = training.settings.class_id === cid;

  async function showOthers() {
    if (trainedOnClass) { clear(others, h("p", { class: "hint" }, t("ow.trainedOnClass"))); return; }
    /** @type {OtherWritersPublic | null} */
    let ev;
    try { ev = await getOrNull(`${base}/other-writers`); } catch (err) { clear(others, errorBox(err)); return; }
    if (stopped) return;
    if (!ev) { clear(others, h("p", {}, t("ow.intro")), askButton(t("ow.ask"))); return; }
    if (RUNNING.includes(ev.status)) { clear(others, h("p", { class: "muted" }, t("ow.running"))); later(showOthers); return; }
    if (ev.status !== "succeeded") { clear(others, h("p", { class: "error" }, t("ow.failed", { error: jobErrorText(ev) })), askButton(t("ow.again"))); return; }
    clear(others, otherWritersResult(ev, teacher), ev.stale ? h("p", { class: "hint" }, t("ow.stale"), " ", askButton(t("ow.again"))) : null);
  }

  /** @param {string} label */
  function askButton(label) {
    const errors = h("div");
    const button = h("button", { type: "button", class: "ask-other-writers", onclick: async () => {
      button.disabled = true;
      errors.replaceChildren();
      try { await api.post(`${base}/other-writers`); await showOthers(); }
      catch (err) { errors.replaceChildren(errorBox(err)); button.disabled = false; }
    } }, label);
    return h("div", {}, button, errors);
  }

  async function showChallenge() {
    /** @type {ChallengeScorePublic | null} */
    let score;
    try { score = await getOrNull(`${base}/challenge-score`); } catch { clear(challenge); return; }
    if (stopped) return;
    if (!score) { clear(challenge); return; }
    const board = teacher ? `#/classes/${cid}/challenge` : `#/classes/${cid}`;
    if (score.status === "scored") {
      clear(challenge, h("h3", {}, t("ow.challengeTitle")),
        h("p", { class: "challenge-result" }, t("ow.challengeScore", { score: formatPercent(score.score), correct: score.correct ?? 0, count: score.count ?? 0 }),
          " ", h("a", { href: board }, t("ow.toLeaderboard"))));
      return;
    }
    if (RUNNING.includes(score.status)) { clear(challenge, h("h3", {}, t("ow.challengeTitle")), h("p", { class: "muted" }, t("ow.scoring"))); later(showChallenge); return; }
    const errors = h("div");
    const button = h("button", { type: "button", class: "ghost", onclick: async () => {
      button.disabled = true;
      try { await api.post(`${base}/challenge-score`); await showChallenge(); }
      catch (err) { errors.replaceChildren(errorBox(err)); button.disabled = false; }
    } }, t("ow.score"));
    clear(challenge, h("h3", {}, t("ow.challengeTitle")),
      score.status === "failed" ? h("p", { class: "error" }, t("ow.failed", { error: jobErrorText(score) })) : h("p", { class: "hint" }, t("ow.challengeIntro")),
      button, errors);
  }

  showOthers();
  showChallenge();
  return { el, stop: () => { stopped = true; clearTimeout(timer); } };
}

/**
 * The figures: own test samples vs other writers, the gap in one sentence, the weakest spots, per writer and
 * per label.
 * @param {OtherWritersPublic} ev
 * @param {boolean} teacher
 */
function otherWritersResult(ev, teacher) {
  const gap = gapWords(ev, formatPercent, teacher);
  const weakest = ev.weakest || [];
  return h("div", { class: "ow-result" },
    h("div", { class: "figures" },
      h("div", { class: "figure card" }, h("span", { class: "muted" }, t(teacher ? "ow.ownTeacher" : "ow.own")), h("strong", { id: "ow-own" }, formatPercent(ev.own_test_accuracy))),
      h("div", { class: "figure card" }, h("span", { class: "muted" }, t("ow.others", { n: ev.per_writer?.length ?? 0 })), h("strong", { id: "ow-others" }, formatPercent(ev.accuracy))),
      h("div", { class: "figure card" }, h("span", { class: "muted" }, t("ow.gapLabel")), h("strong", {}, ev.gap !== null ? `${ev.gap > 0 ? "−" : "+"}${formatPercent(Math.abs(ev.gap))}` : "–"))),
    gap ? h("p", { class: "gap-sentence", id: "gap-sentence" }, t(gap.key, gap.params)) : null,
    weakest.length ? h("div", { class: "weak-spots" }, h("p", {}, t("ow.weakTitle")), h("ul", {}, weakest.map((w) => h("li", {},
      t("ow.weak", { writer: writerText(w), label: w.label, correct: w.correct, count: w.count }))))) : null,
    h("div", { class: "eval-grid" },
      h("section", {}, h("h3", {}, t("ow.perWriter")), h("ul", { class: "bars writer-bars" }, (ev.per_writer || []).map((w) =>
        h("li", {}, h("span", { class: "bar-label wide" }, writerText(w)),
          h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: { width: `${100 * w.accuracy}%` } })),
          h("span", { class: "bar-value" }, `${formatPercent(w.accuracy)} (${w.correct}/${w.count})`))))),
      h("section", {}, h("h3", {}, t("ow.perLabel")), h("ul", { class: "bars" }, (ev.per_label || []).filter((l) => l.count > 0).map((l) =>
        h("li", {}, h("span", { class: "bar-label" }, l.label),
          h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: { width: `${100 * (l.accuracy ?? 0)}%` } })),
          h("span", { class: "bar-value" }, `${formatPercent(l.accuracy)} (${l.correct}/${l.count})`)))))),
    ev.skipped ? h("p", { class: "hint" }, t("ow.skipped", { n: ev.skipped })) : null);
}
