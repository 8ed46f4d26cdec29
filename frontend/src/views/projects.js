// @ts-check
// The project list: create (with the student's own labels), rename, delete.
import { t } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, showError, flash, confirmDialog, promptDialog } from "../dom.js";
import { navigate } from "../router.js";

/** @typedef {import("../api/types").ProjectPublic} ProjectPublic */
/** @typedef {import("../api/types").ProjectCreate} ProjectCreate */

const DIGITS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/** @param {HTMLElement} main */
export async function render(main) {
  const list = h("ul", { class: "project-list", "aria-live": "polite" }, h("li", { class: "muted" }, t("loading")));
  main.append(h("h1", {}, t("projects.title")), createForm(), h("h2", {}, t("projects.yours")), list);
  await refresh(list);
}

/** @param {HTMLElement} list */
async function refresh(list) {
  /** @type {ProjectPublic[]} */
  let projects;
  try {
    projects = await api.get("/api/projects");
  } catch (err) {
    clear(list, h("li", {}, errorBox(err)));
    return;
  }
  if (!projects.length) { clear(list, h("li", { class: "muted" }, t("projects.none"))); return; }
  clear(list, projects.map((p) => projectItem(p, list)));
}

/**
 * @param {ProjectPublic} project
 * @param {HTMLElement} list  refreshed after a change
 */
function projectItem(project, list) {
  const name = h("a", { href: `#/projects/${project.id}`, class: "project-name" }, project.name);
  const rename = async () => {
    const value = await promptDialog(t("projects.renamePrompt"), t("dialog.name"), project.name);
    if (value === null || !value.trim()) return;
    try {
      await api.patch(`/api/projects/${project.id}`, { name: value });
      await refresh(list);
    } catch (err) { showError(err); }
  };
  const remove = async () => {
    if (!await confirmDialog(t("projects.deleteConfirm", { name: project.name }), t("delete"))) return;
    try {
      await api.delete(`/api/projects/${project.id}`);
      flash(t("projects.deleted", { name: project.name }));
      await refresh(list);
    } catch (err) { showError(err); }
  };
  return h("li", { class: "card project" },
    name,
    h("span", { class: "muted" }, t("projects.counts", { scans: project.scan_count, samples: project.sample_count })),
    h("span", { class: "labels" }, project.labels.join(" ")),
    h("span", { class: "row" },
      h("button", { type: "button", class: "ghost", onclick: rename, "aria-label": t("projects.renameNamed", { name: project.name }) }, t("rename")),
      h("button", { type: "button", class: "ghost danger", onclick: remove, "aria-label": t("projects.deleteNamed", { name: project.name }) }, t("delete"))));
}

function createForm() {
  const errors = h("div");
  const name = h("input", { id: "project-name", required: true, maxlength: "100" });
  const own = h("input", { type: "checkbox", id: "own-labels" });
  const labelInputs = DIGITS.map((d, i) => h("input", { value: d, maxlength: "8", required: true, class: "label-input",
    "aria-label": t("projects.labelN", { n: i + 1 }) }));
  const labelBox = h("fieldset", { class: "labels-box", hidden: true },
    h("legend", {}, t("projects.labels")), h("p", { class: "hint" }, t("projects.labelsHint")), h("div", { class: "row wrap" }, labelInputs));
  own.addEventListener("change", () => { labelBox.hidden = !own.checked; });
  const submit = h("button", { type: "submit" }, t("projects.create"));
  return h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    submit.disabled = true;
    try {
      /** @type {ProjectCreate} */
      const body = { name: name.value };
      if (own.checked) body.labels = labelInputs.map((i) => i.value);
      /** @type {ProjectPublic} */
      const project = await api.post("/api/projects", body);
      navigate(`/projects/${project.id}`);
    } catch (err) {
      errors.replaceChildren(errorBox(err));
    } finally { submit.disabled = false; }
  } },
  h("h2", {}, t("projects.new")),
  h("label", { for: "project-name" }, t("projects.name")), name,
  h("label", { class: "check" }, own, t("projects.ownLabels")), labelBox, errors, submit);
}
