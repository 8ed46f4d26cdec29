// German and English. The language comes from the browser unless the student picked one (remembered).
import en from "./en.js";
import de from "./de.js";

export const LANGUAGES = { en, de };
const STORAGE_KEY = "digitlab.lang";
let current = "en";
const listeners = new Set();

/** First supported language in the browser's preference list, else English. Pure for tests. */
export function pickLanguage(preferred) {
  for (const tag of preferred || []) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base in LANGUAGES) return base;
  }
  return "en";
}

export function initLanguage() {
  let saved = null;
  try { saved = globalThis.localStorage?.getItem(STORAGE_KEY); } catch { saved = null; }
  const nav = globalThis.navigator;
  current = saved in LANGUAGES ? saved : pickLanguage(nav ? (nav.languages?.length ? nav.languages : [nav.language]) : []);
  return current;
}

export function getLanguage() { return current; }

export function setLanguage(lang) {
  if (!(lang in LANGUAGES) || lang === current) return;
  current = lang;
  try { globalThis.localStorage?.setItem(STORAGE_KEY, lang); } catch { /* private mode: not remembered */ }
  for (const fn of listeners) fn(lang);
}

export function onLanguageChange(fn) { listeners.add(fn); }

/** Translate `key`, filling {name} placeholders; falls back to English, then to the key itself. */
export function t(key, params = {}, lang = current) {
  const text = LANGUAGES[lang]?.[key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/**
 * An error as a sentence for a student: our own wording for codes we know, else the server's sentence
 * (the server writes them for students), else a general sentence by status.
 */
export function errorText(error, lang = current) {
  const dict = LANGUAGES[lang] || en;
  const code = error && error.code;
  if (code && dict[`error.${code}`]) {
    const own = dict[`error.${code}`];
    // Where the server's sentence carries specifics (which field, which layer), keep them.
    return error.detail && dict[`error.${code}.withDetail`] ? t(`error.${code}.withDetail`, { detail: error.detail }, lang) : own;
  }
  if (error && error.detail) return lang === "en" ? error.detail : t("error.serverSays", { detail: error.detail }, lang);
  const status = error && error.status;
  if (status >= 500) return t("error.server", {}, lang);
  if (status) return t("error.generic", { status }, lang);
  return t("error.unknown", {}, lang);
}
