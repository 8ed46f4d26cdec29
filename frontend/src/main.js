// @ts-check
// Entry point: header (language, login), hash routing to one view module per screen.
import { t, initLanguage, setLanguage, getLanguage, onLanguageChange } from "./i18n/index.js";
import { state, api, setLogin, onUnauthorized, releaseImages } from "./state.js";
import { matchRoute, navigate, currentPath } from "./router.js";
import { clear, flash } from "./dom.js";
import * as authView from "./views/auth.js";
import * as projectsView from "./views/projects.js";
import * as projectView from "./views/project.js";
import * as accountView from "./views/account.js";
import * as classesView from "./views/classes.js";
import * as classView from "./views/class.js";
import * as studentView from "./views/class-student.js";
import * as joinView from "./views/join.js";
import * as newPasswordView from "./views/new-password.js";
import * as adminView from "./views/admin.js";
import * as teacherInviteView from "./views/teacher-invite.js";
import * as ltiView from "./views/lti.js";

/** An element of index.html (always there). */
const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const languagePicker = /** @type {HTMLSelectElement} */ (byId("lang"));

/**
 * A screen: fills its container; may return a function that stops whatever it started (timers, sockets).
 * @typedef {(container: HTMLElement, params: import("./router.js").RouteParams) =>
 *           Promise<(() => void) | null | void> | (() => void) | null | void} Render
 */
/**
 * public: only while logged out; open: logged in or not (a join link works for both).
 * @type {{path: string, view: {render: Render}, mode?: string, public?: boolean, open?: boolean}[]}
 */
const routes = [
  { path: "/login", view: authView, mode: "login", public: true },
  { path: "/register", view: authView, mode: "register", public: true },
  { path: "/projects", view: projectsView },
  { path: "/projects/:pid", view: projectView },
  { path: "/projects/:pid/:tab", view: projectView },
  { path: "/projects/:pid/:tab/:sub", view: projectView },
  { path: "/account", view: accountView },
  { path: "/new-password", view: newPasswordView },
  { path: "/join", view: joinView, open: true },
  { path: "/join/:code", view: joinView, open: true },
  { path: "/teacher-invite/:code", view: teacherInviteView, open: true },
  { path: "/lti/:code", view: ltiView, open: true },  // a learning platform's launch (one-time code)
  { path: "/lti/deep-link/:id", view: { render: ltiView.renderDeepLink } },
  { path: "/admin", view: adminView },
  { path: "/classes", view: classesView },
  { path: "/classes/:cid", view: classView },
  { path: "/classes/:cid/:tab", view: classView },
  { path: "/classes/:cid/students/:uid", view: studentView },
  // A student's project as their teacher sees it: read-only (the same screens without anything that changes).
  { path: "/classes/:cid/students/:uid/projects/:pid", view: projectView, mode: "teacher" },
  { path: "/classes/:cid/students/:uid/projects/:pid/:tab", view: projectView, mode: "teacher" },
  { path: "/classes/:cid/students/:uid/projects/:pid/:tab/:sub", view: projectView, mode: "teacher" },
];

/**
 * Where a logged-in user starts: teachers with their classes; students with their projects, and so does an admin
 * (often the first account of an instance at home, whose own projects matter first; the header leads to classes).
 */
function home() {
  return state.user?.role === "teacher" ? "/classes" : "/projects";
}

/** @type {(() => void) | null} */
let cleanup = null;
let renderGeneration = 0;

/** @param {boolean} [moveFocus]  after a navigation (not on the first load or a change of language) */
async function render(moveFocus = false) {
  if (cleanup) { try { cleanup(); } catch { /* a view's cleanup must not block the next view */ } }
  cleanup = null;
  releaseImages();
  const path = currentPath();
  const match = matchRoute(routes, path);
  if (!match) { navigate(state.token ? home() : "/login"); return; }
  if (!match.route.public && !match.route.open && !state.token) { navigate("/login"); return; }
  if (match.route.public && state.token) { navigate(home()); return; }
  // A one-time password (login card, reset) must be replaced before anything else works.
  if (state.token && state.user?.password_change_required && path !== "/new-password" && !match.route.open) {
    navigate("/new-password");
    return;
  }
  renderHeader();
  // Each render gets its own container: a slower earlier render that finishes late fills a detached
  // element instead of mixing two screens.
  const generation = ++renderGeneration;
  const main = document.getElementById("main");
  const container = document.createElement("div");
  clear(main, container);
  clear(document.getElementById("crumbs"));
  document.title = "Digit Lab";
  const done = (await match.route.view.render(container, { ...match.params, mode: match.route.mode })) || null;
  if (generation === renderGeneration) {
    cleanup = done;
    if (moveFocus) focusHeading(container);
  } else if (done) done(); // already replaced by a newer screen
}

/**
 * After a navigation, focus goes to the new screen's heading, so a screen reader announces where the student is
 * and the next Tab starts there (not in the old screen's place, nor at the top of the page).
 * @param {HTMLElement} container
 */
function focusHeading(container) {
  const heading = /** @type {HTMLElement | null} */ (container.querySelector("h1") || container.querySelector("h2"));
  if (!heading || heading.contains(document.activeElement)) return;
  if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
  heading.focus({ preventScroll: true });
}

function renderHeader() {
  document.documentElement.lang = getLanguage();
  /** @type {HTMLElement} */ (document.querySelector(".skip")).textContent = t("skipToContent");
  byId("lang-label").textContent = t("language");
  languagePicker.value = getLanguage();
  byId("who").textContent = state.user ? t("loggedInAs", { name: state.user.username }) : "";
  const role = state.user?.role;
  const ready = Boolean(state.token) && !state.user?.password_change_required;
  headerLink("account", ready, t("account.link"), "/account");
  headerLink("classes-link", ready, role === "student" ? t("classes.myLink") : t("classes.link"), "/classes");
  headerLink("admin-link", ready && role === "admin", t("admin.link"), "/admin");
  const logout = byId("logout");
  logout.hidden = !state.token;
  logout.textContent = t("logout");
}

/**
 * A link of the header: shown or not, its text, marked while its screen (or one below it) is open.
 * @param {string} id @param {boolean} shown @param {string} text @param {string} path
 */
function headerLink(id, shown, text, path) {
  const link = byId(id);
  link.hidden = !shown;
  link.textContent = text;
  const here = currentPath();
  if (here === path || here.startsWith(`${path}/`)) link.setAttribute("aria-current", "page");
  else link.removeAttribute("aria-current");
}

/** The saved login's account may be old (a role given since, a password changed elsewhere): ask once. */
async function refreshUser() {
  if (!state.token) return;
  try {
    /** @type {import("./api/types").UserPublic} */
    const user = await api.get("/api/auth/me");
    if (state.token) setLogin(state.token, user);
  } catch { /* a 401 logs out through onUnauthorized; otherwise the saved account will do */ }
}

languagePicker.addEventListener("change", () => setLanguage(languagePicker.value));
byId("logout").addEventListener("click", async () => {
  try { await api.post("/api/auth/logout"); } catch { /* the token may already be gone: log out locally anyway */ }
  setLogin(null, null);
  navigate("/login");
});
onUnauthorized(() => {
  if (!state.token) return;
  setLogin(null, null);
  flash(t("sessionExpired"), "error");
  navigate("/login");
});
onLanguageChange(() => render());
window.addEventListener("hashchange", () => render(true));

initLanguage();
refreshUser().then(() => render());
