// Entry point: header (language, server, login), hash routing to one view module per screen.
import { t, initLanguage, setLanguage, getLanguage, onLanguageChange } from "./i18n/index.js";
import { state, api, setLogin, setApiBase, onUnauthorized, releaseImages } from "./state.js";
import { matchRoute, navigate, currentPath } from "./router.js";
import { h, clear, flash, modal } from "./dom.js";
import * as authView from "./views/auth.js";
import * as projectsView from "./views/projects.js";
import * as projectView from "./views/project.js";

const routes = [
  { path: "/login", view: authView, mode: "login", public: true },
  { path: "/register", view: authView, mode: "register", public: true },
  { path: "/projects", view: projectsView },
  { path: "/projects/:pid", view: projectView },
  { path: "/projects/:pid/:tab", view: projectView },
  { path: "/projects/:pid/:tab/:sub", view: projectView },
];

let cleanup = null;
let renderGeneration = 0;

async function render() {
  if (cleanup) { try { cleanup(); } catch { /* a view's cleanup must not block the next view */ } }
  cleanup = null;
  releaseImages();
  const path = currentPath();
  const match = matchRoute(routes, path);
  if (!match) { navigate(state.token ? "/projects" : "/login"); return; }
  if (!match.route.public && !state.token) { navigate("/login"); return; }
  if (match.route.public && state.token) { navigate("/projects"); return; }
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
  if (generation === renderGeneration) cleanup = done;
  else if (done) done(); // already replaced by a newer screen
}

function renderHeader() {
  document.documentElement.lang = getLanguage();
  document.querySelector(".skip").textContent = t("skipToContent");
  document.getElementById("lang-label").textContent = t("language");
  document.getElementById("lang").value = getLanguage();
  const serverBtn = document.getElementById("server-btn");
  serverBtn.textContent = t("server.button");
  serverBtn.title = state.apiBase || t("server.sameOrigin");
  document.getElementById("who").textContent = state.user ? t("loggedInAs", { name: state.user.username }) : "";
  const logout = document.getElementById("logout");
  logout.hidden = !state.token;
  logout.textContent = t("logout");
}

function serverDialog() {
  const input = h("input", { id: "api-base", type: "url", value: state.apiBase, placeholder: "https://digitlab.example.org" });
  const dialog = modal(t("server.title"),
    h("p", {}, t("server.explain")),
    h("label", { for: "api-base" }, t("server.label")), input,
    h("div", { class: "row" },
      h("button", { type: "button", onclick: () => {
        setApiBase(input.value);
        setLogin(null, null); // a login belongs to one server
        dialog.close();
        navigate("/login");
      } }, t("save"))));
}

document.getElementById("lang").addEventListener("change", (e) => setLanguage(e.target.value));
document.getElementById("server-btn").addEventListener("click", serverDialog);
document.getElementById("logout").addEventListener("click", async () => {
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
window.addEventListener("hashchange", render);

initLanguage();
render();
