// @ts-check
// The admin's learning platforms (LTI 1.3): the addresses to enter in a platform, a single-use address for
// dynamic registration, the registered platforms (register by hand, switch off, delete) and the tool's keys.
import { t, getLanguage } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, showError, confirmDialog } from "../dom.js";
import { formatDateTime } from "../time.js";

/** @typedef {import("../api/types").PlatformPublic} PlatformPublic */
/** @typedef {import("../api/types").PlatformCreate} PlatformCreate */
/** @typedef {import("../api/types").PlatformUpdate} PlatformUpdate */
/** @typedef {import("../api/types").ToolConfiguration} ToolConfiguration */
/** @typedef {import("../api/types").RegistrationLinkPublic} RegistrationLinkPublic */
/** @typedef {import("../api/types").KeyPublic} KeyPublic */

/** The fields of a registration by hand: [input id suffix, body field, input type]. */
const FIELDS = /** @type {const} */ ([
  ["name", "name", "text"],
  ["issuer", "issuer", "url"],
  ["client", "client_id", "text"],
  ["deployments", "deployment_ids", "text"],
  ["login", "auth_login_url", "url"],
  ["token", "auth_token_url", "url"],
  ["jwks", "jwks_url", "url"],
]);

/** A read-only value with its label, selectable for copying. */
function address(/** @type {string} */ id, /** @type {string} */ label, /** @type {string} */ value) {
  return h("div", {}, h("label", { for: id }, label),
    h("input", { id, type: "text", readonly: true, value, onfocus: (/** @type {Event} */ e) => {
      /** @type {HTMLInputElement} */ (e.target).select();
    } }));
}

/** @returns {Promise<HTMLElement>} the section, filled */
export async function platformsSection() {
  const tool = h("div", { id: "lti-tool" }, h("p", { class: "muted" }, t("loading")));
  const link = h("div", { id: "lti-registration-link", "aria-live": "polite" });
  const list = h("div", { id: "lti-platforms" });
  const keys = h("div", { id: "lti-keys" });
  const formErrors = h("div", { "aria-live": "polite" });
  /** @type {Record<string, HTMLInputElement>} */
  const inputs = {};
  for (const [suffix, , type] of FIELDS) {
    inputs[suffix] = /** @type {HTMLInputElement} */ (h("input", { id: `lti-${suffix}`, type, required: true, autocomplete: "off" }));
  }
  const storeNames = /** @type {HTMLInputElement} */ (h("input", { id: "lti-store-names", type: "checkbox" }));
  const register = h("button", { type: "submit", id: "lti-register" }, t("lti.admin.register"));
  const makeLink = h("button", { type: "button", id: "lti-make-link" }, t("lti.admin.makeLink"));

  makeLink.addEventListener("click", async () => {
    makeLink.disabled = true;
    try {
      /** @type {RegistrationLinkPublic} */
      const made = await api.post("/api/lti/registration-links", {});
      clear(link, h("div", { class: "invite-shown" },
        h("p", {}, t("lti.admin.linkOnce")),
        address("lti-link-url", t("lti.admin.linkLabel"), made.url),
        h("p", { class: "hint" }, t("admin.expires", { date: formatDateTime(made.expires_at, getLanguage()) }))));
    } catch (err) { clear(link, errorBox(err)); }
    finally { makeLink.disabled = false; }
  });

  const form = h("form", { id: "lti-platform-form", onsubmit: async (/** @type {Event} */ e) => {
    e.preventDefault();
    formErrors.replaceChildren();
    register.disabled = true;
    try {
      /** @type {PlatformCreate} */
      const body = {
        name: inputs.name.value.trim(), issuer: inputs.issuer.value.trim(), client_id: inputs.client.value.trim(),
        deployment_ids: inputs.deployments.value.split(",").map((d) => d.trim()).filter(Boolean),
        auth_login_url: inputs.login.value.trim(), auth_token_url: inputs.token.value.trim(),
        jwks_url: inputs.jwks.value.trim(), store_names: storeNames.checked,
      };
      await api.post("/api/lti/platforms", body);
      /** @type {HTMLFormElement} */ (e.target).reset();
      await refreshPlatforms();
    } catch (err) { formErrors.replaceChildren(errorBox(err)); }
    finally { register.disabled = false; }
  } },
  ...FIELDS.map(([suffix]) => h("div", {},
    h("label", { for: `lti-${suffix}` }, t(`lti.admin.field.${suffix}`)), inputs[suffix])),
  h("p", { class: "hint" }, t("lti.admin.deploymentsHint")),
  h("label", { class: "check" }, storeNames, ` ${t("lti.admin.storeNames")}`),
  h("p", { class: "hint" }, t("lti.admin.storeNamesHint")),
  formErrors, register);

  async function refreshTool() {
    try {
      /** @type {ToolConfiguration} */
      const config = await api.get("/api/lti/tool");
      clear(tool,
        address("lti-login-url", t("lti.admin.loginUrl"), config.login_url),
        address("lti-launch-url", t("lti.admin.launchUrl"), config.launch_url),
        address("lti-deep-linking-url", t("lti.admin.deepLinkingUrl"), config.deep_linking_url),
        address("lti-jwks-url", t("lti.admin.jwksUrl"), config.jwks_url));
    } catch (err) { clear(tool, errorBox(err)); }
  }

  /** @param {PlatformPublic} platform @param {PlatformUpdate} change */
  async function update(platform, change) {
    try { await api.patch(`/api/lti/platforms/${platform.id}`, change); } catch (err) { showError(err); }
    await refreshPlatforms();
  }

  async function refreshPlatforms() {
    /** @type {PlatformPublic[]} */
    let platforms;
    try { platforms = await api.get("/api/lti/platforms"); }
    catch (err) { clear(list, errorBox(err)); return; }
    if (!platforms.length) { clear(list, h("p", { class: "muted" }, t("lti.admin.none"))); return; }
    clear(list, h("div", { class: "table-scroll" }, h("table", { class: "data" },
      h("thead", {}, h("tr", {}, [t("lti.admin.field.name"), t("lti.admin.field.issuer"), t("lti.admin.field.client"),
        t("lti.admin.field.deployments"), t("admin.status"), ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, platforms.map((p) => h("tr", { "data-platform": String(p.id) },
        h("td", {}, p.name), h("td", { class: "wrap-anywhere" }, p.issuer), h("td", {}, p.client_id),
        h("td", {}, p.deployment_ids.join(", ")),
        h("td", {}, h("span", { class: `badge ${p.enabled ? "succeeded" : ""}` },
          t(p.enabled ? "lti.admin.enabled" : "lti.admin.disabled")),
        p.store_names ? h("span", { class: "muted small" }, ` ${t("lti.admin.namesKept")}`) : null),
        h("td", { class: "row wrap" },
          h("button", { type: "button", class: "ghost small-button", onclick: () => update(p, { enabled: !p.enabled }) },
            t(p.enabled ? "lti.admin.disable" : "lti.admin.enable")),
          h("button", { type: "button", class: "ghost danger small-button", onclick: async () => {
            if (!await confirmDialog(t("lti.admin.deleteConfirm", { name: p.name }), t("lti.admin.delete"))) return;
            try { await api.delete(`/api/lti/platforms/${p.id}`); } catch (err) { showError(err); }
            await refreshPlatforms();
          } }, t("lti.admin.delete")))))))));
  }

  async function refreshKeys() {
    /** @type {KeyPublic[]} */
    let published;
    try { published = await api.get("/api/lti/keys"); }
    catch (err) { clear(keys, errorBox(err)); return; }
    clear(keys, h("ul", {}, published.map((k) => h("li", {},
      h("code", {}, k.kid), " ",
      h("span", { class: "muted small" }, k.retired_at
        ? t("lti.admin.keyRetired", { date: formatDateTime(k.drop_after || k.retired_at, getLanguage()) })
        : t("lti.admin.keyActive", { date: formatDateTime(k.created_at, getLanguage()) }))))),
    h("button", { type: "button", id: "lti-rotate", class: "ghost", onclick: async () => {
      if (!await confirmDialog(t("lti.admin.rotateConfirm"), t("lti.admin.rotate"), false)) return;
      try { await api.post("/api/lti/keys/rotate", {}); } catch (err) { showError(err); }
      await refreshKeys();
    } }, t("lti.admin.rotate")));
  }

  await Promise.all([refreshTool(), refreshPlatforms(), refreshKeys()]);
  return h("section", { class: "card", id: "lti-admin" },
    h("h2", {}, t("lti.admin.title")), h("p", { class: "hint" }, t("lti.admin.intro")),
    h("h3", {}, t("lti.admin.dynamicTitle")), h("p", { class: "hint" }, t("lti.admin.dynamicHint")), makeLink, link,
    h("h3", {}, t("lti.admin.listTitle")), list,
    h("details", {}, h("summary", {}, t("lti.admin.byHandTitle")),
      h("p", { class: "hint" }, t("lti.admin.byHandHint")), tool, form),
    h("h3", {}, t("lti.admin.keysTitle")), h("p", { class: "hint" }, t("lti.admin.keysHint")), keys);
}
