// The screens at a school laptop's size (1366x768) and a phone's (390x844), in English and German: no screen
// scrolls sideways, axe-core finds no serious or critical accessibility problem, focus lands on the new screen's
// heading after a navigation, no table cell breaks a word inside (a wide table scrolls in its own box), a tapped sample
// shows where it was written inside the viewport (on a phone: a sheet at the bottom, reached and closed by keyboard too);
// and the dataset's cleaning (multi-select, keys, inline relabel confirmation, where a sample came from), export, API
// tokens and the example pages work. Screenshots: screens-<size>-<lang>-<screen>.png.
// Usage: node tests/e2e/screens.mjs --base http://127.0.0.1:PORT --out test-artifacts/e2e
// The project is made through the API from the shipped example pages (MNIST handwriting) and trained for one epoch.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { brokenWords, check, launch, stayOn } from "./browser.mjs";

const { values: args } = parseArgs({ options: {
  base: { type: "string" }, out: { type: "string", default: "test-artifacts/e2e" },
  chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
} });
const base = args.base.replace(/\/$/, "");
const out = resolve(args.out);
mkdirSync(out, { recursive: true });
// axe-core from the frontend's npm dev dependencies, injected into the page by the test only (never served).
const AXE = createRequire(new URL("../../frontend/package.json", import.meta.url)).resolve("axe-core/axe.min.js");
const log = (...a) => console.log(`[screens ${new Date().toISOString().slice(11, 19)}]`, ...a);
const PASSWORD = "a long enough password";

async function call(method, path, token, body) {
  const response = await fetch(`${base}${path}`, { method, headers: { "Content-Type": "application/json",
    ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  check(response.ok, `${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

async function until(get, done, what, seconds = 240) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const value = await get();
    if (done(value)) return value;
    check(Date.now() < end, `${what} finished in time (${JSON.stringify(value).slice(0, 300)})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const finished = (x) => ["succeeded", "failed", "cancelled"].includes(x.status);

// ---- a trained project from the example pages, through the API -------------------------------------------
const username = `screens${Date.now() % 100000}`;
await call("POST", "/api/auth/register", null, { username, password: PASSWORD });
const { access_token: token } = await call("POST", "/api/auth/login", null, { username, password: PASSWORD });
const project = await call("POST", "/api/projects", token, { name: "MNIST examples" });
const pid = project.id;
const examples = await call("POST", `/api/projects/${pid}/scans/examples`, token, {});
check(examples.length === 5, `five example pages added (${examples.length})`);
const job = await call("POST", `/api/projects/${pid}/extractions`, token, {});
const extracted = await until(() => call("GET", `/api/jobs/${job.id}`, token), finished, "extraction");
check(extracted.status === "succeeded", `extraction succeeded (${extracted.status})`);
const summary = await call("GET", `/api/projects/${pid}/dataset`, token);
check(summary.total === 2500, `250 samples of each digit (${summary.total})`);
const started = await call("POST", `/api/projects/${pid}/trainings`, token, { architecture: "mlp", epochs: 1 });
const trained = await until(() => call("GET", `/api/projects/${pid}/trainings/${started.id}`, token), finished, "training");
check(trained.status === "succeeded", `training succeeded (${trained.status})`);
const tid = trained.id;
log("project", pid, "training", tid);

const browser = await launch(args.chromium);
const outside = [];
const pageErrors = [];
const problems = [];

/** No sideways scrolling, no word broken inside a table cell, and axe-core finds nothing serious or critical. */
async function inspect(page, name, { fullPage = true } = {}) {
  await page.waitForTimeout(250); // late layout (images, charts)
  const broken = await page.evaluate(brokenWords);
  for (const b of broken.slice(0, 5)) problems.push(`${name}: a word is broken inside a table cell: ${b}`);
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: window.innerWidth,
    wide: [...document.querySelectorAll("body *")].filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1
      && getComputedStyle(el).position !== "fixed").slice(0, 3).map((el) => `${el.tagName}.${el.className}#${el.id}`) }));
  if (widths.scroll > widths.view) problems.push(`${name}: scrolls sideways to ${widths.scroll} px (${widths.wide.join(", ")})`);
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    // @ts-ignore axe is the injected global
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
  });
  for (const v of violations) problems.push(`${name}: axe ${v}`);
  await page.screenshot({ path: join(out, `screens-${name}.png`), fullPage });
  const tables = await page.$$eval("table", (ts) => ts.filter((t) => t.getClientRects().length).length);
  log(name, widths.scroll, "px wide,", violations.length, "axe problems,", tables, "tables,", broken.length, "broken words", ...violations);
}

/** The focused element after a navigation is the new screen's heading. */
async function headingFocused(page, name) {
  const onHeading = () => /^H[12]$/.test(document.activeElement?.tagName || "");
  if (!await page.waitForFunction(onHeading, null, { timeout: 5000 }).catch(() => false)) {
    problems.push(`${name}: focus is on ${await page.evaluate(() => document.activeElement?.tagName)} after the navigation, not the heading`);
  }
}

async function pass(viewport, locale) {
  const lang = locale.slice(0, 2);
  const tag = `${viewport.width}-${lang}`;
  const context = await browser.newContext({ locale, viewport, acceptDownloads: true, bypassCSP: true });
  await stayOn(context, base, outside);
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(`${base}/#/login`);
  await page.waitForSelector("#username");
  await inspect(page, `${tag}-login`);
  await page.fill("#username", username);
  await page.fill("#password", PASSWORD);
  await page.click("form button[type=submit]");
  await page.waitForSelector("#project-name");
  await inspect(page, `${tag}-projects`);

  await page.goto(`${base}/#/projects/${pid}/scans`);
  await page.waitForFunction(() => document.querySelectorAll(".scan img").length === 5, null, { timeout: 20000 });
  await headingFocused(page, `${tag}-scans`);
  const input = await page.evaluate(() => {
    const el = document.getElementById("scan-files");
    return { tabIndex: el.tabIndex, width: el.getBoundingClientRect().width };
  });
  if (input.tabIndex !== -1 || input.width > 1) problems.push(`${tag}: the hidden file input is a tab stop or wide (${JSON.stringify(input)})`);
  await inspect(page, `${tag}-scans`);

  await page.click(".tabs a[href$='/dataset']");
  await page.waitForSelector(".cells .cell");
  await headingFocused(page, `${tag}-dataset`);
  await inspect(page, `${tag}-dataset`);
  await whereOnScreen(page, tag, lang);

  await page.click(".tabs a[href$='/training']");
  await page.waitForSelector(".history table");
  await inspect(page, `${tag}-training`);
  await page.goto(`${base}/#/projects/${pid}/trainings/${tid}`);
  await page.waitForSelector("table.confusion", { timeout: 30000 });
  // The figures per epoch and the network's layers are tables behind a <details>: open them, their words count too.
  await page.$$eval("details", (ds) => ds.filter((d) => d.querySelector("table")).forEach((d) => { d.open = true; }));
  await inspect(page, `${tag}-evaluation`);

  await page.click("#account");
  await page.waitForSelector("#tokens");
  await headingFocused(page, `${tag}-account`);
  await inspect(page, `${tag}-account`);
  return { context, page, tag };
}

/**
 * A student taps a sample well down the sheet: where it was written (the page with the cell marked) is inside the
 * viewport, and the tapped sample is not hidden under it. On a phone it is a sheet over the bottom of the screen that
 * Tab reaches from the sheet of samples, that closes (focus back on the sample) and opens again with the arrow keys.
 */
async function whereOnScreen(page, tag, lang) {
  const name = `${tag}-dataset-where`;
  const title = lang === "de" ? "Wo dieses Beispiel geschrieben wurde" : "Where this sample was written";
  const cell = page.locator(".cells .cell").nth(61);
  await cell.scrollIntoViewIfNeeded();
  const id = await cell.getAttribute("aria-label");
  await cell.click();
  // The page picture is drawn (its canvas takes the thumbnail's size) and the text names a row.
  const drawn = () => { const c = document.querySelector(".cell-where canvas.where-page");
    return !!c && c.width !== 300 && /\d/.test(document.querySelector(".cell-where")?.textContent || ""); };
  if (!await page.waitForFunction(drawn, null, { timeout: 10000 }).catch(() => false)) problems.push(`${name}: no page picture after a tap`);
  await page.waitForTimeout(300); // the sheet settles (the tapped sample is scrolled above it)
  const seen = await page.evaluate((label) => {
    const panel = document.querySelector(".cell-where");
    const box = panel.getBoundingClientRect();
    const cellEl = [...document.querySelectorAll(".cells .cell")].find((c) => c.getAttribute("aria-label") === label);
    const c = cellEl.getBoundingClientRect();
    const atCell = document.elementFromPoint(c.left + c.width / 2, c.top + c.height / 2);
    return { top: box.top, bottom: box.bottom, left: box.left, right: box.right, width: box.width, height: box.height,
      vw: window.innerWidth, vh: window.innerHeight, cellVisible: !!atCell && cellEl.contains(atCell),
      focusOnCell: document.activeElement === cellEl };
  }, id);
  const inside = seen.height > 0 && seen.top >= -1 && seen.left >= -1 && seen.bottom <= seen.vh + 1 && seen.right <= seen.vw + 1;
  if (!inside) problems.push(`${name}: where the sample was written is not inside the viewport after a tap (${JSON.stringify(seen)})`);
  if (!seen.cellVisible) problems.push(`${name}: the tapped sample is hidden (${JSON.stringify(seen)})`);
  if (!seen.focusOnCell) problems.push(`${name}: focus is not on the tapped sample`);
  if (!await page.getByRole("region", { name: title }).isVisible()) problems.push(`${name}: no visible region named "${title}"`);
  await inspect(page, name, { fullPage: false });
  log(name, "panel at", Math.round(seen.top), "-", Math.round(seen.bottom), "of", seen.vh);
  if (tag.startsWith("390")) {
    // Keyboard: Tab from the sample reaches the sheet's close button; closing it returns focus to the sample.
    await page.keyboard.press("Tab");
    const inSheet = await page.evaluate(() => !!document.activeElement?.closest(".cell-where"));
    if (!inSheet) problems.push(`${name}: Tab from the sample does not reach the sheet`);
    await page.keyboard.press("Enter");
    const closed = await page.evaluate((label) => ({ hidden: document.querySelector(".cell-where").getBoundingClientRect().height === 0,
      back: document.activeElement?.getAttribute("aria-label") === label }), id);
    if (!closed.hidden || !closed.back) problems.push(`${name}: the close button does not close the sheet and return to the sample (${JSON.stringify(closed)})`);
    await page.keyboard.press("ArrowRight");
    if (!await page.getByRole("region", { name: title }).isVisible()) problems.push(`${name}: the arrow keys do not open the sheet again`);
    await page.keyboard.press("Escape");
    if (await page.getByRole("region", { name: title }).isVisible()) problems.push(`${name}: Escape does not close the sheet`);
  }
}

/** Cleaning: select a range, leave it out with X (the samples stay in place), move one to another label. */
async function clean(page) {
  await page.goto(`${base}/#/projects/${pid}/dataset/3`);
  await page.waitForSelector(".cells .cell");
  const ids = async () => page.$$eval(".cells .cell", (els) => els.map((e) => e.getAttribute("aria-label")?.match(/\d+/)?.[0]));
  const before = await ids();
  await page.click(".cells .cell >> nth=1");
  await page.click(".cells .cell >> nth=4", { modifiers: ["Shift"] });
  check(await page.textContent("#selection-count") === "4 selected", "click and shift-click select four samples");
  await page.keyboard.press("x");
  await page.waitForFunction(() => document.querySelectorAll(".cells .cell.excluded").length === 4);
  check(JSON.stringify(await ids()) === JSON.stringify(before), "left-out samples stay in their place");
  const where = await page.textContent(".cell-where");
  check(/example-page-1\.png, row \d+, column \d+/.test(where), `where the sample was written (${where})`);
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight"); // past the selection: nothing selected, the focused sample is the target
  await page.keyboard.press("Escape");
  await page.keyboard.press("8");
  await page.waitForSelector("#confirm-relabel");
  await page.screenshot({ path: join(out, "screens-1366-en-dataset-relabel.png") });
  const counts = await call("GET", `/api/projects/${pid}/dataset`, token);
  await page.click("#confirm-relabel");
  await page.waitForSelector(".cells .cell.moved");
  const after = await call("GET", `/api/projects/${pid}/dataset`, token);
  const n = (s, label) => s.labels.find((l) => l.label === label).included;
  check(n(after, "8") === n(counts, "8") + 1 && n(after, "3") === n(counts, "3") - 1, "one sample moved from 3 to 8");
  await page.screenshot({ path: join(out, "screens-1366-en-dataset-cleaned.png"), fullPage: true });
  // Export as zip.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-zip")]);
  check(/\.zip$/.test(download.suggestedFilename()), `the data set downloads as a zip (${download.suggestedFilename()})`);
}

/** A new API token is shown once, listed, and revoked after an inline confirmation. */
async function tokens(page) {
  await page.goto(`${base}/#/account`);
  await page.waitForSelector("#tokens");
  await page.fill("#token-name", "my notebook");
  await page.click("#create-token");
  const value = await (await page.waitForSelector("#new-token")).textContent();
  const me = await fetch(`${base}/api/auth/me`, { headers: { Authorization: `Bearer ${value}` } });
  check(me.ok, "the new token works");
  check((await page.textContent("#token-list")).includes("my notebook"), "the token is listed");
  await page.screenshot({ path: join(out, "screens-1366-en-token.png"), fullPage: true });
  await page.click("#token-list button.danger");
  await page.click("#token-list button.danger"); // the inline "Yes, revoke"
  await page.waitForFunction(() => !document.getElementById("token-list")?.textContent.includes("my notebook"));
  check((await fetch(`${base}/api/auth/me`, { headers: { Authorization: `Bearer ${value}` } })).status === 401, "a revoked token stops working");
}

try {
  for (const viewport of [{ width: 1366, height: 768 }, { width: 390, height: 844 }]) {
    for (const locale of ["en-US", "de-DE"]) {
      const { context, page, tag } = await pass(viewport, locale);
      if (tag === "1366-en") { await clean(page); await tokens(page); }
      await context.close();
    }
  }
  check(outside.length === 0, `no request left our server: ${outside.join(", ")}`);
  check(pageErrors.length === 0, `no uncaught page errors: ${pageErrors.join(" | ")}`);
  check(problems.length === 0, `screens:\n  ${problems.join("\n  ")}`);
  log("OK");
} finally {
  await browser.close();
}
