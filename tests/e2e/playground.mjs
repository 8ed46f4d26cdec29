// The playground on a school laptop (1366x768) and a phone (390x844), in English and German, against the real
// service and real onnxruntime-web: every layer and the outputs on one screen, labelled outputs, the values
// before the activation function, a test sample on the pad, and the time from a pointer event to the painted
// frame that shows its result. The network is trained through the API (not the UI: main_flow.mjs does that).
// Usage: node tests/e2e/playground.mjs --base http://127.0.0.1:PORT --scans DIR --out test-artifacts/e2e
// Prints "PLAYGROUND <model> ..." lines with the per-update figures; exits non-zero on the first failed check.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { check, countColours, drawStrokes, launch, stayOn, SEVEN, ZERO } from "./browser.mjs";

const { values: args } = parseArgs({ options: {
  base: { type: "string" }, scans: { type: "string" }, out: { type: "string", default: "test-artifacts/e2e" },
  chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
  reuse: { type: "string" }, // a JSON file: the trained project of an earlier run against the same service (while developing)
} });
const base = args.base.replace(/\/$/, "");
const out = resolve(args.out);
mkdirSync(out, { recursive: true });
const log = (...a) => console.log(`[playground ${new Date().toISOString().slice(11, 19)}]`, ...a);
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

async function call(method, path, { body, token, form } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body) headers["Content-Type"] = "application/json";
  const response = await fetch(base + path, { method, headers, body: form || (body ? JSON.stringify(body) : undefined) });
  const text = await response.text();
  check(response.ok, `${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/** Poll `get` until `done(value)`, at most `seconds`. */
async function until(get, done, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await get();
    if (done(value)) return value;
    check(Date.now() < deadline, `still waiting after ${seconds} s: ${JSON.stringify(value).slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 700));
  }
}

// ---- a project with a trained MLP and CNN, through the API ---------------------------------------------
async function trainedProject() {
  const username = `play${Date.now() % 100000}`;
  const password = "a long enough password";
  await call("POST", "/api/auth/register", { body: { username, password } });
  const { access_token: token } = await call("POST", "/api/auth/login", { body: { username, password } });
  const project = await call("POST", "/api/projects", { body: { name: "Playground" }, token });
  const pid = project.id;
  const form = new FormData();
  for (const f of readdirSync(args.scans).filter((n) => n.endsWith(".png"))) {
    form.append("files", new Blob([readFileSync(join(args.scans, f))], { type: "image/png" }), f);
  }
  await call("POST", `/api/projects/${pid}/scans`, { token, form });
  const job = await call("POST", `/api/projects/${pid}/extractions`, { token });
  const extracted = await until(() => call("GET", `/api/jobs/${job.id}`, { token }), (j) => ["succeeded", "failed"].includes(j.status), 120);
  check(extracted.status === "succeeded", "the scans are extracted");
  const tids = {};
  for (const [architecture, epochs] of [["mlp", 3], ["cnn", 2]]) {
    const started = await call("POST", `/api/projects/${pid}/trainings`, { body: { architecture, epochs }, token });
    const done = await until(() => call("GET", `/api/projects/${pid}/trainings/${started.id}`, { token }),
      (tr) => ["succeeded", "failed", "cancelled"].includes(tr.status), 300);
    check(done.status === "succeeded", `the ${architecture} training succeeded (${done.error})`);
    tids[architecture] = started.id;
  }
  log("trained", tids);
  return { username, password, pid, tids };
}
const reused = args.reuse && existsSync(args.reuse) ? JSON.parse(readFileSync(args.reuse, "utf8")) : null;
const { username, password, pid, tids } = reused || await trainedProject();
if (args.reuse && !reused) writeFileSync(args.reuse, JSON.stringify({ username, password, pid, tids }));

// ---- the browser ---------------------------------------------------------------------------------------
const browser = await launch(args.chromium);
const outside = [];
const pageErrors = [];

async function newPage(locale, viewport) {
  const context = await browser.newContext({ locale, viewport });
  const page = await context.newPage();
  await stayOn(context, base, outside);
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") log("console error:", m.text()); });
  await page.goto(base);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("form button[type=submit]");
  await page.waitForSelector(".project-list, #project-name");
  return page;
}

async function screenshot(page, name) {
  const file = join(out, `playground-${name}.png`);
  await page.screenshot({ path: file });
  log("screenshot", file);
}


async function openPlayground(page, tid, suffix = "") {
  await page.goto(`${base}/#/projects/${pid}/playground/${tid}${suffix}`);
  await page.waitForFunction(() => window.__digitlabPlayground && window.__digitlabPlayground.updates >= 1, null, { timeout: 60000 });
}

/** Every element named is inside the viewport (seen without scrolling). */
async function allInView(page, selectors) {
  const viewport = page.viewportSize();
  for (const selector of selectors) {
    const box = await page.locator(selector).boundingBox();
    check(box && box.y >= 0 && box.y + box.height <= viewport.height + 0.5 && box.x + box.width <= viewport.width + 0.5,
      `${selector} is inside the ${viewport.width}x${viewport.height} viewport (${JSON.stringify(box)})`);
  }
}

/** Nothing of the playground sticks out to the right (the layers scroll inside their own box). */
async function noSidewaysScroll(page, what) {
  const found = await page.evaluate(() => {
    const view = window.innerWidth;
    const sticking = [...document.querySelectorAll(".playground, .playground *")]
      .filter((el) => !el.closest(".act-scroll > *") && el.getBoundingClientRect().right > view + 0.5)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
    return { sticking, page: document.documentElement.scrollWidth, view };
  });
  log(`${what}: the page is ${found.page} px wide in ${found.view}`);
  check(found.sticking.length === 0, `${what}: no part of the playground is wider than the screen (${found.sticking.join(", ")})`);
}

/** p-th percentile of a list of numbers. */
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** Draw continuously and print the time from each pointer event to the painted frame that shows its result. */
async function measure(page, name) {
  await page.click("#clear-pad");
  await page.evaluate(() => Object.assign(window.__digitlabPlayground, { updates: 0, totalMs: 0, inferMs: 0, latencies: [], handlerLatencies: [], moveFrames: 0, updatedFrames: 0 }));
  await drawStrokes(page, [...ZERO, ...SEVEN, ...ZERO], 40);
  await page.waitForTimeout(200);
  const s = await page.evaluate(() => ({ ...window.__digitlabPlayground }));
  const lat = s.latencies;
  const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
  const perFrame = s.updatedFrames / s.moveFrames;
  console.log(`PLAYGROUND ${name}: pointer event -> painted result: mean ${mean.toFixed(1)} ms, p95 ${percentile(lat, 95).toFixed(1)} ms, `
    + `max ${Math.max(...lat).toFixed(1)} ms over ${lat.length} updates (from the handler: mean `
    + `${(s.handlerLatencies.reduce((a, b) => a + b, 0) / lat.length).toFixed(1)}, p95 ${percentile(s.handlerLatencies, 95).toFixed(1)} ms); work per update ${(s.totalMs / s.updates).toFixed(2)} ms `
    + `(network ${(s.inferMs / s.updates).toFixed(2)} ms); frames with pointer movement ${s.moveFrames}, of them with a new result `
    + `${s.updatedFrames} (${perFrame.toFixed(2)} updates per frame)`);
  check(lat.length > 20, "the drawing updates continuously");
  // Generous limits for a shared machine; the figures above are the measurement.
  check(perFrame >= 0.9, `a new result in (nearly) every frame while drawing (${perFrame.toFixed(2)})`);
  // The target is p95 <= 16 ms on an idle machine; the test runs beside others on two shared cores, so it only
  // insists that drawing never stalls.
  check(percentile(s.handlerLatencies, 95) < 120, `p95 from the handler to the painted result under 120 ms (${percentile(s.handlerLatencies, 95).toFixed(1)})`);
  return { mean, p95: percentile(lat, 95), max: Math.max(...lat), perFrame };
}

try {
  const page = await newPage("en-US", LAPTOP);
  for (const model of ["mlp", "cnn"]) {
    await openPlayground(page, tids[model]);
    await drawStrokes(page, SEVEN);
    await page.waitForFunction(() => window.__digitlabPlayground.predicted !== null, null, { timeout: 10000 });
    const prediction = await page.textContent("#prediction");
    check(/“.+”/.test(prediction), `a prediction is shown (${prediction})`);
    // Pad, every layer and the outputs on one laptop screen.
    await allInView(page, ["#drawpad", "#activations", "#prediction", "#probs"]);
    const labels = await page.$$eval("#probs .bar-label", (els) => els.map((e) => e.textContent));
    check(labels.join("") === "0123456789", `the outputs are labelled with the project's labels (${labels})`);
    const after = await countColours(page);
    await page.check("#pre-activation");
    const before = await countColours(page);
    log(model, prediction, "after the activation:", after, "before:", before);
    check(after.blue > 100, "blue (positive) activations drawn");
    check(after.orange < before.orange && before.orange > 100, "negative values (orange) show before the activation function");
    await screenshot(page, `${model}-1366-en`);
    await page.uncheck("#pre-activation");
    await measure(page, model);
  }
  // A test sample on the pad: from the strip beside it, and from a mistake on the training's page.
  await page.waitForSelector("#test-samples .sample-button");
  await page.click("#clear-pad");
  await page.click("#test-samples .sample-button >> nth=0");
  await page.waitForFunction(() => window.__digitlabPlayground.predicted !== null, null, { timeout: 10000 });
  await page.goto(`${base}/#/projects/${pid}/trainings/${tids.mlp}`);
  await page.waitForSelector(".gallery .try-sample", { timeout: 30000 });
  const mistake = (await page.$(".gallery .sample.wrong .try-sample")) ? ".gallery .sample.wrong .try-sample" : ".gallery .try-sample";
  const testIndex = await page.getAttribute(`${mistake} >> nth=0`, "data-test-index");
  await page.evaluate(() => { delete window.__digitlabPlayground; });
  await page.click(`${mistake} >> nth=0`);
  await page.waitForSelector("#sample-note", { timeout: 60000 });
  await page.waitForFunction(() => window.__digitlabPlayground && window.__digitlabPlayground.predicted !== null, null, { timeout: 30000 });
  check(page.url().includes(`sample=${testIndex}`), `the playground opened with the test sample (${page.url()})`);
  log("test sample", testIndex, await page.textContent(".status-line"), await page.textContent("#prediction"));
  await screenshot(page, "sample-1366-en");

  // Phone: stacked, nothing scrolls sideways.
  await page.setViewportSize(PHONE);
  await openPlayground(page, tids.cnn);
  await drawStrokes(page, SEVEN);
  await noSidewaysScroll(page, "phone, English");
  await page.screenshot({ path: join(out, "playground-cnn-390-en.png"), fullPage: true });

  // German.
  const de = await newPage("de-DE", LAPTOP);
  for (const model of ["mlp", "cnn"]) {
    await openPlayground(de, tids[model]);
    await drawStrokes(de, SEVEN);
    await de.waitForFunction(() => window.__digitlabPlayground.predicted !== null, null, { timeout: 10000 });
    await allInView(de, ["#drawpad", "#activations", "#prediction", "#probs"]);
    const text = await de.textContent("#prediction");
    check(/Das ist ein|nicht sicher/.test(text), `the prediction is in German (${text})`);
    await screenshot(de, `${model}-1366-de`);
  }
  await de.setViewportSize(PHONE);
  await openPlayground(de, tids.mlp);
  await drawStrokes(de, SEVEN);
  await noSidewaysScroll(de, "phone, German");
  await de.screenshot({ path: join(out, "playground-mlp-390-de.png"), fullPage: true });

  check(outside.length === 0, `no request left our server: ${outside.join(", ")}`);
  check(pageErrors.length === 0, `no uncaught page errors: ${pageErrors.join(" | ")}`);
  log("OK");
} finally {
  await browser.close();
}
