// @ts-check
// The playground: draw, and watch every layer of a trained network react (onnxruntime-web on the page's
// thread: a run started when a pointer move arrives is painted in the next frame, see inference/session.js).
// Pad, layers and outputs side by side on a laptop (one screen, no scrolling); stacked on a phone.
import { t, formatPercent, formatNumber } from "../i18n/index.js";
import { api } from "../state.js";
import { ApiError } from "../api/client.js";
import { h, clear, errorBox, progressBar } from "../dom.js";
import { navigate } from "../router.js";
import { DrawPad } from "../canvas/drawpad.js";
import { CANVAS_SIDE, inkFromRgba, normalizeSample } from "../inference/preprocess.js";
import { ModelSession } from "../inference/session.js";
import { ActivationView } from "../render/activations.js";
import { layerTitles, verdict } from "../render/words.js";
import { augmentedVersions } from "../render/augment.js";

/** @typedef {import("../api/types").TrainingPublic} TrainingPublic */
/** @typedef {import("../api/types").SampleImage} SampleImage */
/** @typedef {import("../render/words.js").SummaryLayer} SummaryLayer */

const NARROW = "(max-width: 800px)";
const SAMPLES_SHOWN = 24;
const TIMING_EVERY_MS = 250;

/**
 * @param {HTMLElement} body
 * @param {import("./project.js").ProjectContext} ctx  sub: the training to start with (default the newest),
 *   optionally "?sample=<test index>" to start with that test sample on the pad
 */
export async function render(body, { pid, sub, base }) {
  const [trainingId, query = ""] = (sub || "").split("?");
  const wantedSample = new URLSearchParams(query).get("sample");
  /** @type {TrainingPublic[]} */
  let trainings;
  try {
    trainings = /** @type {TrainingPublic[]} */ (await api.get(`/api/projects/${pid}/trainings`)).filter((tr) => tr.status === "succeeded");
  }
  catch (err) { body.append(errorBox(err)); return null; }
  if (!trainings.length) {
    body.append(h("p", { class: "card" }, t("play.noModel"), " ", h("a", { href: `#${base}/training` }, t("play.trainFirst"))));
    return null;
  }
  const chosen = trainings.find((tr) => String(tr.id) === trainingId) || trainings[0];
  const path = `/api/projects/${pid}/trainings/${chosen.id}`;
  const picker = h("select", { id: "model-pick",
    onchange: (e) => navigate(`${base}/playground/${/** @type {HTMLSelectElement} */ (e.target).value}`) },
    trainings.map((tr) => h("option", { value: tr.id, selected: tr.id === chosen.id },
      t("play.option", { id: tr.id, arch: t(`training.arch.${tr.architecture}`), acc: tr.test_accuracy != null ? formatPercent(tr.test_accuracy) : "–" }))));

  const status = h("div", { class: "status-line", "aria-live": "polite" });
  const bar = progressBar(t("play.loading"));
  const padCanvas = h("canvas", { width: "280", height: "280", class: "drawpad", id: "drawpad", role: "img", "aria-label": t("play.padLabel") });
  const actCanvas = h("canvas", { class: "activations", id: "activations", role: "img", "aria-label": t("play.activationsLabel") });
  const probs = h("ol", { class: "probs", id: "probs", "aria-label": t("play.probabilities") });
  const prediction = h("p", { class: "prediction", id: "prediction", "aria-live": "polite" });
  const timing = h("p", { class: "muted small", id: "timing" });
  const penBtn = h("button", { type: "button", "aria-pressed": "true", onclick: () => setTool("pen") }, t("play.pen"));
  const eraserBtn = h("button", { type: "button", "aria-pressed": "false", onclick: () => setTool("eraser") }, t("play.eraser"));
  const clearBtn = h("button", { type: "button", class: "ghost", id: "clear-pad", onclick: () => pad.clear() }, t("play.clear"));
  const preToggle = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "pre-activation", disabled: true,
    onchange: () => schedule(performance.now()) }));
  const colorsHint = h("p", { class: "hint", id: "colors-hint" }, t("play.colors"));
  const samplesBox = h("div", { class: "test-samples", id: "test-samples" });
  // On a phone the layers scroll sideways inside this box: focusable, so the keyboard can scroll it too.
  const actScroll = h("div", { class: "act-scroll", tabindex: "0", role: "region", "aria-label": t("play.activationsLabel") }, actCanvas);
  // What augmentation makes of the drawing: a few of the changed versions a training shows the network.
  const trainedRanges = /** @type {import("../render/augment.js").AugmentRanges | null | undefined} */ (chosen.settings.augmentation);
  const ranges = trainedRanges || { rotation: 12, shift: 0.08, zoom: 0.1, stroke: 0.5, elastic: 2 };
  const augmentedBox = h("div", { class: "augmented", id: "augmented-versions" });
  const augmented = h("details", { class: "augmented-views", ontoggle: () => showAugmented(lastInput) },
    h("summary", {}, t("play.augmented")),
    h("p", { class: "hint" }, t(trainedRanges ? "play.augmentedHint" : "play.augmentedNotUsed")), augmentedBox);
  /** @type {Float32Array | null} */
  let lastInput = null;
  let augmentSeed = 1;
  /** @param {Float32Array | null} input */
  function showAugmented(input) {
    if (!augmented.open || !input) return;
    augmentedBox.replaceChildren(...augmentedVersions(input, ranges, 8, augmentSeed).map((version) => {
      const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", { width: String(CANVAS_SIDE), height: String(CANVAS_SIDE), class: "augmented-sample" }));
      const ctx = canvas.getContext("2d");
      if (ctx) {
        const image = ctx.createImageData(CANVAS_SIDE, CANVAS_SIDE);
        version.forEach((v, i) => {
          const grey = Math.round(255 * (1 - v)); // dark ink on white, like the samples elsewhere
          image.data.set([grey, grey, grey, 255], i * 4);
        });
        ctx.putImageData(image, 0, 0);
      }
      return canvas;
    }), h("button", { type: "button", class: "ghost", onclick: () => { augmentSeed += 1; showAugmented(lastInput); } }, t("play.augmentedAgain")));
  }

  body.append(
    h("div", { class: "row wrap" }, h("label", { for: "model-pick" }, t("play.model")), picker, status),
    bar.el,
    h("div", { class: "playground" },
      h("div", { class: "pad-column" },
        padCanvas, h("p", { class: "hint" }, t("play.howTo")),
        h("div", { class: "row", role: "group", "aria-label": t("play.tools") }, penBtn, eraserBtn, clearBtn),
        augmented, samplesBox, timing),
      h("div", { class: "result-column" }, h("h3", {}, t("play.result")), prediction, probs),
      h("div", { class: "act-column" },
        h("div", { class: "act-head" }, h("h3", {}, t("play.layers")),
          h("label", { class: "toggle", for: "pre-activation" }, preToggle, " ", t("play.preActivation"))),
        colorsHint, actScroll)));

  const labels = chosen.labels;
  const probItems = labels.map((label) => {
    const fill = h("span", { class: "bar-fill" });
    const value = h("span", { class: "bar-value" }, "–");
    const item = h("li", {}, h("span", { class: "bar-label" }, label), h("span", { class: "bar-track" }, fill), value);
    probs.append(item);
    return { item, fill, value, shown: "" };
  });

  const view = new ActivationView(actCanvas);
  const session = new ModelSession();
  let ready = false;
  let busy = false;
  let destroyed = false;
  /** the oldest pointer event whose drawing is not painted yet: its timeStamp, and when its handler ran */
  let pendingSince = Infinity;
  let pendingHandled = Infinity;
  /** @type {Float64Array | undefined} */
  let inkBuffer;
  let timingShown = -Infinity;
  /** @type {readonly string[]} */
  let layerNames = [];

  /** @type {import("../globals").PlaygroundStats} */
  const stats = { updates: 0, totalMs: 0, inferMs: 0, lastMs: 0, predicted: null, model: chosen.architecture, latencies: [],
    handlerLatencies: [], moveFrames: 0, updatedFrames: 0, sure: null };
  window.__digitlabPlayground = stats; // read by the e2e test / benchmark
  // Frames while the pointer moves, and how many of them painted a new result (skipping would not count):
  // counted in each frame's animation callback, which runs after that frame's input events; only while drawing.
  let movedThisFrame = false;
  let drawnThisFrame = false;
  let counting = false;
  // An update runs as soon as a change arrives (the pad reports moves on arrival where the browser can, see
  // canvas/drawpad.js), so the frame after it only has to paint; a further change before that frame waits for
  // its animation callback (at most two updates a frame however fast the pointer reports).
  let waitingForFrame = false;
  let frameRequested = false;
  let inFrameCallback = false;
  function requestFrame() {
    if (!frameRequested) { frameRequested = true; requestAnimationFrame(frame); }
  }
  async function frame() {
    frameRequested = false;
    if (destroyed) return;
    waitingForFrame = false;
    if (pendingSince !== Infinity && !busy) { // changes since this frame's first update: drawn before it is painted
      inFrameCallback = true;
      const done = update();
      inFrameCallback = false;
      await done;
    }
    if (!counting) return;
    if (!movedThisFrame && !drawnThisFrame) { counting = false; return; }
    if (movedThisFrame) { stats.moveFrames += 1; if (drawnThisFrame) stats.updatedFrames += 1; }
    movedThisFrame = drawnThisFrame = false;
    requestFrame();
  }
  // Runs after the frame that shows a result is painted (a message posted in requestAnimationFrame).
  const painted = new MessageChannel();
  /** @type {[number, number][]} */
  const paintQueue = [];
  painted.port1.onmessage = () => {
    const now = performance.now();
    const since = paintQueue.shift();
    if (since) { stats.latencies.push(now - since[0]); stats.handlerLatencies.push(now - since[1]); }
  };

  /** @param {Event | undefined} e */
  const isMove = (e) => !!e && (e.type === "pointermove" || e.type === "pointerrawupdate");
  const pad = new DrawPad(padCanvas, { onChange: (e) => schedule(isMove(e) && e ? e.timeStamp : performance.now(), isMove(e)) });
  /** @param {import("../canvas/drawpad.js").Tool} tool */
  function setTool(tool) {
    pad.setTool(tool);
    penBtn.setAttribute("aria-pressed", String(tool === "pen"));
    eraserBtn.setAttribute("aria-pressed", String(tool === "eraser"));
  }

  /**
   * At most one inference in flight; strokes during it are folded into the next update.
   * @param {number} since  when the change happened (an event's timeStamp)
   * @param {boolean} [moving]  a pointer move (counted per frame)
   */
  function schedule(since, moving = false) {
    if (moving) {
      movedThisFrame = true;
      if (!counting) { counting = true; requestFrame(); }
    }
    if (!ready) return;
    pendingSince = Math.min(pendingSince, since);
    pendingHandled = Math.min(pendingHandled, performance.now());
    if (busy) return; // folded into the next update when this one ends
    if (waitingForFrame) requestFrame();
    else update();
  }

  async function update() {
    busy = true;
    // Run in a frame's animation callback, the result is painted in that frame; otherwise in the next one.
    const inFrame = inFrameCallback;
    if (!inFrame) { waitingForFrame = true; requestFrame(); }
    const since = /** @type {[number, number]} */ ([pendingSince, pendingHandled]);
    pendingSince = pendingHandled = Infinity;
    const started = performance.now();
    // Only the part of the pad that holds ink: the preprocessing crops to the ink, paper around it changes nothing.
    inkBuffer ||= new Float64Array(padCanvas.width * padCanvas.height);
    const ink = inkFromRgba(pad.inkedImageData(), inkBuffer);
    const input = Float32Array.from(normalizeSample(ink));
    const empty = input.every((v) => v === 0);
    try {
      const result = await session.run(input, preToggle.checked);
      if (destroyed) return;
      show(input, result, empty);
      drawnThisFrame = true;
      const ms = performance.now() - started;
      stats.updates += 1;
      stats.totalMs += ms;
      stats.inferMs += result.ms;
      stats.lastMs = ms;
      paintQueue.push(since);
      if (inFrame) painted.port2.postMessage(null);
      else requestAnimationFrame(() => painted.port2.postMessage(null));
      // A few times a second is what can be read (and one text less to lay out in most frames).
      if (started - timingShown >= TIMING_EVERY_MS) {
        timingShown = started;
        timing.textContent = t("play.timing", { ms: formatNumber(ms, undefined, { maximumFractionDigits: 1 }),
          infer: formatNumber(result.ms, undefined, { maximumFractionDigits: 1 }) });
      }
    } catch (err) {
      status.replaceChildren(errorBox({ detail: String((err instanceof Error && err.message) || err) }));
    } finally {
      busy = false;
      if (pendingSince !== Infinity && !destroyed) {
        if (waitingForFrame) requestFrame();
        else update();
      }
    }
  }

  /**
   * Draw a result: the layers (after or before their activation function) and the probabilities.
   * @param {Float32Array} input
   * @param {import("../inference/session.js").RunResult} result
   * @param {boolean} empty  nothing drawn
   */
  function show(input, result, empty) {
    lastInput = input;
    showAugmented(input);
    const values = [input, ...layerNames.map((n) => result.pre[n] || result.outputs[n].data)];
    view.draw(values, { highlightLast: !empty });
    showProbabilities(result.outputs[layerNames[layerNames.length - 1]].data, empty);
  }

  /**
   * @param {Float32Array} out  the last layer: one probability per label
   * @param {boolean} empty  nothing drawn
   */
  function showProbabilities(out, empty) {
    const judged = empty ? null : verdict(out, labels);
    for (let i = 0; i < probItems.length; i++) {
      const p = empty ? 0 : out[i];
      const item = probItems[i];
      const text = empty ? "–" : formatPercent(p);
      if (text === item.shown) continue; // the same figure: leave the page alone
      item.shown = text;
      item.fill.style.width = `${100 * p}%`;
      item.value.textContent = text;
    }
    probItems.forEach((item, i) => item.item.classList.toggle("best", !!judged && i === judged.best));
    stats.predicted = judged ? labels[judged.best] : null;
    stats.sure = judged ? judged.sure : null;
    const said = judged ? judged.text : t("play.drawSomething");
    if (prediction.textContent !== said) prediction.textContent = said;
    prediction.classList.toggle("unsure", !!judged && !judged.sure);
  }

  // On a laptop the layers take the height that is left on the screen, so pad, layers and outputs are seen
  // together; on a phone they get a fixed height and scroll sideways inside their own box.
  function fitHeight() {
    if (window.matchMedia(NARROW).matches) { actCanvas.style.height = ""; return; }
    const top = actCanvas.getBoundingClientRect().top + window.scrollY;
    actCanvas.style.height = `${Math.round(Math.max(300, Math.min(760, window.innerHeight - top - 28)))}px`;
  }
  window.addEventListener("resize", fitHeight);
  fitHeight();

  /** Test samples (the mistakes first) to put on the pad. */
  async function loadSamples() {
    /** @type {{misclassified: SampleImage[], gallery: SampleImage[]}} */
    let ev;
    try { ev = await api.get(`${path}/evaluation`); } catch { return; }
    if (destroyed) return;
    /** @type {Set<number>} */
    const seen = new Set();
    const samples = [...ev.misclassified, ...ev.gallery].filter((s) => !seen.has(s.test_index) && seen.add(s.test_index));
    if (!samples.length) return;
    const wanted = samples.find((s) => String(s.test_index) === wantedSample);
    const shown = samples.slice(0, SAMPLES_SHOWN);
    if (wanted && !shown.includes(wanted)) shown.unshift(wanted);
    clear(samplesBox, h("p", { class: "hint" }, t("play.samples")),
      h("div", { class: "sample-strip" }, shown.map((s) => h("button", {
        type: "button", class: `sample-button ${s.correct ? "" : "wrong"}`, "data-test-index": s.test_index,
        title: t("play.sampleTitle", { truth: s.true, pred: s.predicted }), onclick: () => putOnPad(s),
      }, h("img", { src: s.image, width: CANVAS_SIDE, height: CANVAS_SIDE, alt: t("play.sampleTitle", { truth: s.true, pred: s.predicted }) })))));
    if (wanted) putOnPad(wanted);
  }

  /** @param {SampleImage} sample */
  function putOnPad(sample) {
    const img = new Image();
    img.onload = () => { if (!destroyed) pad.showImage(img); };
    img.src = sample.image;
    status.replaceChildren(h("span", { class: "muted", id: "sample-note" }, t("play.sampleLoaded", { truth: sample.true, pred: sample.predicted })));
  }

  // Download the model and start the session (the long part: show progress).
  bar.set(null, t("play.downloading"));
  try {
    const model = await api.arrayBuffer(`${path}/files/model.onnx`);
    if (destroyed) return null;
    bar.set(0.5, t("play.starting"));
    const loaded = await session.load(model);
    if (destroyed) { session.terminate(); return null; }
    // The input's size is the network's own (its ONNX input shape, [1, rows, columns, 1]); drawings become
    // CANVAS_SIDE x CANVAS_SIDE by the shared contract, so a network made for another size cannot be used.
    const [, rows, columns] = loaded.inputShape;
    if (rows !== CANVAS_SIDE || columns !== CANVAS_SIDE) {
      throw new Error(t("play.wrongInput", { rows, columns, side: CANVAS_SIDE }));
    }
    // Outputs are named after the layers; the summary gives their order (map by name, never position).
    const summary = /** @type {SummaryLayer[]} */ (chosen.summary.layers);
    const summaryNames = summary.map((l) => l.name);
    layerNames = summaryNames.filter((n) => loaded.outputNames.includes(n));
    if (!layerNames.length) layerNames = loaded.outputNames;
    preToggle.disabled = loaded.preNames.length === 0;
    const titles = layerTitles(summary, chosen.summary.input_shape);
    const probe = await session.run(new Float32Array(loaded.inputShape.reduce((a, b) => a * b, 1)));
    const last = layerNames[layerNames.length - 1];
    view.setLayers([{ name: t("play.layer.input", { side: CANVAS_SIDE }), shape: loaded.inputShape, kind: "input" },
      ...layerNames.map((n) => ({ name: titles.get(n)?.title ?? n, shape: probe.outputs[n].dims,
        kind: titles.get(n)?.kind ?? (n === last ? "output" : "") }))], labels);
    // The progress bar's row goes: on a laptop every line counts to keep the layers on one screen.
    bar.el.hidden = true;
    status.replaceChildren(h("span", { class: "muted" }, t("play.ready", { ms: Math.round(loaded.ms) })));
    ready = true;
    fitHeight();
    update();
    loadSamples();
  } catch (err) {
    bar.el.hidden = true;
    const known = err instanceof ApiError;
    clear(status, errorBox(known ? err : { detail: t("play.loadFailed", { error: String((err instanceof Error && err.message) || err) }) }));
  }

  return () => {
    destroyed = true;
    window.removeEventListener("resize", fitHeight);
    pad.destroy();
    view.destroy();
    session.terminate();
  };
}
