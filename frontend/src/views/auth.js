// @ts-check
// Register and log in: one form, two modes.
import { t } from "../i18n/index.js";
import { api, setLogin } from "../state.js";
import { h, errorBox } from "../dom.js";
import { navigate } from "../router.js";

/** @typedef {import("../api/types").SessionTokenPublic} SessionTokenPublic */

/**
 * @param {HTMLElement} main
 * @param {import("../router.js").RouteParams} params  mode "login" or "register"
 */
export function render(main, { mode }) {
  const register = mode === "register";
  const errors = h("div", { "aria-live": "polite" });
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true, minlength: "3", maxlength: "64" });
  const password = h("input", { id: "password", name: "password", type: "password", required: true, maxlength: "256",
    autocomplete: register ? "new-password" : "current-password",
    // The server needs 8 characters for a new password (and refuses easy ones, saying why).
    minlength: register ? "8" : null, "aria-describedby": register ? "password-hint" : null });
  const submit = h("button", { type: "submit" }, register ? t("auth.register") : t("auth.login"));
  const form = h("form", { class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    submit.disabled = true;
    try {
      const creds = { username: username.value.trim(), password: password.value };
      if (register) await api.post("/api/auth/register", creds);
      /** @type {SessionTokenPublic} */
      const session = await api.post("/api/auth/login", creds);
      setLogin(session.access_token, session.user);
      // A login card's one-time password is replaced first; then main.js picks the start page by role.
      navigate(session.password_change_required ? "/new-password" : "/");
    } catch (err) {
      errors.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  } },
  h("h1", {}, register ? t("auth.registerTitle") : t("auth.loginTitle")),
  h("p", { class: "muted" }, t("auth.intro")),
  h("label", { for: "username" }, t("auth.username")), username,
  register ? h("p", { class: "hint" }, t("auth.usernameHint")) : null,
  h("label", { for: "password" }, t("auth.password")), password,
  register ? passwordHint("password-hint") : null,
  errors, submit,
  h("p", {}, register ? t("auth.haveAccount") : t("auth.noAccount"), " ",
    h("a", { href: register ? "#/login" : "#/register" }, register ? t("auth.login") : t("auth.register"))));
  main.append(form);
  username.focus();
}

/** @type {Promise<import("../api/types").PasswordRulePublic | null> | null} */
let passwordRule = null;

/**
 * What a new password needs, said before the first try: the server's own rule (GET /api/auth/password-rule,
 * asked once), the usual 8 characters until it has answered.
 * @param {string} id  for the field's aria-describedby
 */
export function passwordHint(id) {
  const hint = h("p", { class: "hint", id }, t("auth.passwordHint", { min: 8 }));
  passwordRule ??= api.get("/api/auth/password-rule").catch(() => { passwordRule = null; return null; });
  passwordRule.then((rule) => { if (rule) hint.textContent = t("auth.passwordHint", { min: rule.min_length }); });
  return hint;
}
