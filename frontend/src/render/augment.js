// @ts-check
// A few randomly changed versions of one 28x28 input, as the training's augmentation makes them (the same
// changes as backend/digitlab/ml/augment.py: pen thickness, then a turn and resize about the centre, a move,
// and a smooth bend), so a student sees what the network is shown. A preview: bilinear instead of bicubic
// for the bend, its own random numbers. Pure (no DOM), tested with node --test.

import { CANVAS_SIDE } from "../inference/preprocess.js";

const SIDE = CANVAS_SIDE;
const CENTRE = (SIDE - 1) / 2;
const GRID = 3; // the bend's random moves on a 3x3 grid

/** @typedef {{rotation: number, shift: number, zoom: number, stroke: number, elastic?: number}} AugmentRanges */

/**
 * A seeded random number generator (mulberry32): numbers in [0, 1).
 * @param {number} seed
 * @returns {() => number}
 */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @param {Float32Array} img
 * @param {number} x
 * @param {number} y
 */
function at(img, x, y) {
  return x >= 0 && x < SIDE && y >= 0 && y < SIDE ? img[y * SIDE + x] : 0;
}

/**
 * @param {Float32Array} img
 * @param {number} x  fractional pixel coordinates
 * @param {number} y
 */
function bilinear(img, x, y) {
  const x0 = Math.floor(x), y0 = Math.floor(y), wx = x - x0, wy = y - y0;
  return (1 - wy) * ((1 - wx) * at(img, x0, y0) + wx * at(img, x0 + 1, y0))
    + wy * ((1 - wx) * at(img, x0, y0 + 1) + wx * at(img, x0 + 1, y0 + 1));
}

/**
 * One changed version of a 28x28 input (values 0..1, row-major).
 * @param {Float32Array} input
 * @param {AugmentRanges} ranges
 * @param {() => number} random  numbers in [0, 1)
 * @returns {Float32Array}
 */
export function augmentSample(input, ranges, random) {
  const u = () => random() * 2 - 1;
  const [turn, zoom, sx, sy, pen] = [u(), u(), u(), u(), u()];
  // Pen thickness: towards the 3x3 maximum (thicker) or minimum (thinner).
  const amount = pen * ranges.stroke;
  let img = input;
  if (amount !== 0) {
    img = new Float32Array(SIDE * SIDE);
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        let hi = 0, lo = 1;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const inside = x + dx >= 0 && x + dx < SIDE && y + dy >= 0 && y + dy < SIDE;
            const v = inside ? input[(y + dy) * SIDE + x + dx] : null;
            if (v !== null) { hi = Math.max(hi, v); lo = Math.min(lo, v); }
          }
        }
        const v = input[y * SIDE + x];
        img[y * SIDE + x] = amount > 0 ? v + amount * (hi - v) : v - amount * (lo - v);
      }
    }
  }
  const angle = turn * ranges.rotation * Math.PI / 180;
  const scale = 1 + zoom * ranges.zoom;
  const tx = sx * ranges.shift * SIDE, ty = sy * ranges.shift * SIDE;
  const cos = Math.cos(angle) / scale, sin = Math.sin(angle) / scale;
  const bend = Array.from({ length: GRID * GRID * 2 }, () => u() * (ranges.elastic ?? 0));
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const dx = x - CENTRE - tx, dy = y - CENTRE - ty;
      let srcX = CENTRE + cos * dx + sin * dy;
      let srcY = CENTRE - sin * dx + cos * dy;
      if (ranges.elastic) {
        // The grid's points sit at the centres of a 3x3 split of the image (as an image resize places them).
        const gx = Math.min(GRID - 1, Math.max(0, (x + 0.5) * GRID / SIDE - 0.5));
        const gy = Math.min(GRID - 1, Math.max(0, (y + 0.5) * GRID / SIDE - 0.5));
        const gx0 = Math.min(GRID - 2, Math.floor(gx)), gy0 = Math.min(GRID - 2, Math.floor(gy));
        const fx = gx - gx0, fy = gy - gy0;
        const weights = [(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy];
        const corners = [gy0 * GRID + gx0, gy0 * GRID + gx0 + 1, (gy0 + 1) * GRID + gx0, (gy0 + 1) * GRID + gx0 + 1];
        for (let c = 0; c < 4; c++) {
          srcX += weights[c] * bend[corners[c] * 2];
          srcY += weights[c] * bend[corners[c] * 2 + 1];
        }
      }
      out[y * SIDE + x] = Math.min(1, Math.max(0, bilinear(img, srcX, srcY)));
    }
  }
  return out;
}

/**
 * `count` changed versions of one input.
 * @param {Float32Array} input
 * @param {AugmentRanges} ranges
 * @param {number} count
 * @param {number} seed
 */
export function augmentedVersions(input, ranges, count, seed) {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => augmentSample(input, ranges, random));
}
