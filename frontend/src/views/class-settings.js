// @ts-check
// A class's settings: its name, how long its data is kept (the service deletes it by itself after that date),
// closing it to new students, leaving it (co-teachers), deleting it.
import { t, getLanguage } from "../i18n/index.js";
import { api } from "../state.js";
import { h, errorBox, flash, showError, ask, confirmDialog } from "../dom.js";
import { navigate } from "../router.js";
import { formatDate, daysUntil } from "../time.js";

/** @typedef {import("../api/types").ClassUpdate} ClassUpdate */

const MAX_RETENTION_DAYS = 730;

/**
 * @param {HTMLElement} body
 * @param {import("./class.js").ClassContext} ctx
 */
export function render(body, { cid, schoolClass, reload }) {
  const details = schoolClass.details;
  /** @param {ClassUpdate} change @param {HTMLElement} errors @param {string} done */
  const update = async (change, errors, done) => {
    errors.replaceChildren();
    try { await api.patch(`/api/classes/${cid}`, change); flash(done); reload(); }
    catch (err) { errors.replaceChildren(errorBox(err)); }
  };

  const nameErrors = h("div", { "aria-live": "polite" });
  const name = h("input", { id: "class-rename", required: true, maxlength: "100", value: schoolClass.name });
  const keepErrors = h("div", { "aria-live": "polite" });
  const left = details ? daysUntil(details.delete_after) : null;
  const keep = h("input", { id: "class-keep", type: "number", min: "1", max: String(MAX_RETENTION_DAYS),
    value: String(Math.max(1, left ?? 365)), class: "small-number" });
  const closeErrors = h("div", { "aria-live": "polite" });
  const dangerErrors = h("div", { "aria-live": "polite" });

  body.append(h("div", { class: "account-grid" },
    h("form", { class: "card", onsubmit: (e) => { e.preventDefault(); update({ name: name.value }, nameErrors, t("settings.renamed")); } },
      h("h2", {}, t("settings.nameTitle")), h("label", { for: "class-rename" }, t("classes.name")), name, nameErrors,
      h("button", { type: "submit" }, t("save"))),
    h("form", { class: "card", id: "retention-form", onsubmit: (e) => {
      e.preventDefault();
      update({ retention_days: Number(keep.value) }, keepErrors, t("settings.retentionSaved"));
    } },
    h("h2", {}, t("settings.retentionTitle")),
    details ? h("p", { id: "delete-after" }, t("settings.deleteAfter", { date: formatDate(details.delete_after, getLanguage()), days: Math.max(0, left ?? 0) })) : null,
    h("p", { class: "hint" }, t("settings.retentionHint")),
    h("label", { for: "class-keep" }, t("settings.keepFor")), h("div", { class: "row" }, keep, h("span", {}, t("settings.daysFromToday"))),
    keepErrors, h("button", { type: "submit", class: "ghost" }, t("settings.retentionSave"))),
    h("section", { class: "card" }, h("h2", {}, t(schoolClass.closed ? "settings.closedTitle" : "settings.openTitle")),
      h("p", {}, t(schoolClass.closed ? "settings.closedText" : "settings.openText")),
      h("button", { type: "button", class: "ghost", id: "toggle-closed", onclick: () => update({ closed: !schoolClass.closed }, closeErrors,
        t(schoolClass.closed ? "settings.reopened" : "settings.closedDone")) }, t(schoolClass.closed ? "settings.reopen" : "settings.close")),
      closeErrors),
    h("section", { class: "card danger-zone" }, h("h2", {}, t("settings.dangerTitle")),
      h("p", {}, t("settings.leaveText")),
      h("button", { type: "button", class: "ghost danger", onclick: async () => {
        if (!await confirmDialog(t("settings.leaveConfirm", { name: schoolClass.name }), t("dialog.leave"))) return;
        try { await api.post(`/api/classes/${cid}/leave`); navigate("/classes"); } catch (err) { showError(err); }
      } }, t("settings.leave")),
      h("p", {}, t("settings.deleteText")),
      h("button", { type: "button", class: "danger", id: "delete-class", onclick: async () => {
        const typed = await ask({ message: t("settings.deleteConfirm", { name: schoolClass.name }), confirmLabel: t("settings.delete"), danger: true, input: { label: t("dialog.name") } });
        if (typed === null) return;
        if (typed.trim() !== schoolClass.name) { dangerErrors.replaceChildren(h("p", { class: "error" }, t("settings.deleteMismatch"))); return; }
        try { await api.delete(`/api/classes/${cid}`); flash(t("settings.deleted", { name: schoolClass.name })); navigate("/classes"); }
        catch (err) { dangerErrors.replaceChildren(errorBox(err)); }
      } }, t("settings.delete")),
      dangerErrors)));
  return null;
}
