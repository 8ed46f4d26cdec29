// @ts-check
// Draws every layer's activations on one canvas: columns left to right (render/layout.js), each layer
// painted at native size into an offscreen canvas through a colour lookup table and scaled up without
// smoothing, so a full CNN frame costs a few array writes and one drawImage per layer.
import { buildLut, layerScale } from "./colors.js";
import { layoutColumns, paintColumn, unitPosition, argmax, shapeText, wrapWords, LABEL_HEIGHT, LINE_HEIGHT, OUTPUT_LABEL_WIDTH } from "./layout.js";

const BACKGROUND = 0xffeeeeee; // light grey between tiles (ABGR little-endian)
const MAX_TITLE_LINES = 3;

/** @typedef {import("./layout.js").LayerShape} LayerShape */
/** @typedef {OffscreenCanvas | HTMLCanvasElement} Surface */
/** @typedef {{off: Surface, octx: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D, image: ImageData, words: Uint32Array}} Buffer */
/** @typedef {{highlightLast?: boolean}} DrawOptions */

/**
 * A canvas's 2D context; every browser the app supports has one.
 * @template {Surface} S
 * @param {S} canvas
 * @returns {S extends OffscreenCanvas ? OffscreenCanvasRenderingContext2D : CanvasRenderingContext2D}
 */
function context2d(canvas) {
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("This browser cannot draw on a canvas.");
  return /** @type {any} */ (ctx);
}

/**
 * A native-size buffer for one column (an OffscreenCanvas where the browser has one: no DOM node).
 * @param {number} w
 * @param {number} h
 * @returns {Buffer}
 */
function makeBuffer(w, h) {
  const off = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(w, h) : Object.assign(document.createElement("canvas"), { width: w, height: h });
  const octx = context2d(off);
  const image = octx.createImageData(w, h);
  return { off, octx, image, words: new Uint32Array(image.data.buffer) };
}

export class ActivationView {
  /** @param {HTMLCanvasElement} canvas  sized by CSS; the backing store follows it (and devicePixelRatio) */
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = context2d(canvas);
    this.lut = buildLut();
    /** @type {LayerShape[]} */
    this.layers = [];
    /** @type {readonly string[]} */
    this.labels = [];
    /** @type {import("./layout.js").Column[]} */
    this.columns = [];
    /** @type {Buffer[]} */
    this.buffers = [];
    /** @type {[Float32Array[], DrawOptions] | null} */
    this.last = null;
    this.width = 0;
    this.height = 0;
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(canvas);
  }

  /**
   * @param {LayerShape[]} layers  shapes with the batch dimension first; `name` is the title shown
   * @param {readonly string[]} [labels]  the project's labels, written beside the output units
   */
  setLayers(layers, labels = []) {
    this.layers = layers;
    this.labels = labels;
    this.resize();
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(100, this.canvas.clientWidth);
    const hgt = Math.max(100, this.canvas.clientHeight);
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(hgt * dpr);
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.width = w;
    this.height = hgt;
    this.columns = layoutColumns(this.layers, w, hgt);
    this.buffers = this.columns.map((c) => makeBuffer(c.grid.nativeW, c.grid.nativeH));
    this.drawStatic();
    if (this.last) this.draw(...this.last);
  }

  /** What does not change while the student draws: the paper and every column's title and shape, once per layout. */
  drawStatic() {
    const ctx = this.ctx;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, this.width, this.height);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let i = 0; i < this.columns.length; i++) {
      const col = this.columns[i];
      const cx = col.x - col.left + (col.drawW + col.left) / 2;
      const width = col.width + 10;
      const lines = wrapWords(this.layers[i].name, (s) => ctx.measureText(s).width, width, MAX_TITLE_LINES);
      let y = this.height - LABEL_HEIGHT + 4;
      /** @param {string} line  centred under the column, kept inside the canvas */
      const put = (line) => {
        const half = ctx.measureText(line).width / 2;
        ctx.fillText(line, Math.min(this.width - half, Math.max(half, cx)), y);
        y += LINE_HEIGHT;
      };
      ctx.fillStyle = "#222";
      lines.forEach(put);
      ctx.fillStyle = "#555";
      put(shapeText(this.layers[i].shape));
    }
  }

  /**
   * Paint every layer's values over its place (the titles stay as drawn).
   * @param {Float32Array[]} values  one array per layer, in setLayers order
   * @param {DrawOptions} [options]  mark the predicted unit of the last layer
   */
  draw(values, options = {}) {
    this.last = [values, options];
    const ctx = this.ctx;
    ctx.imageSmoothingEnabled = false;
    for (let i = 0; i < this.columns.length; i++) {
      const col = this.columns[i];
      const buf = this.buffers[i];
      const v = values[i];
      if (!v) continue;
      // The input keeps its own 0..1 scale; the outputs are probabilities (0..1); other layers use their largest magnitude.
      const kind = this.layers[i].kind;
      const scale = kind === "input" || (kind === "output" && isProbability(v)) ? 1 : layerScale(v);
      paintColumn(buf.words, col, v, this.lut, scale, BACKGROUND);
      buf.octx.putImageData(buf.image, 0, 0);
      const output = col.geometry.type === "output";
      if (output) { ctx.fillStyle = "#fff"; ctx.fillRect(col.x - col.left, col.y - 4, col.drawW + col.left + 6, col.drawH + 8); }
      ctx.drawImage(buf.off, col.x, col.y, col.drawW, col.drawH);
      if (output) this.drawOutputs(col, v, options.highlightLast ? argmax(v) : -1);
    }
  }

  /**
   * The output column's frame: a label and an outline per unit (so a unit near zero is still seen), the
   * predicted one marked.
   * @param {import("./layout.js").Column} col
   * @param {Float32Array} values
   * @param {number} best  -1: nothing predicted
   */
  drawOutputs(col, values, best) {
    const ctx = this.ctx;
    const s = col.grid.scale;
    const size = col.grid.unit * s;
    ctx.font = "bold 13px system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let k = 0; k < values.length; k++) {
      const [, py] = unitPosition(col, k);
      const y = col.y + py * s;
      ctx.fillStyle = k === best ? "#000" : "#333";
      ctx.fillText(this.labels[k] ?? String(k), col.x - 6, y + size / 2, OUTPUT_LABEL_WIDTH - 6);
      ctx.strokeStyle = k === best ? "#111" : "#9aa0a6";
      ctx.lineWidth = k === best ? 3 : 1;
      ctx.strokeRect(col.x - 0.5, y - 0.5, size + 1, size + 1);
    }
  }

  destroy() { this.observer.disconnect(); }
}

/**
 * Softmax outputs: every value in 0..1 (drawn on a fixed scale so a 30 % unit looks weaker than a 99 % one).
 * @param {Float32Array} v
 */
function isProbability(v) {
  for (let i = 0; i < v.length; i++) if (!(v[i] >= 0 && v[i] <= 1)) return false;
  return true;
}
