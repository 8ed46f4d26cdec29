// Browser check of issue 12's sheet download options and corners placed by hand, on a phone-sized screen (390 x 844): a page whose grid is not
// found offers the student its corners; the four handles are dragged onto the grid's corners (pointer events), saved,
// and the page is read with them.
// Usage: node tests/e2e/corners.mjs --base URL --scan FILE --corners '[[x,y],...]' --out DIR
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { check, launch, stayOn } from "./browser.mjs";

const { values: args } = parseArgs({ options: {
  base: { type: "string" }, scan: { type: "string" }, corners: { type: "string" },
  out: { type: "string", default: "test-artifacts/e2e" },
  chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
} });
const base = args.base.replace(/\/$/, "");
const out = resolve(args.out);
mkdirSync(out, { recursive: true });
const truth = JSON.parse(args.corners);
const log = (...a) => console.log(`[corners ${new Date().toISOString().slice(11, 19)}]`, ...a);

const browser = await launch(args.chromium);
const outside = [];
const errors = [];
try {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 390, height: 844 }, hasTouch: true, acceptDownloads: true });
  const page = await context.newPage();
  await stayOn(context, base, outside);
  page.on("pageerror", (e) => errors.push(String(e)));

  await page.goto(`${base}/#/register`);
  await page.fill("#username", `corner${Date.now() % 100000}`);
  await page.fill("#password", "a long enough password");
  await page.click("form button[type=submit]");
  await page.waitForSelector("#project-name");
  await page.fill("#project-name", "Folded page");
  await page.click("form.card button[type=submit]");
  await page.waitForSelector(".dropzone");
  // The sheet's download options: German instructions, two sheets.
  await page.selectOption("#sheet-lang", "de");
  await page.fill("#sheet-pages", "2");
  const sheet = page.waitForResponse((r) => r.url().includes("/sheet.pdf"), { timeout: 60000 });
  await page.click("#sheet-download");
  const pdf = await sheet;
  const query = new URL(pdf.url()).searchParams;
  check(query.get("lang") === "de" && query.get("pages") === "2" && query.get("version") === "2", `sheet options sent (${pdf.url()})`);
  check(pdf.status() === 200 && (pdf.headers()["content-type"] || "").includes("pdf"), "the sheet is a PDF");

  await page.setInputFiles("#scan-files", [args.scan]);
  await page.waitForSelector(".uploads li.ok", { timeout: 60000 });
  await page.click("#extract");
  await page.waitForSelector("figure.scan.failed .corners-open", { timeout: 120000 });
  log("failed as expected:", await page.textContent("figure.scan.failed .error"));

  await page.click("figure.scan.failed .corners-open");
  await page.waitForFunction(() => {
    const img = /** @type {HTMLImageElement | null} */ (document.querySelector(".corner-stage img"));
    return img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 30000 });
  const stage = await page.locator(".corner-stage").boundingBox();
  check(stage.width <= 390, `the page fits the phone's screen (${stage.width} px wide)`);
  // The handles' targets: the grid's true corners in the page's pixels, mapped onto the shown page.
  const pageSize = JSON.parse(await page.evaluate(() => document.querySelector(".corner-stage")?.getAttribute("data-page-size") || "null"));
  check(Array.isArray(pageSize), "the editor knows the page's size");
  const names = ["topLeft", "topRight", "bottomRight", "bottomLeft"];
  for (let i = 0; i < 4; i++) {
    const handle = page.locator(`.corner-handle[data-corner="${names[i]}"]`);
    const from = await handle.boundingBox();
    const [x, y] = truth[i];
    const tx = stage.x + ((x + 0.5) / pageSize[0]) * stage.width;
    const ty = stage.y + ((y + 0.5) / pageSize[1]) * stage.height;
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(tx, ty, { steps: 8 });
    await page.mouse.up();
  }
  await page.screenshot({ path: join(out, "corners-placed-390.png"), fullPage: false });
  check(!(await page.isDisabled("#corners-save")), "four corners in order can be saved");
  await page.click("#corners-save");
  await page.waitForSelector("figure.scan.extracted", { timeout: 120000 });
  const counts = await page.textContent("figure.scan.extracted .ok");
  log("read with the corners placed by hand:", counts);
  check(/\d+ samples?/.test(counts || "") && !/^0 samples/.test(counts || ""), `samples were found (${counts})`);
  check(await page.$("figure.scan.extracted .corners-open"), "the corners can be adjusted again");
  await page.screenshot({ path: join(out, "corners-extracted-390.png"), fullPage: true });

  // Per cell, the reason: the page's 600 boxes with a legend; a click on one shows its cut-out, enlarged.
  await page.click("figure.scan.extracted .cells-open");
  await page.waitForFunction(() => document.querySelectorAll(".cells-map .map-cell").length === 600, null, { timeout: 30000 });
  const legend = await page.textContent(".cells-legend");
  log("legend:", legend);
  check(/kept/.test(legend || "") && /empty/.test(legend || "") && /unreadable/.test(legend || ""), "the legend names kept, empty, unreadable");
  await page.click(".cells-map .map-cell.kept >> nth=0");
  await page.waitForFunction(() => {
    const img = /** @type {HTMLImageElement | null} */ (document.querySelector(".cell-detail .cell-cutout"));
    return img && img.complete && img.naturalWidth === 112;
  }, null, { timeout: 30000 });
  log("cell:", await page.textContent(".cell-detail p"));
  check(/kept as a sample/.test(await page.textContent(".cell-detail p") || ""), "the clicked box says why");
  await page.click(".cells-preview");
  check(await page.$(".cells-preview.zoomed"), "a click enlarges the preview");
  await page.screenshot({ path: join(out, "cells-why-390.png"), fullPage: false });
  check(outside.length === 0, `no request left the service: ${outside}`);
  check(errors.length === 0, `no page errors: ${errors}`);
} finally {
  await browser.close();
}
