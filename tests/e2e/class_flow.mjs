// End-to-end: a class in real headless Chromium against the real service. An admin invites a teacher; the
// teacher makes a class and a join code; three students join with it (each in their own browser), upload a sheet
// and find its samples while the teacher's roster follows live (no reload); the teacher builds the class data
// set; a student trains and tests the network on the other writers; another trains on the class data set; the
// teacher marks a challenge sheet and the leaderboard fills; the teacher opens a student's project read-only;
// login cards and the forced password change; a student downloads and deletes their data.
// Usage: node tests/e2e/class_flow.mjs --base http://127.0.0.1:PORT --scans DIR --out test-artifacts/e2e
// DIR holds sheet1.png .. sheet4.png (three students' sheets and the teacher's challenge sheet). Screenshots at
// 1366x768 go to --out as class-*.png, the same screens on a 390x844 phone as class-390-*.png (nothing sticks out
// sideways, no word in a table cell is broken inside); exits non-zero on the first failed check.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { brokenWords, check, launch, stayOn } from "./browser.mjs";

const { values: args } = parseArgs({ options: {
  base: { type: "string" }, scans: { type: "string" }, out: { type: "string", default: "test-artifacts/e2e" },
  python: { type: "string", default: ".venv/bin/python" },
  chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
} });
const base = args.base.replace(/\/$/, "");
const out = resolve(args.out);
mkdirSync(out, { recursive: true });
const sheet = (n) => join(args.scans, `sheet${n}.png`);
const PASSWORD = "seven quiet lanterns drift";
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

const log = (...a) => console.log(`[class ${new Date().toISOString().slice(11, 19)}]`, ...a);
const browser = await launch(args.chromium);
const outside = [];
const pageErrors = [];
const nativeDialogs = []; // window.alert/confirm/prompt: blocked in a platform's sandboxed iframe
const blocked = [];

async function person(name, locale = "en-US") {
  const context = await browser.newContext({ locale, viewport: LAPTOP, acceptDownloads: true });
  await stayOn(context, base, outside);
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${name}: ${e}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) log(`${name} console error:`, m.text());
    if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
  });
  page.on("dialog", (d) => { nativeDialogs.push(d.message()); d.accept(); }); // the screens use none (dom.js ask)
  return page;
}

/**
 * Full-page screenshots at 1366x768 and on a 390x844 phone, after checking at both sizes that nothing sticks out
 * sideways and that no word in a table cell (roster, leaderboard, writers, members ...) is broken inside.
 */
async function shot(page, name) {
  for (const size of [LAPTOP, PHONE]) {
    if (size === PHONE) { await page.setViewportSize(PHONE); await page.waitForTimeout(200); }
    const tag = size === PHONE ? `390-${name}` : name;
    const wide = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: window.innerWidth,
      out: [...document.querySelectorAll("body *")].filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1
        && getComputedStyle(el).position !== "fixed").slice(0, 3).map((el) => `${el.tagName}.${el.className}#${el.id}`) }));
    check(wide.scroll <= wide.view, `${tag}: nothing sticks out sideways (${wide.scroll} > ${wide.view}: ${wide.out.join(", ")})`);
    const broken = await page.evaluate(brokenWords);
    check(!broken.length, `${tag}: no word in a table cell is broken inside (${broken.slice(0, 5).join("; ")})`);
    const file = join(out, `class-${tag}.png`);
    await page.screenshot({ path: file, fullPage: true });
    log("screenshot", file);
  }
  await page.setViewportSize(LAPTOP);
}

const text = (page, selector) => page.textContent(selector).then((s) => (s || "").trim());

/** The roster row of a student, as the teacher's screen shows it now. */
async function rosterRow(page, nickname) {
  return page.evaluate((nick) => {
    const row = document.querySelector(`tr.roster-row[data-nickname="${nick}"]`);
    if (!row) return null;
    const field = (f) => row.querySelector(`[data-field="${f}"]`)?.textContent.trim();
    return { pages: Number(field("pages")), samples: Number(field("samples")), trainings: Number(field("trainings")), state: field("state") };
  }, nickname);
}

async function waitTraining(page) {
  await page.waitForSelector("#training-status.ok, #training-status.error", { timeout: 300000 });
  check(await page.$("#training-status.ok"), `training succeeded (${await text(page, "#training-status")})`);
  await page.waitForSelector("table.confusion", { timeout: 60000 });
}

/** Usernames and one-time passwords printed on a login-card PDF (its text, read with pypdfium2). */
function cardsIn(pdfPath) {
  const script = `import json, sys, pypdfium2 as pdfium
pdf = pdfium.PdfDocument(sys.argv[1])
lines = [l.strip() for p in pdf for l in p.get_textpage().get_text_range().splitlines() if l.strip()]
cards = []
for i, line in enumerate(lines):
    if line in ("Username", "Benutzername"):
        cards.append([lines[i + 1], lines[i + 3]])
print(json.dumps(cards))`;
  return JSON.parse(execFileSync(args.python, ["-c", script, pdfPath], { encoding: "utf8" }));
}

try {
  const stamp = Date.now() % 100000;
  // ---- the admin (first account of this instance) invites a teacher ---------------------------------------
  const admin = await person("admin");
  await admin.goto(`${base}/#/register`);
  await admin.fill("#username", `admin${stamp}`);
  await admin.fill("#password", PASSWORD);
  await admin.click("form button[type=submit]");
  await admin.waitForSelector("#admin-link:not([hidden])");
  await admin.click("#admin-link");
  await admin.click("#create-invite");
  await admin.waitForSelector("#invite-link");
  const inviteLink = await admin.getAttribute("#invite-link", "href");
  log("teacher invitation:", inviteLink);
  await shot(admin, "01-admin-invite");

  // ---- the teacher registers with it, makes a class and a join code ---------------------------------------
  const teacher = await person("teacher");
  await teacher.goto(inviteLink);
  await teacher.fill("#username", `teacher${stamp}`);
  await teacher.fill("#password", PASSWORD);
  await teacher.click("#invite-form button[type=submit]");
  await teacher.waitForSelector("#class-create");
  check(await teacher.isVisible("#classes-link"), "a teacher has the Classes link in the header");
  await teacher.fill("#class-name", "7b Computer Science");
  await teacher.click("#create-class");
  await teacher.waitForSelector("#new-join-code");
  const classId = teacher.url().match(/classes\/(\d+)/)[1];
  await teacher.click("#new-join-code");
  await teacher.waitForSelector(".join-code .code-big");
  const code = await text(teacher, ".join-code .code-big");
  check(/^[A-Z0-9]{4}(-[A-Z0-9]{4})+$/.test(code), `a short readable join code (${code})`);
  await teacher.waitForFunction(() => { const i = document.querySelector(".join-code img.qr"); return i && i.complete && i.naturalWidth > 0; });
  const joinLink = await teacher.getAttribute(".join-code a.join-link", "href");
  check(joinLink.endsWith(`/#/join/${code}`), `the join link leads to the join page (${joinLink})`);
  await shot(teacher, "02-join-code");

  // The roster, open during the whole lesson: it must change without a reload.
  await teacher.goto(`${base}/#/classes/${classId}/roster`);
  await teacher.waitForSelector("#roster-live.live", { timeout: 15000 });
  await teacher.evaluate(() => { window.__sameRosterPage = true; });

  // ---- three students join (one in German), upload their sheet and find the samples ----------------------
  const students = [];
  for (const [i, locale] of [[1, "en-US"], [2, "en-US"], [3, "de-DE"]]) {
    const nickname = `fox${i}x${stamp}`;
    const page = await person(nickname, locale);
    await page.goto(joinLink);
    await page.waitForSelector("#join-class-name");
    check((await text(page, "#join-class-name")).includes("7b Computer Science"), "the join page names the class");
    check(!/mail|real name|echten? Namen? an/i.test(await text(page, "#join-new-form label")), "no e-mail or real name is asked for");
    await page.fill("#join-nickname", nickname);
    await page.fill("#join-password", PASSWORD);
    if (i === 3) await shot(page, "03-join-de");
    await page.click("#join-new");
    await page.waitForSelector("#learner-dataset");
    check(/writer 1|Schreiber·in 3|writer 2/.test(await text(page, "main .lead")), "the student learns their writer number");
    students.push({ nickname, page });
  }
  await teacher.waitForFunction(() => document.querySelectorAll("tr.roster-row").length === 3, null, { timeout: 15000 });
  log("roster after joining:", await rosterRow(teacher, students[0].nickname));
  check(/project/i.test((await rosterRow(teacher, students[0].nickname)).state), "a student without a project is shown as stuck there");

  for (const [i, s] of students.entries()) {
    const page = s.page;
    await page.goto(`${base}/#/projects`);
    await page.fill("#project-name", "My digits");
    await page.click("form.card button[type=submit]");
    await page.waitForSelector(".dropzone");
    s.projectId = page.url().match(/projects\/(\d+)/)[1];
    await page.setInputFiles("#scan-files", [sheet(i + 1)]);
    await page.waitForSelector(".uploads li.ok", { timeout: 60000 });
    // The teacher sees the page arrive before the samples are found.
    if (i === 0) {
      await teacher.waitForFunction((nick) => {
        const row = document.querySelector(`tr.roster-row[data-nickname="${nick}"]`);
        return row && row.querySelector('[data-field="pages"]').textContent.trim() === "1";
      }, s.nickname, { timeout: 10000 });
      log("roster after the first upload:", await rosterRow(teacher, s.nickname));
      await shot(teacher, "04-roster-upload");
    }
    await page.click("#extract");
    await page.waitForSelector(".job p.ok", { timeout: 120000 });
  }
  const started = Date.now();
  await teacher.waitForFunction((nicks) => nicks.every((nick) => {
    const row = document.querySelector(`tr.roster-row[data-nickname="${nick}"]`);
    return row && Number(row.querySelector('[data-field="samples"]').textContent) > 100;
  }), students.map((s) => s.nickname), { timeout: 30000 });
  log(`roster shows every student's samples (${Date.now() - started} ms after the last extraction)`);
  check(await teacher.evaluate(() => window.__sameRosterPage === true), "the roster updated without a reload");
  for (const s of students) log(s.nickname, await rosterRow(teacher, s.nickname));
  await shot(teacher, "05-roster-samples");

  // ---- the class data set ----------------------------------------------------------------------------------
  await teacher.click("#class-tab-dataset");
  await teacher.click("#build-dataset");
  await teacher.waitForSelector("#writer-table tbody tr");
  check(await teacher.locator("#writer-table tbody tr").count() === 3, "three writers in the class data set");
  check((await text(teacher, "#writer-table")).includes(students[0].nickname), "the teacher sees nicknames");
  await teacher.click("#class-dataset .label-tabs button >> nth=7");
  await teacher.waitForSelector("#class-samples .cell img");
  await shot(teacher, "06-class-dataset");

  const [first, second, third] = students;
  await third.page.goto(`${base}/#/classes/${classId}`);
  await third.page.waitForSelector("#writer-table tbody tr");
  const seenByStudent = await text(third.page, "#class-dataset");
  check(!students.some((s) => seenByStudent.includes(s.nickname)), "a student sees no nicknames in the class data set");
  check(/du \(Schreiber·in 3\)/.test(seenByStudent), "the student sees themselves as 'du (Schreiber·in 3)'");
  await third.page.click("#class-dataset .label-tabs button >> nth=3");
  await third.page.waitForSelector("#class-samples .cell img");
  check(!(await third.page.$("#class-samples .cell[title]:not([title=''])")), "the samples are anonymous images for students");
  await shot(third.page, "07-learner-dataset-de");

  // ---- a student trains on their own samples and tests the network on the other writers -------------------
  await first.page.goto(`${base}/#/projects/${first.projectId}/training`);
  await first.page.waitForSelector("#total-params");
  await first.page.fill("#epochs", "4");
  await first.page.waitForTimeout(400);
  await first.page.click("#start-training");
  await waitTraining(first.page);
  first.trainingId = first.page.url().match(/trainings\/(\d+)/)[1];
  await first.page.click(`#other-writers-${classId} .ask-other-writers`);
  await first.page.waitForSelector("#gap-sentence", { timeout: 120000 });
  const gap = await text(first.page, "#gap-sentence");
  log("other writers:", await text(first.page, "#ow-own"), "own,", await text(first.page, "#ow-others"), "others:", gap);
  check(/your own|the others/.test(gap), "the gap is explained in a sentence");
  check(!students.slice(1).some((s) => gap.includes(s.nickname)), "the other writers are numbers, not nicknames");
  await first.page.locator(`#other-writers-${classId}`).scrollIntoViewIfNeeded();
  await shot(first.page, "08-other-writers");

  // A second student trains on the whole class's data set.
  await second.page.goto(`${base}/#/projects/${second.projectId}/training`);
  await second.page.waitForSelector("#data-source option[value]:not([value=''])", { state: "attached" });
  await second.page.selectOption("#data-source", classId);
  await second.page.fill("#epochs", "3");
  await second.page.waitForTimeout(500);
  await second.page.click("#start-training");
  await waitTraining(second.page);
  await second.page.waitForSelector(`#other-writers-${classId} .hint`);
  check(/learned from the whole class/.test(await text(second.page, `#other-writers-${classId}`)), "a network of the class data set says why it has no gap");

  // ---- the teacher's challenge: their own sheet, hidden from students; the leaderboard ---------------------
  await teacher.goto(`${base}/#/projects`);
  await teacher.fill("#project-name", "Challenge sheet");
  await teacher.click("form.card button[type=submit]");
  await teacher.waitForSelector(".dropzone");
  await teacher.setInputFiles("#scan-files", [sheet(4)]);
  await teacher.waitForSelector(".uploads li.ok", { timeout: 60000 });
  await teacher.click("#extract");
  await teacher.waitForSelector(".job p.ok", { timeout: 120000 });
  await teacher.goto(`${base}/#/classes/${classId}/challenge`);
  await teacher.waitForSelector("#own-sheets input[name=sheet]");
  await teacher.check("#own-sheets input[name=sheet] >> nth=0");
  await teacher.click("#mark-challenge");
  await teacher.click("dialog.ask[open] button[type=submit]"); // our own "are you sure?" (no browser confirm())
  await teacher.waitForSelector("#challenge-current");
  await teacher.waitForFunction(() => document.querySelectorAll("#leaderboard tbody tr").length === 2, null, { timeout: 120000 });
  const board = await text(teacher, "#leaderboard tbody");
  log("leaderboard:", board.replace(/\s+/g, " "));
  check(board.includes(first.nickname) && board.includes(second.nickname), "both trained students are on the leaderboard");
  check(/\d+\.\d\s%/.test(board), "the leaderboard shows scores"); // (a no-break space before %)
  await shot(teacher, "09-challenge-leaderboard");

  await first.page.goto(`${base}/#/classes/${classId}`);
  await first.page.waitForSelector("#leaderboard tr.you");
  await first.page.setViewportSize(PHONE);
  const scoreRight = await first.page.evaluate(() => document.querySelector("#leaderboard tr.you td.score").getBoundingClientRect().right);
  check(scoreRight <= PHONE.width, `on a phone the student sees their score without scrolling the table (right edge ${scoreRight})`);
  await first.page.setViewportSize(LAPTOP);
  await shot(first.page, "10-learner-leaderboard");
  await first.page.goto(`${base}/#/projects/${first.projectId}/trainings/${first.trainingId}`);
  await first.page.waitForSelector(".challenge-result", { timeout: 60000 });
  log("challenge score on the training:", await text(first.page, ".challenge-result"));

  // ---- the teacher opens a student's project read-only ---------------------------------------------------
  await teacher.goto(`${base}/#/classes/${classId}/roster`);
  await teacher.waitForSelector(`tr.roster-row[data-nickname="${first.nickname}"] a.project-link`);
  await teacher.click(`tr.roster-row[data-nickname="${first.nickname}"] a.project-link`);
  await teacher.waitForSelector("#read-only-note");
  await teacher.waitForFunction(() => [...document.querySelectorAll(".scan img")].every((i) => i.complete && i.naturalWidth > 0)
    && document.querySelectorAll(".scan img").length > 0, null, { timeout: 20000 });
  // The only button on a page is the one that shows why each box was kept or dropped (it changes nothing).
  for (const selector of [".dropzone", "#extract", ".scan button:not(.cells-open)", "#scan-files"]) {
    check(!(await teacher.$(selector)), `read-only scans: no ${selector}`);
  }
  await shot(teacher, "11-readonly-scans");
  await teacher.click(".tabs a[href$='/dataset']");
  await teacher.waitForSelector(".cells .cell");
  check(!(await teacher.$(".cells button")), "read-only dataset: samples cannot be edited");
  await teacher.click(".tabs a[href$='/training']");
  await teacher.waitForSelector(".history table");
  check(!(await teacher.$("#start-training")), "read-only training: no new training");
  await teacher.click(".history table a");
  await teacher.waitForSelector("table.confusion", { timeout: 60000 });
  check(!(await teacher.isVisible("#cancel-training")), "read-only training: no stop button");
  await teacher.waitForSelector("#gap-sentence", { timeout: 30000 });
  await shot(teacher, "12-readonly-training");

  // ---- a student's page for the teacher; the bulk scans with a page that has no code ----------------------
  await teacher.goto(`${base}/#/classes/${classId}/roster`);
  first.userId = await teacher.getAttribute(`tr.roster-row[data-nickname="${first.nickname}"]`, "data-user-id");
  await teacher.click(`tr.roster-row[data-nickname="${first.nickname}"] a.student-name`);
  await teacher.waitForSelector(".project-links a");
  await shot(teacher, "13-student-page");

  await teacher.goto(`${base}/#/classes/${classId}/scans`);
  await teacher.waitForSelector("#tray p");
  await teacher.setInputFiles("#bulk-files", [sheet(3)]);
  await teacher.waitForSelector("#tray .tray-page", { timeout: 60000 });
  log("bulk upload:", await text(teacher, "#bulk-results .progress-text"));
  check(/1 waiting|1 warten/.test(await text(teacher, "#bulk-results")), "a sheet without a code waits in the tray");
  await teacher.waitForFunction(() => { const i = document.querySelector("#tray .tray-page img"); return i && i.complete && i.naturalWidth > 0; });
  await shot(teacher, "14-bulk-tray");
  await teacher.selectOption("#tray .tray-page select", first.projectId);
  await teacher.click("#tray .tray-page button:not(.ghost):not(.image-button)");
  await teacher.waitForSelector("#tray p.muted");
  await teacher.goto(`${base}/#/classes/${classId}/students/${first.userId}/projects/${first.projectId}/scans`);
  await teacher.waitForSelector(".scan-grid .scan");
  check(await teacher.locator(".scan-grid .scan").count() === 2, "the assigned page is now a scan of the student's project");

  await teacher.goto(`${base}/#/classes/${classId}/settings`);
  await teacher.waitForSelector("#delete-after");
  await shot(teacher, "15-settings");

  // ---- login cards, and a card's first login --------------------------------------------------------------
  await teacher.goto(`${base}/#/classes/${classId}/students`);
  await teacher.fill("#cards-count", "2");
  await teacher.fill("#cards-prefix", `c${stamp}-`);
  const [download] = await Promise.all([teacher.waitForEvent("download"), teacher.click("#make-cards")]);
  const cardsPdf = join(out, "class-login-cards.pdf");
  await download.saveAs(cardsPdf);
  check(readFileSync(cardsPdf).subarray(0, 5).toString() === "%PDF-", "the login cards are a PDF");
  const cards = cardsIn(cardsPdf);
  log("login cards:", cards.map((c) => c[0]).join(", "));
  check(cards.length === 2, "two login cards");
  await teacher.waitForFunction(() => document.querySelectorAll("#student-table tbody tr").length === 5);
  await shot(teacher, "16-members");

  const cardStudent = await person("card student");
  await cardStudent.goto(`${base}/#/login`);
  await cardStudent.fill("#username", cards[0][0]);
  await cardStudent.fill("#password", cards[0][1]);
  await cardStudent.click("form button[type=submit]");
  await cardStudent.waitForSelector("#new-password-form");
  await cardStudent.goto(`${base}/#/projects`);
  await cardStudent.waitForSelector("#new-password-form");
  check(true, "a card's login cannot go anywhere before choosing a password");
  await shot(cardStudent, "17-new-password");
  await cardStudent.fill("#card-password", cards[0][1]);
  await cardStudent.fill("#new-password", PASSWORD);
  await cardStudent.fill("#repeat-password", PASSWORD);
  await cardStudent.click("#new-password-form button[type=submit]");
  await cardStudent.waitForSelector("#project-name");

  // ---- the German student downloads their data, then deletes the account ---------------------------------
  await third.page.goto(`${base}/#/account`);
  const [zip] = await Promise.all([third.page.waitForEvent("download"), third.page.click("#export-my-data")]);
  const zipPath = join(out, "class-export.zip");
  await zip.saveAs(zipPath);
  check(readFileSync(zipPath).subarray(0, 2).toString() === "PK", "the export is a zip");
  await shot(third.page, "18-account-privacy-de");
  await third.page.click("#delete-my-account");
  await third.page.fill("#delete-password", PASSWORD);
  await third.page.click("#confirm-delete-account");
  await third.page.waitForSelector("#username");
  await teacher.goto(`${base}/#/classes/${classId}/roster`);
  await teacher.waitForSelector("tr.roster-row");
  check(!(await teacher.$(`tr.roster-row[data-nickname="${third.nickname}"]`)), "a deleted account leaves the roster");
  await shot(teacher, "19-roster-end");
  await teacher.click("#classes-link");
  await teacher.waitForSelector("#taught-classes .class-item");
  await shot(teacher, "20-classes");
  // The teacher's screens in German.
  await teacher.selectOption("#lang", "de");
  await teacher.goto(`${base}/#/classes/${classId}/roster`);
  await teacher.waitForFunction(() => /Schüler·innen/.test(document.getElementById("roster-headline")?.textContent || ""));
  await shot(teacher, "21-roster-de");
  await teacher.goto(`${base}/#/classes/${classId}/challenge`);
  await teacher.waitForSelector("#leaderboard tbody tr a");
  await teacher.waitForSelector("#challenge-current");
  await teacher.waitForSelector("#own-sheets img[src]");
  await shot(teacher, "22-challenge-de");

  check(outside.length === 0, `no request left our server: ${outside.join(", ")}`);
  check(pageErrors.length === 0, `no uncaught page errors: ${pageErrors.join(" | ")}`);
  check(nativeDialogs.length === 0, `no browser dialogs: ${nativeDialogs.join(" | ")}`);
  check(blocked.length === 0, `nothing blocked by the Content-Security-Policy: ${blocked.join(" | ")}`);
  console.log("OK class flow: invite, join, live roster, class data set, other writers, challenge, read-only, cards, privacy");
} catch (error) {
  // What each browser showed when it went wrong, for whoever reads the failure.
  let n = 0;
  for (const context of browser.contexts()) {
    for (const page of context.pages()) {
      n += 1;
      await page.screenshot({ path: join(out, `class-FAILED-${n}.png`), fullPage: true }).catch(() => {});
      log(`FAILED-${n}:`, page.url());
    }
  }
  throw error;
} finally {
  await browser.close();
}
