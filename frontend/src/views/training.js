// @ts-check
// Training setup: a preset or a layer list (summary with shapes and parameters before training),
// activation, epochs, batch size; plus the list of past trainings with their figures.
import { t, formatNumber as formatCount } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, formatPercent, formatNumber, explain, tableScroll } from "../dom.js";
import { navigate } from "../router.js";

/** @typedef {import("../api/types").NetworkSummaryRequest} NetworkSummaryRequest */
/** @typedef {import("../api/types").NetworkSummaryPublic} NetworkSummaryPublic */
/** @typedef {import("../api/types").TrainingPublic} TrainingPublic */
/** @typedef {"dense" | "conv2d" | "max_pooling2d" | "flatten" | "dropout"} LayerKind */
/**
 * One hidden layer of a custom network as the form holds it (sent in NetworkSummaryRequest.layers).
 * @typedef {{kind: LayerKind, [param: string]: string | number}} LayerSpec
 */

/** @type {Record<LayerKind, Record<string, number>>} the layer kinds and their parameters' defaults */
const KINDS = {
  dense: { units: 64 },
  conv2d: { filters: 16, kernel_size: 3 },
  max_pooling2d: { pool_size: 2 },
  flatten: {},
  dropout: { rate: 0.2 },
};
const KIND_NAMES = /** @type {LayerKind[]} */ (Object.keys(KINDS));

/**
 * @param {HTMLElement} body
 * @param {import("./project.js").ProjectContext} ctx
 */
export function render(body, { pid, base, readOnly }) {
  let stopped = false;
  /** @type {LayerSpec[]} */
  const layers = [{ kind: "flatten" }, { kind: "dense", units: 64 }];
  /** @param {string} id @param {string} labelKey @param {HTMLElement} input @param {string} [term]  explained behind "?" */
  const field = (id, labelKey, input, term) => h("div", { class: "field" },
    h("div", { class: "label-row" }, h("label", { for: id }, t(labelKey)), term ? explain(term) : null), input);
  const arch = h("select", { id: "arch" },
    ["mlp", "cnn", "custom"].map((a) => h("option", { value: a }, t(`training.arch.${a}`))));
  const activation = h("select", { id: "activation" }, ["relu", "tanh", "sigmoid"].map((a) => h("option", { value: a }, a)));
  const epochs = h("input", { id: "epochs", type: "number", min: "1", max: "500", value: "10" });
  const batch = h("input", { id: "batch", type: "number", min: "1", max: "4096", value: "32" });
  // Augmentation (on by default): the ranges of the random changes, shown and adjustable while it is on.
  const augment = h("input", { id: "augment", type: "checkbox", checked: true });
  /** @type {Record<"rotation" | "shift" | "zoom" | "stroke" | "elastic", HTMLInputElement>} */
  const ranges = {
    rotation: h("input", { id: "aug-rotation", type: "number", min: "0", max: "45", step: "1", value: "12", class: "small-number" }),
    shift: h("input", { id: "aug-shift", type: "number", min: "0", max: "30", step: "1", value: "8", class: "small-number" }),
    zoom: h("input", { id: "aug-zoom", type: "number", min: "0", max: "30", step: "1", value: "10", class: "small-number" }),
    stroke: h("input", { id: "aug-stroke", type: "number", min: "0", max: "1", step: "0.1", value: "0.5", class: "small-number" }),
    elastic: h("input", { id: "aug-elastic", type: "number", min: "0", max: "4", step: "0.5", value: "2", class: "small-number" }),
  };
  const rangeBox = h("div", { class: "row wrap", id: "augment-ranges" },
    Object.entries(ranges).map(([name, input]) => field(input.id, `training.aug.${name}`, input)));
  augment.addEventListener("change", () => { rangeBox.hidden = !augment.checked; });
  const keepBest = h("input", { id: "keep-best", type: "checkbox", checked: true });
  const patience = h("input", { id: "patience", type: "number", min: "0", max: "100", value: "10", class: "small-number" });
  keepBest.addEventListener("change", () => { patience.disabled = !keepBest.checked; });
  const extras = h("fieldset", { class: "training-extras" },
    h("legend", {}, t("training.generalise")),
    h("label", { class: "inline" }, augment, " ", t("training.augment")), h("p", { class: "hint" }, t("training.augmentHint")), rangeBox,
    h("label", { class: "inline" }, keepBest, " ", t("training.keepBest")),
    h("label", { class: "inline" }, t("training.patience"), " ", patience), h("p", { class: "hint" }, t("training.keepBestHint")));
  // What the network learns from: the project's own samples, or the data set of a class the student is in.
  const source = h("select", { id: "data-source" }, h("option", { value: "" }, t("training.ownSamples")));
  const sourceField = h("div", { class: "field", hidden: true }, h("label", { for: "data-source" }, t("training.learnFrom")), source);
  const layerBox = h("div", { class: "layer-builder", hidden: true });
  const summaryBox = h("div", { class: "summary", "aria-live": "polite" });
  const errors = h("div");
  const start = h("button", { type: "submit", id: "start-training" }, t("training.start"));
  const history = h("div", { class: "history" });

  /** @returns {NetworkSummaryRequest} */
  const network = () => {
    /** @type {NetworkSummaryRequest} */
    const choice = {
      architecture: /** @type {NetworkSummaryRequest["architecture"]} */ (arch.value),
      activation: /** @type {NetworkSummaryRequest["activation"]} */ (activation.value),
    };
    if (source.value) choice.class_id = Number(source.value);
    if (arch.value === "custom") {
      choice.layers = layers.map((l) => (l.kind === "dense" || l.kind === "conv2d" ? { ...l, activation: activation.value } : { ...l }));
    }
    return choice;
  };

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let summaryTimer;
  let summaryRequest = 0;
  const refreshSummary = () => {
    clearTimeout(summaryTimer);
    summaryTimer = setTimeout(async () => {
      const mine = ++summaryRequest;
      try {
        /** @type {NetworkSummaryPublic} */
        // With the batch size: the summary also checks the memory the training would need (issue 8).
        const s = await api.post(`/api/projects/${pid}/trainings/summary`, { ...network(), batch_size: Number(batch.value) });
        if (mine !== summaryRequest || stopped) return;
        clear(summaryBox, summaryTable(s));
        start.disabled = false;
      } catch (err) {
        if (mine !== summaryRequest || stopped) return;
        clear(summaryBox, errorBox(err));
        start.disabled = true;
      }
    }, 250);
  };

  function renderLayers() {
    clear(layerBox, h("h3", {}, t("training.layers")), h("p", { class: "hint" }, t("training.layersHint")),
      h("ol", {}, layers.map((layer, i) => h("li", { class: "layer-row" },
        h("select", { "aria-label": t("training.layerKind", { n: i + 1 }), onchange: (e) => {
          const kind = /** @type {LayerKind} */ (/** @type {HTMLSelectElement} */ (e.target).value);
          layers[i] = { kind, ...KINDS[kind] };
          renderLayers(); refreshSummary();
        } }, KIND_NAMES.map((k) => h("option", { value: k, selected: k === layer.kind }, t(`layer.${k}`)))),
        Object.keys(KINDS[layer.kind]).map((param) => h("label", { class: "inline" }, t(`param.${param}`),
          h("input", { type: "number", value: String(layer[param]), step: param === "rate" ? "0.05" : "1", min: param === "rate" ? "0" : "1",
            max: param === "rate" ? "0.95" : null, class: "small-number",
            oninput: (e) => { layers[i] = { ...layers[i], [param]: Number(/** @type {HTMLInputElement} */ (e.target).value) }; refreshSummary(); } }))),
        h("button", { type: "button", class: "ghost", "aria-label": t("training.moveUp", { n: i + 1 }), disabled: i === 0,
          onclick: () => { [layers[i - 1], layers[i]] = [layers[i], layers[i - 1]]; renderLayers(); refreshSummary(); } }, "↑"),
        h("button", { type: "button", class: "ghost danger", "aria-label": t("training.removeLayer", { n: i + 1 }),
          onclick: () => { layers.splice(i, 1); renderLayers(); refreshSummary(); } }, "×")))),
      h("div", { class: "row wrap" }, KIND_NAMES.map((k) => h("button", { type: "button", class: "ghost",
        onclick: () => { layers.push({ kind: k, ...KINDS[k] }); renderLayers(); refreshSummary(); } }, `+ ${t(`layer.${k}`)}`))),
      h("p", { class: "hint" }, t("training.outputAdded")));
  }

  arch.addEventListener("change", () => { layerBox.hidden = arch.value !== "custom"; refreshSummary(); });
  activation.addEventListener("change", refreshSummary);
  batch.addEventListener("input", refreshSummary);
  source.addEventListener("change", refreshSummary);

  const form = h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    start.disabled = true;
    try {
      /** @type {TrainingPublic} */
      const training = await api.post(`/api/projects/${pid}/trainings`,
        { ...network(), epochs: Number(epochs.value), batch_size: Number(batch.value),
          augmentation: augment.checked ? {
            rotation: Number(ranges.rotation.value), shift: Number(ranges.shift.value) / 100,
            zoom: Number(ranges.zoom.value) / 100, stroke: Number(ranges.stroke.value), elastic: Number(ranges.elastic.value),
          } : null,
          early_stopping: keepBest.checked ? Number(patience.value) : null });
      navigate(`${base}/trainings/${training.id}`);
    } catch (err) {
      errors.replaceChildren(errorBox(err));
      start.disabled = false;
    }
  } },
  h("h2", {}, t("training.new")),
  h("div", { class: "row wrap" }, field("arch", "training.network", arch), field("activation", "training.activation", activation, "activation"),
    field("epochs", "training.epochs", epochs, "epochs"), field("batch", "training.batch", batch, "batch"), sourceField),
  extras, layerBox, h("h3", {}, t("training.summary")), summaryBox, errors, start);

  if (readOnly) {
    body.append(h("section", {}, h("h2", {}, t("training.past")), history));
    loadHistory();
    return () => { stopped = true; };
  }
  body.append(form, h("section", {}, h("h2", {}, t("training.past")), history));
  renderLayers();
  refreshSummary();
  loadHistory();
  api.get("/api/classes").then((/** @type {import("../api/types").ClassPublic[]} */ classes) => {
    const learning = classes.filter((c) => c.role === "student");
    if (stopped || !learning.length) return;
    source.append(...learning.map((c) => h("option", { value: String(c.id) }, t("training.classData", { name: c.name }))));
    sourceField.hidden = false;
  }, () => { /* without the classes, the project's own samples */ });

  async function loadHistory() {
    /** @type {TrainingPublic[]} */
    let list;
    try { list = await api.get(`/api/projects/${pid}/trainings`); }
    catch (err) { clear(history, errorBox(err)); return; }
    if (stopped) return;
    if (!list.length) { clear(history, h("p", { class: "muted" }, t("training.none"))); return; }
    // Two finished trainings ticked -> side by side (the older one first: what the newer one's change did).
    /** @type {Set<number>} */
    const chosen = new Set();
    const compareButton = h("button", { type: "button", class: "ghost", id: "compare-trainings", disabled: true, onclick: () => {
      const [a, b] = [...chosen].sort((x, y) => x - y);
      navigate(`${base}/compare/${a}-${b}`);
    } }, t("compare.button"));
    /** @param {TrainingPublic} tr */
    const pick = (tr) => (tr.status !== "succeeded" ? h("td", {}, "") : h("td", {}, h("input", { type: "checkbox", class: "compare-pick",
      "aria-label": t("compare.pick", { id: tr.id }), dataset: { trainingId: String(tr.id) }, onchange: (/** @type {Event} */ e) => {
        if (/** @type {HTMLInputElement} */ (e.target).checked) chosen.add(tr.id); else chosen.delete(tr.id);
        compareButton.disabled = chosen.size !== 2;
      } })));
    clear(history, h("p", { class: "hint" }, t("compare.pickHint")), tableScroll(h("table", { class: "data" },
      h("thead", {}, h("tr", {}, [t("compare.column"), "#", t("training.network"), t("training.status"), t("training.epochs"),
        t("training.valAcc"), t("training.testAcc"), t("training.testLoss"), ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, list.map((tr) => h("tr", {}, pick(tr),
        h("td", {}, String(tr.id)),
        h("td", {}, `${t(`training.arch.${tr.architecture}`)} · ${tr.activation} · ${formatCount(tr.summary.total_params)} ${t("training.params")}`,
          tr.settings.class_id ? h("span", { class: "badge" }, t("training.classBadge")) : null),
        h("td", {}, h("span", { class: `badge ${tr.status}` }, t(`job.${tr.status}`))),
        h("td", {}, `${tr.epochs_run} / ${tr.settings.epochs ?? "?"}`),
        h("td", {}, formatPercent(/** @type {number | undefined} */ (tr.final_epoch?.val_accuracy))),
        h("td", {}, formatPercent(tr.test_accuracy)),
        h("td", {}, formatNumber(tr.test_loss)),
        h("td", {}, h("a", { href: `#${base}/trainings/${tr.id}` }, t("training.open")))))))), compareButton);
  }

  return () => { stopped = true; clearTimeout(summaryTimer); };
}

/**
 * The network's layers with their output shapes and parameter counts.
 * @param {NetworkSummaryPublic} s
 */
export function summaryTable(s) {
  return h("div", {},
    tableScroll(h("table", { class: "data" },
      h("thead", {}, h("tr", {}, [t("training.layer"), t("training.kind"), t("training.shape"), t("training.paramCount")].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {},
        h("tr", { class: "muted" }, h("td", {}, t("training.input")), h("td", {}, ""), h("td", {}, s.input_shape.join("×")), h("td", {}, "0")),
        s.layers.map((l) => h("tr", {}, h("td", {}, l.name), h("td", {}, `${t(`layer.${l.kind}`)}${l.activation ? ` (${l.activation})` : ""}`),
          h("td", {}, l.output_shape.join("×")), h("td", { class: "num" }, formatCount(l.params))))),
      h("tfoot", {}, h("tr", {}, h("th", { colspan: "3", scope: "row" }, t("training.total")), h("td", { class: "num", id: "total-params" }, formatCount(s.total_params))))), t("training.summary")),
    // The layer kinds of this network that need a word of explanation.
    h("div", { class: "row wrap explains" }, ["dense", "flatten"].filter((k) => s.layers.some((l) => l.kind === k)).map((k) => explain(k, true))),
    s.memory ? h("p", { class: "hint", id: "training-memory" }, t("training.memory", {
      mb: formatCount(s.memory.estimated_mb), batch: formatCount(s.memory.batch_size),
      limit: s.memory.limit_mb ? formatCount(s.memory.limit_mb) : "–",
    })) : null);
}
