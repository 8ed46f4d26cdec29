// The API docs pages work offline: /docs (Swagger UI) and /redoc in headless Chromium with every request to
// another host refused, under the pages' own Content-Security-Policy.
// Usage: node tests/e2e/docs_offline.mjs --base http://127.0.0.1:PORT [--chromium /usr/bin/chromium]
import { parseArgs } from "node:util";

import { check, launch, stayOn } from "./browser.mjs";

const { values: args } = parseArgs({ options: {
  base: { type: "string" },
  chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
} });
const base = args.base.replace(/\/$/, "");

const browser = await launch(args.chromium);
const outside = [];
const problems = [];
try {
  const context = await browser.newContext();
  await stayOn(context, base, outside);
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e}`));
  page.on("console", (m) => {
    // ReDoc's bundle names its own logo on a CDN ("API docs by Redocly"): the policy blocks it, as it should.
    if (/Loading the image 'https:\/\/cdn\.redoc\.ly\//.test(m.text())) return;
    if (m.type() === "error" || /Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });

  await page.goto(`${base}/docs`);
  await page.waitForSelector(".opblock", { timeout: 30000 });
  const operations = await page.locator(".opblock").count();
  check(operations > 30, `Swagger UI lists the operations (${operations})`);
  console.log(`/docs shows ${operations} operations`);

  await page.goto(`${base}/redoc`);
  await page.waitForFunction(() => document.body.innerText.includes("/api/projects/{project_id}"), null,
    { timeout: 30000 });
  const text = await page.textContent("body");
  check(text.includes("Digit Lab") && text.includes("401"), "ReDoc shows the API with its statuses");
  console.log("/redoc shows the API");

  check(outside.length === 0, `no request left the server: ${outside.join(", ")}`);
  check(problems.length === 0, problems.join(" | "));
  console.log("OK the docs work offline");
} finally {
  await browser.close();
}
