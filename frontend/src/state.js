// App-wide state: the API base URL, the login (kept in localStorage so a reload stays logged in).
import { ApiClient, normalizeBase } from "./api/client.js";

const TOKEN_KEY = "digitlab.token";
const USER_KEY = "digitlab.user";
const BASE_KEY = "digitlab.apiBase";

function load(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}
function save(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch { /* storage blocked (e.g. some iframes): the login lasts for this page only */ }
}

/** The API base: ?api= in the page URL (remembered), a saved setting, the page's <meta>, or same origin. */
function initialBase() {
  const fromQuery = new URLSearchParams(location.search).get("api");
  if (fromQuery !== null) save(BASE_KEY, normalizeBase(fromQuery));
  const saved = load(BASE_KEY);
  if (saved !== null) return saved;
  return normalizeBase(document.querySelector('meta[name="digitlab-api-base"]')?.content || "");
}

export const state = {
  token: load(TOKEN_KEY),
  user: JSON.parse(load(USER_KEY) || "null"),
  apiBase: initialBase(),
};

const unauthorizedHandlers = new Set();
export function onUnauthorized(fn) { unauthorizedHandlers.add(fn); }

export const api = new ApiClient({
  base: state.apiBase,
  getToken: () => state.token,
  onUnauthorized: (e) => { for (const fn of unauthorizedHandlers) fn(e); },
});

export function setLogin(token, user) {
  state.token = token;
  state.user = user;
  save(TOKEN_KEY, token);
  save(USER_KEY, user ? JSON.stringify(user) : null);
}

export function setApiBase(base) {
  state.apiBase = normalizeBase(base);
  api.base = state.apiBase;
  save(BASE_KEY, state.apiBase);
}

/** Object URLs for images fetched with the bearer token (an <img src> cannot send it). */
const objectUrls = new Set();
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
