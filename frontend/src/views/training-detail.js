// @ts-check
// One training: the live chart (WebSocket), progress with time left, cancel; then the evaluation:
// test figures, accuracy per label, the confusion matrix (cells open their samples), the gallery.
import { t, jobErrorText } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, progressBar, formatPercent, formatNumber, formatSeconds, modal, showError, figure, explain, tableScroll } from "../dom.js";
import { readableCell } from "../render/contrast.js";
import { followTraining } from "../api/ws.js";
import { TrainingChart } from "../render/chart.js";
import { bestEpoch, memorisingSince } from "../render/series.js";
import { summaryTable } from "./training.js";
import { trainingInClasses } from "./training-classes.js";

/** @typedef {import("../api/types").TrainingPublic} TrainingPublic */
/** @typedef {import("../api/types").TrainingMessage} TrainingMessage */
/** @typedef {import("../api/types").EvaluationPublic} EvaluationPublic */
/** @typedef {import("../api/types").SampleImage} SampleImage */
/**
 * One row of EvaluationPublic.per_label (a free-form object in the API's schema).
 * @typedef {{label: string, accuracy?: number | null, correct?: number, count?: number, total?: number}} PerLabel
 */

/**
 * @param {HTMLElement} body
 * @param {import("./project.js").ProjectContext} ctx  sub: the training's id
 */
export async function render(body, ctx) {
  const { pid, sub, base, readOnly } = ctx;
  const path = `/api/projects/${pid}/trainings/${sub}`;
  /** @type {TrainingPublic} */
  let training;
  try { training = await api.get(path); } catch (err) { body.append(errorBox(err)); return null; }
  const totalEpochs = /** @type {number | undefined} */ (training.settings.epochs) || 1;
  const bar = progressBar(t("detail.progress"));
  const statusText = h("p", { class: "status-line", id: "training-status", "aria-live": "polite" });
  const cancel = h("button", { type: "button", class: "danger", id: "cancel-training", hidden: readOnly, onclick: async () => {
    cancel.disabled = true;
    try { await api.post(`${path}/cancel`); } catch (err) { showError(err); cancel.disabled = false; }
  } }, t("detail.cancel"));
  const chartBox = h("div", { class: "chart", role: "img", "aria-label": t("detail.chartLabel") });
  // Said in words when the validation loss keeps rising: the network learns its samples by heart.
  const memorising = h("p", { class: "hint memorising", id: "memorising", hidden: true, "aria-live": "polite" });
  const keepsBest = training.settings.early_stopping != null;
  const epochTable = h("tbody", { id: "epoch-rows" });
  const evalBox = h("section", { class: "evaluation" });
  body.append(
    h("p", {}, h("a", { href: `#${base}/training` }, t("detail.back"))),
    h("h2", {}, t("detail.title", { id: training.id, arch: t(`training.arch.${training.architecture}`), activation: training.activation })),
    h("section", { class: "card" }, statusText, bar.el, cancel, chartBox, memorising,
      h("div", { class: "row wrap explains" }, ["loss", "validation", "overfitting"].map((term) => explain(term, true))),
      h("p", { class: "hint", id: "training-settings" }, settingsLine(training)),
      h("details", {}, h("summary", {}, t("detail.epochTable")), tableScroll(h("table", { class: "data" },
        h("thead", {}, h("tr", {}, ["epoch", "loss", "accuracy", "valLoss", "valAccuracy"].map((k) => h("th", { scope: "col" }, t(`chart.${k}`))))), epochTable), t("detail.epochTable"))),
      h("details", {}, h("summary", {}, t("training.summary")), summaryTable(training.summary))),
    evalBox);
  const chart = new TrainingChart(chartBox, {
    epoch: t("chart.epoch"), loss: t("chart.loss"), valLoss: t("chart.valLoss"), accuracy: t("chart.accuracy"),
    valAccuracy: t("chart.valAccuracy"), lossAxis: t("chart.lossAxis"), accAxis: t("chart.accAxis"), best: t("chart.best"),
  }, totalEpochs);

  let epochsDone = 0;
  /** @param {TrainingMessage} m */
  const onMessage = (m) => {
    if (m.type === "status") {
      statusText.textContent = t(`job.${m.status}`);
      cancel.hidden = readOnly || !["queued", "running"].includes(m.status);
      if (m.status === "queued") bar.set(null, t("detail.waiting"));
    } else if (m.type === "queue") {
      // Its place in the queue while every worker is busy, with when it should start and end (sent again as it moves).
      bar.set(null, t("detail.queued", { position: m.position, start: formatSeconds(m.seconds_to_start), end: formatSeconds(m.seconds_to_end) }));
    } else if (m.type === "started") {
      statusText.textContent = t("detail.started", { train: m.train_samples, val: m.val_samples, test: m.test_samples });
    } else if (m.type === "progress") {
      const overall = ((m.epoch - 1) + m.fraction) / totalEpochs;
      bar.set(overall, [t("detail.epochOf", { epoch: m.epoch, of: totalEpochs }),
        m.seconds_left != null ? t("timeLeft", { time: formatSeconds(m.seconds_left) }) : ""].filter(Boolean).join(" · "));
    } else if (m.type === "epoch") {
      epochsDone = m.epoch;
      chart.addEpoch(m);
      bar.set(m.epoch / totalEpochs, t("detail.epochOf", { epoch: m.epoch, of: totalEpochs }));
      const since = memorisingSince(chart.epochs);
      memorising.hidden = !since;
      if (since) memorising.textContent = `${t("detail.memorising", { epoch: since.epoch })} ${t(keepsBest ? "detail.keepsBest" : "detail.keepsLast", { epoch: since.epoch })}`;
      epochTable.append(h("tr", {}, h("td", {}, String(m.epoch)), h("td", {}, formatNumber(m.loss)), h("td", {}, formatPercent(m.accuracy)),
        h("td", {}, formatNumber(m.val_loss)), h("td", {}, formatPercent(m.val_accuracy))));
    } else if (m.type === "end") {
      cancel.hidden = true;
      bar.set(m.status === "succeeded" ? 1 : epochsDone / totalEpochs, t(`job.${m.status}`));
      statusText.textContent = m.status === "succeeded"
        ? [t("detail.done", { epochs: m.epochs_run, acc: formatPercent(m.test?.accuracy) }),
          keepsBest && bestEpoch(chart.epochs) ? t("detail.bestKept", { epoch: bestEpoch(chart.epochs)?.epoch ?? "" }) : ""].join(" ").trim()
        : m.status === "failed" ? t("detail.failed", { error: jobErrorText(m) }) : t("job.cancelled");
      statusText.className = `status-line ${m.status === "succeeded" ? "ok" : m.status === "failed" ? "error" : ""}`;
      if (m.status === "succeeded") loadEvaluation();
    }
  };
  const stop = followTraining(api, path, onMessage);
  /** @type {(() => void) | null} */
  let stopClasses = null;

  async function loadEvaluation() {
    clear(evalBox, h("p", { class: "muted" }, t("loading")));
    /** @type {EvaluationPublic} */
    let ev;
    try { ev = await api.get(`${path}/evaluation`); } catch (err) { clear(evalBox, errorBox(err)); return; }
    clear(evalBox,
      h("div", { class: "row wrap" },
        h("a", { class: "button", href: `#${base}/playground/${training.id}`, id: "open-playground" }, t("detail.toPlayground")),
        h("button", { type: "button", class: "ghost", onclick: () => download("model.onnx") }, t("detail.downloadOnnx")),
        h("button", { type: "button", class: "ghost", onclick: () => download("model.keras") }, t("detail.downloadKeras"))),
      h("h2", {}, t("eval.title")),
      h("div", { class: "figures" },
        figure(t("eval.testAccuracy"), formatPercent(ev.accuracy)), figure(t("eval.testLoss"), formatNumber(ev.loss)),
        figure(t("eval.count"), String(ev.count))),
      h("div", { class: "eval-grid" },
        h("section", { class: "card" }, h("h3", {}, t("eval.perLabel")), perLabel(ev)),
        h("section", { class: "card" }, h("h3", {}, t("eval.confusion")), h("p", { class: "hint" }, t("eval.confusionHint")), confusion(ev))),
      h("section", { class: "card" }, h("h3", {}, t("eval.gallery")), h("p", { class: "hint" }, t("eval.galleryHint")), gallery(mergeSamples(ev.misclassified, ev.gallery), `#${base}/playground/${training.id}`)));
    const classes = trainingInClasses(training, ctx);
    stopClasses = classes.stop;
    // Right under the test figures: the gap to other writers' handwriting is the lesson of the class.
    const figuresBox = evalBox.querySelector(".figures");
    if (figuresBox) figuresBox.after(classes.el); else evalBox.append(classes.el);
  }

  /** @param {"model.onnx" | "model.keras"} name */
  async function download(name) {
    try {
      const { saveBlob } = await import("../dom.js");
      saveBlob(await api.blob(`${path}/files/${name}`), `digitlab-${pid}-${training.id}-${name}`);
    } catch (err) { showError(err); }
  }

  /** @param {EvaluationPublic} ev */
  function perLabel(ev) {
    return h("ul", { class: "bars" }, /** @type {PerLabel[]} */ (ev.per_label).map((row) => {
      const acc = row.accuracy ?? 0;
      return h("li", {}, h("span", { class: "bar-label" }, row.label),
        h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: { width: `${100 * acc}%` } })),
        h("span", { class: "bar-value" }, `${formatPercent(row.accuracy)} (${row.correct ?? "?"}/${row.count ?? row.total ?? "?"})`));
    }));
  }

  /** @param {EvaluationPublic} ev */
  function confusion(ev) {
    const max = Math.max(1, ...ev.confusion.flat());
    return h("div", { class: "table-scroll" }, h("table", { class: "confusion" },
      h("caption", { class: "sr-only" }, t("eval.confusionCaption")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("eval.trueVsPred")), ev.labels.map((l) => h("th", { scope: "col" }, l)))),
      h("tbody", {}, ev.confusion.map((row, i) => h("tr", {}, h("th", { scope: "row" }, ev.labels[i]),
        row.map((n, j) => {
          const strength = n / max;
          // Readable numbers (4.5:1) at every strength: render/contrast.js darkens mid-tones where needed.
          const cellStyle = i === j ? readableCell([31, 119, 180], 0.1 + 0.8 * strength) : readableCell([228, 101, 11], 0.15 + 0.8 * strength);
          return h("td", {}, n ? h("button", { type: "button", class: "confusion-cell", style: cellStyle,
            "aria-label": t("eval.cellLabel", { n, truth: ev.labels[i], pred: ev.labels[j] }),
            onclick: () => openCell(ev, i, j) }, String(n)) : h("span", { class: "muted" }, "·"));
        }))))));
  }

  /**
   * The test samples of label i predicted as label j, in a dialog.
   * @param {EvaluationPublic} ev
   * @param {number} i
   * @param {number} j
   */
  async function openCell(ev, i, j) {
    const box = h("div", {}, h("p", { class: "muted" }, t("loading")));
    modal(t("eval.cellTitle", { truth: ev.labels[i], pred: ev.labels[j] }), box);
    try { clear(box, gallery(await api.get(`${path}/confusion/${i}/${j}`))); } catch (err) { clear(box, errorBox(err)); }
  }

  return () => { stop(); chart.destroy(); if (stopClasses) stopClasses(); };
}

/**
 * The settings a student compares trainings by, in one line (augmentation ranges, best epoch, schedule).
 * @param {TrainingPublic} training
 */
export function settingsLine(training) {
  const s = training.settings;
  const aug = /** @type {{rotation: number, shift: number, zoom: number, stroke: number, elastic?: number} | null | undefined} */ (s.augmentation);
  return [
    aug ? t("detail.augmentation", { rotation: aug.rotation, shift: Math.round(aug.shift * 100), zoom: Math.round(aug.zoom * 100),
      stroke: aug.stroke, elastic: aug.elastic ?? 0 })
      : t("detail.noAugmentation"),
    s.early_stopping != null ? t("detail.earlyStopping", { n: /** @type {number} */ (s.early_stopping) }) : t("detail.noEarlyStopping"),
    s.lr_schedule === "cosine" ? t("detail.cosine") : "",
  ].filter(Boolean).join(" · ");
}

/**
 * The mistakes first (in red), then the rest of the gallery, each test sample once.
 * @param {SampleImage[]} mistakes
 * @param {SampleImage[]} samples
 */
function mergeSamples(mistakes, samples) {
  /** @type {Set<number>} */
  const seen = new Set();
  return [...mistakes, ...samples].filter((s) => !seen.has(s.test_index) && seen.add(s.test_index));
}

/**
 * @param {SampleImage[]} samples
 * @param {string} [playground]  the playground's address for this network: each picture opens there, on the pad
 */
export function gallery(samples, playground) {
  if (!samples.length) return h("p", { class: "muted" }, t("eval.noSamples"));
  return h("div", { class: "gallery" }, samples.map((s) => h("figure", { class: `sample ${s.correct ? "right" : "wrong"}` },
    samplePicture(s, playground),
    h("figcaption", {}, s.correct ? s.predicted : t("eval.mistake", { truth: s.true, pred: s.predicted }),
      h("small", {}, ` ${formatPercent(s.confidence, 0)}`)))));
}

/**
 * A test sample's picture; with a playground address, a link that opens it there ("try it in the playground").
 * @param {SampleImage} s
 * @param {string} [playground]
 */
function samplePicture(s, playground) {
  const img = h("img", { src: s.image, width: "56", height: "56", alt: t("eval.sampleAlt", { truth: s.true, pred: s.predicted }) });
  if (!playground) return img;
  return h("a", { class: "try-sample", href: `${playground}?sample=${s.test_index}`, "data-test-index": s.test_index,
    title: t("play.trySample") }, img);
}
