import { test } from "node:test";
import assert from "node:assert/strict";
import { clampToPage, cornersValid, defaultCorners, fromBox, toPercent } from "../../frontend/src/render/corners.js";

test("the default corners are a grid the server accepts", () => {
  const c = defaultCorners(2480, 3508);
  assert.ok(cornersValid(c, 2480, 3508));
  assert.deepEqual(c[0], [248, 175.4]);
});

test("corners crossed or tiny are refused; a mirrored page's (counter-clockwise) are not", () => {
  const ok = [[100, 100], [1100, 100], [1100, 1500], [100, 1500]];
  assert.ok(cornersValid(ok, 1240, 1754));
  assert.ok(cornersValid([ok[1], ok[0], ok[3], ok[2]], 1240, 1754)); // mirrored: the grid's left edge on the right
  assert.ok(!cornersValid([ok[0], ok[2], ok[1], ok[3]], 1240, 1754)); // crossed
  assert.ok(!cornersValid([ok[0], ok[1], [1100, 1500], [1000, 200]], 1240, 1754)); // not convex
  assert.ok(!cornersValid([[100, 100], [140, 100], [140, 140], [100, 140]], 1240, 1754)); // tiny
  assert.ok(!cornersValid(ok.slice(0, 3), 1240, 1754));
});

test("a pointer position maps to page pixels and back, and stays on the page", () => {
  const [x, y] = fromBox(195, 276, 390, 552, 1240, 1754);
  assert.ok(Math.abs(x - 619.5) < 1e-9 && Math.abs(y - 876.5) < 1e-9);
  const [px, py] = toPercent([x, y], 1240, 1754);
  assert.ok(Math.abs(px - 50) < 1e-9 && Math.abs(py - 50) < 1e-9);
  assert.deepEqual(fromBox(-20, 900, 390, 552, 1240, 1754), [0, 1753]);
  assert.deepEqual(clampToPage([5000, -3], 100, 50), [99, 0]);
});
