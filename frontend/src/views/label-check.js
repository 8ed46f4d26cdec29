// @ts-check
// Suspicious samples first: the dataset view's label check (k small networks, each judging the samples it never
// trained on) and the order it gives each label's sheet. The check runs as a job; this polls it while it runs.
import { t, jobErrorText } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, formatPercent, showError } from "../dom.js";

/** @typedef {import("../api/types").LabelCheckPublic} LabelCheckPublic */
/** @typedef {import("../api/types").SampleScorePublic} SampleScorePublic */

const POLL_MS = 1500;

/**
 * Scored samples first, most suspicious first; the rest (not scored, or relabelled since) after them in their
 * order. Pure.
 * @template {{id: number}} C
 * @param {C[]} cells
 * @param {SampleScorePublic[]} scores  most suspicious first
 * @returns {C[]}
 */
export function suspiciousFirst(cells, scores) {
  const rank = new Map(scores.map((s, i) => [s.cell_id, i]));
  const scored = cells.filter((c) => rank.has(c.id)).sort((a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0));
  return [...scored, ...cells.filter((c) => !rank.has(c.id))];
}

/**
 * The check's controls (order, start, state) for the dataset view.
 * @param {number} pid
 * @param {boolean} readOnly
 * @param {() => void} onChange  the sheet must be drawn again (order changed, a check finished)
 */
export function labelCheckPanel(pid, readOnly, onChange) {
  const base = `/api/projects/${pid}/label-checks`;
  /** @type {LabelCheckPublic | null} */
  let finished = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;
  let first = true;
  const status = h("span", { class: "muted small", id: "label-check-status", "aria-live": "polite" });
  const order = h("select", { id: "sheet-order", onchange: () => onChange() },
    h("option", { value: "written" }, t("labelCheck.orderWritten")),
    h("option", { value: "suspicious" }, t("labelCheck.orderSuspicious")));
  const start = h("button", { type: "button", class: "ghost", id: "check-labels", hidden: readOnly, onclick: async () => {
    start.disabled = true;
    try { show(await api.post(base)); } catch (err) { showError(err); start.disabled = false; }
  } }, t("labelCheck.start"));
  const el = h("div", { class: "row wrap label-check" },
    h("label", { for: "sheet-order" }, t("labelCheck.order")), order, start, status);

  /** @param {LabelCheckPublic | undefined} check  the newest check */
  function show(check) {
    clearTimeout(timer);
    if (stopped) return;
    const running = check && ["queued", "running"].includes(check.status);
    start.disabled = Boolean(running);
    if (!check) status.textContent = finished ? "" : t("labelCheck.none");
    else if (running) {
      status.textContent = t("labelCheck.running", { progress: formatPercent(check.progress) });
      timer = setTimeout(poll, POLL_MS);
    } else if (check.status === "succeeded") {
      const changed = finished?.id !== check.id;
      finished = check;
      status.textContent = t("labelCheck.done", { n: check.samples, issues: check.issues, agreement: formatPercent(check.agreement) });
      if (changed) {
        order.value = "suspicious";  // the student asked for it: show what it found
        onChange();
      }
    } else clear(status, h("span", { class: "error" }, check.status === "failed" ? t("labelCheck.failed", { error: jobErrorText(check) }) : t(`job.${check.status}`)));
  }

  async function poll() {
    try {
      /** @type {LabelCheckPublic[]} */
      const checks = await api.get(base);
      // On opening, the newest finished check orders the sheets if asked to; one that finishes while the student
      // watches switches the order to suspicious first (show).
      if (first) finished = checks.find((c) => c.status === "succeeded") || null;
      first = false;
      show(checks[0]);
    } catch (err) { if (!stopped) clear(status, errorBox(err)); }
  }

  return {
    el,
    /** Load the newest check (and follow it while it runs). */
    load: poll,
    /**
     * The label's scores when the sheet is to be shown suspicious first, else null.
     * @param {string} label
     * @returns {Promise<Map<number, SampleScorePublic> & {ordered: SampleScorePublic[]} | null>}
     */
    async scores(label) {
      if (order.value !== "suspicious" || !finished) return null;
      /** @type {SampleScorePublic[]} */
      const list = await api.get(`${base}/${finished.id}/scores`, { label });
      return Object.assign(new Map(list.map((s) => [s.cell_id, s])), { ordered: list });
    },
    stop() { stopped = true; clearTimeout(timer); },
  };
}

/**
 * What the check says about one sample, for its button's title and its dialog.
 * @param {SampleScorePublic} score
 * @param {string} label  the sample's label
 */
export function scoreText(score, label) {
  return score.suggested === label
    ? t("labelCheck.fits", { fit: formatPercent(score.quality) })
    : t("labelCheck.reads", { suggested: score.suggested, fit: formatPercent(score.quality) });
}
