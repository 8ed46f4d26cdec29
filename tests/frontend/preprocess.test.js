// The browser's preprocessing must match the server's on the shared vectors (CONTRACT.md, 1e-5).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { normalizeSample, inkFromRgba, CONTRACT_VERSION, INK_THRESHOLD, FIT_SIDE, CANVAS_SIDE } from "../../frontend/src/inference/preprocess.js";

const vectors = JSON.parse(readFileSync(new URL("../../shared/preprocessing/vectors.json", import.meta.url)));
const contract = JSON.parse(readFileSync(new URL("../../shared/preprocessing/contract.json", import.meta.url)));
const SIDE = contract.canvas_side;

test("contract version matches the shared vectors", () => {
  assert.equal(CONTRACT_VERSION, vectors.contract_version);
});

test("the constants are the shared contract's (contract.json, written from the server's one source)", () => {
  assert.deepEqual({ contract_version: CONTRACT_VERSION, ink_threshold: INK_THRESHOLD, fit_side: FIT_SIDE, canvas_side: CANVAS_SIDE },
    contract);
});

for (const vector of vectors.vectors) {
  test(`vector ${vector.name}`, () => {
    // JSON cannot hold NaN/inf; the vectors may spell them as strings.
    const input = vector.input.map((row) => row.map((v) => (typeof v === "string" ? Number(v.replace("inf", "Infinity")) : v)));
    const out = normalizeSample(input);
    assert.equal(out.length, SIDE * SIDE);
    assert.equal(vector.output.length, SIDE);
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const diff = Math.abs(out[y * SIDE + x] - vector.output[y][x]);
        assert.ok(diff <= vectors.tolerance, `${vector.name} (${y},${x}): ${out[y * SIDE + x]} vs ${vector.output[y][x]}`);
      }
    }
  });
}

test("flat ImageData-like input gives the same as nested arrays", () => {
  const w = 40, h = 30;
  const rgba = new Uint8ClampedArray(w * h * 4).fill(255);
  const nested = Array.from({ length: h }, () => new Array(w).fill(0));
  for (let y = 5; y < 25; y++) for (let x = 12; x < 18; x++) {
    const p = (y * w + x) * 4;
    rgba[p] = rgba[p + 1] = rgba[p + 2] = 0;
    nested[y][x] = 1;
  }
  const a = normalizeSample(inkFromRgba({ data: rgba, width: w, height: h }));
  const b = normalizeSample(nested);
  assert.deepEqual(Array.from(a), Array.from(b));
});

test("transparent pixels are paper and an empty drawing is all zeros", () => {
  const rgba = new Uint8ClampedArray(10 * 10 * 4); // all transparent black
  const ink = inkFromRgba({ data: rgba, width: 10, height: 10 });
  assert.ok(ink.data.every((v) => v === 0));
  assert.ok(normalizeSample(ink).every((v) => v === 0));
  assert.ok(normalizeSample([]).every((v) => v === 0));
});

test("grey pixels read through the table give exactly the formula's ink, whatever their alpha", () => {
  const rgba = new Uint8ClampedArray(256 * 2 * 4);
  for (let v = 0; v < 256; v++) {
    rgba.set([v, v, v, 255], v * 4);
    rgba.set([v, v, v, 1 + (v % 254)], (256 + v) * 4);
  }
  const plain = Array.from(rgba); // not bytes: every pixel by the formula
  assert.deepEqual(Array.from(inkFromRgba({ data: rgba, width: 512, height: 1 }).data),
    Array.from(inkFromRgba({ data: plain, width: 512, height: 1 }).data));
  assert.equal(inkFromRgba({ data: rgba, width: 1, height: 1 }).data[0], 1); // black: full ink
});

test("the playground's crop to where ink may be gives the same sample as the whole pad", () => {
  // The pad reads only the rectangle its strokes touched (canvas/drawpad.js): paper around the ink changes nothing.
  const w = 60, h = 50;
  const rgba = new Uint8ClampedArray(w * h * 4).fill(255);
  for (let y = 8; y < 41; y++) for (let x = 20; x < 33 + (y % 5); x++) {
    const p = (y * w + x) * 4;
    rgba[p] = rgba[p + 1] = rgba[p + 2] = (x * 37 + y * 11) % 200; // shades of grey, some below the threshold
  }
  const whole = normalizeSample(inkFromRgba({ data: rgba, width: w, height: h }));
  const [x0, y0, cw, ch] = [15, 5, 30, 40];
  const crop = new Uint8ClampedArray(cw * ch * 4);
  for (let y = 0; y < ch; y++) crop.set(rgba.subarray(((y0 + y) * w + x0) * 4, ((y0 + y) * w + x0 + cw) * 4), y * cw * 4);
  const reused = new Float64Array(w * h).fill(7); // a larger buffer from an earlier, bigger crop
  assert.deepEqual(Array.from(normalizeSample(inkFromRgba({ data: crop, width: cw, height: ch }, reused))), Array.from(whole));
});
