// Language choice, translation fallbacks and error wording.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pickLanguage, t, errorText, LANGUAGES } from "../../frontend/src/i18n/index.js";
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
  assert.match(errorText(new ApiError(400, "weird_thing", "The grid is bent."), "de"), /The grid is bent\./);
  assert.equal(errorText(new ApiError(503, "http_503", ""), "en"), LANGUAGES.en["error.server"]);
  assert.match(errorText(new Error("boom"), "en"), /./);
});
