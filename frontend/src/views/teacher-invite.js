// @ts-check
// An admin's invitation to become a teacher (link `#/teacher-invite/CODE`): register a new teacher's account with
// it, or, when logged in already, make this account a teacher's.
import { t } from "../i18n/index.js";
import { api, state, setLogin } from "../state.js";
import { h, errorBox, flash } from "../dom.js";
import { navigate } from "../router.js";
import { passwordHint } from "./auth.js";

/** @typedef {import("../api/types").UserCreate} UserCreate */
/** @typedef {import("../api/types").UserPublic} UserPublic */
/** @typedef {import("../api/types").SessionTokenPublic} SessionTokenPublic */

/**
 * @param {HTMLElement} main
 * @param {import("../router.js").RouteParams} params  code
 */
export function render(main, { code = "" }) {
  document.title = `${t("invite.title")} – Digit Lab`;
  const errors = h("div", { "aria-live": "polite" });
  main.append(h("h1", {}, t("invite.title")));
  if (state.token) {
    const redeem = h("button", { type: "button", id: "redeem-invite", onclick: async () => {
      errors.replaceChildren();
      redeem.disabled = true;
      try {
        /** @type {UserPublic} */
        const user = await api.post("/api/auth/teacher-invite", { code });
        setLogin(state.token, user);
        flash(t("invite.done"));
        navigate("/classes");
      } catch (err) { errors.replaceChildren(errorBox(err)); redeem.disabled = false; }
    } }, t("invite.redeem", { name: state.user?.username || "" }));
    main.append(h("section", { class: "card narrow" }, h("p", {}, t("invite.loggedIn")), redeem, errors));
    return;
  }
  const username = h("input", { id: "username", required: true, minlength: "3", maxlength: "64", autocomplete: "username" });
  const password = h("input", { id: "password", type: "password", required: true, minlength: "8", maxlength: "256",
    autocomplete: "new-password", "aria-describedby": "password-hint" });
  const submit = h("button", { type: "submit" }, t("invite.register"));
  main.append(h("form", { class: "card narrow", id: "invite-form", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    submit.disabled = true;
    try {
      /** @type {UserCreate} */
      const body = { username: username.value.trim(), password: password.value, invite_code: code };
      await api.post("/api/auth/register", body);
      /** @type {SessionTokenPublic} */
      const session = await api.post("/api/auth/login", { username: body.username, password: body.password });
      setLogin(session.access_token, session.user);
      navigate("/classes");
    } catch (err) { errors.replaceChildren(errorBox(err)); }
    finally { submit.disabled = false; }
  } },
  h("p", {}, t("invite.intro")),
  h("label", { for: "username" }, t("auth.username")), username,
  h("p", { class: "hint" }, t("invite.usernameHint")),
  h("label", { for: "password" }, t("auth.password")), password,
  passwordHint("password-hint"),
  errors, submit,
  h("p", {}, t("invite.haveAccount"), " ", h("a", { href: "#/login" }, t("auth.login")))));
  username.focus();
}
