// @ts-check
// The admin's screen: invite teachers, and connect learning platforms (admin-platforms.js). An invitation is a single-use code (shown only once, with its link);
// whoever registers with it, or redeems it while logged in, becomes a teacher.
import { t, getLanguage } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, showError, confirmDialog, tableScroll } from "../dom.js";
import { appLink } from "../classroom.js";
import { formatDateTime } from "../time.js";
import { platformsSection } from "./admin-platforms.js";

/** @typedef {import("../api/types").TeacherInvitePublic} TeacherInvitePublic */
/** @typedef {import("../api/types").TeacherInviteCreated} TeacherInviteCreated */
/** @typedef {import("../api/types").TeacherInviteCreate} TeacherInviteCreate */

/** @param {HTMLElement} main */
export async function render(main) {
  document.title = `${t("admin.title")} – Digit Lab`;
  const list = h("div", { id: "invites" }, h("p", { class: "muted" }, t("loading")));
  const fresh = h("div", { id: "new-invite", "aria-live": "polite" });
  const errors = h("div", { "aria-live": "polite" });
  const days = h("input", { id: "invite-days", type: "number", min: "1", max: "180", value: "14", class: "small-number" });
  const create = h("button", { type: "submit", id: "create-invite" }, t("admin.create"));
  main.append(h("h1", {}, t("admin.title")),
    h("form", { class: "card", onsubmit: async (e) => {
      e.preventDefault();
      errors.replaceChildren();
      create.disabled = true;
      try {
        /** @type {TeacherInviteCreate} */
        const request = { valid_days: Number(days.value) };
        /** @type {TeacherInviteCreated} */
        const invite = await api.post("/api/admin/teacher-invites", request);
        const link = appLink(invite.link, location.href);
        clear(fresh, h("div", { class: "invite-shown" },
          h("p", {}, t("admin.onlyOnce")),
          h("p", { class: "code-big", id: "invite-code" }, invite.code),
          h("p", {}, h("a", { href: link, id: "invite-link", class: "join-link" }, link)),
          h("p", { class: "hint" }, t("admin.expires", { date: formatDateTime(invite.expires_at, getLanguage()) }))));
        await refresh();
      } catch (err) { errors.replaceChildren(errorBox(err)); }
      finally { create.disabled = false; }
    } },
    h("h2", {}, t("admin.inviteTitle")), h("p", { class: "hint" }, t("admin.inviteHint")),
    h("div", { class: "row wrap" }, h("label", { for: "invite-days" }, t("codes.validFor")), days, h("span", {}, t("classes.days")), create),
    errors, fresh),
    h("section", { class: "card" }, h("h2", {}, t("admin.listTitle")), list));

  async function refresh() {
    /** @type {TeacherInvitePublic[]} */
    let invites;
    try { invites = await api.get("/api/admin/teacher-invites"); }
    catch (err) { clear(list, errorBox(err)); return; }
    if (!invites.length) { clear(list, h("p", { class: "muted" }, t("admin.none"))); return; }
    clear(list, tableScroll(h("table", { class: "data" },
      h("thead", {}, h("tr", {}, [t("admin.made"), t("admin.status"), t("admin.by"), t("admin.usedBy"), ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, invites.map((i) => h("tr", {},
        h("td", {}, formatDateTime(i.created_at, getLanguage())),
        h("td", {}, h("span", { class: `badge ${i.status === "active" ? "running" : i.status === "used" ? "succeeded" : ""}` }, t(`admin.status.${i.status}`)),
          i.status === "active" ? h("span", { class: "muted small" }, ` ${t("admin.until", { date: formatDateTime(i.expires_at, getLanguage()) })}`) : null),
        h("td", {}, i.created_by || t("admin.commandLine")),
        h("td", {}, i.used_by || "–"),
        h("td", {}, i.status === "active" ? h("button", { type: "button", class: "ghost danger small-button", onclick: async () => {
          if (!await confirmDialog(t("admin.revokeConfirm"), t("admin.revoke"))) return;
          try { await api.delete(`/api/admin/teacher-invites/${i.id}`); await refresh(); } catch (err) { showError(err); }
        } }, t("admin.revoke")) : null))))), t("admin.listTitle")));
  }

  await refresh();
  main.append(await platformsSection());
  return null;
}
