// @ts-check
// App-wide state: the API client and the login (kept in localStorage so a reload stays logged in).
//
// Where the API lives is a deployment setting, never something a page address or a screen can change:
// the <meta name="digitlab-api-base"> of index.html, which is served by the same origin as the app (empty
// means this origin). A login remembers the origin that issued it and is only ever sent there.
import { ApiClient } from "./api/client.js";

const LOGIN_KEY = "digitlab.login";
// A login from a learning platform's launch (views/lti.js) lasts for its tab only: sessionStorage, which the
// browser partitions per embedding site when the app runs in the platform's iframe.
const TAB_LOGIN_KEY = "digitlab.login.tab";
// Keys of earlier versions: a saved API base may have come from a link (?api=...), so it is never read.
const RETIRED_KEYS = ["digitlab.apiBase", "digitlab.token", "digitlab.user"];

/** @typedef {import("./api/types").UserPublic} UserPublic */

/** @param {string} key */
function load(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}
/** @param {string} key @param {string | null | undefined} value  null or undefined removes it */
function save(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch { /* storage blocked (e.g. some iframes): the login lasts for this page only */ }
}

for (const key of RETIRED_KEYS) save(key, null);

export const api = new ApiClient({
  base: document.querySelector('meta[name="digitlab-api-base"]')?.getAttribute("content") || "",
  pageOrigin: location.origin,
  getToken: () => state.token,
  onUnauthorized: (e) => { for (const fn of unauthorizedHandlers) fn(e); },
});

/** @param {string} key */
function loadTab(key) {
  try { return sessionStorage.getItem(key); } catch { return null; }
}
/** @param {string} key @param {string | null} value */
function saveTab(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch { /* storage blocked: the login lasts for this page only */ }
}

/** The saved login (this tab's first), if it was issued by the API origin this page talks to. */
function savedLogin() {
  try {
    const login = JSON.parse(loadTab(TAB_LOGIN_KEY) || load(LOGIN_KEY) || "null");
    if (login && login.origin === api.origin && typeof login.token === "string") return login;
  } catch { /* unreadable: start logged out */ }
  save(LOGIN_KEY, null);
  return null;
}

const initial = savedLogin();
export const state = {
  /** @type {string|null} */ token: initial ? initial.token : null,
  /** @type {UserPublic|null} */ user: initial ? initial.user : null,
};

/** @type {Set<(error: import("./api/client.js").ApiError) => void>} */
const unauthorizedHandlers = new Set();
/** @param {(error: import("./api/client.js").ApiError) => void} fn  called when the API answers 401 */
export function onUnauthorized(fn) { unauthorizedHandlers.add(fn); }

/**
 * @param {string | null} token @param {UserPublic | null} user  (null, null) logs out
 * @param {{tabOnly?: boolean}} [options]  tabOnly: keep it in this tab only (a learning platform's launch)
 */
export function setLogin(token, user, { tabOnly = false } = {}) {
  state.token = token;
  state.user = user;
  const login = token ? JSON.stringify({ origin: api.origin, token, user }) : null;
  const inTab = tabOnly || loadTab(TAB_LOGIN_KEY) !== null;
  saveTab(TAB_LOGIN_KEY, inTab ? login : null);
  if (!inTab || !token) save(LOGIN_KEY, login);
}

/** Object URLs for images fetched with the bearer token (an <img src> cannot send it). */
const objectUrls = new Set();
/** @param {string} path  an API path of an image */
export async function authImageUrl(path) {
  const url = URL.createObjectURL(await api.blob(path));
  objectUrls.add(url);
  return url;
}
/** Free the previous screen's images. */
export function releaseImages() {
  for (const url of objectUrls) URL.revokeObjectURL(url);
  objectUrls.clear();
}
