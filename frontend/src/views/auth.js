// Register and log in: one form, two modes.
import { t } from "../i18n/index.js";
import { api, setLogin } from "../state.js";
import { h, errorBox } from "../dom.js";
import { navigate } from "../router.js";

export function render(main, { mode }) {
  const register = mode === "register";
  const errors = h("div", { "aria-live": "polite" });
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true, minlength: "3", maxlength: "64" });
  const password = h("input", { id: "password", name: "password", type: "password", required: true,
    autocomplete: register ? "new-password" : "current-password" });
  const submit = h("button", { type: "submit" }, register ? t("auth.register") : t("auth.login"));
  const form = h("form", { class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    submit.disabled = true;
    try {
      const creds = { username: username.value.trim(), password: password.value };
      if (register) await api.post("/api/auth/register", creds);
      const session = await api.post("/api/auth/login", creds);
      setLogin(session.access_token, session.user);
      navigate("/projects");
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
  errors, submit,
  h("p", {}, register ? t("auth.haveAccount") : t("auth.noAccount"), " ",
    h("a", { href: register ? "#/login" : "#/register" }, register ? t("auth.login") : t("auth.register"))));
  main.append(form);
  username.focus();
}
