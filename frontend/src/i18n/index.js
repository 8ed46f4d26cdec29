// @ts-check
// German and English. The language comes from the browser unless the student picked one (remembered).
import en from "./en.js";
import de from "./de.js";

/** @typedef {Record<string, string>} Dictionary  text by key; "{name}" marks a placeholder */
/**
 * Anything that failed: an ApiError, or a look-alike built by a view.
 * @typedef {{status?: number, code?: string, detail?: string, retryAfter?: number | null,
 *            extra?: Record<string, unknown>} | null | undefined} ErrorLike
 */

/** @type {Record<string, Dictionary>} */
export const LANGUAGES = { en, de };
const STORAGE_KEY = "digitlab.lang";
let current = "en";
/** @type {Set<(lang: string) => void>} */
const listeners = new Set();

/**
 * First supported language in the browser's preference list, else English. Pure for tests.
 * @param {readonly string[] | null | undefined} preferred
 */
export function pickLanguage(preferred) {
  for (const tag of preferred || []) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base in LANGUAGES) return base;
  }
  return "en";
}

export function initLanguage() {
  /** @type {string | null | undefined} */
  let saved;
  try { saved = globalThis.localStorage?.getItem(STORAGE_KEY); } catch { saved = null; }
  const nav = globalThis.navigator;
  current = saved && saved in LANGUAGES ? saved : pickLanguage(nav ? (nav.languages?.length ? nav.languages : [nav.language]) : []);
  return current;
}

export function getLanguage() { return current; }

/** @param {string} lang */
export function setLanguage(lang) {
  if (!(lang in LANGUAGES) || lang === current) return;
  current = lang;
  try { globalThis.localStorage?.setItem(STORAGE_KEY, lang); } catch { /* private mode: not remembered */ }
  for (const fn of listeners) fn(lang);
}

/** @param {(lang: string) => void} fn */
export function onLanguageChange(fn) { listeners.add(fn); }

/**
 * Translate `key`, filling {name} placeholders; falls back to English, then to the key itself.
 * @param {string} key
 * @param {Record<string, unknown>} [params]
 * @param {string} [lang]
 * @returns {string}
 */
export function t(key, params = {}, lang = current) {
  const text = LANGUAGES[lang]?.[key] ?? LANGUAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? paramText(params[name], name, lang) : m));
}

/**
 * A parameter as it stands in a sentence: numbers (counts, sizes) in the language's format ("78.500" samples in
 * German), except an {id}, which is a name and keeps its digits as they are.
 * @param {unknown} value @param {string} name @param {string} lang
 */
function paramText(value, name, lang) {
  return typeof value === "number" && Number.isFinite(value) && name !== "id" ? formatNumber(value, lang) : String(value);
}

/**
 * A wait in words, rounded like the server's sentences: "45 seconds", "3 minutes".
 * @param {number} seconds
 * @param {string} [lang]
 */
export function formatWait(seconds, lang = current) {
  const s = Math.max(1, Math.ceil(seconds));
  if (s === 1) return t("time.oneSecond", {}, lang);
  if (s < 90) return t("time.seconds", { n: s }, lang);
  return t("time.minutes", { n: Math.ceil(s / 60) }, lang);
}

/** @type {Map<string, Intl.NumberFormat>} */
const numberFormats = new Map();

/**
 * A number in the language's format: the one place the app formats numbers ("78.500" and "93,8" in German,
 * "78,500" and "93.8" in English). Formatters are built once per language and options.
 * @param {number} value
 * @param {string} [lang]
 * @param {Intl.NumberFormatOptions} [options]
 */
export function formatNumber(value, lang = current, options = {}) {
  const key = `${lang} ${JSON.stringify(options)}`;
  let format = numberFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(lang, options);
    numberFormats.set(key, format);
  }
  return format.format(value);
}

/**
 * A fraction as a percentage with `digits` decimals: 0.938 -> "93,8 %" (de), "93.8 %" (en); the space does not
 * break.
 * @param {number} fraction
 * @param {string} [lang]
 * @param {number} [digits]
 */
export function formatPercent(fraction, lang = current, digits = 1) {
  return `${formatNumber(100 * fraction, lang, { minimumFractionDigits: digits, maximumFractionDigits: digits })}\u00a0%`;
}

/**
 * A number with exactly `digits` decimals (a loss: "0,123" / "0.123").
 * @param {number} value
 * @param {number} digits
 * @param {string} [lang]
 */
export function formatFixed(value, digits, lang = current) {
  return formatNumber(value, lang, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * A size in bytes as "12 MB" / "1.5 MB" / "300 KB" (decimal separator of the language).
 * @param {number} bytes
 * @param {string} [lang]
 */
export function formatBytes(bytes, lang = current) {
  const mb = bytes / (1024 * 1024);
  const digits = mb >= 10 ? 0 : 1;
  if (mb >= 1) return `${formatNumber(mb, lang, { maximumFractionDigits: digits })} MB`;
  return `${formatNumber(Math.max(1, Math.round(bytes / 1024)), lang)} KB`;
}

/** @type {Map<string, [string, string][]>} */
const phrasebooks = new Map();
/**
 * The server's sentences we know ("server.*" keys: their English text is exactly what the server sends,
 * e.g. zxcvbn's password advice), longest first, with their text in `lang`.
 * @param {string} lang
 */
function phrasebook(lang) {
  let book = phrasebooks.get(lang);
  if (!book) {
    const dict = LANGUAGES[lang] || LANGUAGES.en;
    book = Object.entries(LANGUAGES.en)
      .filter(([key]) => key.startsWith("server."))
      .map(([key, english]) => /** @type {[string, string]} */ ([english, dict[key] ?? english]))
      .sort((a, b) => b[0].length - a[0].length);
    phrasebooks.set(lang, book);
  }
  return book;
}

/**
 * The server's (English) sentence with the sentences we know translated; the rest stays as it is.
 * @param {string} text
 * @param {string} [lang]
 */
export function translateServerText(text, lang = current) {
  if (lang === "en" || !text) return text;
  let out = text;
  for (const [english, translated] of phrasebook(lang)) out = out.split(english).join(translated);
  return out;
}

/**
 * The server's sentence in `lang` if every part of it is one we know, else null: a German page never shows
 * an English sentence.
 * @param {string} text
 * @param {string} lang
 */
function serverTextIn(text, lang) {
  if (lang === "en") return text;
  let rest = text;
  for (const [english] of phrasebook(lang)) rest = rest.split(english).join(" ");
  return /\p{L}/u.test(rest) ? null : translateServerText(text, lang);
}

/**
 * The seconds a rate-limited request has to wait: the Retry-After header, else the wait named in the
 * server's sentence ("Please wait 2 minutes and try again."), else null.
 * @param {ErrorLike} error
 */
function waitSeconds(error) {
  if (!error) return null;
  if (typeof error.retryAfter === "number" && Number.isFinite(error.retryAfter)) return error.retryAfter;
  const said = /wait (\d+) (second|minute)s?\b/i.exec(error.detail || "");
  if (!said) return null;
  return Number(said[1]) * (said[2].toLowerCase() === "minute" ? 60 : 1);
}

/**
 * What an error's wording may fill in: {detail} (the server's sentence), {wait}, and the error's extra
 * fields by name (sizes in *_bytes as "12 MB").
 * @param {ErrorLike} error
 * @param {string} lang
 * @returns {Record<string, string>}
 */
function errorParams(error, lang) {
  /** @type {Record<string, string>} */
  const params = {};
  if (!error) return params;
  for (const [name, value] of Object.entries(error.extra || {})) {
    if (typeof value === "number" && Number.isFinite(value)) {
      params[name] = name.endsWith("_bytes") ? formatBytes(value, lang) : formatNumber(value, lang);
    } else if (typeof value === "string" && value) {
      params[name] = value;
    }
  }
  // The server counts layers from 0, a student from 1.
  const layer = error.extra?.layer_index;
  if (typeof layer === "number") params.layer_number = formatNumber(layer + 1, lang);
  const detail = error.detail && serverTextIn(error.detail, lang);
  if (detail) params.detail = detail;
  const wait = waitSeconds(error);
  if (wait !== null) params.wait = formatWait(wait, lang);
  return params;
}

/**
 * An error as a sentence for a student: our own wording for codes we know (every code in
 * shared/schemas/error-codes.json has one), else the server's sentence in English (the server writes them for
 * students), else a general sentence by status. Other languages never show an English sentence.
 *
 * For a code, the first of these texts whose {placeholders} the error can all fill is used:
 * "error.<code>.withInfo" (the error's extra fields, {wait}), "error.<code>.withDetail" (the server's
 * sentence, where it carries specifics such as which layer), "error.<code>".
 * @param {unknown} failure  an ErrorLike, or whatever was thrown
 * @param {string} [lang]
 * @returns {string}
 */
export function errorText(failure, lang = current) {
  const error = /** @type {ErrorLike} */ (failure);
  const dict = LANGUAGES[lang] || LANGUAGES.en;
  const code = error && error.code;
  if (code) {
    const params = errorParams(error, lang);
    for (const key of [`error.${code}.withInfo`, `error.${code}.withDetail`, `error.${code}`]) {
      const text = dict[key];
      if (text && [...text.matchAll(/\{(\w+)\}/g)].every((m) => m[1] in params)) return t(key, params, lang);
    }
  }
  const said = error && error.detail && serverTextIn(error.detail, lang);
  if (said) return said;
  const status = error && error.status;
  if (status && status >= 500) return t("error.server", {}, lang);
  if (status) return t("error.generic", { status }, lang);
  return t("error.unknown", {}, lang);
}

/**
 * Anything that carries a job's outcome: a job, a training, a check, a test against other writers, a stream's
 * end message, a roster student's "stuck".
 * @typedef {{error?: string | null, error_code?: string | null, error_params?: Record<string, unknown> | null}} JobFailure
 */

/**
 * Why a job failed (or was cancelled), in `lang`: our text for its `error_code` filled with its `error_params`,
 * else the server's sentence (translated where we know it; other languages never show an English sentence);
 * "" when it says nothing.
 * @param {JobFailure | null | undefined} job
 * @param {string} [lang]
 * @returns {string}
 */
export function jobErrorText(job, lang = current) {
  if (!job || (!job.error && !job.error_code)) return "";
  return errorText({ code: job.error_code || undefined, detail: job.error || undefined, extra: job.error_params || {} }, lang);
}
