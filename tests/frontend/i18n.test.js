// Language choice, translation fallbacks and error wording.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { pickLanguage, t, errorText, formatWait, translateServerText, formatNumber, formatPercent, formatBytes, LANGUAGES }
  from "../../frontend/src/i18n/index.js";
import { ApiError } from "../../frontend/src/api/client.js";

test("the browser's first supported language wins", () => {
  assert.equal(pickLanguage(["de-AT", "en"]), "de");
  assert.equal(pickLanguage(["fr", "en-GB"]), "en");
  assert.equal(pickLanguage(["fr"]), "en");
  assert.equal(pickLanguage([]), "en");
});

test("German and English have the same keys", () => {
  const en = Object.keys(LANGUAGES.en).sort();
  const de = Object.keys(LANGUAGES.de).sort();
  assert.deepEqual(de.filter((k) => !en.includes(k)), []);
  assert.deepEqual(en.filter((k) => !de.includes(k)), []);
});

test("placeholders are filled", () => {
  assert.match(t("error.generic", { status: 418 }, "en"), /418/);
});

test("errors: known codes in our words, unknown ones with the server's sentence", () => {
  assert.equal(errorText(new ApiError(0, "network", "Failed to fetch"), "de"), LANGUAGES.de["error.network"]);
  assert.equal(errorText(new ApiError(400, "weird_thing", "The grid is bent."), "en"), "The grid is bent.");
  // German never shows the server's English sentence: a German sentence by status instead.
  assert.equal(errorText(new ApiError(400, "weird_thing", "The grid is bent."), "de"), "Das hat nicht geklappt (Fehler 400).");
  assert.equal(errorText(new ApiError(503, "http_503", ""), "en"), LANGUAGES.en["error.server"]);
  assert.match(errorText(new Error("boom"), "en"), /./);
});

test("no text is left with an unfilled placeholder when an error lacks the fields its wording names", () => {
  for (const lang of Object.keys(LANGUAGES)) {
    for (const key of Object.keys(LANGUAGES[lang]).filter((k) => /^error\.[^.]+$/.test(k))) {
      const text = errorText(new ApiError(400, key.slice("error.".length), ""), lang);
      assert.doesNotMatch(text, /\{\w+\}/, `${lang} ${key}: ${text}`);
    }
  }
});

test("a slowed-down login says how long to wait: from Retry-After, else from the server's sentence", () => {
  const limited = (retryAfter, detail = "") => new ApiError(429, "too_many_attempts", detail, { retryAfter });
  assert.match(errorText(limited(45), "en"), /wait 45 seconds/);
  assert.match(errorText(limited(240), "de"), /warte bitte 4 Minuten/);
  assert.match(errorText(limited(null, "Too many wrong passwords for this account. Please wait 2 minutes and try again."), "de"), /2 Minuten/);
  assert.match(errorText(limited(null, "Slow down."), "en"), /wait a little/);
  assert.equal(formatWait(1, "en"), "1 second");
  assert.equal(formatWait(89, "de"), "89 Sekunden");
  assert.equal(formatWait(91, "en"), "2 minutes");
});

test("the server's password advice is shown, in German translated sentence by sentence", () => {
  const detail = "This password is too easy to guess. This is a top-10 common password. Add another word or two. Uncommon words are better.";
  const weak = new ApiError(422, "weak_password", detail);
  assert.equal(errorText(weak, "en"), detail);
  assert.equal(errorText(weak, "de"), "Dieses Passwort ist zu leicht zu erraten. Das ist eines der 10 häufigsten Passwörter. "
    + "Nimm noch ein oder zwei Wörter dazu. Ungewöhnliche Wörter sind besser.");
  // A sentence we do not know stays as the server wrote it.
  assert.match(translateServerText("This password is too easy to guess. Something new.", "de"), /erraten\. Something new\.$/);
  assert.match(errorText(new ApiError(422, "weak_password", ""), "de"), /zu leicht zu erraten/);
});

test("errors with extra fields fill them in, sizes in MB", () => {
  const quota = new ApiError(413, "quota_exceeded", "...", { extra: { scope: "user", limit_bytes: 200 * 1024 * 1024, used_bytes: 150 * 1024 * 1024 } });
  assert.match(errorText(quota, "en"), /150 MB of 200 MB/);
  assert.match(errorText(quota, "de"), /150 MB von 200 MB/);
  const classQuota = new ApiError(413, "class_quota_exceeded", "...",
    { extra: { scope: "class", class_name: "7b", limit_bytes: 16 * 1024 ** 3, used_bytes: 16 * 1024 ** 3 - 1 } });
  assert.match(errorText(classQuota, "en"), /your class 7b is full: the class's projects already use/);
  assert.match(errorText(classQuota, "de"), /deiner Klasse 7b ist voll/);
  const pages = new ApiError(413, "upload_too_many_pages", "...", { extra: { pages: 120, max_pages: 100 } });
  assert.match(errorText(pages, "de"), /120 Seiten.*höchstens 100/);
  assert.match(errorText(new ApiError(507, "insufficient_storage", "..."), "en"), /teacher/);
  assert.match(errorText(new ApiError(409, "duplicate_import", "..."), "de"), /schon in diesem Projekt/);
  assert.match(errorText(new ApiError(422, "training_memory_too_large", "...", { extra: { estimated_mb: 9216, limit_mb: 3072 } }), "en"),
    /9,216 MB.*3,072 MB/);
});

// The one list of the codes the server can answer with, collected from the backend's source (scripts/api_types.py).
const SERVER_CODES = JSON.parse(readFileSync(new URL("../../shared/schemas/error-codes.json", import.meta.url), "utf8")).codes;

test("every error code the server can send has a German and an English text", () => {
  assert.ok(SERVER_CODES.length > 50, "the list of codes is read");
  for (const lang of ["en", "de"]) {
    const missing = SERVER_CODES.filter((code) => !LANGUAGES[lang][`error.${code}`]);
    assert.deepEqual(missing, [], `error.<code> texts missing in ${lang}.js`);
  }
});

test("German mode shows German text for a server error, with its figures, never the server's English", () => {
  const short = new ApiError(422, "password_too_short", "The password needs at least 10 characters.", { extra: { min_length: 10 } });
  assert.match(errorText(short, "de"), /mindestens 10 Zeichen/);
  assert.match(errorText(short, "en"), /at least 10 characters/);
  const layer = new ApiError(422, "invalid_network", "Layer 3 (dense): units must be at least 1.", { extra: { layer_index: 2, layer_name: "dense" } });
  assert.match(errorText(layer, "de"), /Schicht 3/);
  for (const code of SERVER_CODES) {
    const text = errorText(new ApiError(422, code, "The server's English sentence."), "de");
    assert.doesNotMatch(text, /English sentence|Der Server sagt/, `${code}: ${text}`);
  }
  // zxcvbn's advice: German when every sentence is known, else our own German sentence.
  const unknownAdvice = new ApiError(422, "weak_password", "This password is too easy to guess. Some brand-new advice.");
  assert.equal(errorText(unknownAdvice, "de"), LANGUAGES.de["error.weak_password"]);
  assert.equal(errorText(unknownAdvice, "en"), unknownAdvice.detail);
});

test("numbers use the language's format", () => {
  assert.equal(formatNumber(78500, "de"), "78.500");
  assert.equal(formatNumber(78500, "en"), "78,500");
  assert.equal(formatPercent(0.938, "de"), "93,8\u00a0%");
  assert.equal(formatPercent(0.938, "en"), "93.8\u00a0%");
  assert.equal(formatPercent(0.5, "en", 0), "50\u00a0%");
  assert.equal(formatBytes(1.5 * 1024 * 1024, "de"), "1,5 MB");
  const memory = new ApiError(422, "training_memory_too_large", "...", { extra: { estimated_mb: 9216, limit_mb: 3072 } });
  assert.match(errorText(memory, "de"), /9\.216 MB.*3\.072 MB/);
});

test("a mistake reads one way: written, then read as", () => {
  assert.equal(t("eval.mistake", { truth: 4, pred: 2 }, "en"), "written 4, read as 2");
  assert.equal(t("eval.mistake", { truth: 4, pred: 2 }, "de"), "geschrieben 4, erkannt als 2");
});

test("numbers in sentences are in the language's format, ids are not", () => {
  assert.match(t("dataset.total", { n: 78500 }, "de"), /^78\.500 /);
  assert.match(t("dataset.total", { n: 78500 }, "en"), /^78,500 /);
  assert.equal(t("dataset.cellLabel", { id: 12345, label: "7", state: "x" }, "en"), "Sample 12345, 7, x");
  assert.match(t("dataset.total", { n: "1234" }, "en"), /^1234 /); // text stays text
});
