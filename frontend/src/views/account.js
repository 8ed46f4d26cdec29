// @ts-check
// The student's account: change the password, see where they are logged in, and log out there.
// Sessions are listed without any device details (the server keeps none): when each login started, when it
// was last used and when it ends by itself; the one this page uses is marked.
import { t, getLanguage } from "../i18n/index.js";
import { api, state, setLogin } from "../state.js";
import { h, clear, errorBox, flash, saveBlob, modal } from "../dom.js";
import { navigate } from "../router.js";
import { passwordHint } from "./auth.js";
import { formatDateTime as formatIn, relativeTime as relativeIn } from "../time.js";
import { tokensCard } from "./api-tokens.js";

/** @typedef {import("../api/types").SessionPublic} SessionPublic */
/** @typedef {import("../api/types").SessionsEnded} SessionsEnded */
/** @typedef {import("../api/types").PasswordChange} PasswordChange */

/** The server updates last_used_at at most every few minutes, so anything closer is "just now". */
const LAST_USED_GRANULARITY_MS = 5 * 60 * 1000;

/** @param {HTMLElement} main */
export async function render(main) {
  document.title = `${t("account.title")} – Digit Lab`;
  clear(document.getElementById("crumbs"), h("a", { href: "#/projects" }, t("projects.title")), " › ",
    h("span", {}, t("account.title")));
  const sessions = sessionsCard();
  const tokens = tokensCard();
  main.append(h("h1", {}, t("account.title")),
    h("div", { class: "account-grid" }, passwordForm(() => sessions.refresh()), sessions.el, tokens.el, privacyCard()));
  await Promise.all([sessions.refresh(), tokens.refresh()]);
}

/** @param {string} id @param {string} autocomplete @param {string | null} [describedBy] */
function passwordInput(id, autocomplete, describedBy = null) {
  return h("input", { id, name: id, type: "password", required: true, autocomplete, maxlength: "256",
    "aria-describedby": describedBy });
}

/** @param {() => Promise<void>} afterChange  refreshes the session list (the change ends the other logins) */
function passwordForm(afterChange) {
  const errors = h("div", { "aria-live": "polite" });
  const current = passwordInput("current-password", "current-password");
  const fresh = passwordInput("new-password", "new-password", "new-password-hint");
  fresh.minLength = 8;
  const repeat = passwordInput("repeat-password", "new-password");
  const show = h("input", { type: "checkbox", id: "show-passwords", onchange: () => {
    for (const input of [current, fresh, repeat]) input.type = show.checked ? "text" : "password";
  } });
  const submit = h("button", { type: "submit" }, t("account.changePassword"));
  const form = h("form", { class: "card", id: "password-form", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    if (fresh.value !== repeat.value) {
      errors.replaceChildren(errorBox({ code: "password_mismatch" }));
      repeat.focus();
      return;
    }
    submit.disabled = true;
    try {
      /** @type {PasswordChange} */
      const body = { current_password: current.value, new_password: fresh.value };
      await api.post("/api/auth/password", body);
      form.reset();
      for (const input of [current, fresh, repeat]) input.type = "password";
      flash(t("account.passwordChanged"));
      await afterChange();
    } catch (err) {
      errors.replaceChildren(errorBox(err));
      const code = /** @type {{code?: string}} */ (err).code;
      if (code === "wrong_password") current.focus();
      else if (code === "weak_password" || code === "password_too_short") fresh.focus();
    } finally {
      submit.disabled = false;
    }
  } },
  h("h2", {}, t("account.passwordTitle")),
  h("p", { class: "hint" }, t("account.passwordIntro")),
  // For password managers: which account this password belongs to.
  h("input", { type: "text", name: "username", autocomplete: "username", value: state.user?.username || "", hidden: true }),
  h("label", { for: "current-password" }, t("account.currentPassword")), current,
  h("label", { for: "new-password" }, t("account.newPassword")), fresh,
  passwordHint("new-password-hint"),
  h("label", { for: "repeat-password" }, t("account.repeatPassword")), repeat,
  h("p", {}, h("label", { class: "check" }, show, t("account.showPasswords"))),
  errors, h("div", {}, submit));
  return form;
}

function sessionsCard() {
  const list = h("ul", { class: "session-list", "aria-live": "polite" }, h("li", { class: "muted" }, t("loading")));
  const errors = h("div");
  const endOthers = h("button", { type: "button", id: "end-others", class: "danger", disabled: true, onclick: async () => {
    errors.replaceChildren();
    endOthers.disabled = true;
    try {
      /** @type {SessionsEnded} */
      const result = await api.post("/api/auth/sessions/end-others");
      flash(result.ended === 0 ? t("account.endedNone")
        : t(result.ended === 1 ? "account.endedOthersOne" : "account.endedOthers", { n: result.ended }));
    } catch (err) {
      errors.replaceChildren(errorBox(err));
    }
    await refresh();
  } }, t("account.endOthers"));
  const el = h("section", { class: "card", id: "sessions", "aria-labelledby": "sessions-title" },
    h("h2", { id: "sessions-title" }, t("account.sessionsTitle")),
    h("p", { class: "hint" }, t("account.sessionsIntro")),
    list, errors, endOthers);

  async function refresh() {
    /** @type {SessionPublic[]} */
    let sessions;
    try {
      sessions = await api.get("/api/auth/sessions");
    } catch (err) {
      clear(list, h("li", {}, errorBox(err)));
      endOthers.disabled = true;
      return;
    }
    // The current login first, then the others, newest first.
    sessions.sort((a, b) => Number(b.current) - Number(a.current) || b.created_at.localeCompare(a.created_at));
    clear(list, sessions.map((s) => sessionItem(s, errors, refresh)));
    endOthers.disabled = !sessions.some((s) => !s.current);
  }
  return { el, refresh };
}

/**
 * @param {SessionPublic} session
 * @param {HTMLElement} errors  where a failure is shown
 * @param {() => Promise<void>} refresh
 */
function sessionItem(session, errors, refresh) {
  const started = formatDateTime(session.created_at);
  const endThere = h("button", { type: "button", class: "ghost danger",
    "aria-label": t("account.endOneNamed", { time: started }), onclick: async () => {
      errors.replaceChildren();
      endThere.disabled = true;
      try {
        await api.delete(`/api/auth/sessions/${session.id}`);
        flash(t("account.endedOne"));
      } catch (err) {
        errors.replaceChildren(errorBox(err));
      }
      await refresh();
    } }, t("account.endOne"));
  return h("li", { class: session.current ? "session current" : "session", dataset: { sessionId: String(session.id) } },
    h("div", { class: "session-head" },
      h("strong", {}, session.current ? t("account.thisLogin") : t("account.otherLogin")),
      session.current ? h("span", { class: "badge running" }, t("account.thisOne")) : null),
    h("dl", { class: "session-times" },
      h("dt", {}, t("account.started")), h("dd", {}, timeEl(session.created_at, started)),
      h("dt", {}, t("account.lastUsed")), h("dd", {}, lastUsed(session.last_used_at)),
      h("dt", {}, t("account.ends")), h("dd", {}, timeEl(session.expires_at, formatDateTime(session.expires_at)))),
    session.current ? null : endThere);
}

/** @param {string} iso @param {string} text */
function timeEl(iso, text) {
  return h("time", { datetime: iso }, text);
}

/** @param {string | null} iso */
function lastUsed(iso) {
  if (!iso) return t("account.notUsedYet");
  const ago = Date.now() - Date.parse(iso);
  const text = ago < LAST_USED_GRANULARITY_MS ? t("account.justNow") : relativeTime(ago);
  return h("time", { datetime: iso, title: formatDateTime(iso) }, text);
}

/** @param {string} iso */
function formatDateTime(iso) {
  return formatIn(iso, getLanguage());
}

/** @param {number} ms  how long ago */
function relativeTime(ms) {
  return relativeIn(ms, getLanguage());
}

/**
 * The student's own data (GDPR articles 15, 17, 20): everything as one zip, and deleting the account with all of
 * it (asks for the password: nothing brings it back).
 */
function privacyCard() {
  const errors = h("div", { "aria-live": "polite" });
  const download = h("button", { type: "button", id: "export-my-data", class: "ghost", onclick: async () => {
    errors.replaceChildren();
    download.disabled = true;
    try { saveBlob(await api.blob("/api/privacy/export"), `digitlab-${state.user?.username || "data"}.zip`); }
    catch (err) { errors.replaceChildren(errorBox(err)); }
    finally { download.disabled = false; }
  } }, t("privacy.export"));
  const remove = h("button", { type: "button", id: "delete-my-account", class: "danger", onclick: () => deleteAccount() }, t("privacy.delete"));
  return h("section", { class: "card", id: "privacy", "aria-labelledby": "privacy-title" },
    h("h2", { id: "privacy-title" }, t("privacy.title")),
    h("p", { class: "hint" }, t("privacy.intro")),
    h("p", {}, t("privacy.exportText")), download,
    h("p", {}, t("privacy.deleteText")), remove, errors);
}

function deleteAccount() {
  const errors = h("div", { "aria-live": "polite" });
  const password = h("input", { id: "delete-password", type: "password", required: true, autocomplete: "current-password", maxlength: "256" });
  const submit = h("button", { type: "submit", class: "danger", id: "confirm-delete-account" }, t("privacy.deleteForever"));
  const dialog = modal(t("privacy.deleteTitle"), h("form", { onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    submit.disabled = true;
    try {
      await api.request("DELETE", "/api/privacy/account", { json: { password: password.value } });
      dialog.close();
      setLogin(null, null);
      flash(t("privacy.deleted"));
      navigate("/login");
    } catch (err) {
      errors.replaceChildren(errorBox(err));
      submit.disabled = false;
    }
  } },
  h("p", {}, t("privacy.deleteWarning")),
  h("label", { for: "delete-password" }, t("privacy.password")), password, errors,
  h("div", { class: "row" }, submit, h("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, t("cancel")))));
  password.focus();
}
