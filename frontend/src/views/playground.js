// The playground: draw, and watch every layer of a trained network react (onnxruntime-web in a worker).
import { t } from "../i18n/index.js";
import { api } from "../state.js";
import { h, clear, errorBox, progressBar } from "../dom.js";
import { navigate } from "../router.js";
import { DrawPad } from "../canvas/drawpad.js";
import { inkFromRgba, normalizeSample } from "../inference/preprocess.js";
import { ModelSession } from "../inference/session.js";
import { ActivationView } from "../render/activations.js";

export async function render(body, { pid, sub }) {
  let trainings;
  try { trainings = (await api.get(`/api/projects/${pid}/trainings`)).filter((tr) => tr.status === "succeeded"); }
  catch (err) { body.append(errorBox(err)); return null; }
  if (!trainings.length) {
    body.append(h("p", { class: "card" }, t("play.noModel"), " ", h("a", { href: `#/projects/${pid}/training` }, t("play.trainFirst"))));
    return null;
  }
  const chosen = trainings.find((tr) => String(tr.id) === String(sub)) || trainings[0];
  const picker = h("select", { id: "model-pick", onchange: (e) => navigate(`/projects/${pid}/playground/${e.target.value}`) },
    trainings.map((tr) => h("option", { value: tr.id, selected: tr.id === chosen.id },
      t("play.option", { id: tr.id, arch: t(`training.arch.${tr.architecture}`), acc: tr.test_accuracy != null ? `${(100 * tr.test_accuracy).toFixed(1)} %` : "–" }))));

  const status = h("div", { class: "status-line", "aria-live": "polite" });
  const bar = progressBar(t("play.loading"));
  const padCanvas = h("canvas", { width: "280", height: "280", class: "drawpad", id: "drawpad", role: "img", "aria-label": t("play.padLabel") });
  const inputCanvas = h("canvas", { width: "28", height: "28", class: "input-view", id: "input-view", role: "img", "aria-label": t("play.inputLabel") });
  const actCanvas = h("canvas", { class: "activations", id: "activations", role: "img", "aria-label": t("play.activationsLabel") });
  const probs = h("ol", { class: "probs", id: "probs", "aria-label": t("play.probabilities") });
  const prediction = h("p", { class: "prediction", id: "prediction", "aria-live": "polite" });
  const timing = h("p", { class: "muted small", id: "timing" });
  const penBtn = h("button", { type: "button", "aria-pressed": "true", onclick: () => setTool("pen") }, t("play.pen"));
  const eraserBtn = h("button", { type: "button", "aria-pressed": "false", onclick: () => setTool("eraser") }, t("play.eraser"));
  const clearBtn = h("button", { type: "button", class: "ghost", id: "clear-pad", onclick: () => pad.clear() }, t("play.clear"));

  body.append(
    h("div", { class: "row wrap" }, h("label", { for: "model-pick" }, t("play.model")), picker, status),
    bar.el,
    h("div", { class: "playground" },
      h("div", { class: "pad-column" },
        padCanvas, h("p", { class: "hint" }, t("play.howTo")),
        h("div", { class: "row", role: "group", "aria-label": t("play.tools") }, penBtn, eraserBtn, clearBtn),
        h("div", { class: "row" }, h("div", {}, h("h3", {}, t("play.modelSees")), inputCanvas)),
        prediction, probs, timing),
      h("div", { class: "act-column" }, h("h3", {}, t("play.layers")), h("p", { class: "hint" }, t("play.colors")), actCanvas)));

  const labels = chosen.labels;
  const inputCtx = inputCanvas.getContext("2d");
  const inputImage = inputCtx.createImageData(28, 28);
  const probItems = labels.map((label) => {
    const fill = h("span", { class: "bar-fill" });
    const value = h("span", { class: "bar-value" }, "–");
    probs.append(h("li", {}, h("span", { class: "bar-label" }, label), h("span", { class: "bar-track" }, fill), value));
    return { fill, value };
  });

  const view = new ActivationView(actCanvas);
  const session = new ModelSession();
  let ready = false;
  let busy = false;
  let dirty = false;
  let destroyed = false;
  let layerNames = [];
  const stats = { updates: 0, totalMs: 0, inferMs: 0, lastMs: 0, predicted: null, model: chosen.architecture };
  window.__digitlabPlayground = stats; // read by the e2e test / benchmark

  const pad = new DrawPad(padCanvas, { onChange: () => schedule() });
  function setTool(tool) {
    pad.setTool(tool);
    penBtn.setAttribute("aria-pressed", String(tool === "pen"));
    eraserBtn.setAttribute("aria-pressed", String(tool === "eraser"));
  }

  // At most one inference in flight; strokes during it are folded into the next update.
  function schedule() {
    if (!ready) return;
    if (busy) { dirty = true; return; }
    update();
  }

  async function update() {
    busy = true;
    dirty = false;
    const started = performance.now();
    const input = normalizeSample(inkFromRgba(pad.imageData()));
    const input32 = Float32Array.from(input);
    showInput(input);
    try {
      const result = await session.run(Float32Array.from(input32));
      if (destroyed) return;
      const values = [input32, ...layerNames.map((n) => result.outputs[n].data)];
      const out = values[values.length - 1];
      const empty = input.every((v) => v === 0);
      view.draw(values, { highlightLast: !empty });
      showProbabilities(out, empty);
      const ms = performance.now() - started;
      stats.updates += 1;
      stats.totalMs += ms;
      stats.inferMs += result.ms;
      stats.lastMs = ms;
      timing.textContent = t("play.timing", { ms: ms.toFixed(1), infer: result.ms.toFixed(1), avg: (stats.totalMs / stats.updates).toFixed(1) });
    } catch (err) {
      status.replaceChildren(errorBox({ detail: String(err.message || err) }));
    } finally {
      busy = false;
      if (dirty && !destroyed) requestAnimationFrame(() => { if (!busy) update(); });
    }
  }

  function showInput(values) {
    const d = inputImage.data;
    for (let i = 0; i < 784; i++) {
      const g = Math.round(255 * (1 - values[i])); // ink dark on white, as drawn
      d[4 * i] = d[4 * i + 1] = d[4 * i + 2] = g;
      d[4 * i + 3] = 255;
    }
    inputCtx.putImageData(inputImage, 0, 0);
  }

  function showProbabilities(out, empty) {
    let best = 0;
    for (let i = 0; i < out.length; i++) if (out[i] > out[best]) best = i;
    for (let i = 0; i < probItems.length; i++) {
      const p = empty ? 0 : out[i];
      probItems[i].fill.style.width = `${100 * p}%`;
      probItems[i].fill.classList.toggle("best", !empty && i === best);
      probItems[i].value.textContent = empty ? "–" : `${(100 * p).toFixed(1)} %`;
    }
    stats.predicted = empty ? null : labels[best];
    prediction.textContent = empty ? t("play.drawSomething") : t("play.prediction", { label: labels[best], p: (100 * out[best]).toFixed(1) });
  }

  // Download the model and start the session (the long part: show progress).
  bar.set(null, t("play.downloading"));
  try {
    const model = await api.arrayBuffer(`/api/projects/${pid}/trainings/${chosen.id}/files/model.onnx`);
    if (destroyed) return null;
    bar.set(0.5, t("play.starting"));
    const loaded = await session.load(model);
    // Outputs are named after the layers; the summary gives their order (map by name, never position).
    const summaryNames = chosen.summary.layers.map((l) => l.name);
    layerNames = summaryNames.filter((n) => loaded.outputNames.includes(n));
    if (!layerNames.length) layerNames = loaded.outputNames;
    const probe = await session.run(new Float32Array(784));
    view.setLayers([{ name: t("play.input"), shape: [1, 28, 28, 1] },
      ...layerNames.map((n) => ({ name: n, shape: probe.outputs[n].dims }))]);
    bar.set(1, t("play.ready", { ms: Math.round(loaded.ms) }));
    ready = true;
    update();
  } catch (err) {
    bar.el.hidden = true;
    clear(status, errorBox(err.code ? err : { detail: t("play.loadFailed", { error: String(err.message || err) }) }));
  }

  return () => {
    destroyed = true;
    pad.destroy();
    view.destroy();
    session.terminate();
  };
}
