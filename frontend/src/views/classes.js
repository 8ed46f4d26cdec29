// @ts-check
// The classes: teachers see the classes they teach and make new ones; students see the classes they are in
// (with their writer number) and join another one with a code.
import { t, getLanguage } from "../i18n/index.js";
import { api, state } from "../state.js";
import { h, clear, errorBox } from "../dom.js";
import { navigate } from "../router.js";
import { formatDate } from "../time.js";

/** @typedef {import("../api/types").ClassPublic} ClassPublic */
/** @typedef {import("../api/types").ClassCreate} ClassCreate */

/** The retention a new class gets unless the teacher chooses another (the server's default, in days). */
const DEFAULT_RETENTION_DAYS = 365;
const MAX_RETENTION_DAYS = 730;

/** @param {HTMLElement} main */
export async function render(main) {
  const teacher = ["teacher", "admin"].includes(state.user?.role || "");
  document.title = `${t(teacher ? "classes.title" : "classes.myTitle")} – Digit Lab`;
  const taught = h("ul", { class: "class-list", id: "taught-classes" }, h("li", { class: "muted" }, t("loading")));
  const joined = h("ul", { class: "class-list", id: "joined-classes" });
  main.append(h("h1", {}, t(teacher ? "classes.title" : "classes.myTitle")));
  if (teacher) main.append(h("div", { class: "classes-top" }, createForm(), h("section", {}, h("h2", {}, t("classes.taught")), taught)));
  const joinedSection = h("section", {}, h("h2", {}, t("classes.joined")), joined, joinForm());
  main.append(joinedSection);

  /** @type {ClassPublic[]} */
  let classes;
  try {
    classes = await api.get("/api/classes", { limit: 500 });
  } catch (err) {
    clear(teacher ? taught : joined, h("li", {}, errorBox(err)));
    return;
  }
  const mine = classes.filter((c) => c.role === "teacher");
  const theirs = classes.filter((c) => c.role !== "teacher");
  if (teacher) clear(taught, mine.length ? mine.map(taughtItem) : h("li", { class: "muted" }, t("classes.noneTaught")));
  clear(joined, theirs.length ? theirs.map(joinedItem) : h("li", { class: "muted" }, t("classes.noneJoined")));
  // A teacher who is in no class as a student needs no "join" box on their page (a join link still works).
  if (teacher && !theirs.length) joinedSection.hidden = true;
}

/** @param {ClassPublic} c */
function taughtItem(c) {
  const d = c.details;
  return h("li", { class: "card class-item" },
    h("a", { href: `#/classes/${c.id}`, class: "class-name" }, c.name),
    d ? h("span", { class: "muted" }, t("classes.studentCount", { n: d.student_count })) : null,
    c.closed ? h("span", { class: "badge failed" }, t("classes.closed")) : h("span", { class: "badge succeeded" }, t("classes.open")),
    d ? h("span", { class: "hint" }, t("classes.deleteAfter", { date: formatDate(d.delete_after, getLanguage()) })) : null);
}

/** @param {ClassPublic} c */
function joinedItem(c) {
  return h("li", { class: "card class-item" },
    h("a", { href: `#/classes/${c.id}`, class: "class-name" }, c.name),
    c.writer_number !== null ? h("span", { class: "muted" }, t("classes.yourWriter", { n: c.writer_number })) : null);
}

function createForm() {
  const errors = h("div", { "aria-live": "polite" });
  const name = h("input", { id: "class-name", required: true, maxlength: "100", placeholder: t("classes.namePlaceholder") });
  const days = h("input", { id: "class-retention", type: "number", min: "1", max: String(MAX_RETENTION_DAYS),
    value: String(DEFAULT_RETENTION_DAYS), class: "small-number", "aria-describedby": "class-retention-hint" });
  const submit = h("button", { type: "submit", id: "create-class" }, t("classes.create"));
  return h("form", { class: "card", id: "class-create", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    submit.disabled = true;
    try {
      /** @type {ClassCreate} */
      const body = { name: name.value, retention_days: Number(days.value) };
      /** @type {ClassPublic} */
      const created = await api.post("/api/classes", body);
      navigate(`/classes/${created.id}/codes`);
    } catch (err) {
      errors.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  } },
  h("h2", {}, t("classes.new")),
  h("label", { for: "class-name" }, t("classes.name")), name,
  h("label", { for: "class-retention" }, t("classes.retention")), h("div", { class: "row" }, days, h("span", {}, t("classes.days"))),
  h("p", { class: "hint", id: "class-retention-hint" }, t("classes.retentionHint", { max: MAX_RETENTION_DAYS })),
  errors, submit);
}

/** A student (or a teacher) joins another class with a code: on to the join page, which checks the code. */
function joinForm() {
  const code = h("input", { id: "classes-join-code", required: true, maxlength: "64", autocomplete: "off", class: "code-input" });
  return h("form", { class: "card class-join", onsubmit: (e) => {
    e.preventDefault();
    navigate(`/join/${encodeURIComponent(code.value.trim())}`);
  } },
  h("h3", {}, t("classes.joinTitle")),
  h("label", { for: "classes-join-code" }, t("join.code")), code,
  h("button", { type: "submit", class: "ghost" }, t("classes.joinButton")));
}
