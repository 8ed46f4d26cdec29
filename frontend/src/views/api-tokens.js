// @ts-check
// API tokens on the account screen: for a notebook or script that uses the REST API as this user. A new token is
// shown once (the server keeps only its hash); revoking one is confirmed inline (no browser dialogs, which the
// sandboxed iframes of learning platforms block).
import { t, getLanguage } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox } from "../dom.js";
import { formatDateTime } from "../time.js";

/** @typedef {import("../api/types").ApiTokenPublic} ApiTokenPublic */
/** @typedef {import("../api/types").ApiTokenCreated} ApiTokenCreated */

/** @returns {{el: HTMLElement, refresh: () => Promise<void>}} */
export function tokensCard() {
  const list = h("ul", { class: "session-list", id: "token-list" });
  const fresh = h("div", { "aria-live": "polite" });
  const errors = h("div", { "aria-live": "polite" });
  const name = /** @type {HTMLInputElement} */ (h("input", { id: "token-name", required: true, maxlength: "100", autocomplete: "off" }));
  const form = h("form", { onsubmit: async (/** @type {Event} */ e) => {
    e.preventDefault();
    errors.replaceChildren();
    try {
      /** @type {ApiTokenCreated} */
      const created = await api.post("/api/auth/api-tokens", { name: name.value });
      name.value = "";
      const value = h("code", { class: "token-value", id: "new-token" }, created.token);
      clear(fresh, h("div", { class: "warn card", role: "status" }, h("p", {}, h("strong", {}, t("tokens.once"))), value,
        h("button", { type: "button", class: "ghost small-button", onclick: () => navigator.clipboard?.writeText(created.token) }, t("tokens.copy"))));
      await refresh();
    } catch (err) { errors.replaceChildren(errorBox(err)); }
  } }, h("label", { for: "token-name" }, t("tokens.name")), name, h("button", { type: "submit", id: "create-token" }, t("tokens.create")));

  /** @param {ApiTokenPublic} token */
  function item(token) {
    const actions = h("div", { class: "row wrap" });
    const revoke = h("button", { type: "button", class: "ghost danger small-button", onclick: () => {
      clear(actions, h("span", {}, t("tokens.revokeAsk", { name: token.name })),
        h("button", { type: "button", class: "danger small-button", onclick: async () => {
          try { await api.delete(`/api/auth/api-tokens/${token.id}`); await refresh(); }
          catch (err) { errors.replaceChildren(errorBox(err)); }
        } }, t("tokens.revokeYes")),
        h("button", { type: "button", class: "ghost small-button", onclick: () => clear(actions, revoke) }, t("dataset.cancel")));
    } }, t("tokens.revoke"));
    actions.append(revoke);
    const when = (/** @type {string | null} */ iso) => (iso ? formatDateTime(iso, getLanguage()) : t("tokens.never"));
    return h("li", { class: "session" }, h("div", { class: "session-head" }, h("strong", {}, token.name),
      h("code", { class: "muted" }, `${token.prefix}…`)),
    h("dl", { class: "session-times" }, h("dt", {}, t("tokens.created")), h("dd", {}, when(token.created_at)),
      h("dt", {}, t("tokens.lastUsed")), h("dd", {}, when(token.last_used_at))), actions);
  }

  async function refresh() {
    /** @type {ApiTokenPublic[]} */
    let tokens;
    try { tokens = await api.get("/api/auth/api-tokens"); }
    catch (err) { clear(list, h("li", {}, errorBox(err))); return; }
    clear(list, tokens.length ? tokens.map(item) : [h("li", { class: "muted" }, t("tokens.none"))]);
  }

  const el = h("section", { class: "card", id: "tokens" }, h("h2", {}, t("tokens.title")), h("p", { class: "hint" }, t("tokens.hint")),
    form, errors, fresh, list);
  return { el, refresh };
}
