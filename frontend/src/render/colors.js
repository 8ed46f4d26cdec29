// @ts-check
// Activation colours: blue for positive, orange for negative, intensity by magnitude (as in the seed).
// Pure maths, so node --test can check it; the renderer uses the lookup table for speed.

export const POSITIVE = [31, 119, 180]; // blue
export const NEGATIVE = [255, 127, 14]; // orange
export const PAPER = [255, 255, 255];

/**
 * Colour of value v when |v| == scale is full colour; 0 is paper. Returns [r, g, b] integers.
 * @param {number} v
 * @param {number} scale
 * @returns {number[]}
 */
export function activationColor(v, scale) {
  if (!Number.isFinite(v) || !(scale > 0)) return PAPER.slice();
  const t = Math.min(1, Math.abs(v) / scale);
  const base = v >= 0 ? POSITIVE : NEGATIVE;
  return PAPER.map((p, i) => Math.round(p + (base[i] - p) * t));
}

export const LUT_STEPS = 256;

/**
 * A packed lookup table: index 0..255 negative (255 = full), 256..511 positive, as RGBA uint32
 * little-endian words ready for a Uint32Array view of ImageData.
 */
export function buildLut() {
  const lut = new Uint32Array(2 * LUT_STEPS);
  for (let s = 0; s < LUT_STEPS; s++) {
    const t = s / (LUT_STEPS - 1);
    for (const [offset, sign] of [[0, -1], [LUT_STEPS, 1]]) {
      const [r, g, b] = activationColor(sign * t, 1);
      lut[offset + s] = (255 << 24) | (b << 16) | (g << 8) | r;
    }
  }
  return lut;
}

/**
 * LUT index for value v at the given scale (same rounding as activationColor within one step).
 * @param {number} v
 * @param {number} scale
 */
export function lutIndex(v, scale) {
  if (!Number.isFinite(v) || !(scale > 0)) return LUT_STEPS; // positive zero = paper
  const s = Math.min(LUT_STEPS - 1, Math.round((Math.abs(v) / scale) * (LUT_STEPS - 1)));
  return v >= 0 ? LUT_STEPS + s : s;
}

/**
 * The colour scale of a layer: its largest magnitude (so every layer uses its full range), never 0.
 * @param {ArrayLike<number>} values
 */
export function layerScale(values) {
  // The largest and the smallest finite value in one pass (NaN compares false; runs on every layer every frame).
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v > hi) { if (v !== Infinity) hi = v; }
    else if (v < lo && v !== -Infinity) lo = v;
  }
  const m = hi > -lo ? hi : -lo;
  return m > 0 ? m : 1;
}
