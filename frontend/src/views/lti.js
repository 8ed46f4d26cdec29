// @ts-check
// Arriving from a learning platform (LTI 1.3). The launch redirects here with a one-time code in the address's
// fragment (`#/lti/CODE`): it is traded once for a session, which is kept in this tab's sessionStorage only (in
// the platform's iframe, partitioned by the browser; no cookie of ours is needed). A teacher adding Digit Lab
// to a course (deep linking) lands on `#/lti/deep-link/ID` and picks what the students will do.
import { t } from "../i18n/index.js";
import { api, setLogin } from "../state.js";
import { h, errorBox } from "../dom.js";

/** @typedef {import("../api/types").LtiSessionPublic} LtiSessionPublic */
/** @typedef {import("../api/types").DeepLinkChoice} DeepLinkChoice */
/** @typedef {import("../api/types").DeepLinkAnswer} DeepLinkAnswer */

/**
 * @param {HTMLElement} main
 * @param {import("../router.js").RouteParams} params  code
 */
export async function render(main, { code = "" }) {
  document.title = "Digit Lab";
  const status = h("p", { "aria-live": "polite" }, t("lti.opening"));
  main.append(h("section", { class: "card narrow" }, status));
  try {
    /** @type {LtiSessionPublic} */
    const session = await api.post("/api/lti/session", { code });
    setLogin(session.access_token, session.user, { tabOnly: true });
    // Replace the address: the used code stays out of the tab's history.
    location.replace(`#${session.target}`);
  } catch (err) {
    status.replaceChildren(t("lti.failed"));
    status.after(errorBox(err));
  }
}

/**
 * The deep-linking choice (teachers): a digits project, own symbols, or the class challenge; graded or not.
 * @param {HTMLElement} main
 * @param {import("../router.js").RouteParams} params  id
 */
export async function renderDeepLink(main, { id = "" }) {
  document.title = `${t("lti.addTitle")} – Digit Lab`;
  const errors = h("div", { "aria-live": "polite" });
  main.append(h("h1", {}, t("lti.addTitle")));
  try {
    await api.get(`/api/lti/deep-links/${encodeURIComponent(id)}`);
  } catch (err) { main.append(errorBox(err)); return; }
  const kind = h("select", { id: "lti-kind" },
    h("option", { value: "digits" }, t("lti.kindDigits")),
    h("option", { value: "symbols" }, t("lti.kindSymbols")),
    h("option", { value: "challenge" }, t("lti.kindChallenge")));
  const title = h("input", { id: "lti-title", required: true, maxlength: "255", value: t("lti.defaultTitle") });
  const labels = h("input", { id: "lti-labels", maxlength: "100", placeholder: "A,B,C,D,E,F,G,H,I,J" });
  const labelsRow = h("div", { hidden: true }, h("label", { for: "lti-labels" }, t("lti.labels")), labels);
  const grading = h("select", { id: "lti-grading" },
    h("option", { value: "none" }, t("lti.gradingNone")),
    h("option", { value: "progress" }, t("lti.gradingProgress")),
    h("option", { value: "challenge" }, t("lti.gradingChallenge")));
  const threshold = h("input", { id: "lti-threshold", type: "number", min: "0", max: "100", step: "1", value: "90" });
  const thresholdRow = h("div", { hidden: true }, h("label", { for: "lti-threshold" }, t("lti.threshold")), threshold);
  const sync = () => {
    labelsRow.hidden = kind.value !== "symbols";
    thresholdRow.hidden = grading.value !== "progress";
  };
  kind.addEventListener("change", sync);
  grading.addEventListener("change", sync);
  const submit = h("button", { type: "submit" }, t("lti.add"));
  main.append(h("form", { class: "card narrow", id: "lti-deep-link", onsubmit: async (/** @type {Event} */ e) => {
    e.preventDefault();
    errors.replaceChildren();
    submit.disabled = true;
    /** @type {DeepLinkChoice} */
    const choice = {
      kind: /** @type {DeepLinkChoice["kind"]} */ (kind.value), title: title.value.trim(),
      grading: /** @type {DeepLinkChoice["grading"]} */ (grading.value),
      accuracy_threshold: Number(threshold.value) / 100,
    };
    if (kind.value === "symbols") choice.labels = labels.value.split(",").map((label) => label.trim());
    try {
      /** @type {DeepLinkAnswer} */
      const answer = await api.post(`/api/lti/deep-links/${encodeURIComponent(id)}`, choice);
      // The platform expects the browser to post the signed answer to it (the page's policy allows the
      // registered platforms as form targets).
      const form = h("form", { method: "post", action: answer.return_url, hidden: true },
        h("input", { type: "hidden", name: "JWT", value: answer.jwt }));
      document.body.append(form);
      /** @type {HTMLFormElement} */ (form).submit();
    } catch (err) { errors.replaceChildren(errorBox(err)); submit.disabled = false; }
  } },
  h("label", { for: "lti-kind" }, t("lti.kind")), kind,
  h("label", { for: "lti-title" }, t("lti.title")), title,
  labelsRow,
  h("label", { for: "lti-grading" }, t("lti.grading")), grading,
  thresholdRow,
  errors, submit));
  sync();
}
