// Activation colours and the column layout maths.
import { test } from "node:test";
import assert from "node:assert/strict";
import { activationColor, buildLut, lutIndex, layerScale, POSITIVE, NEGATIVE, LUT_STEPS } from "../../frontend/src/render/colors.js";
import { chartData, bestEpoch, bestMarker, memorisingSince } from "../../frontend/src/render/series.js";
import { layerGeometry, fitGrid, layoutColumns, unitPosition, paintColumn, argmax, shapeText, LABEL_HEIGHT } from "../../frontend/src/render/layout.js";

test("zero is paper, full positive is blue, full negative is orange", () => {
  assert.deepEqual(activationColor(0, 1), [255, 255, 255]);
  assert.deepEqual(activationColor(2, 2), POSITIVE);
  assert.deepEqual(activationColor(-5, 2), NEGATIVE);
  const half = activationColor(0.5, 1);
  assert.ok(half[2] > half[0], "positive values lean blue");
  const neg = activationColor(-0.5, 1);
  assert.ok(neg[0] > neg[2], "negative values lean orange");
});

test("NaN and a zero scale do not break the colours", () => {
  assert.deepEqual(activationColor(NaN, 1), [255, 255, 255]);
  assert.deepEqual(activationColor(1, 0), [255, 255, 255]);
  assert.equal(layerScale(new Float32Array([0, 0])), 1);
  assert.equal(layerScale(new Float32Array([-3, 2])), 3);
  assert.equal(layerScale(new Float32Array([NaN, -Infinity, 2, Infinity, -0.5])), 2);
  assert.equal(layerScale(new Float32Array([1, -4, NaN])), 4);
});

test("the lookup table agrees with activationColor", () => {
  const lut = buildLut();
  for (const v of [-1, -0.5, 0, 0.25, 1]) {
    const word = lut[lutIndex(v, 1)];
    const rgb = [word & 255, (word >> 8) & 255, (word >> 16) & 255];
    const exact = activationColor(v, 1);
    rgb.forEach((c, i) => assert.ok(Math.abs(c - exact[i]) <= 1, `${v}: ${rgb} vs ${exact}`));
  }
  assert.equal(lutIndex(10, 1), 2 * LUT_STEPS - 1);
});

test("geometry: NHWC maps are tiles, everything else is a vector", () => {
  assert.deepEqual(layerGeometry([1, 26, 26, 32]), { type: "maps", tileH: 26, tileW: 26, count: 32 });
  assert.deepEqual(layerGeometry([1, 784]), { type: "vector", tileH: 1, tileW: 1, count: 784 });
  assert.equal(shapeText([1, 12, 12, 64]), "12×12×64");
});

test("fitGrid fills the space and keeps every tile", () => {
  const g = fitGrid(32, 26, 26, 200, 600, 1);
  assert.ok(g.cols * g.rows >= 32);
  assert.ok(g.nativeW * g.scale <= 200 + 1e-9 && g.nativeH * g.scale <= 600 + 1e-9);
  // A tall area puts ten units in one column.
  assert.equal(fitGrid(10, 1, 1, 20, 500, 0).cols, 1);
});

test("columns run left to right inside the area and do not overlap", () => {
  const layers = [
    { name: "input", shape: [1, 28, 28, 1] }, { name: "conv2d", shape: [1, 26, 26, 32] },
    { name: "flatten", shape: [1, 9216] }, { name: "dense", shape: [1, 128] }, { name: "out", shape: [1, 10] },
  ];
  const cols = layoutColumns(layers, 1200, 500);
  assert.equal(cols.length, 5);
  for (let i = 0; i < cols.length; i++) {
    const c = cols[i];
    assert.ok(c.x >= -1e-9 && c.x + c.drawW <= 1200 + 1e-6, `${c.name} inside horizontally`);
    assert.ok(c.y >= 0 && c.y + c.drawH <= 500 - LABEL_HEIGHT + 1e-6, `${c.name} inside vertically`);
    if (i) assert.ok(c.x >= cols[i - 1].x + cols[i - 1].drawW, `${c.name} right of ${cols[i - 1].name}`);
  }
});

test("unitPosition maps NHWC indices into tiles; paintColumn colours each unit", () => {
  const [col] = layoutColumns([{ name: "c", shape: [1, 2, 2, 3] }], 300, 300);
  // value (y=1, x=0, c=2) is index (1*2+0)*3+2 = 8
  const [px, py] = unitPosition(col, 8);
  const tileX = (2 % col.grid.cols) * (2 + col.grid.gap);
  const tileY = Math.floor(2 / col.grid.cols) * (2 + col.grid.gap);
  assert.deepEqual([px, py], [tileX, tileY + 1]);
  const pixels = new Uint32Array(col.grid.nativeW * col.grid.nativeH);
  const values = new Float32Array(12);
  values[8] = 1;
  const lut = buildLut();
  paintColumn(pixels, col, values, lut, 1, 7);
  assert.equal(pixels[py * col.grid.nativeW + px], lut[lutIndex(1, 1)]);
  assert.equal(argmax(values), 8);
  // Every value of a map takes the lookup table's colour for it (the loop writes lutIndex out for speed).
  const many = Float32Array.from({ length: 12 }, (_, i) => [-2, -1, -0.3, -0.001, 0, 0.004, 0.5, 1, 3, NaN, Infinity, -Infinity][i]);
  paintColumn(pixels, col, many, lut, 1.5, 7);
  many.forEach((v, i) => {
    const [x, y] = unitPosition(col, i);
    assert.equal(pixels[y * col.grid.nativeW + x], lut[lutIndex(v, 1.5)], `value ${v}`);
  });
});

test("chart data is columnar and ordered by epoch", () => {
  const data = chartData([
    { epoch: 2, loss: 0.5, val_loss: 0.6, accuracy: 0.8, val_accuracy: 0.7 },
    { epoch: 1, loss: 1.0, val_loss: 1.1, accuracy: 0.5, val_accuracy: 0.4 },
  ]);
  assert.deepEqual(data, [[1, 2], [1.0, 0.5], [1.1, 0.6], [0.5, 0.8], [0.4, 0.7]]);
});

/** @param {number[]} valLosses */
const epochsOf = (valLosses) => valLosses.map((v, i) => ({ epoch: i + 1, loss: 0.1, val_loss: v, accuracy: 0.9, val_accuracy: 0.9 }));

test("the best epoch is the lowest validation loss and the chart marks only it", () => {
  const epochs = epochsOf([0.9, 0.4, 0.3, 0.35, 0.5]);
  assert.equal(bestEpoch(epochs)?.epoch, 3);
  assert.deepEqual(bestMarker(epochs), [null, null, 0.3, null, null]);
  assert.equal(bestEpoch([]), null);
});

test("memorising is said once the validation loss has risen for a few epochs after the best", () => {
  assert.equal(memorisingSince(epochsOf([0.9, 0.5, 0.3, 0.2])), null); // still improving
  assert.equal(memorisingSince(epochsOf([0.9, 0.3, 0.35, 0.33])), null); // only two epochs since the best
  assert.equal(memorisingSince(epochsOf([0.9, 0.3, 0.32, 0.31, 0.305])), null); // above the best, but not rising
  assert.equal(memorisingSince(epochsOf([0.9, 0.3, 0.32, 0.36, 0.4]))?.epoch, 2);
});

test("augmented versions keep the 28x28 input in 0..1, differ from each other and repeat with the seed", async () => {
  const { augmentedVersions } = await import("../../frontend/src/render/augment.js");
  const input = new Float32Array(28 * 28);
  for (let y = 8; y < 20; y++) input[y * 28 + 13] = input[y * 28 + 14] = 1; // a "1"
  const ranges = { rotation: 12, shift: 0.08, zoom: 0.1, stroke: 0.5, elastic: 2 };
  const versions = augmentedVersions(input, ranges, 4, 7);
  assert.equal(versions.length, 4);
  for (const v of versions) {
    assert.equal(v.length, 784);
    assert.ok(v.every((x) => x >= 0 && x <= 1));
    assert.ok(v.some((x) => x > 0.5)); // the stroke is still there
  }
  assert.notDeepEqual(versions[0], versions[1]);
  assert.deepEqual(augmentedVersions(input, ranges, 4, 7), versions);
  const unchanged = augmentedVersions(input, { rotation: 0, shift: 0, zoom: 0, stroke: 0, elastic: 0 }, 1, 7)[0];
  assert.deepEqual(Array.from(unchanged), Array.from(input));
});
