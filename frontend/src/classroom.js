// @ts-check
// What the class screens say, decided without the DOM (tested in tests/frontend/classroom.test.js): a roster
// student's state in plain words, a join link's full address, the "other writers" gap as a sentence, who is
// "writer 3". Each function answers a text key of i18n/ with its parameters; the views translate them.

import { getLanguage, jobErrorText } from "./i18n/index.js";

/** @typedef {import("./api/types").RosterStudent} RosterStudent */
/** @typedef {import("./api/types").OtherWritersPublic} OtherWritersPublic */
/** @typedef {{key: string, params?: Record<string, string | number>}} Words  a text key and its placeholders */

/** Where a student is stuck, in the order a teacher should look at them (the worst first). */
export const STUCK_CODES = ["failed_extraction", "failed_training", "failed_page", "no_samples", "not_extracted",
  "no_scans", "no_training", "no_project"];

/**
 * A roster student's state: "working" (a job of theirs runs), "failed" (something of theirs went wrong: a page,
 * an extraction, a training), "stuck" (a step not done yet), "done" (a finished training) or "going". `reason`:
 * why their training failed, when the server said it as a code (in `lang`).
 * @param {RosterStudent} student
 * @param {string} [lang]
 * @returns {{kind: "working" | "failed" | "stuck" | "done" | "going", words: Words, reason?: Words}}
 */
export function studentState(student, lang = getLanguage()) {
  if (student.working) return { kind: "working", words: { key: "roster.state.working" } };
  if (student.stuck) {
    const code = STUCK_CODES.includes(student.stuck.code) ? student.stuck.code : "other";
    const kind = code.startsWith("failed_") ? "failed" : "stuck";
    const why = student.stuck.error_code ? jobErrorText(student.stuck, lang) : "";
    return { kind, words: { key: `roster.stuck.${code}` }, ...(why ? { reason: { key: "roster.failedBecause", params: { reason: why } } } : {}) };
  }
  if (student.best_test_accuracy !== null && student.best_test_accuracy !== undefined) {
    return { kind: "done", words: { key: "roster.state.done" } };
  }
  return { kind: "going", words: { key: "roster.state.going" } };
}

/**
 * The roster sorted for a teacher in a lesson: stuck students first (the worst first), then by writer number.
 * @param {RosterStudent[]} students
 */
export function rosterOrder(students) {
  /** @param {RosterStudent} s */
  const rank = (s) => (s.stuck && !s.working ? STUCK_CODES.indexOf(s.stuck.code) : STUCK_CODES.length);
  return [...students].sort((a, b) => rank(a) - rank(b) || (a.writer_number ?? 1e9) - (b.writer_number ?? 1e9)
    || a.nickname.localeCompare(b.nickname));
}

/**
 * Counts for the roster's headline: how many students, stuck, working, with a finished training.
 * @param {RosterStudent[]} students
 */
export function rosterCounts(students) {
  const counts = { students: students.length, stuck: 0, working: 0, done: 0 };
  for (const s of students) {
    const { kind } = studentState(s);
    if (kind === "stuck" || kind === "failed") counts.stuck++;
    else if (kind === "working") counts.working++;
    else if (kind === "done") counts.done++;
  }
  return counts;
}

/**
 * The full address of a link the server gives relative to the web app ("/#/join/ABCD-EFGH"), for the page at
 * `pageHref` (the app may live in a sub-folder: "https://school.example/lab/").
 * @param {string} link
 * @param {string} pageHref
 */
export function appLink(link, pageHref) {
  const url = new URL(pageHref);
  const folder = url.pathname.replace(/[^/]*$/, "").replace(/\/$/, "");
  return `${url.origin}${folder}${link}`;
}

/**
 * A join code as typed or read from a link, tidied for the form: capitals, no spaces ("abcd efgh" ->
 * "ABCDEFGH"); the server accepts it with or without dashes.
 * @param {string} typed
 */
export function tidyCode(typed) {
  return typed.toUpperCase().replace(/\s+/g, "");
}

/** Below this (in accuracy points, 0..1) the difference between own and other handwriting is noise. */
export const SMALL_GAP = 0.03;

/**
 * The gap between the student's own test accuracy and the other writers' in one sentence for a 14-year-old
 * (said to the student; `teacher` says it about the student's network).
 * @param {Pick<OtherWritersPublic, "own_test_accuracy" | "accuracy" | "gap">} evaluation
 * @param {(x: number) => string} percent  formats 0..1
 * @param {boolean} [teacher]
 * @returns {Words | null}  null while the figures are missing
 */
export function gapWords(evaluation, percent, teacher = false) {
  const { own_test_accuracy: own, accuracy: other } = evaluation;
  if (own === null || own === undefined || other === null || other === undefined) return null;
  const gap = own - other;
  const params = { own: percent(own), other: percent(other), gap: percent(Math.abs(gap)) };
  const prefix = teacher ? "ow.gapTeacher" : "ow.gap";
  if (gap > SMALL_GAP) return { key: `${prefix}.worse`, params };
  if (gap < -SMALL_GAP) return { key: `${prefix}.better`, params };
  return { key: `${prefix}.same`, params };
}

/**
 * "writer 3" for a student, "you (writer 3)" for the one asking; teachers also see the nickname.
 * @param {{writer_number: number, nickname?: string | null, you?: boolean}} writer
 * @returns {Words}
 */
export function writerWords(writer) {
  if (writer.you) return { key: "writer.you", params: { n: writer.writer_number } };
  if (writer.nickname) return { key: "writer.named", params: { n: writer.writer_number, name: writer.nickname } };
  return { key: "writer.n", params: { n: writer.writer_number } };
}

/**
 * Nicknames for login cards from a text box: one per line (or separated by commas or spaces), no empty ones,
 * each once.
 * @param {string} text
 */
export function nicknameList(text) {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}
