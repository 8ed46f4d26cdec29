// Training setup: a preset or a layer list (summary with shapes and parameters before training),
// activation, epochs, batch size; plus the list of past trainings with their figures.
import { t } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, formatPercent, formatNumber } from "../dom.js";
import { navigate } from "../router.js";

const KINDS = {
  dense: { units: 64 },
  conv2d: { filters: 16, kernel_size: 3 },
  max_pooling2d: { pool_size: 2 },
  flatten: {},
  dropout: { rate: 0.2 },
};

export function render(body, { pid }) {
  let stopped = false;
  let layers = [{ kind: "flatten" }, { kind: "dense", units: 64 }];
  const field = (id, labelKey, input) => h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), input);
  const arch = h("select", { id: "arch" },
    ["mlp", "cnn", "custom"].map((a) => h("option", { value: a }, t(`training.arch.${a}`))));
  const activation = h("select", { id: "activation" }, ["relu", "tanh", "sigmoid"].map((a) => h("option", { value: a }, a)));
  const epochs = h("input", { id: "epochs", type: "number", min: "1", max: "500", value: "10" });
  const batch = h("input", { id: "batch", type: "number", min: "1", max: "4096", value: "32" });
  const layerBox = h("div", { class: "layer-builder", hidden: true });
  const summaryBox = h("div", { class: "summary", "aria-live": "polite" });
  const errors = h("div");
  const start = h("button", { type: "submit", id: "start-training" }, t("training.start"));
  const history = h("div", { class: "history" });

  const network = () => {
    const choice = { architecture: arch.value, activation: activation.value };
    if (arch.value === "custom") {
      choice.layers = layers.map((l) => (l.kind === "dense" || l.kind === "conv2d" ? { ...l, activation: activation.value } : { ...l }));
    }
    return choice;
  };

  let summaryTimer = null;
  let summaryRequest = 0;
  const refreshSummary = () => {
    clearTimeout(summaryTimer);
    summaryTimer = setTimeout(async () => {
      const mine = ++summaryRequest;
      try {
        const s = await api.post(`/api/projects/${pid}/trainings/summary`, network());
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
          layers[i] = { kind: e.target.value, ...KINDS[e.target.value] };
          renderLayers(); refreshSummary();
        } }, Object.keys(KINDS).map((k) => h("option", { value: k, selected: k === layer.kind }, t(`layer.${k}`)))),
        Object.keys(KINDS[layer.kind]).map((param) => h("label", { class: "inline" }, t(`param.${param}`),
          h("input", { type: "number", value: String(layer[param]), step: param === "rate" ? "0.05" : "1", min: param === "rate" ? "0" : "1",
            max: param === "rate" ? "0.95" : null, class: "small-number",
            oninput: (e) => { layers[i] = { ...layers[i], [param]: Number(e.target.value) }; refreshSummary(); } }))),
        h("button", { type: "button", class: "ghost", "aria-label": t("training.moveUp", { n: i + 1 }), disabled: i === 0,
          onclick: () => { [layers[i - 1], layers[i]] = [layers[i], layers[i - 1]]; renderLayers(); refreshSummary(); } }, "↑"),
        h("button", { type: "button", class: "ghost danger", "aria-label": t("training.removeLayer", { n: i + 1 }),
          onclick: () => { layers.splice(i, 1); renderLayers(); refreshSummary(); } }, "×")))),
      h("div", { class: "row wrap" }, Object.keys(KINDS).map((k) => h("button", { type: "button", class: "ghost",
        onclick: () => { layers.push({ kind: k, ...KINDS[k] }); renderLayers(); refreshSummary(); } }, `+ ${t(`layer.${k}`)}`))),
      h("p", { class: "hint" }, t("training.outputAdded")));
  }

  arch.addEventListener("change", () => { layerBox.hidden = arch.value !== "custom"; refreshSummary(); });
  activation.addEventListener("change", refreshSummary);

  const form = h("form", { class: "card", onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    start.disabled = true;
    try {
      const training = await api.post(`/api/projects/${pid}/trainings`,
        { ...network(), epochs: Number(epochs.value), batch_size: Number(batch.value) });
      navigate(`/projects/${pid}/trainings/${training.id}`);
    } catch (err) {
      errors.replaceChildren(errorBox(err));
      start.disabled = false;
    }
  } },
  h("h2", {}, t("training.new")),
  h("div", { class: "row wrap" }, field("arch", "training.network", arch), field("activation", "training.activation", activation),
    field("epochs", "training.epochs", epochs), field("batch", "training.batch", batch)),
  layerBox, h("h3", {}, t("training.summary")), summaryBox, errors, start);

  body.append(form, h("section", {}, h("h2", {}, t("training.past")), history));
  renderLayers();
  refreshSummary();
  loadHistory();

  async function loadHistory() {
    let list;
    try { list = await api.get(`/api/projects/${pid}/trainings`); }
    catch (err) { clear(history, errorBox(err)); return; }
    if (stopped) return;
    if (!list.length) { clear(history, h("p", { class: "muted" }, t("training.none"))); return; }
    clear(history, h("table", { class: "data" },
      h("thead", {}, h("tr", {}, ["#", t("training.network"), t("training.status"), t("training.epochs"),
        t("training.valAcc"), t("training.testAcc"), t("training.testLoss"), ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, list.map((tr) => h("tr", {},
        h("td", {}, String(tr.id)),
        h("td", {}, `${t(`training.arch.${tr.architecture}`)} · ${tr.activation} · ${tr.summary.total_params.toLocaleString()} ${t("training.params")}`),
        h("td", {}, h("span", { class: `badge ${tr.status}` }, t(`job.${tr.status}`))),
        h("td", {}, `${tr.epochs_run} / ${tr.settings.epochs ?? "?"}`),
        h("td", {}, formatPercent(tr.final_epoch?.val_accuracy)),
        h("td", {}, formatPercent(tr.test_accuracy)),
        h("td", {}, formatNumber(tr.test_loss)),
        h("td", {}, h("a", { href: `#/projects/${pid}/trainings/${tr.id}` }, t("training.open"))))))));
  }

  return () => { stopped = true; clearTimeout(summaryTimer); };
}

export function summaryTable(s) {
  return h("div", {},
    h("table", { class: "data" },
      h("thead", {}, h("tr", {}, [t("training.layer"), t("training.kind"), t("training.shape"), t("training.paramCount")].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {},
        h("tr", { class: "muted" }, h("td", {}, t("training.input")), h("td", {}, ""), h("td", {}, s.input_shape.join("×")), h("td", {}, "0")),
        s.layers.map((l) => h("tr", {}, h("td", {}, l.name), h("td", {}, `${t(`layer.${l.kind}`)}${l.activation ? ` (${l.activation})` : ""}`),
          h("td", {}, l.output_shape.join("×")), h("td", { class: "num" }, l.params.toLocaleString())))),
      h("tfoot", {}, h("tr", {}, h("th", { colspan: "3", scope: "row" }, t("training.total")), h("td", { class: "num", id: "total-params" }, s.total_params.toLocaleString())))));
}
