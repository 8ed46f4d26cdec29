// A link that names another API server must not move the login there.
// Usage: node tests/e2e/api_link.mjs --base http://127.0.0.1:PORT --attacker http://127.0.0.1:OTHER
// Opens the app through links with ?api=<attacker>, with an old saved API base in localStorage, registers,
// creates a project, logs out and in again. The attacker server (started by the pytest side) records every
// request it gets; this script checks the app worked and that no screen offers to change the server.
import { parseArgs } from "node:util";

import { check, launch } from "./browser.mjs";

const { values: args } = parseArgs({ options: {
  base: { type: "string" }, attacker: { type: "string" },
  chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
} });
const base = args.base.replace(/\/$/, "");
const link = (hash) => `${base}/?api=${encodeURIComponent(args.attacker)}${hash}`;

const browser = await launch(args.chromium);
try {
  const context = await browser.newContext({ locale: "en-US" });
  const page = await context.newPage();
  const username = `linkvictim${Date.now() % 100000}`;
  const password = "correct horse battery staple 42";

  // An earlier version saved the API base from ?api=; such a saved value must be ignored (and dropped).
  await page.goto(`${base}/#/login`);
  await page.evaluate((attacker) => localStorage.setItem("digitlab.apiBase", attacker), args.attacker);

  await page.goto(link("#/register"));
  check(await page.locator("#server-btn").count() === 0, "there is no Server button");
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("form button[type=submit]");
  await page.waitForSelector("#project-name");

  await page.goto(link("#/projects"));
  await page.reload();
  await page.waitForSelector("#project-name");
  await page.fill("#project-name", "after the link");
  await page.press("#project-name", "Enter");
  await page.waitForSelector("text=after the link");
  check(await page.evaluate(() => localStorage.getItem("digitlab.apiBase")) === null, "the old saved API base is gone");

  await page.click("#logout");
  await page.waitForSelector("#username");
  await page.goto(link("#/login"));
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("form button[type=submit]");
  await page.waitForSelector("text=after the link");
  console.log("OK the app worked through ?api= links");
} finally {
  await browser.close();
}
