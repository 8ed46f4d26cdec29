// End-to-end: the student's whole workflow in real headless Chromium against the real service.
// Usage: node tests/e2e/main_flow.mjs --base http://127.0.0.1:PORT --scans DIR --out test-artifacts/e2e
// Prints "BENCH <model> <ms> ms per update" lines; exits non-zero on the first failed check.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { check, countColours, drawStrokes, launch, stayOn, SEVEN, ZERO } from "./browser.mjs";
import { compareTrainings, suspiciousFirst } from "./compare_suspicious.mjs";

const { values: args } = parseArgs({ options: {
  base: { type: "string" }, scans: { type: "string" }, out: { type: "string", default: "test-artifacts/e2e" },
  chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
} });
const base = args.base.replace(/\/$/, "");
const out = resolve(args.out);
mkdirSync(out, { recursive: true });
const scanFiles = readdirSync(args.scans).filter((f) => f.endsWith(".png")).map((f) => join(args.scans, f));
const badFile = join(out, "not-a-scan.png");
writeFileSync(badFile, "this is text, not a picture");

const log = (...a) => console.log(`[e2e ${new Date().toISOString().slice(11, 19)}]`, ...a);

const browser = await launch(args.chromium);
const outside = [];
const pageErrors = [];
const blocked = []; // Content-Security-Policy violations: the policy must let the whole app work
let shot = 0;

async function newPage(locale = "en-US") {
  const context = await browser.newContext({ locale, viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  await stayOn(context, base, outside);
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") log("console error:", m.text());
    if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
  });
  return page;
}

async function screenshot(page, name) {
  shot += 1;
  const file = join(out, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log("screenshot", file);
}

async function register(page, username) {
  await page.goto(`${base}/#/register`);
  await page.fill("#username", username);
  await page.fill("#password", "a long enough password");
  await page.click("form button[type=submit]");
  await page.waitForSelector("#project-name");
}


async function waitTraining(page) {
  // The chart fills while the training runs; it ends with a status line marked ok.
  await page.waitForSelector("#training-status.ok, #training-status.error", { timeout: 240000 });
  const text = await page.textContent("#training-status");
  check(await page.$("#training-status.ok"), `training succeeded (${text})`);
  await page.waitForSelector("table.confusion", { timeout: 60000 });
}

async function playground(page, pid, tid, name) {
  await page.goto(`${base}/#/projects/${pid}/playground/${tid}`);
  await page.waitForFunction(() => window.__digitlabPlayground && window.__digitlabPlayground.updates >= 1, null, { timeout: 60000 });
  await drawStrokes(page, SEVEN);
  await page.waitForFunction(() => window.__digitlabPlayground.predicted !== null, null, { timeout: 10000 });
  const prediction = await page.textContent("#prediction");
  check(/“.+”/.test(prediction), `a prediction is shown (${prediction})`);
  // Coloured activations: count clearly blue and clearly orange pixels on the activation canvas.
  const colours = await countColours(page);
  log(name, "prediction:", prediction, "activation pixels:", colours);
  check(colours.blue > 100, "blue (positive) activations drawn");
  await screenshot(page, `playground-${name}`);
  // Benchmark: reset the counters, draw continuously, read ms per update (inference + render).
  await page.evaluate(() => Object.assign(window.__digitlabPlayground, { updates: 0, totalMs: 0, inferMs: 0 }));
  await page.click("#clear-pad");
  const started = Date.now();
  await drawStrokes(page, [...ZERO, ...SEVEN], 40);
  await page.waitForTimeout(300);
  const wall = (Date.now() - started) / 1000;
  const s = await page.evaluate(() => ({ ...window.__digitlabPlayground }));
  const ms = s.totalMs / s.updates;
  console.log(`BENCH ${name} ${ms.toFixed(2)} ms per update (inference ${(s.inferMs / s.updates).toFixed(2)} ms, ${s.updates} updates, ${(s.updates / wall).toFixed(0)} updates/s while drawing)`);
  check(s.updates > 5, "the drawing updates continuously");
  return ms;
}

try {
  // ---- user A: register, project, upload, extract -------------------------------------------------
  const page = await newPage();
  await page.goto(base);
  await page.waitForSelector("#username");
  await screenshot(page, "login");
  await register(page, `alice${Date.now() % 100000}`);
  await page.fill("#project-name", "Digits A");
  await page.click("#own-labels");
  await screenshot(page, "projects-create");
  await page.click("#own-labels");
  await page.click("form.card button[type=submit]");
  await page.waitForSelector(".dropzone");
  const pid = page.url().match(/projects\/(\d+)/)[1];
  log("project", pid);

  await page.setInputFiles("#scan-files", [...scanFiles, badFile]);
  await page.waitForFunction((n) => document.querySelectorAll(".uploads li.ok").length === n
    && document.querySelectorAll(".uploads li.failed").length === 1, scanFiles.length, { timeout: 60000 });
  const badText = await page.textContent(".uploads li.failed .error");
  log("bad file:", badText);
  check(badText.length > 10, "the server's error for a bad file is shown");
  await page.click("#extract");
  await page.waitForSelector(".job p.ok", { timeout: 120000 });
  log(await page.textContent(".job p.ok"));
  await page.waitForFunction(() => [...document.querySelectorAll(".scan img")].every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 20000 });
  await screenshot(page, "scans-extracted");

  // ---- dataset: exclude one sample ------------------------------------------------------------------
  await page.click(".tabs a[href$='/dataset']");
  await page.waitForSelector(".cells .cell");
  await page.click(".cells .cell >> nth=0");
  await page.keyboard.press("x"); // leaves the selected sample out; it stays in its place, greyed
  await page.waitForSelector(".cells .cell.excluded");
  await screenshot(page, "dataset");

  // ---- training: MLP with the live chart, then evaluation -------------------------------------------
  await page.click(".tabs a[href$='/training']");
  await page.waitForSelector("#total-params");
  const params = await page.textContent("#total-params");
  log("MLP parameters:", params);
  check(params.replace(/\D/g, "") === "89610", "the MLP summary shows 89,610 parameters");
  await page.selectOption("#arch", "custom");
  await page.waitForSelector(".layer-row");
  await page.waitForTimeout(600);
  await screenshot(page, "training-custom");
  await page.selectOption("#arch", "mlp");
  await page.fill("#epochs", "6");
  await page.waitForTimeout(500);
  await page.click("#start-training");
  await page.waitForSelector(".chart .u-over", { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll("#epoch-rows tr").length >= 2, null, { timeout: 240000 });
  await screenshot(page, "training-live");
  await waitTraining(page);
  const mlpTid = page.url().match(/trainings\/(\d+)/)[1];
  await screenshot(page, "evaluation");
  await page.click("table.confusion .confusion-cell >> nth=0");
  await page.waitForSelector("dialog.modal .gallery, dialog.modal .muted");
  await screenshot(page, "confusion-cell");
  await page.keyboard.press("Escape");

  // ---- CNN (for the playground benchmark) -----------------------------------------------------------
  await page.goto(`${base}/#/projects/${pid}/training`);
  await page.waitForSelector("#total-params");
  await page.selectOption("#arch", "cnn");
  await page.waitForFunction(() => document.getElementById("total-params")?.textContent.replace(/\D/g, "") === "225034", null, { timeout: 10000 });
  await page.fill("#epochs", "2");
  await page.click("#start-training");
  await waitTraining(page);
  const cnnTid = page.url().match(/trainings\/(\d+)/)[1];
  await page.goto(`${base}/#/projects/${pid}/training`);
  await page.waitForSelector(".history table");
  await screenshot(page, "training-history");

  // ---- the two trainings side by side, then the dataset's suspicious samples first (issue 13) -------------
  await compareTrainings(page, { a: mlpTid, b: cnnTid, log, screenshot });
  await page.goto(`${base}/#/projects/${pid}/dataset`);
  await suspiciousFirst(page, { log, screenshot });

  // ---- playground ------------------------------------------------------------------------------------
  const mlpMs = await playground(page, pid, mlpTid, "mlp");
  const cnnMs = await playground(page, pid, cnnTid, "cnn");
  check(cnnMs < 1000 / 30, `CNN update within 33 ms (${cnnMs.toFixed(1)} ms)`);
  // The eraser: the right button removes ink.
  await page.setViewportSize({ width: 760, height: 1000 });
  await page.waitForTimeout(300);
  await screenshot(page, "playground-narrow");
  await page.setViewportSize({ width: 1400, height: 900 });

  // ---- German ---------------------------------------------------------------------------------------
  await page.selectOption("#lang", "de");
  await page.waitForFunction(() => document.querySelector(".tabs")?.textContent.includes("Spielwiese"));
  await page.goto(`${base}/#/projects/${pid}/training/`);
  await page.goto(`${base}/#/projects/${pid}/trainings/${mlpTid}`);
  await page.waitForSelector("table.confusion", { timeout: 30000 });
  await screenshot(page, "evaluation-de");
  await page.selectOption("#lang", "en");
  await page.click("#logout");
  await page.waitForSelector("#username");

  // ---- user B does not see A's project ------------------------------------------------------------
  const pageB = await newPage("de-DE");
  await register(pageB, `bob${Date.now() % 100000}`);
  const listB = await pageB.textContent(".project-list");
  check(!listB.includes("Digits A"), "the second user does not see the first user's project");
  check((await pageB.textContent("h1")).includes("Projekte"), "a German browser gets German");
  await pageB.goto(`${base}/#/projects/${pid}`);
  await pageB.waitForSelector("main .error");
  log("B opening A's project:", await pageB.textContent("main .error"));
  await screenshot(pageB, "other-user-de");

  check(outside.length === 0, `no request left our server: ${outside.join(", ")}`);
  check(pageErrors.length === 0, `no uncaught page errors: ${pageErrors.join(" | ")}`);
  check(blocked.length === 0, `nothing blocked by the Content-Security-Policy: ${blocked.join(" | ")}`);
  log(`OK (MLP ${mlpMs.toFixed(2)} ms, CNN ${cnnMs.toFixed(2)} ms per update)`);
} finally {
  await browser.close();
}
