// @ts-check
// One student of a class, for its teachers: how far they got, their projects (opened read-only), and what a
// teacher can do for them (a new login card, their data as a zip, removing them, deleting their data).
import { t, getLanguage } from "../i18n/index.js";
import { api } from "../state.js";
import { h, errorBox, formatPercent, flash, showError, figure, confirmDialog } from "../dom.js";
import { navigate } from "../router.js";
import { studentState } from "../classroom.js";
import { formatDateTime } from "../time.js";
import { classCrumbs } from "./class.js";
import { resetPassword, exportStudent, deleteStudentData } from "./class-members.js";

/** @typedef {import("../api/types").ClassPublic} ClassPublic */
/** @typedef {import("../api/types").RosterPublic} RosterPublic */
/** @typedef {import("../api/types").MemberPublic} MemberPublic */

/**
 * @param {HTMLElement} main
 * @param {import("../router.js").RouteParams} params  cid, uid
 */
export async function render(main, { cid, uid }) {
  /** @type {ClassPublic} */ let schoolClass;
  /** @type {RosterPublic} */ let roster;
  /** @type {MemberPublic[]} */ let people;
  try {
    [schoolClass, roster, people] = await Promise.all([api.get(`/api/classes/${cid}`), api.get(`/api/classes/${cid}/roster`),
      api.get(`/api/classes/${cid}/members`)]);
  } catch (err) {
    main.append(errorBox(err), h("p", {}, h("a", { href: `#/classes/${cid}` }, t("classes.back"))));
    return null;
  }
  const student = roster.students.find((s) => String(s.user_id) === uid);
  const member = people.find((m) => String(m.user_id) === uid);
  if (!student || !member) {
    main.append(errorBox({ status: 404, code: "not_found" }), h("p", {}, h("a", { href: `#/classes/${cid}` }, t("classes.back"))));
    return null;
  }
  document.title = `${student.nickname} – ${schoolClass.name} – Digit Lab`;
  classCrumbs(schoolClass, student.nickname);
  const state = studentState(student);
  const back = () => navigate(`/classes/${cid}/roster`);
  main.append(
    h("h1", {}, student.nickname, student.writer_number !== null ? h("span", { class: "muted heading-note" }, t("writer.n", { n: student.writer_number })) : null),
    h("p", { class: `student-state ${state.kind}` }, h("span", { class: `state-dot ${state.kind}`, "aria-hidden": "true" }), t(state.words.key, state.words.params),
      state.reason ? h("span", { class: "student-state-reason" }, `. ${t(state.reason.key, state.reason.params)}`) : null),
    h("div", { class: "figures" },
      figure(t("roster.pages"), String(student.pages_uploaded)), figure(t("roster.samples"), String(student.samples_kept)),
      figure(t("roster.trainings"), String(student.trainings)), figure(t("roster.best"), formatPercent(student.best_test_accuracy)),
      figure(t("roster.last"), student.last_activity ? formatDateTime(student.last_activity, getLanguage()) : t("roster.never"))),
    h("section", { class: "card" }, h("h2", {}, t("student.projects")),
      h("p", { class: "hint" }, t("student.readOnly")),
      student.projects.length ? h("ul", { class: "project-links" }, student.projects.map((p) =>
        h("li", {}, h("a", { href: `#/classes/${cid}/students/${uid}/projects/${p.id}`, class: "project-link" }, p.name))))
        : h("p", { class: "muted" }, t("student.noProjects"))),
    h("section", { class: "card" }, h("h2", {}, t("student.help")),
      h("p", { class: "hint" }, t(member.account_made_for_class ? "members.cardAccount" : "members.ownAccount"),
        member.password_change_required ? ` · ${t("members.cardUnused")}` : ""),
      h("div", { class: "row wrap" },
        h("button", { type: "button", class: "ghost", onclick: () => resetPassword(Number(cid), member) }, t("members.reset")),
        h("button", { type: "button", class: "ghost", onclick: () => exportStudent(Number(cid), member) }, t("members.export")),
        h("button", { type: "button", class: "ghost danger", onclick: async () => {
          if (!await confirmDialog(t(member.account_made_for_class ? "members.removeCardConfirm" : "members.removeConfirm", { name: member.username }), t("dialog.remove"))) return;
          try { await api.delete(`/api/classes/${cid}/members/${uid}`); flash(t("members.removed", { name: member.username })); back(); }
          catch (err) { showError(err); }
        } }, t("members.remove")),
        h("button", { type: "button", class: "ghost danger", onclick: () => deleteStudentData(Number(cid), member, back) }, t("members.deleteData")))));
  return null;
}
