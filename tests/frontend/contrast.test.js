// Every confusion matrix cell's number is readable: contrast at least 4.5:1 at every strength.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readableCell, contrast } from "../../frontend/src/render/contrast.js";

const parse = (s) => s.match(/\d+/g).map(Number);

test("numbers on the blue and orange cells reach 4.5:1 at every strength", () => {
  for (const colour of [[31, 119, 180], [228, 101, 11]]) {
    for (let alpha = 0; alpha <= 1.0001; alpha += 0.01) {
      const { background, color } = readableCell(colour, alpha);
      assert.ok(contrast(parse(background), parse(color)) >= 4.5, `${colour} at ${alpha}: ${background} / ${color}`);
    }
  }
});

test("WCAG's own examples: black on white is 21:1, the old diagonal was below 4.5:1", () => {
  assert.equal(Math.round(contrast([0, 0, 0], [255, 255, 255])), 21);
  assert.ok(contrast([53, 132, 187], [255, 255, 255]) < 4.5);
});
