// @ts-check
// Layout maths for the activation view: layers as columns from left to right, each unit a square,
// convolution/pooling outputs as one tile per feature map. Pure (no DOM) so it is unit-tested.

export const LABEL_HEIGHT = 62; // room under each column for its name (up to three lines) and shape
export const LINE_HEIGHT = 14;
export const COLUMN_GAP = 14;
export const MIN_COLUMN = 48;
export const OUTPUT_LABEL_WIDTH = 26; // the project's labels left of the output units

/** @typedef {{type: "maps" | "vector" | "strip" | "output", tileH: number, tileW: number, count: number}} Geometry */
/**
 * Tiles in columns x rows, `scale` screen pixels per native pixel, `gap` native pixels between tiles, a unit
 * `unit` native pixels wide; nativeW x nativeH is the whole grid in native pixels.
 * @typedef {{cols: number, rows: number, scale: number, gap: number, nativeW: number, nativeH: number, unit?: number}} Grid
 */
/**
 * One layer's place on the canvas (screen pixels); drawW may stretch the native grid wider than drawH does
 * (the flatten strip).
 * @typedef {{name: string, x: number, y: number, width: number, height: number, drawW: number, drawH: number,
 *            left: number, geometry: Geometry, grid: Grid & {unit: number}}} Column
 */
/**
 * A layer to draw: shape with the batch dimension first; `kind` "input", "flatten" (a long list of numbers:
 * drawn as a narrow strip, not re-wrapped into a picture) and "output" (one unit per label, in one column
 * with the labels) are drawn their own way.
 * @typedef {{name: string, shape: readonly number[], kind?: string}} LayerShape
 */

/**
 * How a layer's activation is drawn: 'maps' (h x w tiles, c of them), 'vector' (n units), 'strip' (flatten)
 * or 'output'.
 * @param {readonly number[]} shape
 * @param {string} [kind]
 * @returns {Geometry}
 */
export function layerGeometry(shape, kind) {
  const dims = shape.slice(1); // drop the batch dimension
  if (dims.length === 3) return { type: "maps", tileH: dims[0], tileW: dims[1], count: dims[2] };
  if (dims.length === 2) return { type: "maps", tileH: dims[0], tileW: dims[1], count: 1 };
  const n = dims.reduce((p, d) => p * d, 1);
  const type = kind === "flatten" ? "strip" : kind === "output" ? "output" : "vector";
  return { type, tileH: 1, tileW: 1, count: n };
}

/**
 * The best grid for `count` tiles of tileW x tileH inside width x height: columns k, rows, and the scale
 * (screen pixels per activation pixel), gap (in activation pixels) between tiles.
 * @param {number} count
 * @param {number} tileW
 * @param {number} tileH
 * @param {number} width
 * @param {number} height
 * @param {number} gap
 * @returns {Grid}
 */
export function fitGrid(count, tileW, tileH, width, height, gap) {
  let best = { cols: 1, rows: count, scale: 0 };
  for (let cols = 1; cols <= count; cols++) {
    const rows = Math.ceil(count / cols);
    const nativeW = cols * tileW + (cols - 1) * gap;
    const nativeH = rows * tileH + (rows - 1) * gap;
    const scale = Math.min(width / nativeW, height / nativeH);
    if (scale > best.scale) best = { cols, rows, scale };
    if (rows === 1) break;
  }
  return gridOf(best.cols, best.rows, best.scale, tileW, tileH, gap);
}

/** @param {number} cols @param {number} rows @param {number} scale @param {number} tileW @param {number} tileH @param {number} gap */
function gridOf(cols, rows, scale, tileW, tileH, gap) {
  return { cols, rows, scale, gap, nativeW: cols * tileW + (cols - 1) * gap, nativeH: rows * tileH + (rows - 1) * gap };
}

/**
 * A column's width before the spare room is shared out: the input and the outputs get room to be read, the
 * flatten strip stays narrow, the rest share by size.
 * @param {Geometry} g
 * @param {number} areaH
 */
function fixedWidth(g, areaH) {
  // Room for the units and a title of a few words ("Output: 10 neurons, one per symbol").
  if (g.type === "output") return Math.max(96, OUTPUT_LABEL_WIDTH + Math.min(28, Math.max(12, areaH / (1.25 * g.count))) + 8);
  if (g.type === "strip") return 84;
  return 0;
}

/**
 * Place every layer in a width x height area.
 * @param {LayerShape[]} layers  in order, the input first if it should be shown
 * @param {number} width
 * @param {number} height
 * @returns {Column[]} one entry per layer, screen pixels
 */
export function layoutColumns(layers, width, height) {
  const n = layers.length;
  if (!n) return [];
  const areaH = Math.max(10, height - LABEL_HEIGHT);
  const free = Math.max(n * 10, width - COLUMN_GAP * (n - 1));
  const geoms = layers.map((l) => layerGeometry(l.shape, l.kind));
  const fixed = geoms.map((g) => fixedWidth(g, areaH));
  // The input column is as wide as a readable picture (up to 4 screen pixels per pixel) when there is room.
  layers.forEach((l, i) => { if (l.kind === "input") fixed[i] = Math.min(4 * geoms[i].tileW, Math.max(MIN_COLUMN, free / (n + 2))); });
  // Columns get width by the square root of their size.
  const weights = geoms.map((g, i) => (fixed[i] ? 0 : Math.sqrt(g.count * g.tileW * g.tileH)));
  const total = weights.reduce((a, b) => a + b, 0) || 1;
  const flexible = weights.filter((w) => w > 0).length;
  // Every column gets a minimum (room for its name and visible units), the rest goes by size.
  const fixedSum = fixed.reduce((a, b) => a + b, 0);
  const minW = flexible ? Math.min(MIN_COLUMN, (free - fixedSum) / flexible) : 0;
  const spare = Math.max(0, free - fixedSum - minW * flexible);
  /** @type {Column[]} */
  const columns = [];
  let x = 0;
  for (let i = 0; i < n; i++) {
    const g = geoms[i];
    const colW = fixed[i] || minW + (spare * weights[i]) / total;
    let left = 0;
    /** @type {Grid & {unit?: number}} */
    let grid;
    let scale;
    let scaleX;
    if (g.type === "strip") {
      // A long list of numbers: a narrow strip, a few units wide, each unit at least 1.5 pixels tall.
      let cols = 1;
      while (Math.ceil(g.count / cols) * 1.5 > areaH && cols < g.count) cols += 1;
      grid = gridOf(cols, Math.ceil(g.count / cols), 0, 1, 1, 0);
      scale = Math.min(4, areaH / grid.nativeH);
      scaleX = Math.min(colW / cols, Math.max(scale, 24 / cols));
    } else if (g.type === "output") {
      // One column of units, a label beside each; the grey gap outlines a unit that is near zero.
      grid = { ...gridOf(1, g.count, 0, 5, 5, 1), unit: 5 };
      scale = Math.min((colW - OUTPUT_LABEL_WIDTH - 4) / 5, areaH / grid.nativeH, 28 / 5);
      scaleX = scale;
      left = OUTPUT_LABEL_WIDTH;
    } else {
      // Maps get a one-pixel gap between tiles; vector units get a gap only when the squares are large.
      grid = fitGrid(g.count, g.tileW, g.tileH, colW, areaH, g.type === "maps" && g.count > 1 ? 1 : 0);
      if (g.type === "vector" && grid.scale >= 6) {
        // Large squares read better with a thin gap; the gap is drawn at 1/5 of a unit.
        grid = { ...fitGrid(g.count, 5, 5, colW, areaH, 1), unit: 5 };
      }
      // A single input image or tile should not grow past a sensible size.
      scale = Math.min(grid.scale, g.type === "vector" ? 28 / (grid.unit || 1) : 12);
      scaleX = scale;
    }
    const drawW = grid.nativeW * scaleX;
    const drawH = grid.nativeH * scale;
    columns.push({
      name: layers[i].name, x: x + left + (colW - left - drawW) / 2, y: (areaH - drawH) / 2, width: colW, height: areaH,
      drawW, drawH, left, geometry: g, grid: { ...grid, scale, unit: grid.unit || 1 },
    });
    x += colW + COLUMN_GAP;
  }
  return columns;
}

/**
 * Where activation value `index` (NHWC order for maps) lands in the column's native pixel grid.
 * Returns [px, py] of its top-left native pixel; the unit covers grid.unit native pixels.
 * @param {Column} column
 * @param {number} index
 * @returns {[number, number]}
 */
export function unitPosition(column, index) {
  const { geometry: g, grid } = column;
  if (g.type !== "maps") {
    const col = index % grid.cols;
    const row = Math.floor(index / grid.cols);
    const step = grid.unit + grid.gap;
    return [col * step, row * step];
  }
  const c = index % g.count;
  const pix = Math.floor(index / g.count);
  const px = pix % g.tileW;
  const py = Math.floor(pix / g.tileW);
  const tileCol = c % grid.cols;
  const tileRow = Math.floor(c / grid.cols);
  return [tileCol * (g.tileW + grid.gap) + px, tileRow * (g.tileH + grid.gap) + py];
}

/**
 * Paint a layer's values into a native-size RGBA buffer (as Uint32 words), background first. The colour of a
 * value is the lookup table's entry (render/colors.js lutIndex, computed inline: this runs for every value of
 * every layer in every frame).
 * @param {Uint32Array} pixels  grid.nativeW * grid.nativeH words
 * @param {Column} column
 * @param {ArrayLike<number>} values  the layer's activations (NHWC order for maps)
 * @param {Uint32Array} lut  colours (render/colors.js buildLut): LUT_STEPS negative, then LUT_STEPS positive
 * @param {number} scale  the magnitude drawn at full colour
 * @param {number} background  an RGBA word
 */
export function paintColumn(pixels, column, values, lut, scale, background) {
  const { geometry: g, grid } = column;
  const steps = lut.length / 2;
  const top = steps - 1;
  const k = scale > 0 && Number.isFinite(scale) ? top / scale : 0;
  /** @param {number} v */
  const colour = (v) => {
    // Same as lut[lutIndex(v, scale)]: round |v| / scale to a step, negative half first; NaN and ±inf are paper.
    if (v >= 0 && v !== Infinity) { const x = v * k; return lut[steps + (x >= top ? top : (x + 0.5) | 0)]; }
    if (v < 0 && v !== -Infinity) { const x = -v * k; return lut[x >= top ? top : (x + 0.5) | 0]; }
    return lut[steps];
  };
  pixels.fill(background);
  const w = grid.nativeW;
  if (g.type !== "maps") {
    const u = grid.unit;
    for (let i = 0; i < values.length; i++) {
      const color = colour(values[i]);
      const [px, py] = unitPosition(column, i);
      for (let dy = 0; dy < u; dy++) {
        const row = (py + dy) * w + px;
        for (let dx = 0; dx < u; dx++) pixels[row + dx] = color;
      }
    }
    return;
  }
  // Maps: walk NHWC order directly without the per-value division of unitPosition.
  // The colour is written out here (as in colour() above): this loop is most of the pixels of a frame.
  const C = g.count;
  const tileW = g.tileW;
  const paper = lut[steps];
  for (let c = 0; c < C; c++) {
    const ox = (c % grid.cols) * (tileW + grid.gap);
    const oy = Math.floor(c / grid.cols) * (g.tileH + grid.gap);
    for (let y = 0; y < g.tileH; y++) {
      const rowBase = (oy + y) * w + ox;
      let src = y * tileW * C + c;
      for (let x = 0; x < tileW; x++, src += C) {
        const v = values[src];
        let word = paper;
        if (v >= 0 && v !== Infinity) { const s = v * k; word = lut[steps + (s >= top ? top : (s + 0.5) | 0)]; }
        else if (v < 0 && v !== -Infinity) { const s = -v * k; word = lut[s >= top ? top : (s + 0.5) | 0]; }
        pixels[rowBase + x] = word;
      }
    }
  }
}

/**
 * Index of the largest value (the predicted unit).
 * @param {ArrayLike<number>} values
 */
export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * "26×26×32" from [1, 26, 26, 32].
 * @param {readonly number[]} shape
 */
export function shapeText(shape) {
  return shape.slice(1).join("×");
}

/**
 * `text` in at most `maxLines` lines of at most `width` pixels, broken between words (a word too long is
 * cut with "…").
 * @param {string} text
 * @param {(s: string) => number} measure  width of a string in pixels
 * @param {number} width
 * @param {number} maxLines
 * @returns {string[]}
 */
export function wrapWords(text, measure, width, maxLines) {
  /** @type {string[]} */
  const lines = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (!line || measure(candidate) <= width) { line = candidate; continue; }
    lines.push(line);
    line = word;
  }
  if (line) lines.push(line);
  const kept = lines.slice(0, maxLines);
  if (lines.length > maxLines) kept[maxLines - 1] += "…";
  return kept.map((l) => {
    if (measure(l) <= width) return l;
    let s = l;
    while (s.length > 1 && measure(`${s}…`) > width) s = s.slice(0, -1);
    return `${s}…`;
  });
}
