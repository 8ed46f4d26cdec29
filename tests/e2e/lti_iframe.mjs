// Issue 11: Digit Lab inside a learning platform's iframe, in headless Chromium with third-party cookies blocked.
// The course page (platform origin) frames the launch of our app (another site); the student uploads a sheet,
// extracts it, trains a network and draws on the playground, all inside the frame.
// First the tool's admin registers the platform by hand in the web app (the admin screen), and makes an address
// for dynamic registration.
// Usage: node tests/e2e/lti_iframe.mjs --course URL --platform ORIGIN --tool ORIGIN --spki HASH --scans DIR --out DIR
//        --admin USERNAME --password PASSWORD --registration JSON (the platform's values, as the API takes them)
import { mkdirSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createRequire } from "node:module";

import { check } from "./browser.mjs";

const require = createRequire(new URL("../../frontend/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const { values: args } = parseArgs({ options: {
  course: { type: "string" }, platform: { type: "string" }, tool: { type: "string" }, spki: { type: "string" },
  scans: { type: "string" }, out: { type: "string", default: "test-artifacts/e2e" },
  admin: { type: "string" }, password: { type: "string" }, registration: { type: "string" },
  chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
} });
const tool = args.tool.replace(/\/$/, "");
const platform = args.platform.replace(/\/$/, "");
const out = resolve(args.out);
mkdirSync(out, { recursive: true });
const scanFiles = readdirSync(args.scans).filter((f) => f.endsWith(".png")).map((f) => join(args.scans, f));
const log = (...a) => console.log(`[lti ${new Date().toISOString().slice(11, 19)}]`, ...a);

const browser = await chromium.launch({
  executablePath: args.chromium, headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    // Trust exactly our test certificate's key (the one both servers present), nothing else.
    `--ignore-certificate-errors-spki-list=${args.spki}`,
    // Block third-party cookies, as browsers do (or are about to) for frames of another site.
    "--test-third-party-cookie-phaseout"],
});
const outside = [];
const pageErrors = [];
const blocked = [];
let shot = 0;

async function screenshot(page, name) {
  shot += 1;
  const file = join(out, `lti-${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file });
  log("screenshot", file);
}

/** Draw strokes with the mouse on the pad inside the frame (coordinates 0..1 of the pad). */
async function drawStrokes(page, pad, strokes) {
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox(); // in the top page's coordinates
  for (const stroke of strokes) {
    const [x0, y0] = stroke[0];
    await page.mouse.move(box.x + x0 * box.width, box.y + y0 * box.height);
    await page.mouse.down();
    for (const [x, y] of stroke.slice(1)) await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 12 });
    await page.mouse.up();
  }
}
const SEVEN = [[[0.25, 0.2], [0.75, 0.2], [0.45, 0.85]]];

try {
  // No ignoreHTTPSErrors: a certificate error would stop the test.
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "en-US" });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(tool) || url.startsWith(platform) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    outside.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("response", (r) => { if (r.status() >= 400) log("answer", r.status(), r.request().method(), r.url()); });
  page.on("requestfailed", (r) => log("request failed:", r.url(), r.failure()?.errorText));
  page.on("console", (m) => {
    if (m.type() === "error") log("console error:", m.text());
    if (/Content Security Policy|frame-ancestors/i.test(m.text())) blocked.push(m.text());
  });

  // ---- the admin registers the platform in the web app -----------------------------------------------
  const registration = JSON.parse(args.registration);
  const adminPage = await context.newPage();
  adminPage.on("pageerror", (e) => pageErrors.push(String(e)));
  await adminPage.goto(`${tool}/#/login`);
  await adminPage.fill("#username", args.admin);
  await adminPage.fill("#password", args.password);
  await adminPage.click("form button[type=submit]");
  await adminPage.waitForSelector("#admin-link:not([hidden])");
  await adminPage.click("#admin-link");
  await adminPage.locator("#lti-admin").waitFor();
  check(await adminPage.locator("#lti-platforms").textContent().then((text) => !text.includes(registration.issuer)),
    "no platform is registered before the admin registers one");
  await adminPage.locator("#lti-admin summary").click();
  check((await adminPage.inputValue("#lti-launch-url")) === `${tool}/api/lti/launch`, "the launch address to enter in the platform is shown");
  check((await adminPage.inputValue("#lti-jwks-url")) === `${tool}/api/lti/jwks`, "our key set's address is shown");
  const fields = { name: "name", issuer: "issuer", client: "client_id", login: "auth_login_url", token: "auth_token_url", jwks: "jwks_url" };
  for (const [suffix, key] of Object.entries(fields)) await adminPage.fill(`#lti-${suffix}`, registration[key]);
  await adminPage.fill("#lti-deployments", registration.deployment_ids.join(", "));
  await adminPage.click("#lti-register");
  await adminPage.locator(`#lti-platforms tr:has-text("${registration.name}")`).waitFor();
  await adminPage.click("#lti-make-link");
  const dynamic = await adminPage.locator("#lti-link-url").inputValue();
  check(dynamic.startsWith(`${tool}/api/lti/register?`), `a single-use address for dynamic registration is shown (${dynamic})`);
  await screenshot(adminPage, "admin-platforms");
  await adminPage.close();

  // ---- the course page frames the launch; the frame ends on the student's project -------------------
  await page.goto(args.course);
  check(page.url().startsWith("https://"), `the course page is HTTPS (${page.url()})`);
  const frame = page.frameLocator("#tool");
  await frame.locator(".dropzone").waitFor({ timeout: 60000 });
  const toolFrame = page.frames().find((f) => f.url().startsWith(tool));
  check(toolFrame, `a frame shows Digit Lab (${page.frames().map((f) => f.url()).join(", ")})`);
  log("frame at", toolFrame.url());
  check(/#\/projects\/\d+/.test(toolFrame.url()), `the launch opened the student's project (${toolFrame.url()})`);
  check(!toolFrame.url().includes("/lti/"), "the used one-time code is gone from the frame's address");
  check(page.url() === args.course, "the course page itself stayed (no frame-busting)");
  await screenshot(page, "launched-in-iframe");

  // The frame is third-party and its cookies are blocked; our own top-level page may keep one (the control).
  const frameCookie = await toolFrame.evaluate(() => {
    document.cookie = "probe=1; SameSite=None; Secure; Path=/";
    return document.cookie.includes("probe=1");
  });
  check(!frameCookie, "Chromium blocks third-party cookies in the frame");
  // With third-party cookies blocked, Chromium also denies the frame its storage: the login secret then comes back
  // in our partitioned (CHIPS) cookie, and the session lives in the page (state.js falls back to memory).
  const storage = await toolFrame.evaluate(() => {
    try { return `sessionStorage keys: ${Object.keys(sessionStorage).join(", ") || "none"}`; } catch (e) { return `sessionStorage denied (${e.name})`; }
  });
  log("the frame's storage:", storage);
  const control = await context.newPage();
  await control.goto(`${tool}/api/health`);
  check(await control.evaluate(() => { document.cookie = "probe=1; SameSite=None; Secure; Path=/"; return document.cookie.includes("probe=1"); }),
    "the same cookie is kept by a first-party page (so the check above can fail)");
  await control.close();
  log("cookies of the context:", JSON.stringify((await context.cookies()).map((c) => ({ name: c.name, domain: c.domain, partitionKey: c.partitionKey }))));

  // ---- upload and extraction ------------------------------------------------------------------------
  await frame.locator("#scan-files").setInputFiles(scanFiles);
  await toolFrame.waitForFunction((n) => document.querySelectorAll(".uploads li.ok").length === n, scanFiles.length, { timeout: 60000 });
  await frame.locator("#extract").click();
  await frame.locator(".job p.ok").waitFor({ timeout: 180000 });
  log(await frame.locator(".job p.ok").textContent());
  // The pictures load lazily: bring them into the frame's view (as the student scrolls) before waiting for them.
  const pictures = frame.locator(".scan img");
  for (let i = 0; i < await pictures.count(); i++) await pictures.nth(i).scrollIntoViewIfNeeded();
  await toolFrame.waitForFunction(() => [...document.querySelectorAll(".scan img")].every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 30000 });
  check(await frame.locator(".scan img").count() > 0, "the extracted sheet is shown");
  await screenshot(page, "scans-extracted");

  // ---- training -------------------------------------------------------------------------------------
  await frame.locator(".tabs a[href$='/training']").click();
  await frame.locator("#total-params").waitFor();
  await frame.locator("#arch").selectOption("mlp");
  await frame.locator("#epochs").fill("3");
  await frame.locator("#start-training").click();
  await frame.locator(".chart .u-over").waitFor({ timeout: 30000 });
  await toolFrame.waitForFunction(() => document.querySelectorAll("#epoch-rows tr").length >= 1, null, { timeout: 240000 });
  await screenshot(page, "training-live");
  await frame.locator("#training-status.ok, #training-status.error").waitFor({ timeout: 300000 });
  const status = await frame.locator("#training-status").textContent();
  check(await frame.locator("#training-status.ok").count() === 1, `the training succeeded (${status})`);
  await frame.locator("table.confusion").waitFor({ timeout: 60000 });
  await screenshot(page, "evaluation");

  // ---- playground -----------------------------------------------------------------------------------
  await frame.locator(".tabs a[href$='/playground']").click();
  await toolFrame.waitForFunction(() => window.__digitlabPlayground && window.__digitlabPlayground.updates >= 1, null, { timeout: 60000 });
  await drawStrokes(page, frame.locator("#drawpad"), SEVEN);
  await toolFrame.waitForFunction(() => window.__digitlabPlayground.predicted !== null, null, { timeout: 15000 });
  const prediction = await frame.locator("#prediction").textContent();
  log("prediction:", prediction);
  check(/“.+”/.test(prediction), `a prediction is shown (${prediction})`);
  await screenshot(page, "playground");

  check(page.url() === args.course, "the course page is still the top page");
  check(outside.length === 0, `no request left the two servers: ${outside.join(", ")}`);
  check(pageErrors.length === 0, `no uncaught page errors: ${pageErrors.join(" | ")}`);
  check(blocked.length === 0, `nothing blocked by a Content-Security-Policy: ${blocked.join(" | ")}`);
  log("OK");
} finally {
  await browser.close();
}
