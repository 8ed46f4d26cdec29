// What the class screens say: a roster student's state, the roster's order and counts, join links, the "other
// writers" gap, writers' names, nicknames for login cards; and dates in words.
import { test } from "node:test";
import assert from "node:assert/strict";
import { studentState, rosterOrder, rosterCounts, appLink, tidyCode, gapWords, writerWords, nicknameList, STUCK_CODES }
  from "../../frontend/src/classroom.js";
import { relativeTime, daysUntil, formatDate } from "../../frontend/src/time.js";
import { LANGUAGES, t } from "../../frontend/src/i18n/index.js";

/** A roster student with sensible defaults. */
const student = (over = {}) => ({ user_id: 1, nickname: "fox", writer_number: 1, pages_uploaded: 0, samples_kept: 0, trainings: 0,
  best_test_accuracy: null, last_activity: null, working: false, stuck: null, projects: [], ...over });
const stuck = (code) => ({ code, sentence: "English sentence" });

test("a student's state: working beats stuck, a failure is told apart from a step not done yet", () => {
  assert.equal(studentState(student({ working: true, stuck: stuck("failed_training") })).kind, "working");
  assert.deepEqual(studentState(student({ stuck: stuck("failed_page") })), { kind: "failed", words: { key: "roster.stuck.failed_page" } });
  assert.deepEqual(studentState(student({ stuck: stuck("no_scans") })), { kind: "stuck", words: { key: "roster.stuck.no_scans" } });
  assert.equal(studentState(student({ best_test_accuracy: 0.93 })).kind, "done");
  assert.equal(studentState(student({ best_test_accuracy: 0 })).kind, "done", "0 % is a finished training too");
  assert.equal(studentState(student()).kind, "going");
  // A reason the screens do not know yet still reads as stuck, in words.
  assert.deepEqual(studentState(student({ stuck: stuck("something_new") })).words, { key: "roster.stuck.other" });
});

test("every stuck reason, and every other state, has words in both languages", () => {
  for (const lang of Object.keys(LANGUAGES)) {
    for (const key of [...STUCK_CODES.map((c) => `roster.stuck.${c}`), "roster.stuck.other", "roster.state.working",
      "roster.state.done", "roster.state.going"]) {
      assert.ok(LANGUAGES[lang][key], `${lang}: ${key}`);
    }
  }
});

test("the roster lists failures first, then steps not done, then by writer number", () => {
  const order = rosterOrder([
    student({ nickname: "ok", writer_number: 1, best_test_accuracy: 0.9 }),
    student({ nickname: "noscans", writer_number: 2, stuck: stuck("no_scans") }),
    student({ nickname: "failed", writer_number: 3, stuck: stuck("failed_extraction") }),
    student({ nickname: "busy", writer_number: 4, working: true, stuck: stuck("failed_training") }),
    student({ nickname: "going", writer_number: 0 }),
  ]).map((s) => s.nickname);
  assert.deepEqual(order, ["failed", "noscans", "going", "ok", "busy"]);
});

test("the roster's headline counts", () => {
  assert.deepEqual(rosterCounts([student({ stuck: stuck("no_project") }), student({ stuck: stuck("failed_page") }),
    student({ working: true }), student({ best_test_accuracy: 0.5 }), student()]), { students: 5, stuck: 2, working: 1, done: 1 });
  assert.match(t("roster.counts", rosterCounts([]), "de"), /^0 Schüler·innen · 0 /);
});

test("a join link's full address, also when the app lives in a folder", () => {
  assert.equal(appLink("/#/join/ABCD-EFGH", "http://127.0.0.1:8000/#/classes/3/codes"), "http://127.0.0.1:8000/#/join/ABCD-EFGH");
  assert.equal(appLink("/#/join/ABCD-EFGH", "https://school.example/lab/index.html#/classes"), "https://school.example/lab/#/join/ABCD-EFGH");
  assert.equal(appLink("/#/join/X", "https://school.example/lab/"), "https://school.example/lab/#/join/X");
});

test("a typed code is tidied: capitals, no spaces", () => {
  assert.equal(tidyCode(" abcd efgh "), "ABCDEFGH");
  assert.equal(tidyCode("abcd-efgh"), "ABCD-EFGH");
});

test("the gap to other writers in one sentence: worse, better or the same", () => {
  const percent = (x) => `${Math.round(100 * x)} %`;
  assert.deepEqual(gapWords({ own_test_accuracy: 0.98, accuracy: 0.81, gap: 0.17 }, percent),
    { key: "ow.gap.worse", params: { own: "98 %", other: "81 %", gap: "17 %" } });
  assert.equal(gapWords({ own_test_accuracy: 0.9, accuracy: 0.95, gap: -0.05 }, percent).key, "ow.gap.better");
  assert.equal(gapWords({ own_test_accuracy: 0.95, accuracy: 0.94, gap: 0.01 }, percent).key, "ow.gap.same");
  assert.equal(gapWords({ own_test_accuracy: 0.98, accuracy: 0.81, gap: 0.17 }, percent, true).key, "ow.gapTeacher.worse");
  assert.equal(gapWords({ own_test_accuracy: null, accuracy: 0.8, gap: null }, percent), null);
  const sentence = t("ow.gap.worse", { own: "98 %", other: "81 %" }, "en");
  assert.match(sentence, /98 %.*81 %/);
  assert.ok(sentence.split(" ").length < 30, "short enough for a 14-year-old");
});

test("writers: a number for students, 'you' for oneself, the nickname for teachers", () => {
  assert.equal(t(writerWords({ writer_number: 3 }).key, writerWords({ writer_number: 3 }).params, "en"), "writer 3");
  const you = writerWords({ writer_number: 2, you: true });
  assert.equal(t(you.key, you.params, "de"), "du (Schreiber·in 2)");
  const named = writerWords({ writer_number: 4, nickname: "owl" });
  assert.equal(t(named.key, named.params, "en"), "writer 4 (owl)");
});

test("nicknames for login cards: one per line or separated by commas, each once", () => {
  assert.deepEqual(nicknameList("fox\nowl, lynx;  fox\n\n"), ["fox", "owl", "lynx"]);
  assert.deepEqual(nicknameList("   "), []);
});

test("dates in words", () => {
  assert.equal(relativeTime(30 * 1000, "en"), "30 seconds ago");
  assert.equal(relativeTime(3 * 60 * 1000, "de"), "vor 3 Minuten");
  assert.equal(relativeTime(26 * 3600 * 1000, "en"), "26 hours ago");
  assert.equal(relativeTime(3 * 86400 * 1000, "en"), "3 days ago");
  const now = Date.parse("2026-03-01T12:00:00Z");
  assert.equal(daysUntil("2026-03-11T12:00:00Z", now), 10);
  assert.equal(daysUntil("2026-02-28T12:00:00Z", now), -1);
  assert.match(formatDate("2026-03-11T12:00:00Z", "de"), /11\.03\.2026/);
});
