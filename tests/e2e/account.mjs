// The account screen: change the password, see the logins, log out elsewhere; and the login's slow-down.
// Usage: node tests/e2e/account.mjs --base http://127.0.0.1:PORT --out test-artifacts/e2e
// Three browser contexts stand for three devices of one student. Screenshots (1366x768 and 390x844) go to
// --out as account-*.png; exits non-zero on the first failed check.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { check, launch, stayOn } from "./browser.mjs";

const { values: args } = parseArgs({ options: {
  base: { type: "string" }, out: { type: "string", default: "test-artifacts/e2e" },
  chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
} });
const base = args.base.replace(/\/$/, "");
const out = resolve(args.out);
mkdirSync(out, { recursive: true });

const log = (...a) => console.log(`[account ${new Date().toISOString().slice(11, 19)}]`, ...a);
const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

const browser = await launch(args.chromium);
const outside = [];
const pageErrors = [];

async function device(viewport, locale = "en-US") {
  const context = await browser.newContext({ locale, viewport });
  await stayOn(context, base, outside);
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") log("console error:", m.text()); });
  return page;
}

async function screenshot(page, name) {
  const file = join(out, `account-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log("screenshot", file);
}

async function login(page, username, password) {
  await page.goto(`${base}/#/login`);
  await page.waitForSelector("#username");
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("form button[type=submit]");
}

/** Whether this device's login still works: a reload asks the server (401 leads back to the login form). */
async function stillLoggedIn(page) {
  await page.goto(`${base}/#/account`);
  await page.reload();
  await page.waitForSelector("#username, #sessions li.session");
  return (await page.locator("#username").count()) === 0;
}

const sessionCount = (page) => page.locator("#sessions li.session").count();

try {
  const username = `acct${Date.now() % 100000}`;
  const first = "purple tiger eats noodles";
  const second = "seven quiet lanterns drift";

  // Device A registers; the form says what a good password is.
  const a = await device(DESKTOP);
  await a.goto(`${base}/#/register`);
  await a.waitForSelector("#password-hint");
  check(/hard to guess/.test(await a.textContent("#password-hint")), "the registration form hints at a hard-to-guess password");
  check(!/mail|real name/i.test(await a.textContent("form")), "the registration form asks for no e-mail or real name");
  await a.fill("#username", username);
  await a.fill("#password", first);
  await screenshot(a, "00-register-desktop");
  await a.click("form button[type=submit]");
  await a.waitForSelector("#project-name");

  // Rename and delete ask in our own dialog (the browser's prompt/confirm are blocked in a platform's iframe):
  // focus goes into it, Escape cancels and gives focus back.
  let nativeDialogs = 0;
  a.on("dialog", (d) => { nativeDialogs += 1; d.dismiss(); });
  await a.fill("#project-name", "Ziffern");
  await a.click("form.card button[type=submit]");
  await a.waitForURL(/#\/projects\/\d+/);
  await a.goto(`${base}/#/projects`);
  await a.click(".project-list .project button:not(.danger)");
  await a.waitForSelector("dialog.ask[open] input");
  check(await a.evaluate(() => document.activeElement?.matches("dialog.ask input")), "the rename dialog puts the focus in its field");
  await a.fill("dialog.ask input", "My digits");
  await a.keyboard.press("Enter");
  await a.waitForFunction(() => document.querySelector(".project-list .project-name")?.textContent === "My digits");
  await a.click(".project-list .project button.danger");
  await a.waitForSelector("dialog.ask[open]");
  await a.keyboard.press("Escape");
  await a.waitForFunction(() => !document.querySelector("dialog.ask"));
  check(await a.evaluate(() => document.activeElement?.matches(".project-list .project button.danger")), "focus returns to the delete button");
  check(await a.locator(".project-list .project").count() === 1, "a cancelled delete deletes nothing");
  check(nativeDialogs === 0, "no browser prompt/confirm/alert");

  // Devices B and C log in too.
  const b = await device(DESKTOP);
  await login(b, username, first);
  await b.waitForSelector("#project-name");
  const c = await device(PHONE);
  await login(c, username, first);
  await c.waitForSelector("#project-name");

  // A opens the account screen from the header.
  await a.click("#account");
  await a.waitForSelector("#sessions li.session.current");
  check(await sessionCount(a) === 3, "three logins are listed");
  check(await a.locator("#sessions li.session.current").count() === 1, "exactly one login is marked as this one");
  check(await a.locator("#sessions li.session").first().evaluate((el) => el.classList.contains("current")), "this login comes first");
  check(await a.getAttribute("#account", "aria-current") === "page", "the header link shows where we are");
  await screenshot(a, "01-sessions-desktop");

  // "Log out there" on the newest other login: that is C.
  await a.locator("#sessions li.session:not(.current) button").first().click();
  await a.waitForFunction(() => document.querySelectorAll("#sessions li.session").length === 2);
  check(!(await stillLoggedIn(c)), "the login that was ended there is logged out");
  check(await stillLoggedIn(b), "the other login still works");

  // A wrong current password, then a weak new one: both explained next to the form.
  await a.fill("#current-password", "not my password at all");
  await a.fill("#new-password", second);
  await a.fill("#repeat-password", second);
  await a.click("#password-form button[type=submit]");
  await a.waitForSelector("#password-form .error");
  check(/password now is not right/.test(await a.textContent("#password-form .error")), "a wrong current password is explained");

  await a.fill("#current-password", first);
  await a.fill("#new-password", "password123");
  await a.fill("#repeat-password", "password124");
  await a.click("#password-form button[type=submit]");
  check(/not the same/.test(await a.textContent("#password-form .error")), "two different new passwords are caught");

  await a.fill("#repeat-password", "password123");
  await a.click("#password-form button[type=submit]");
  await a.waitForFunction(() => /too easy to guess/.test(document.querySelector("#password-form .error")?.textContent || ""));
  const advice = await a.textContent("#password-form .error");
  log("weak-password advice:", advice);
  check(/common password/.test(advice), "the server's advice says why the password is weak");

  // The same screen on a phone, in German, with the advice showing.
  const phone = await device(PHONE, "de-DE");
  await login(phone, username, first);
  await phone.waitForSelector("#project-name");
  await phone.click("#account");
  await phone.waitForSelector("#sessions li.session.current");
  await phone.fill("#current-password", first);
  await phone.fill("#new-password", "fussball1");
  await phone.fill("#repeat-password", "fussball1");
  await phone.click("#password-form button[type=submit]");
  await phone.waitForFunction(() => /zu leicht zu erraten/.test(document.querySelector("#password-form .error")?.textContent || ""));
  const germanAdvice = await phone.textContent("#password-form .error");
  log("German advice:", germanAdvice);
  check(!/Der Server sagt|\b(the|password|is|and)\b/i.test(germanAdvice), "the German screen shows no English server text");
  check(/Mindestens 8 Zeichen/.test(await phone.textContent("#new-password-hint")), "the German form says the password rule before the first try");
  check(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), "nothing sticks out sideways on the phone");
  await screenshot(phone, "02-password-phone-de");

  // The real change: A stays logged in, every other login ends.
  await a.fill("#current-password", first);
  await a.fill("#new-password", second);
  await a.fill("#repeat-password", second);
  await a.click("#password-form button[type=submit]");
  // (waits for this very message: the flash of "log out there" may still be showing)
  await a.waitForFunction(() => /password is changed/.test(document.querySelector("#flash .flash:not(.error)")?.textContent || ""));
  await a.waitForFunction(() => document.querySelectorAll("#sessions li.session").length === 1);
  check(await a.isDisabled("#end-others"), "with no other login, 'log out everywhere else' is off");
  check(await a.inputValue("#current-password") === "", "the form is emptied");
  check(!(await stillLoggedIn(b)), "the password change logged B out");
  check(!(await stillLoggedIn(phone)), "the password change logged the phone out");

  // The old password no longer works, the new one does.
  await login(b, username, first);
  await b.waitForSelector("form .error");
  check(/Wrong username or password/.test(await b.textContent("form .error")), "the old password is refused");
  await login(b, username, second);
  await b.waitForSelector("#project-name");

  // "Log out everywhere else" ends B again.
  await a.goto(`${base}/#/account`);
  await a.reload();
  await a.waitForFunction(() => document.querySelectorAll("#sessions li.session").length === 2);
  await a.click("#end-others");
  await a.waitForFunction(() => /1 other place/.test(document.querySelector("#flash")?.textContent || ""));
  await a.waitForFunction(() => document.querySelectorAll("#sessions li.session").length === 1);
  check(await stillLoggedIn(a), "A is still logged in");
  check(!(await stillLoggedIn(b)), "'log out everywhere else' logged B out");

  // A logs out and back in with the new password.
  await a.click("#logout");
  await a.waitForSelector("#username");
  await login(a, username, second);
  await a.waitForSelector("#project-name");

  // Too many wrong passwords: the login slows down and says how long to wait (Retry-After).
  const victim = `slow${Date.now() % 100000}`;
  const d = await device(PHONE);
  await d.goto(`${base}/#/register`);
  await d.fill("#username", victim);
  await d.fill("#password", first);
  await d.click("form button[type=submit]");
  await d.waitForSelector("#project-name");
  await d.click("#logout");
  let message = "";
  for (let attempt = 0; attempt < 8 && !/wait/.test(message); attempt++) {
    await login(d, victim, `wrong guess ${attempt}`);
    await d.waitForSelector("form .error");
    message = await d.textContent("form .error");
  }
  log("slowed-down login:", message);
  check(/please wait \d+ (seconds|minutes?) and then try again/.test(message), "the slowed-down login says how long to wait");
  await screenshot(d, "03-login-slowed-phone");

  check(pageErrors.length === 0, `no script errors: ${pageErrors.join("; ")}`);
  check(outside.length === 0, `nothing outside the service was requested: ${outside.join(", ")}`);
  console.log("OK account screen: password change, sessions, slowed-down login");
} finally {
  await browser.close();
}
