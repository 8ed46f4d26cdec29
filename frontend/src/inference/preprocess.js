// @ts-check
// The shared 28x28 preprocessing contract (shared/preprocessing/CONTRACT.md, version "1"), in the browser.
// Pure: no DOM, so node --test checks it against shared/preprocessing/vectors.json, and these constants
// against shared/preprocessing/contract.json. The rest of the web app takes the sample side from here
// (CANVAS_SIDE) where no network is loaded, and from the network's own input shape where one is.

export const CONTRACT_VERSION = "1";
export const INK_THRESHOLD = 0.2;
export const FIT_SIDE = 26;
export const CANVAS_SIDE = 28;

/**
 * Step 1: make finite and clip to [0, 1] (NaN -> 0, +inf -> 1, -inf -> 0).
 * @param {number} v
 */
export function clipInk(v) {
  if (Number.isNaN(v)) return 0;
  if (v === Infinity) return 1;
  if (v === -Infinity) return 0;
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * Ink of a grey pixel (r = g = b = v, not transparent), computed exactly as for any other pixel: the pad is black ink on
 * white, so nearly every pixel is grey and the playground looks most of them up instead of computing them.
 */
const GREY_INK = Float64Array.from({ length: 256 }, (_, v) => clipInk(1 - (0.299 * v + 0.587 * v + 0.114 * v) / 255));

/**
 * Canvas pixels (ink dark on white) -> ink intensity, a[y*w+x] = 1 - L/255; transparent pixels are paper.
 * @param {{data: Uint8ClampedArray | ArrayLike<number>, width: number, height: number}} image  an ImageData or look-alike
 * @param {Float64Array} [reuse]  a buffer of at least width * height values to write into (else a new one)
 * @returns {{data: Float64Array, width: number, height: number}}
 */
export function inkFromRgba(image, reuse) {
  const { data, width, height } = image;
  const n = width * height;
  // The playground converts the pad per frame: reusing one buffer spares the garbage collector a new one each time.
  const out = reuse && reuse.length >= n ? (reuse.length === n ? reuse : reuse.subarray(0, n)) : new Float64Array(n);
  const bytes = data instanceof Uint8ClampedArray || data instanceof Uint8Array; // whole numbers 0..255: the table applies
  for (let i = 0, p = 0; i < n; i++, p += 4) {
    const r = data[p], g = data[p + 1], b = data[p + 2];
    if (data[p + 3] === 0) { out[i] = 0; continue; }
    if (bytes && r === g && g === b) { out[i] = GREY_INK[r]; continue; }
    const lum = 0.299 * r + 0.587 * g + 0.114 * b;
    out[i] = clipInk(1 - lum / 255);
  }
  return { data: out, width, height };
}

/**
 * Row-normalised overlap matrix R (n_in -> n_out), sparse: per output row its first k and weights.
 * @param {number} nIn
 * @param {number} nOut
 * @returns {{k0: number, weights: number[]}[]}
 */
export function overlapRows(nIn, nOut) {
  const rows = [];
  for (let i = 0; i < nOut; i++) {
    const lo = (i * nIn) / nOut;
    const hi = ((i + 1) * nIn) / nOut;
    const k0 = Math.floor(lo);
    const k1 = Math.min(nIn, Math.ceil(hi));
    const weights = [];
    let sum = 0;
    for (let k = k0; k < k1; k++) {
      const o = Math.max(0, Math.min(hi, k + 1) - Math.max(lo, k));
      weights.push(o);
      sum += o;
    }
    rows.push({ k0, weights: weights.map((o) => o / sum) });
  }
  return rows;
}

/** @type {Float64Array} a buffer reused between samples (the playground normalises one per frame) */
let scratchBuffer = new Float64Array(0);
/** @param {number} n  at least n values; every one is written before it is read */
function scratch(n) {
  if (scratchBuffer.length < n) scratchBuffer = new Float64Array(n);
  return scratchBuffer;
}

/**
 * Normalise one sample to the CANVAS_SIDE x CANVAS_SIDE network input.
 * @param {number[][] | {data: ArrayLike<number>, width: number, height: number}} input ink intensity
 * @returns {Float64Array} CANVAS_SIDE² values, row-major, 0 = paper, 1 = ink
 */
export function normalizeSample(input) {
  /** @type {number} */
  let height;
  /** @type {number} */
  let width;
  /** @type {ArrayLike<number> | null} row-major values of a flat input (the fast path: no call per pixel) */
  let flat = null;
  /** @type {(y: number, x: number) => number} */
  let get = () => 0;
  if (Array.isArray(input)) {
    height = input.length;
    width = height ? input[0].length : 0;
    get = (y, x) => input[y][x];
  } else {
    ({ height, width } = input);
    flat = input.data;
  }
  const out = new Float64Array(CANVAS_SIDE * CANVAS_SIDE);
  // Steps 1-3: clip once into a flat buffer and find the ink's bounding box.
  const a = scratch(width * height);
  let y0 = height, y1 = -1, x0 = width, x1 = -1;
  for (let y = 0, i = 0; y < height; y++) {
    let first = -1, last = -1;
    for (let x = 0; x < width; x++, i++) {
      // clipInk, written out for the flat input (the playground's pad, every frame): NaN and -inf are 0, +inf is 1.
      const raw = flat ? flat[i] : get(y, x);
      const v = raw > 0 ? (raw < 1 ? raw : 1) : 0;
      a[i] = v;
      if (v > INK_THRESHOLD) { if (first < 0) first = x; last = x; }
    }
    if (first >= 0) {
      if (y < y0) y0 = y;
      y1 = y;
      if (first < x0) x0 = first;
      if (last > x1) x1 = last;
    }
  }
  if (y1 < 0) return out;
  const h = y1 + 1 - y0;
  const w = x1 + 1 - x0;
  // Step 4: integer rounding, so the longer side is exactly FIT_SIDE.
  const m = Math.max(h, w);
  const newH = Math.max(1, Math.floor((2 * FIT_SIDE * h + m) / (2 * m)));
  const newW = Math.max(1, Math.floor((2 * FIT_SIDE * w + m) / (2 * m)));
  // Step 5: separable area averaging, rows first (newH x w), then columns.
  const ry = overlapRows(h, newH);
  const rx = overlapRows(w, newW);
  const tmp = new Float64Array(newH * w);
  for (let i = 0; i < newH; i++) {
    const { k0, weights } = ry[i];
    for (let t = 0; t < weights.length; t++) {
      const wt = weights[t];
      const src = (y0 + k0 + t) * width + x0;
      for (let x = 0; x < w; x++) tmp[i * w + x] += wt * a[src + x];
    }
  }
  // Step 6: place with the odd leftover going to the bottom / right.
  const top = Math.floor((CANVAS_SIDE - newH) / 2);
  const left = Math.floor((CANVAS_SIDE - newW) / 2);
  for (let i = 0; i < newH; i++) {
    for (let j = 0; j < newW; j++) {
      const { k0, weights } = rx[j];
      let s = 0;
      for (let t = 0; t < weights.length; t++) s += weights[t] * tmp[i * w + k0 + t];
      out[(top + i) * CANVAS_SIDE + left + j] = s;
    }
  }
  return out;
}
