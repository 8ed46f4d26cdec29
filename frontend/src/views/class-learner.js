// @ts-check
// A student's page of their class: who they are in it ("writer 3"), the class's handwriting as a data set
// (other students only as numbers, the samples as anonymous images) and the challenge's leaderboard.
import { t } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, showError, confirmDialog } from "../dom.js";
import { navigate } from "../router.js";
import { loadDataset, datasetView } from "./class-dataset.js";
import { leaderboard, STUDENT_REFRESH_MS } from "./class-challenge.js";

/**
 * @param {HTMLElement} main
 * @param {import("./class.js").ClassContext} ctx
 */
export async function render(main, { cid, schoolClass }) {
  const dataBox = h("section", { id: "learner-dataset" }, h("p", { class: "muted" }, t("loading")));
  const board = leaderboard(cid, () => null, () => {}, STUDENT_REFRESH_MS);
  main.append(
    h("p", { class: "lead" }, schoolClass.writer_number !== null ? t("learner.youAre", { n: schoolClass.writer_number }) : null,
      " ", t("learner.privacy")),
    h("h2", {}, t("learner.datasetTitle")), dataBox,
    board.el,
    h("p", {}, h("button", { type: "button", class: "ghost danger", onclick: async () => {
      if (!await confirmDialog(t("learner.leaveConfirm", { name: schoolClass.name }), t("dialog.leave"))) return;
      try { await api.post(`/api/classes/${cid}/leave`); navigate("/classes"); } catch (err) { showError(err); }
    } }, t("learner.leave"))));
  try {
    const ds = await loadDataset(cid);
    clear(dataBox, ds ? [h("p", { class: "card hint" }, t("learner.trainHint"), " ", h("a", { href: "#/projects" }, t("learner.toProjects"))),
      datasetView(cid, ds)] : h("p", { class: "card muted" }, t("learner.noDataset")));
  } catch (err) { clear(dataBox, errorBox(err)); }
  return () => board.stop();
}
