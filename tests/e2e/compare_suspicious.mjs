// Browser checks of issue 13's "compare two trainings" and "suspicious samples first", run by main_flow.mjs on
// the project it has already trained twice (an MLP and a CNN), so they add no training of their own.
import { check } from "./browser.mjs";

/**
 * The training list's ticks lead to the compare view: both curves in one chart per figure, accuracy per label,
 * the confusion matrices' differences, and the settings that differ marked.
 * @param {import("playwright-core").Page} page  on the training screen, with both trainings in its list
 * @param {{a: string, b: string, log: Function, screenshot: Function}} o  a: the older training, b: the newer
 */
export async function compareTrainings(page, { a, b, log, screenshot }) {
  await page.waitForSelector(`.compare-pick[data-training-id="${a}"]`);
  await page.check(`.compare-pick[data-training-id="${b}"]`);
  check(await page.isDisabled("#compare-trainings"), "comparing waits for a second training");
  await page.check(`.compare-pick[data-training-id="${a}"]`);
  await page.click("#compare-trainings");
  await page.waitForSelector("#compare-settings tr.changed", { timeout: 30000 });
  check(page.url().endsWith(`/compare/${a}-${b}`), `the address names both trainings, the older first (${page.url()})`);
  await page.waitForFunction(() => document.querySelectorAll("#compare-charts .u-over").length === 2, null, { timeout: 10000 });
  const series = await page.$$eval("#compare-charts .u-legend", (legends) => legends.map((l) => l.querySelectorAll(".u-series").length));
  // A legend of names only (live: false) has no row for the epoch axis: one row per curve.
  check(series.join() === "4,4", `each chart overlays both trainings' training and validation curves (${series})`);
  const changed = await page.$$eval("#compare-settings tr.changed", (rows) => rows.map((r) => /** @type {HTMLElement} */ (r).dataset.key));
  log("compare: settings that differ:", changed.join(", "));
  check(changed.includes("architecture") && changed.includes("epochs"), "the settings diff names the network and the epochs");
  check(!changed.includes("batch_size"), "settings both share are not marked");
  const rows = await page.$$eval("#compare-per-label tbody tr", (r) => r.length);
  check(rows === 10, `accuracy per label of both (${rows} rows)`);
  const cells = await page.$$eval("#compare-confusion td.changed", (c) => c.length);
  log("compare: confusion cells that differ:", cells);
  check(await page.$("#compare-confusion table.compare-confusion"), "the confusion matrices' differences are shown");
  await screenshot(page, "compare");
}

/**
 * The dataset view's label check: started with one click, it runs as a job; when it has finished the sheet is
 * ordered suspicious first, exactly in the order of the check's scores, and each sample says what the
 * network that never saw it reads. "as written" brings the old order back.
 * @param {import("playwright-core").Page} page  on the dataset screen
 * @param {{log: Function, screenshot: Function}} o
 */
export async function suspiciousFirst(page, { log, screenshot }) {
  await page.waitForSelector(".cells .cell");
  const written = await page.$$eval(".cells .cell", (cells) => cells.map((c) => Number(/** @type {HTMLElement} */ (c).dataset.cellId)));
  const scored = page.waitForResponse((r) => /\/label-checks\/\d+\/scores/.test(r.url()), { timeout: 300000 });
  await page.click("#check-labels");
  await page.waitForFunction(() => /Checked/.test(document.getElementById("label-check-status")?.textContent || ""), null, { timeout: 300000 });
  log("label check:", await page.textContent("#label-check-status"));
  const scores = await (await scored).json();
  check(await page.inputValue("#sheet-order") === "suspicious", "a finished check shows the sheet suspicious first");
  await page.waitForFunction((first) => document.querySelector(".cells .cell")?.getAttribute("data-cell-id") === String(first),
    scores[0].cell_id, { timeout: 20000 });
  const shown = await page.$$eval(".cells .cell", (cells) => cells.map((c) => Number(/** @type {HTMLElement} */ (c).dataset.cellId)));
  const expected = scores.map((s) => s.cell_id).filter((id) => shown.includes(id));
  check(expected.length > 10 && JSON.stringify(shown.slice(0, expected.length)) === JSON.stringify(expected),
    "the label's samples in the check's order, the one it trusts least first");
  const title = await page.getAttribute(".cells .cell >> nth=0", "title");
  check(/never saw this sample/.test(title || ""), `the first sample says what the network reads (${title})`);
  log("most suspicious sample:", title);
  await screenshot(page, "dataset-suspicious-first");
  await page.selectOption("#sheet-order", "written");
  await page.waitForFunction((first) => document.querySelector(".cells .cell")?.getAttribute("data-cell-id") === String(first),
    written[0], { timeout: 20000 });
}
