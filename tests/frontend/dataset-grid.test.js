// The dataset screen's keyboard moves and where a sample sits on its page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { nextIndex, cellOnPage } from "../../frontend/src/views/dataset-grid.js";

test("arrow keys move within the grid and stop at its edges", () => {
  assert.equal(nextIndex("ArrowRight", 3, 50, 10), 4);
  assert.equal(nextIndex("ArrowDown", 3, 50, 10), 13);
  assert.equal(nextIndex("ArrowUp", 3, 50, 10), 0);
  assert.equal(nextIndex("ArrowDown", 45, 50, 10), 49);
  assert.equal(nextIndex("ArrowLeft", 0, 50, 10), 0);
  assert.equal(nextIndex("End", 3, 50, 10), 49);
  assert.equal(nextIndex("Home", 30, 50, 10), 0);
  assert.equal(nextIndex("x", 3, 50, 10), null);
});

test("a cell's outline comes from the grid's corners, scaled to the thumbnail", () => {
  // A 200 x 300 pixel grid at (100, 50) on the scan; the thumbnail is half the size.
  const corners = [[100, 50], [300, 50], [300, 350], [100, 350]];
  assert.deepEqual(cellOnPage(corners, 0, 0, 0.5), [[50, 25], [55, 25], [55, 30], [50, 30]]);
  const last = cellOnPage(corners, 29, 19, 1).map((p) => p.map((v) => Math.round(v * 1000) / 1000));
  assert.deepEqual(last, [[290, 340], [300, 340], [300, 350], [290, 350]]);
  assert.equal(cellOnPage(null, 0, 0, 1), null);
});
