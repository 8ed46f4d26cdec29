// Draws every layer's activations on one canvas: columns left to right (render/layout.js), each layer
// painted at native size into an offscreen canvas through a colour lookup table and scaled up without
// smoothing, so a full CNN frame costs a few array writes and one drawImage per layer.
import { buildLut, lutIndex, layerScale } from "./colors.js";
import { layoutColumns, paintColumn, unitPosition, argmax, shapeText, LABEL_HEIGHT } from "./layout.js";

const BACKGROUND = 0xffeeeeee; // light grey between tiles (ABGR little-endian)

export class ActivationView {
  /** @param {HTMLCanvasElement} canvas  sized by CSS; the backing store follows it (and devicePixelRatio) */
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.lut = buildLut();
    this.layers = [];
    this.columns = [];
    this.buffers = [];
    this.last = null;
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(canvas);
  }

  /** @param {{name: string, shape: number[]}[]} layers  shapes with the batch dimension first */
  setLayers(layers) {
    this.layers = layers;
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
    this.buffers = this.columns.map((c) => {
      const off = document.createElement("canvas");
      off.width = c.grid.nativeW;
      off.height = c.grid.nativeH;
      const octx = off.getContext("2d");
      const image = octx.createImageData(off.width, off.height);
      return { off, octx, image, words: new Uint32Array(image.data.buffer) };
    });
    if (this.last) this.draw(...this.last);
  }

  /**
   * @param {Float32Array[]} values  one array per layer, in setLayers order
   * @param {{highlightLast?: boolean}} options  ring the predicted unit of the last layer
   */
  draw(values, options = {}) {
    this.last = [values, options];
    const ctx = this.ctx;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, this.width, this.height);
    ctx.imageSmoothingEnabled = false;
    ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let i = 0; i < this.columns.length; i++) {
      const col = this.columns[i];
      const buf = this.buffers[i];
      const v = values[i];
      if (v) {
        // The input keeps its own 0..1 scale; other layers use their largest magnitude.
        const scale = i === 0 ? 1 : layerScale(v);
        paintColumn(buf.words, col, v, this.lut, lutIndex, scale, BACKGROUND);
        buf.octx.putImageData(buf.image, 0, 0);
        ctx.drawImage(buf.off, col.x, col.y, col.drawW, col.drawH);
      }
      const cx = col.x + col.drawW / 2;
      const labelY = this.height - LABEL_HEIGHT + 4;
      ctx.fillStyle = "#222";
      ctx.fillText(fitText(ctx, this.layers[i].name, col.width), cx, labelY);
      ctx.fillStyle = "#666";
      ctx.fillText(shapeText(this.layers[i].shape), cx, labelY + 15);
    }
    const lastIndex = this.columns.length - 1;
    if (options.highlightLast && lastIndex >= 0 && values[lastIndex]) {
      const col = this.columns[lastIndex];
      const k = argmax(values[lastIndex]);
      const [px, py] = unitPosition(col, k);
      const s = col.grid.scale;
      const size = col.grid.unit * s;
      ctx.strokeStyle = "#d62728";
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      ctx.arc(col.x + px * s + size / 2, col.y + py * s + size / 2, size * 0.5 + 4, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }

  destroy() { this.observer.disconnect(); }
}

function fitText(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let s = text;
  while (s.length > 1 && ctx.measureText(`${s}…`).width > width) s = s.slice(0, -1);
  return `${s}…`;
}
