// Layout maths for the activation view: layers as columns from left to right, each unit a square,
// convolution/pooling outputs as one tile per feature map. Pure (no DOM) so it is unit-tested.

export const LABEL_HEIGHT = 34; // room under each column for its name and shape
export const COLUMN_GAP = 14;
export const MIN_COLUMN = 48;

/** How a layer's activation is drawn: 'maps' (h x w tiles, c of them) or 'vector' (n units). */
export function layerGeometry(shape) {
  const dims = shape.slice(1); // drop the batch dimension
  if (dims.length === 3) return { type: "maps", tileH: dims[0], tileW: dims[1], count: dims[2] };
  if (dims.length === 2) return { type: "maps", tileH: dims[0], tileW: dims[1], count: 1 };
  const n = dims.reduce((p, d) => p * d, 1);
  return { type: "vector", tileH: 1, tileW: 1, count: n };
}

/**
 * The best grid for `count` tiles of tileW x tileH inside width x height: columns k, rows, and the scale
 * (screen pixels per activation pixel), gap (in activation pixels) between tiles.
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
  const nativeW = best.cols * tileW + (best.cols - 1) * gap;
  const nativeH = best.rows * tileH + (best.rows - 1) * gap;
  return { ...best, gap, nativeW, nativeH };
}

/**
 * Place every layer in a width x height area.
 * @param {{name: string, shape: number[]}[]} layers  in order, the input first if it should be shown
 * @returns {{x, y, width, height, drawW, drawH, geometry, grid}[]} one entry per layer, screen pixels
 */
export function layoutColumns(layers, width, height) {
  const n = layers.length;
  if (!n) return [];
  const areaH = Math.max(10, height - LABEL_HEIGHT);
  const free = Math.max(n * 10, width - COLUMN_GAP * (n - 1));
  const geoms = layers.map((l) => layerGeometry(l.shape));
  // Columns get width by the square root of their size.
  const weights = geoms.map((g) => Math.sqrt(g.count * g.tileW * g.tileH));
  const total = weights.reduce((a, b) => a + b, 0);
  // Every column gets a minimum (room for its name and visible units), the rest goes by size.
  const minW = Math.min(MIN_COLUMN, free / n);
  const spare = free - minW * n;
  const columns = [];
  let x = 0;
  for (let i = 0; i < n; i++) {
    const colW = minW + (spare * weights[i]) / total;
    const g = geoms[i];
    // Maps get a one-pixel gap between tiles; vector units get a gap only when the squares are large.
    let grid = fitGrid(g.count, g.tileW, g.tileH, colW, areaH, g.type === "maps" && g.count > 1 ? 1 : 0);
    if (g.type === "vector" && grid.scale >= 6) {
      // Large squares read better with a thin gap; the gap is drawn at 1/5 of a unit.
      const big = fitGrid(g.count, 5, 5, colW, areaH, 1);
      grid = { ...big, unit: 5 };
    }
    // A single input image or tile should not grow past a sensible size.
    const scale = Math.min(grid.scale, g.type === "vector" ? 28 / (grid.unit || 1) : 12);
    const drawW = grid.nativeW * scale;
    const drawH = grid.nativeH * scale;
    columns.push({
      name: layers[i].name, x: x + (colW - drawW) / 2, y: (areaH - drawH) / 2, width: colW, height: areaH,
      drawW, drawH, geometry: g, grid: { ...grid, scale, unit: grid.unit || 1 },
    });
    x += colW + COLUMN_GAP;
  }
  return columns;
}

/**
 * Where activation value `index` (NHWC order for maps) lands in the column's native pixel grid.
 * Returns [px, py] of its top-left native pixel; the unit covers grid.unit native pixels.
 */
export function unitPosition(column, index) {
  const { geometry: g, grid } = column;
  if (g.type === "vector") {
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
 * Paint a layer's values into a native-size RGBA buffer (as Uint32 words), background first.
 * @param {Uint32Array} pixels  grid.nativeW * grid.nativeH words
 */
export function paintColumn(pixels, column, values, lut, lutIndexOf, scale, background) {
  const { geometry: g, grid } = column;
  pixels.fill(background);
  const w = grid.nativeW;
  if (g.type === "vector") {
    const u = grid.unit;
    for (let i = 0; i < values.length; i++) {
      const color = lut[lutIndexOf(values[i], scale)];
      const [px, py] = unitPosition(column, i);
      for (let dy = 0; dy < u; dy++) {
        const row = (py + dy) * w + px;
        for (let dx = 0; dx < u; dx++) pixels[row + dx] = color;
      }
    }
    return;
  }
  // Maps: walk NHWC order directly without the per-value division of unitPosition.
  const C = g.count;
  for (let c = 0; c < C; c++) {
    const ox = (c % grid.cols) * (g.tileW + grid.gap);
    const oy = Math.floor(c / grid.cols) * (g.tileH + grid.gap);
    for (let y = 0; y < g.tileH; y++) {
      const rowBase = (oy + y) * w + ox;
      const src = y * g.tileW * C + c;
      for (let x = 0; x < g.tileW; x++) pixels[rowBase + x] = lut[lutIndexOf(values[src + x * C], scale)];
    }
  }
}

/** Index of the largest value (the predicted unit). */
export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** "26×26×32" from [1, 26, 26, 32]. */
export function shapeText(shape) {
  return shape.slice(1).join("×");
}
