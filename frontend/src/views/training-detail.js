// One training: the live chart (WebSocket), progress with time left, cancel; then the evaluation:
// test figures, accuracy per label, the confusion matrix (cells open their samples), the gallery.
import { t } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, progressBar, formatPercent, formatNumber, formatSeconds, modal, showError } from "../dom.js";
import { followTraining } from "../api/ws.js";
import { TrainingChart } from "../render/chart.js";
import { summaryTable } from "./training.js";

export async function render(body, { pid, sub }) {
  const path = `/api/projects/${pid}/trainings/${sub}`;
  let training;
  try { training = await api.get(path); } catch (err) { body.append(errorBox(err)); return null; }
  const totalEpochs = training.settings.epochs || 1;
  const bar = progressBar(t("detail.progress"));
  const statusText = h("p", { class: "status-line", id: "training-status", "aria-live": "polite" });
  const cancel = h("button", { type: "button", class: "danger", id: "cancel-training", onclick: async () => {
    cancel.disabled = true;
    try { await api.post(`${path}/cancel`); } catch (err) { showError(err); cancel.disabled = false; }
  } }, t("detail.cancel"));
  const chartBox = h("div", { class: "chart", role: "img", "aria-label": t("detail.chartLabel") });
  const epochTable = h("tbody", { id: "epoch-rows" });
  const evalBox = h("section", { class: "evaluation" });
  body.append(
    h("p", {}, h("a", { href: `#/projects/${pid}/training` }, t("detail.back"))),
    h("h2", {}, t("detail.title", { id: training.id, arch: t(`training.arch.${training.architecture}`), activation: training.activation })),
    h("section", { class: "card" }, statusText, bar.el, cancel, chartBox,
      h("details", {}, h("summary", {}, t("detail.epochTable")), h("table", { class: "data" },
        h("thead", {}, h("tr", {}, ["epoch", "loss", "accuracy", "valLoss", "valAccuracy"].map((k) => h("th", { scope: "col" }, t(`chart.${k}`))))), epochTable)),
      h("details", {}, h("summary", {}, t("training.summary")), summaryTable(training.summary))),
    evalBox);
  const chart = new TrainingChart(chartBox, {
    epoch: t("chart.epoch"), loss: t("chart.loss"), valLoss: t("chart.valLoss"), accuracy: t("chart.accuracy"),
    valAccuracy: t("chart.valAccuracy"), lossAxis: t("chart.lossAxis"), accAxis: t("chart.accAxis"),
  }, totalEpochs);

  let epochsDone = 0;
  const onMessage = (m) => {
    if (m.type === "status") {
      statusText.textContent = t(`job.${m.status}`);
      cancel.hidden = !["queued", "running"].includes(m.status);
      if (m.status === "queued") bar.set(null, t("detail.waiting"));
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
      epochTable.append(h("tr", {}, h("td", {}, String(m.epoch)), h("td", {}, formatNumber(m.loss)), h("td", {}, formatPercent(m.accuracy)),
        h("td", {}, formatNumber(m.val_loss)), h("td", {}, formatPercent(m.val_accuracy))));
    } else if (m.type === "end") {
      cancel.hidden = true;
      bar.set(m.status === "succeeded" ? 1 : epochsDone / totalEpochs, t(`job.${m.status}`));
      statusText.textContent = m.status === "succeeded"
        ? t("detail.done", { epochs: m.epochs_run, acc: formatPercent(m.test?.accuracy) })
        : m.status === "failed" ? t("detail.failed", { error: m.error || "" }) : t("job.cancelled");
      statusText.className = `status-line ${m.status === "succeeded" ? "ok" : m.status === "failed" ? "error" : ""}`;
      if (m.status === "succeeded") loadEvaluation();
    }
  };
  const stop = followTraining(api, path, onMessage);

  async function loadEvaluation() {
    clear(evalBox, h("p", { class: "muted" }, t("loading")));
    let ev;
    try { ev = await api.get(`${path}/evaluation`); } catch (err) { clear(evalBox, errorBox(err)); return; }
    clear(evalBox,
      h("div", { class: "row wrap" },
        h("a", { class: "button", href: `#/projects/${pid}/playground/${training.id}`, id: "open-playground" }, t("detail.toPlayground")),
        h("button", { type: "button", class: "ghost", onclick: () => download("model.onnx") }, t("detail.downloadOnnx")),
        h("button", { type: "button", class: "ghost", onclick: () => download("model.keras") }, t("detail.downloadKeras"))),
      h("h2", {}, t("eval.title")),
      h("div", { class: "figures" },
        figure(t("eval.testAccuracy"), formatPercent(ev.accuracy)), figure(t("eval.testLoss"), formatNumber(ev.loss)),
        figure(t("eval.count"), String(ev.count))),
      h("div", { class: "eval-grid" },
        h("section", { class: "card" }, h("h3", {}, t("eval.perLabel")), perLabel(ev)),
        h("section", { class: "card" }, h("h3", {}, t("eval.confusion")), h("p", { class: "hint" }, t("eval.confusionHint")), confusion(ev))),
      h("section", { class: "card" }, h("h3", {}, t("eval.gallery")), h("p", { class: "hint" }, t("eval.galleryHint")), gallery(mergeSamples(ev.misclassified, ev.gallery))));
  }

  async function download(name) {
    try {
      const { saveBlob } = await import("../dom.js");
      saveBlob(await api.blob(`${path}/files/${name}`), `digitlab-${pid}-${training.id}-${name}`);
    } catch (err) { showError(err); }
  }

  function perLabel(ev) {
    return h("ul", { class: "bars" }, ev.per_label.map((row) => {
      const acc = row.accuracy ?? 0;
      return h("li", {}, h("span", { class: "bar-label" }, row.label),
        h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: { width: `${100 * acc}%` } })),
        h("span", { class: "bar-value" }, `${formatPercent(row.accuracy)} (${row.correct ?? "?"}/${row.count ?? row.total ?? "?"})`));
    }));
  }

  function confusion(ev) {
    const max = Math.max(1, ...ev.confusion.flat());
    return h("div", { class: "table-scroll" }, h("table", { class: "confusion" },
      h("caption", { class: "sr-only" }, t("eval.confusionCaption")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("eval.trueVsPred")), ev.labels.map((l) => h("th", { scope: "col" }, l)))),
      h("tbody", {}, ev.confusion.map((row, i) => h("tr", {}, h("th", { scope: "row" }, ev.labels[i]),
        row.map((n, j) => {
          const strength = n / max;
          const bg = i === j ? `rgba(31,119,180,${0.1 + 0.8 * strength})` : n ? `rgba(228,101,11,${0.15 + 0.8 * strength})` : "transparent";
          return h("td", {}, n ? h("button", { type: "button", class: "confusion-cell", style: { background: bg, color: strength > 0.6 ? "#fff" : "" },
            "aria-label": t("eval.cellLabel", { n, truth: ev.labels[i], pred: ev.labels[j] }),
            onclick: () => openCell(ev, i, j) }, String(n)) : h("span", { class: "muted" }, "·"));
        }))))));
  }

  async function openCell(ev, i, j) {
    const box = h("div", {}, h("p", { class: "muted" }, t("loading")));
    modal(t("eval.cellTitle", { truth: ev.labels[i], pred: ev.labels[j] }), box);
    try { clear(box, gallery(await api.get(`${path}/confusion/${i}/${j}`))); } catch (err) { clear(box, errorBox(err)); }
  }

  return () => { stop(); chart.destroy(); };
}

/** The mistakes first (in red), then the rest of the gallery, each test sample once. */
function mergeSamples(mistakes, samples) {
  const seen = new Set();
  return [...mistakes, ...samples].filter((s) => !seen.has(s.test_index) && seen.add(s.test_index));
}

function figure(label, value) {
  return h("div", { class: "figure card" }, h("span", { class: "muted" }, label), h("strong", {}, value));
}

export function gallery(samples) {
  if (!samples.length) return h("p", { class: "muted" }, t("eval.noSamples"));
  return h("div", { class: "gallery" }, samples.map((s) => h("figure", { class: `sample ${s.correct ? "right" : "wrong"}` },
    h("img", { src: s.image, width: "56", height: "56", alt: t("eval.sampleAlt", { truth: s.true, pred: s.predicted }) }),
    h("figcaption", {}, s.correct ? s.predicted : `${s.predicted} ≠ ${s.true}`, h("small", {}, ` ${Math.round(100 * s.confidence)}%`)))));
}
