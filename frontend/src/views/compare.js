// @ts-check
// Two trainings side by side, so a student sees what a change did: the test figures, both curves overlaid, the
// accuracy per label, where the confusion matrices differ, and the settings that differ.
// Address: #/projects/{id}/compare/{a}-{b} (trainings picked on the training screen's list).
import { t } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, formatPercent, formatNumber, formatSeconds, tableScroll } from "../dom.js";
import { CompareChart, COLOR_A, COLOR_B } from "../render/compare-chart.js";
import { comparedIds, confusionChanges, perLabelRows, settingsDiff } from "../render/comparison.js";

/** @typedef {import("../api/types").TrainingPublic} TrainingPublic */
/** @typedef {import("../api/types").EvaluationPublic} EvaluationPublic */
/** @typedef {import("../render/comparison.js").EpochFigures} EpochFigures */
/** @typedef {{training: TrainingPublic, epochs: EpochFigures[], evaluation: EvaluationPublic | null}} Side */

/**
 * @param {HTMLElement} body
 * @param {import("./project.js").ProjectContext} ctx  sub: "{a}-{b}", the two trainings' ids
 */
export async function render(body, { pid, sub, base }) {
  const back = h("p", {}, h("a", { href: `#${base}/training` }, t("detail.back")));
  const ids = comparedIds(sub);
  if (!ids) { body.append(back, errorBox({ status: 404, code: "not_found", detail: "" })); return null; }
  body.append(back, h("p", { class: "muted" }, t("loading")));
  /** @type {Side[]} */
  let sides;
  try { sides = await Promise.all(ids.map((id) => load(`/api/projects/${pid}/trainings/${id}`))); }
  catch (err) { clear(body, back, errorBox(err)); return null; }
  const [A, B] = sides;
  const name = (/** @type {Side} */ s) => t("compare.name", { id: s.training.id });
  const swatch = (/** @type {string} */ color) => h("span", { class: "swatch", style: { background: color }, "aria-hidden": "true" });
  const heading = (/** @type {Side} */ s, /** @type {string} */ color) => h("th", { scope: "col" }, swatch(color), name(s));

  const charts = h("div", { class: "eval-grid", id: "compare-charts" });
  clear(body, back,
    h("h2", {}, t("compare.title", { a: A.training.id, b: B.training.id })),
    h("p", { class: "hint" }, t("compare.hint")),
    h("section", { class: "card", id: "compare-figures" }, h("h3", {}, t("compare.figures")), figuresTable()),
    charts,
    h("div", { class: "eval-grid" },
      h("section", { class: "card", id: "compare-per-label" }, h("h3", {}, t("eval.perLabel")), perLabelTable()),
      h("section", { class: "card", id: "compare-confusion" }, h("h3", {}, t("compare.confusion")),
        h("p", { class: "hint" }, t("compare.confusionHint", { a: A.training.id, b: B.training.id })), confusionPart())),
    h("section", { class: "card", id: "compare-settings" }, h("h3", {}, t("compare.settings")), settingsTable()));

  /** @type {CompareChart[]} */
  const drawn = [];
  for (const figure of /** @type {const} */ (["loss", "accuracy"])) {
    const box = h("div", { class: "chart", role: "img", "aria-label": t(`compare.chart.${figure}`) });
    charts.append(h("section", { class: "card" }, h("h3", {}, t(`compare.chart.${figure}`)), box));
    drawn.push(new CompareChart(box, {
      epoch: t("chart.epoch"), axis: t(figure === "loss" ? "chart.lossAxis" : "chart.accAxis"),
      aTrain: t("compare.series.train", { name: name(A) }), aVal: t("compare.series.val", { name: name(A) }),
      bTrain: t("compare.series.train", { name: name(B) }), bVal: t("compare.series.val", { name: name(B) }),
    }, figure, A.epochs, B.epochs));
  }

  function figuresTable() {
    const seconds = (/** @type {Side} */ s) => Math.round(s.epochs.reduce((sum, e) => sum + (/** @type {{seconds?: number}} */ (e).seconds || 0), 0));
    /** @type {[string, number | null, number | null, (x: number | null) => string, boolean | null][]} */
    const rows = [
      [t("eval.testAccuracy"), A.training.test_accuracy, B.training.test_accuracy, formatPercent, true],
      [t("eval.testLoss"), A.training.test_loss, B.training.test_loss, (x) => formatNumber(x), false],
      [t("compare.epochsRun"), A.training.epochs_run, B.training.epochs_run, (x) => String(x ?? "–"), null],
      [t("compare.seconds"), seconds(A), seconds(B), (x) => formatSeconds(x) || "–", null],
    ];
    return tableScroll(h("table", { class: "data compare" },
      h("thead", {}, h("tr", {}, h("th", {}, ""), heading(A, COLOR_A), heading(B, COLOR_B), h("th", { scope: "col" }, t("compare.change")))),
      h("tbody", {}, rows.map(([label, x, y, format, higherIsBetter]) => h("tr", {}, h("th", { scope: "row" }, label),
        h("td", {}, format(x)), h("td", {}, format(y)), change(x, y, format === formatPercent, higherIsBetter))))), t("compare.figures"));
  }

  function perLabelTable() {
    if (!A.evaluation || !B.evaluation) return h("p", { class: "muted" }, t("compare.notFinished"));
    const rows = perLabelRows(/** @type {any} */ (A.evaluation.per_label), /** @type {any} */ (B.evaluation.per_label));
    return tableScroll(h("table", { class: "data compare" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("compare.label")), heading(A, COLOR_A), heading(B, COLOR_B), h("th", { scope: "col" }, t("compare.change")))),
      h("tbody", {}, rows.map((r) => h("tr", {}, h("th", { scope: "row" }, r.label), h("td", {}, formatPercent(r.a)), h("td", {}, formatPercent(r.b)),
        change(r.a, r.b, true, true))))), t("eval.perLabel"));
  }

  function confusionPart() {
    if (!A.evaluation || !B.evaluation) return h("p", { class: "muted" }, t("compare.notFinished"));
    const { labels, cells, biggest } = confusionChanges(A.evaluation, B.evaluation);
    const sentences = biggest.slice(0, 3).map((c) => h("li", {}, t(c.change < 0 ? "compare.lessOften" : "compare.moreOften",
      { b: B.training.id, truth: c.truth, predicted: c.predicted, a: c.a, bn: c.b })));
    const table = h("div", { class: "table-scroll" }, h("table", { class: "confusion compare-confusion" },
      h("caption", { class: "sr-only" }, t("compare.confusionCaption")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("eval.trueVsPred")), labels.map((l) => h("th", { scope: "col" }, l)))),
      h("tbody", {}, cells.map((row, i) => h("tr", {}, h("th", { scope: "row" }, labels[i]), row.map((c) => {
        if (c.a === c.b) return h("td", { class: "muted" }, c.a ? String(c.a) : "·");
        // B better: fewer mistakes off the diagonal, more right answers on it.
        const better = c.diagonal ? c.change > 0 : c.change < 0;
        return h("td", { class: `changed ${better ? "better" : "worse"}`,
          title: t("compare.cellTitle", { truth: c.truth, predicted: c.predicted, a: c.a, b: c.b }) }, `${c.a}→${c.b}`);
      }))))));
    return [sentences.length ? h("ul", { id: "confusion-changes" }, sentences) : h("p", { class: "muted" }, t("compare.sameConfusion")), table];
  }

  function settingsTable() {
    const rows = settingsDiff(/** @type {any} */ (A.training), /** @type {any} */ (B.training));
    const label = (/** @type {string} */ key) => { const text = t(`compare.key.${key}`); return text === `compare.key.${key}` ? key : text; };
    return tableScroll(h("table", { class: "data compare" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("compare.setting")), heading(A, COLOR_A), heading(B, COLOR_B))),
      h("tbody", {}, rows.map((r) => h("tr", { class: r.same ? "muted" : "changed", dataset: { key: r.key } },
        h("th", { scope: "row" }, label(r.key), r.same ? null : h("span", { class: "badge" }, t("compare.differs"))),
        h("td", {}, r.a), h("td", {}, r.b))))), t("compare.settings"));
  }

  return () => drawn.forEach((c) => c.destroy());
}

/**
 * A training, its epochs and (finished) its evaluation.
 * @param {string} path
 * @returns {Promise<Side>}
 */
async function load(path) {
  /** @type {TrainingPublic} */
  const training = await api.get(path);
  /** @type {import("../api/types").TrainingMessage[]} */
  const history = await api.get(`${path}/history`);
  const epochs = /** @type {EpochFigures[]} */ (/** @type {unknown} */ (history.filter((m) => m.type === "epoch")));
  const evaluation = training.status === "succeeded" ? await api.get(`${path}/evaluation`) : null;
  return { training, epochs, evaluation };
}

/**
 * B compared with A: "+1.2 pp" (fractions) or "+0.034", marked better or worse when it is clear which is which.
 * @param {number | null | undefined} a
 * @param {number | null | undefined} b
 * @param {boolean} fraction
 * @param {boolean | null} higherIsBetter  null: neither
 */
function change(a, b, fraction, higherIsBetter) {
  if (a === null || a === undefined || b === null || b === undefined) return h("td", {}, "–");
  const d = b - a;
  const text = fraction ? t("compare.points", { n: `${d > 0 ? "+" : ""}${formatNumber(100 * d, 1)}` }) : `${d > 0 ? "+" : ""}${formatNumber(d, Number.isInteger(d) ? 0 : 3)}`;
  const better = higherIsBetter === null || Math.abs(d) < 1e-9 ? "" : (d > 0) === higherIsBetter ? "better" : "worse";
  return h("td", { class: `delta ${better}` }, text);
}
