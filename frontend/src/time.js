// @ts-check
// Dates and times in words, in the page's language (Intl): "12 Mar 2026, 10:04", "3 minutes ago". Pure: the
// language and the present moment are parameters, so the tests need no browser and no clock.

/**
 * @param {string} iso
 * @param {string} lang
 * @param {Intl.DateTimeFormatOptions} [options]
 */
export function formatDateTime(iso, lang, options = { dateStyle: "medium", timeStyle: "short" }) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(lang, options).format(date);
}

/** @param {string} iso @param {string} lang  the day only: "12 Mar 2026" */
export function formatDate(iso, lang) {
  return formatDateTime(iso, lang, { dateStyle: "medium" });
}

/**
 * How long ago, in words: "2 minutes ago", "yesterday", "vor 3 Stunden".
 * @param {number} ms  how long ago (not negative)
 * @param {string} lang
 */
export function relativeTime(ms, lang) {
  const format = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  const seconds = Math.round(Math.max(0, ms) / 1000);
  if (seconds < 60) return format.format(-seconds, "second");
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return format.format(-minutes, "minute");
  const hours = Math.round(minutes / 60);
  if (hours < 48) return format.format(-hours, "hour");
  return format.format(-Math.round(hours / 24), "day");
}

/**
 * Days from `now` until `iso`, rounded (0 within half a day, negative once it has passed).
 * @param {string} iso
 * @param {number} [now]  ms since the epoch
 */
export function daysUntil(iso, now = Date.now()) {
  return Math.round((Date.parse(iso) - now) / 86400000);
}
