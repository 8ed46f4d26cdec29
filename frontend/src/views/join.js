// @ts-check
// Joining a class with the teacher's code (typed, or from the link / QR code `#/join/ABCD-EFGH`). New students
// pick a nickname and a password (no e-mail, no real name); someone with an account logs in here, or joins at
// once when already logged in.
import { t, getLanguage } from "../i18n/index.js";
import { api, state, setLogin } from "../state.js";
import { h, clear, errorBox, flash } from "../dom.js";
import { navigate } from "../router.js";
import { passwordHint } from "./auth.js";
import { tidyCode } from "../classroom.js";
import { formatDateTime } from "../time.js";

/** @typedef {import("../api/types").JoinCodeInfo} JoinCodeInfo */
/** @typedef {import("../api/types").JoinedSession} JoinedSession */
/** @typedef {import("../api/types").ClassPublic} ClassPublic */
/** @typedef {import("../api/types").SessionTokenPublic} SessionTokenPublic */

/**
 * @param {HTMLElement} main
 * @param {import("../router.js").RouteParams} params  code (from the link), if any
 */
export async function render(main, { code: linked }) {
  document.title = `${t("join.title")} – Digit Lab`;
  const codeInput = h("input", { id: "join-code", required: true, maxlength: "64", autocomplete: "off",
    autocapitalize: "characters", spellcheck: "false", class: "code-input", value: linked ? tidyCode(linked) : "",
    "aria-describedby": "join-code-hint" });
  const found = h("div", { class: "join-class", "aria-live": "polite" });
  const choices = h("div", { class: "join-choices" });
  const check = h("button", { type: "submit", class: "ghost" }, t("join.check"));
  main.append(h("h1", {}, t("join.title")),
    h("form", { class: "card narrow", onsubmit: (e) => { e.preventDefault(); lookUp(); } },
      h("label", { for: "join-code" }, t("join.code")), codeInput,
      h("p", { class: "hint", id: "join-code-hint" }, t("join.codeHint")), check, found),
    choices);

  async function lookUp() {
    clear(choices);
    const code = tidyCode(codeInput.value);
    if (!code) return;
    check.disabled = true;
    try {
      /** @type {JoinCodeInfo} */
      const info = await api.post("/api/join/lookup", { code });
      clear(found, h("p", { class: "ok", id: "join-class-name" }, t("join.found", { name: info.class_name })),
        h("p", { class: "hint" }, t("join.expires", { date: formatDateTime(info.expires_at, getLanguage()) })));
      clear(choices, state.token ? joinAsMe(code, info) : [newAccount(code, info), existingAccount(code)]);
    } catch (err) {
      clear(found, errorBox(err));
    } finally {
      check.disabled = false;
    }
  }

  if (linked) await lookUp();
  else codeInput.focus();
}

/** @param {ClassPublic} joined */
function arrive(joined) {
  flash(t("join.welcome", { name: joined.name }));
  navigate(`/classes/${joined.id}`);
}

/** Logged in already: one button. @param {string} code @param {JoinCodeInfo} info */
function joinAsMe(code, info) {
  const errors = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "button", id: "join-as-me", onclick: async () => {
    button.disabled = true;
    errors.replaceChildren();
    try { arrive(await api.post("/api/classes/join", { code })); }
    catch (err) { errors.replaceChildren(errorBox(err)); button.disabled = false; }
  } }, t("join.asMe", { name: info.class_name }));
  return h("section", { class: "card narrow" },
    h("p", {}, t("join.loggedInAs", { name: state.user?.username || "" })), button, errors,
    h("p", { class: "hint" }, t("join.projectsStay")));
}

/** A new student: nickname and password. @param {string} code @param {JoinCodeInfo} info */
function newAccount(code, info) {
  const errors = h("div", { "aria-live": "polite" });
  const nickname = h("input", { id: "join-nickname", required: true, minlength: "3", maxlength: "64", autocomplete: "username",
    pattern: "[A-Za-z0-9._\\-]{3,64}", "aria-describedby": "join-nickname-hint" });
  const password = h("input", { id: "join-password", type: "password", required: true, minlength: "8", maxlength: "256",
    autocomplete: "new-password", "aria-describedby": "join-password-hint" });
  const submit = h("button", { type: "submit", id: "join-new" }, t("join.create", { name: info.class_name }));
  return h("form", { class: "card", id: "join-new-form", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    submit.disabled = true;
    try {
      /** @type {JoinedSession} */
      const joined = await api.post("/api/join", { code, username: nickname.value.trim(), password: password.value });
      setLogin(joined.access_token, joined.user);
      arrive(joined.joined_class);
    } catch (err) {
      errors.replaceChildren(errorBox(err));
      const failed = /** @type {{code?: string}} */ (err).code;
      if (failed === "username_taken") nickname.focus();
      else if (failed === "weak_password" || failed === "password_too_short") password.focus();
    } finally {
      submit.disabled = false;
    }
  } },
  h("h2", {}, t("join.newTitle")),
  h("label", { for: "join-nickname" }, t("join.nickname")), nickname,
  h("p", { class: "hint", id: "join-nickname-hint" }, t("join.nicknameHint")),
  h("label", { for: "join-password" }, t("auth.password")), password,
  passwordHint("join-password-hint"),
  errors, submit);
}

/** Someone with an account: log in here, then join. @param {string} code */
function existingAccount(code) {
  const errors = h("div", { "aria-live": "polite" });
  const username = h("input", { id: "join-login-name", required: true, maxlength: "64", autocomplete: "username" });
  const password = h("input", { id: "join-login-password", type: "password", required: true, maxlength: "256", autocomplete: "current-password" });
  const submit = h("button", { type: "submit", class: "ghost" }, t("join.loginAndJoin"));
  return h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    submit.disabled = true;
    try {
      /** @type {SessionTokenPublic} */
      const session = await api.post("/api/auth/login", { username: username.value.trim(), password: password.value });
      setLogin(session.access_token, session.user);
      if (session.password_change_required) { navigate("/new-password"); return; }
      arrive(await api.post("/api/classes/join", { code }));
    } catch (err) {
      errors.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  } },
  h("h2", {}, t("join.haveAccount")),
  h("label", { for: "join-login-name" }, t("auth.username")), username,
  h("label", { for: "join-login-password" }, t("auth.password")), password,
  errors, submit);
}
