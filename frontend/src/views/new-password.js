// @ts-check
// The first login with a login card (or after the teacher reset the password): the password on the card was for
// one use only, so the student chooses their own before anything else (the server refuses everything else with
// 403 `password_change_required` until then).
import { t } from "../i18n/index.js";
import { api, state, setLogin } from "../state.js";
import { h, errorBox, flash } from "../dom.js";
import { navigate } from "../router.js";
import { passwordHint } from "./auth.js";

/** @typedef {import("../api/types").PasswordChange} PasswordChange */
/** @typedef {import("../api/types").UserPublic} UserPublic */

/** @param {HTMLElement} main */
export function render(main) {
  if (!state.user?.password_change_required) { navigate("/"); return; }
  document.title = `${t("newPassword.title")} – Digit Lab`;
  const errors = h("div", { "aria-live": "polite" });
  const card = h("input", { id: "card-password", type: "password", required: true, autocomplete: "current-password", maxlength: "256" });
  const fresh = h("input", { id: "new-password", type: "password", required: true, minlength: "8", maxlength: "256",
    autocomplete: "new-password", "aria-describedby": "new-password-hint" });
  const repeat = h("input", { id: "repeat-password", type: "password", required: true, maxlength: "256", autocomplete: "new-password" });
  const submit = h("button", { type: "submit" }, t("newPassword.submit"));
  const form = h("form", { class: "card narrow", id: "new-password-form", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    if (fresh.value !== repeat.value) { errors.replaceChildren(errorBox({ code: "password_mismatch" })); repeat.focus(); return; }
    submit.disabled = true;
    try {
      /** @type {PasswordChange} */
      const body = { current_password: card.value, new_password: fresh.value };
      await api.post("/api/auth/password", body);
      /** @type {UserPublic} */
      const user = await api.get("/api/auth/me");
      setLogin(state.token, user);
      flash(t("newPassword.done"));
      navigate("/");
    } catch (err) {
      errors.replaceChildren(errorBox(err));
      const code = /** @type {{code?: string}} */ (err).code;
      if (code === "wrong_password") card.focus();
      else fresh.focus();
    } finally {
      submit.disabled = false;
    }
  } },
  h("h1", {}, t("newPassword.title")),
  h("p", {}, t("newPassword.intro", { name: state.user.username })),
  h("input", { type: "text", name: "username", autocomplete: "username", value: state.user.username, hidden: true }),
  h("label", { for: "card-password" }, t("newPassword.card")), card,
  h("label", { for: "new-password" }, t("account.newPassword")), fresh,
  passwordHint("new-password-hint"),
  h("label", { for: "repeat-password" }, t("account.repeatPassword")), repeat,
  errors, submit);
  main.append(form);
  card.focus();
}
