// @ts-check
// The class's people: make student accounts at once and print their login cards, give a student a new one-time
// password (a new card), export or delete a student's data, remove a student, add or remove co-teachers.
import { t, getLanguage } from "../i18n/index.js";
import { api, state } from "../state.js";
import { h, clear, errorBox, flash, showError, saveBlob, modal, confirmDialog, tableScroll } from "../dom.js";
import { nicknameList } from "../classroom.js";
import { formatDate } from "../time.js";

/** @typedef {import("../api/types").MemberPublic} MemberPublic */
/** @typedef {import("../api/types").StudentsCreate} StudentsCreate */
/** @typedef {import("../api/types").StudentDataDeleted} StudentDataDeleted */

/** The language printed on login cards: the page's, where the server has it. */
function cardLanguage() {
  return getLanguage() === "de" ? "de" : "en";
}

/**
 * A login card for a student with a new one-time password, downloaded as a PDF.
 * @param {number} cid @param {{user_id: number, username: string}} student
 */
export async function resetPassword(cid, student) {
  if (!await confirmDialog(t("members.resetConfirm", { name: student.username }), t("dialog.ok"))) return false;
  try {
    const response = await api.raw("POST", `/api/classes/${cid}/members/${student.user_id}/password-reset`,
      { query: { language: cardLanguage() } });
    saveBlob(await response.blob(), `login-card-${student.username}.pdf`);
    flash(t("members.resetDone", { name: student.username }));
    return true;
  } catch (err) { showError(err); return false; }
}

/** Everything of one student as a zip. @param {number} cid @param {{user_id: number, username: string}} student */
export async function exportStudent(cid, student) {
  try {
    saveBlob(await api.blob(`/api/classes/${cid}/students/${student.user_id}/export`), `digitlab-${student.username}.zip`);
  } catch (err) { showError(err); }
}

/**
 * Delete a student's data in this class (asks for the teacher's password first).
 * @param {number} cid @param {{user_id: number, username: string, account_made_for_class?: boolean}} student
 * @param {() => void} after  called once it is done
 */
export function deleteStudentData(cid, student, after) {
  const errors = h("div", { "aria-live": "polite" });
  const password = h("input", { id: "confirm-password", type: "password", required: true, autocomplete: "current-password", maxlength: "256" });
  const submit = h("button", { type: "submit", class: "danger" }, t("members.deleteDataButton"));
  const dialog = modal(t("members.deleteDataTitle", { name: student.username }),
    h("form", { onsubmit: async (e) => {
      e.preventDefault();
      errors.replaceChildren();
      submit.disabled = true;
      try {
        /** @type {StudentDataDeleted} */
        const result = await api.request("DELETE", `/api/classes/${cid}/students/${student.user_id}/data`, { json: { password: password.value } });
        dialog.close();
        flash(t(result.account_deleted ? "members.deletedAccount" : "members.deletedClassData", { name: student.username }));
        after();
      } catch (err) {
        errors.replaceChildren(errorBox(err));
        submit.disabled = false;
      }
    } },
    h("p", {}, t(student.account_made_for_class ? "members.deleteDataCard" : "members.deleteDataOwn", { name: student.username })),
    h("label", { for: "confirm-password" }, t("members.yourPassword")), password, errors,
    h("div", { class: "row" }, submit, h("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, t("cancel")))));
  password.focus();
}

/**
 * @param {HTMLElement} body
 * @param {import("./class.js").ClassContext} ctx
 */
export async function render(body, { cid, schoolClass }) {
  const list = h("div", { id: "members" }, h("p", { class: "muted" }, t("loading")));
  body.append(h("div", { class: "members-grid" },
    h("div", {}, cardsForm(cid, schoolClass.closed, () => refresh()), teacherForm(cid, () => refresh())),
    h("section", { class: "card" }, h("h2", {}, t("members.title")), list)));

  async function refresh() {
    /** @type {MemberPublic[]} */
    let people;
    try { people = await api.get(`/api/classes/${cid}/members`); }
    catch (err) { clear(list, errorBox(err)); return; }
    const teachers = people.filter((m) => m.role === "teacher");
    const students = people.filter((m) => m.role !== "teacher");
    clear(list,
      h("h3", {}, t("members.teachers")),
      h("ul", { class: "people" }, teachers.map((m) => teacherItem(m, teachers.length))),
      h("h3", {}, t("members.students", { n: students.length })),
      students.length ? h("p", { class: "hint" }, t("members.moreOnPage")) : null,
      students.length ? tableScroll(h("table", { class: "data", id: "student-table" },
        h("thead", {}, h("tr", {}, [t("members.nickname"), t("members.writer"), t("members.joined"), t("members.account"), ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, students.map(studentRow)))) : h("p", { class: "muted" }, t("members.noStudents")));
  }

  /** @param {MemberPublic} m @param {number} teacherCount */
  function teacherItem(m, teacherCount) {
    const me = m.username === state.user?.username;
    return h("li", {}, h("strong", {}, m.username), me ? h("span", { class: "muted" }, ` (${t("members.you")})`) : null,
      !me && teacherCount > 1 ? h("button", { type: "button", class: "ghost danger small-button",
        onclick: async () => {
          if (!await confirmDialog(t("members.removeTeacherConfirm", { name: m.username }), t("dialog.remove"))) return;
          try { await api.delete(`/api/classes/${cid}/members/${m.user_id}`); refresh(); } catch (err) { showError(err); }
        } }, t("members.remove")) : null);
  }

  /** @param {MemberPublic} m */
  function studentRow(m) {
    const remove = async () => {
      if (!await confirmDialog(t(m.account_made_for_class ? "members.removeCardConfirm" : "members.removeConfirm", { name: m.username }), t("dialog.remove"))) return;
      try { await api.delete(`/api/classes/${cid}/members/${m.user_id}`); flash(t("members.removed", { name: m.username })); refresh(); }
      catch (err) { showError(err); }
    };
    return h("tr", { dataset: { userId: String(m.user_id) } },
      h("th", { scope: "row" }, h("a", { href: `#/classes/${cid}/students/${m.user_id}` }, m.username)),
      h("td", {}, m.writer_number !== null ? String(m.writer_number) : "–"),
      h("td", {}, formatDate(m.joined_at, getLanguage())),
      h("td", {}, t(m.account_made_for_class ? "members.cardAccount" : "members.ownAccount"),
        m.password_change_required ? h("span", { class: "badge", title: t("members.cardUnusedHint") }, t("members.cardUnused")) : null),
      // Exporting and deleting a student's data are on the student's own page (the nickname's link).
      h("td", { class: "actions" },
        h("button", { type: "button", class: "ghost small-button", onclick: () => resetPassword(cid, m).then((ok) => { if (ok) refresh(); }) }, t("members.reset")),
        h("button", { type: "button", class: "ghost danger small-button", onclick: remove }, t("members.remove"))));
  }

  await refresh();
  return null;
}

/**
 * Make accounts for the class at once: a number (nicknames prefix01, prefix02 ...) or a list of nicknames.
 * @param {number} cid @param {boolean} closed @param {() => void} after
 */
function cardsForm(cid, closed, after) {
  const errors = h("div", { "aria-live": "polite" });
  const byCount = h("input", { type: "radio", name: "cards-how", id: "cards-by-count", checked: true });
  const byNames = h("input", { type: "radio", name: "cards-how", id: "cards-by-names" });
  const count = h("input", { id: "cards-count", type: "number", min: "1", max: "100", value: "25", class: "small-number" });
  const prefix = h("input", { id: "cards-prefix", maxlength: "40", pattern: "[A-Za-z0-9_.\\-]{1,40}", placeholder: "7b-", class: "short-input" });
  const names = h("textarea", { id: "cards-names", rows: "4", disabled: true, placeholder: t("members.namesPlaceholder") });
  const sync = () => { count.disabled = prefix.disabled = !byCount.checked; names.disabled = !byNames.checked; };
  byCount.addEventListener("change", sync);
  byNames.addEventListener("change", sync);
  const submit = h("button", { type: "submit", id: "make-cards", disabled: closed }, t("members.makeCards"));
  return h("form", { class: "card", id: "cards-form", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    /** @type {StudentsCreate} */
    const body = byCount.checked ? { count: Number(count.value), ...(prefix.value.trim() ? { prefix: prefix.value.trim() } : {}) }
      : { usernames: nicknameList(names.value) };
    submit.disabled = true;
    try {
      const response = await api.raw("POST", `/api/classes/${cid}/students`, { json: body, query: { language: cardLanguage() } });
      saveBlob(await response.blob(), `login-cards-class-${cid}.pdf`);
      flash(t("members.cardsMade"));
      after();
    } catch (err) {
      errors.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = closed;
    }
  } },
  h("h2", {}, t("members.cardsTitle")),
  h("p", { class: "hint" }, t("members.cardsHint")),
  closed ? h("p", { class: "error" }, t("members.closedNoCards")) : null,
  h("div", { class: "row wrap" }, h("label", { class: "check" }, byCount, t("members.byCount")), count,
    h("label", { for: "cards-prefix" }, t("members.prefix")), prefix),
  h("label", { class: "check" }, byNames, t("members.byNames")), names,
  errors, submit);
}

/** Add a co-teacher by the username of their teacher's account. @param {number} cid @param {() => void} after */
function teacherForm(cid, after) {
  const errors = h("div", { "aria-live": "polite" });
  const username = h("input", { id: "co-teacher", required: true, maxlength: "64", autocomplete: "off" });
  return h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    try {
      await api.post(`/api/classes/${cid}/teachers`, { username: username.value.trim() });
      flash(t("members.teacherAdded", { name: username.value.trim() }));
      username.value = "";
      after();
    } catch (err) { errors.replaceChildren(errorBox(err)); }
  } },
  h("h2", {}, t("members.coTeacherTitle")),
  h("p", { class: "hint" }, t("members.coTeacherHint")),
  h("label", { for: "co-teacher" }, t("members.coTeacherName")), username, errors,
  h("button", { type: "submit", class: "ghost" }, t("members.addTeacher")));
}
