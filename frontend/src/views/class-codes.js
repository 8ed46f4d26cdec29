// @ts-check
// Join codes: make one (it expires by itself), show it big enough to read from the back of the room, with its QR
// code and link, and revoke it.
import { t, getLanguage } from "../i18n/index.js";
import { api, authImageUrl } from "../state.js";
import { h, clear, errorBox, showError, modal, ask, confirmDialog } from "../dom.js";
import { appLink } from "../classroom.js";
import { formatDateTime } from "../time.js";

/** @typedef {import("../api/types").JoinCodePublic} JoinCodePublic */
/** @typedef {import("../api/types").JoinCodeCreate} JoinCodeCreate */

const DEFAULT_DAYS = 14;
const MAX_DAYS = 180;

/**
 * @param {HTMLElement} body
 * @param {import("./class.js").ClassContext} ctx
 */
export async function render(body, { cid, schoolClass }) {
  const list = h("div", { id: "join-codes", class: "code-list" }, h("p", { class: "muted" }, t("loading")));
  const errors = h("div", { "aria-live": "polite" });
  const days = h("input", { id: "code-days", type: "number", min: "1", max: String(MAX_DAYS), value: String(DEFAULT_DAYS), class: "small-number" });
  const create = h("button", { type: "submit", id: "new-join-code", disabled: schoolClass.closed }, t("codes.create"));
  body.append(
    h("form", { class: "card", onsubmit: async (e) => {
      e.preventDefault();
      errors.replaceChildren();
      create.disabled = true;
      try {
        /** @type {JoinCodeCreate} */
        const request = { valid_days: Number(days.value) };
        await api.post(`/api/classes/${cid}/join-codes`, request);
        await refresh();
      } catch (err) { errors.replaceChildren(errorBox(err)); }
      finally { create.disabled = schoolClass.closed; }
    } },
    h("h2", {}, t("codes.title")),
    h("p", { class: "hint" }, t("codes.hint")),
    schoolClass.closed ? h("p", { class: "error" }, t("codes.closed")) : null,
    h("div", { class: "row wrap" }, h("label", { for: "code-days" }, t("codes.validFor")), days, h("span", {}, t("classes.days")), create),
    errors),
    list);

  async function refresh() {
    /** @type {JoinCodePublic[]} */
    let codes;
    try { codes = await api.get(`/api/classes/${cid}/join-codes`); }
    catch (err) { clear(list, errorBox(err)); return; }
    const active = codes.filter((c) => c.status === "active");
    const old = codes.filter((c) => c.status !== "active");
    clear(list,
      active.length ? active.map(codeCard) : h("p", { class: "muted" }, t("codes.none")),
      old.length ? h("details", { class: "old-codes" }, h("summary", {}, t("codes.old", { n: old.length })),
        h("ul", {}, old.map((c) => h("li", {}, h("span", { class: "code-small" }, c.code), " – ", t(`codes.status.${c.status}`))))) : null);
  }

  /** @param {JoinCodePublic} code */
  function codeCard(code) {
    const link = appLink(code.link, location.href);
    const qr = h("img", { class: "qr", alt: t("codes.qrAlt", { code: code.code }), width: "180", height: "180" });
    authImageUrl(code.qr_svg_url).then((url) => { qr.src = url; }, () => { qr.alt = t("codes.noQr"); });
    return h("article", { class: "card join-code", dataset: { codeId: String(code.id) } },
      h("div", { class: "join-code-main" },
        h("p", { class: "muted" }, t("codes.tellClass")),
        h("p", { class: "code-big", "aria-label": t("codes.codeIs", { code: spelled(code.code) }) }, code.code),
        h("p", {}, t("codes.orOpen"), " ", h("a", { href: link, class: "join-link", target: "_blank", rel: "noopener" }, link)),
        h("p", { class: "hint" }, t("codes.expires", { date: formatDateTime(code.expires_at, getLanguage()) })),
        h("div", { class: "row wrap" },
          h("button", { type: "button", class: "ghost", onclick: () => projector(code, link, qr.src) }, t("codes.projector")),
          h("button", { type: "button", class: "ghost", onclick: () => copy(link) }, t("codes.copy")),
          h("button", { type: "button", class: "ghost danger", onclick: async () => {
            if (!await confirmDialog(t("codes.revokeConfirm", { code: code.code }), t("codes.revoke"))) return;
            try { await api.delete(`/api/classes/${cid}/join-codes/${code.id}`); await refresh(); } catch (err) { showError(err); }
          } }, t("codes.revoke")))),
      qr);
  }

  await refresh();
  return null;
}

/** "AB3D" read out letter by letter by a screen reader. @param {string} code */
function spelled(code) {
  return code.split("").join(" ");
}

/** @param {string} text */
async function copy(text) {
  try { await navigator.clipboard.writeText(text); } catch {
    await ask({ message: t("codes.copyPrompt"), input: { label: t("dialog.link"), value: text, readOnly: true }, confirmLabel: t("close"), cancel: false });
  }
}

/** The code filling the screen, for a projector. @param {JoinCodePublic} code @param {string} link @param {string} qrSrc */
function projector(code, link, qrSrc) {
  modal(t("codes.projectorTitle"),
    h("div", { class: "projector" },
      h("p", { class: "code-huge" }, code.code),
      qrSrc ? h("img", { src: qrSrc, class: "qr-huge", alt: t("codes.qrAlt", { code: code.code }) }) : null,
      h("p", { class: "join-link" }, link)));
}
