// Two trainings side by side: the data shaping of the compare view.
import { test } from "node:test";
import assert from "node:assert/strict";
import { comparedIds, confusionChanges, overlayData, perLabelRows, settingsDiff } from "../../frontend/src/render/comparison.js";

const epoch = (n, loss, acc) => ({ epoch: n, loss, val_loss: loss + 0.1, accuracy: acc, val_accuracy: acc - 0.1 });

test("curves of different lengths share one epoch axis, with gaps where a training has no epoch", () => {
  const [x, aTrain, aVal, bTrain, bVal] = overlayData([epoch(1, 1, 0.5), epoch(2, 0.5, 0.8)], [epoch(1, 2, 0.3), epoch(2, 1, 0.6), epoch(3, 0.4, 0.9)], "accuracy");
  assert.deepEqual(x, [1, 2, 3]);
  assert.deepEqual(aTrain, [0.5, 0.8, null]);
  assert.deepEqual(aVal.map((v) => v && +v.toFixed(2)), [0.4, 0.7, null]);
  assert.deepEqual(bTrain, [0.3, 0.6, 0.9]);
  assert.equal(bVal.length, 3);
  assert.deepEqual(overlayData([epoch(1, 1, 0.5)], [], "loss")[1], [1]);
});

test("accuracy per label is matched by label name, with B's change", () => {
  const rows = perLabelRows([{ label: "0", accuracy: 0.9 }, { label: "1", accuracy: null }],
    [{ label: "1", accuracy: 0.5 }, { label: "0", accuracy: 0.95 }, { label: "x", accuracy: 1 }]);
  assert.deepEqual(rows.map((r) => r.label), ["0", "1", "x"]);
  assert.ok(Math.abs(/** @type {number} */ (rows[0].delta) - 0.05) < 1e-12);
  assert.equal(rows[1].delta, null);
  assert.equal(rows[2].a, null);
});

test("confusion changes compare shares of each written label, biggest change first", () => {
  const a = { labels: ["0", "1"], confusion: [[8, 2], [0, 10]] };
  const b = { labels: ["0", "1"], confusion: [[19, 1], [4, 16]] };  // twice the test samples
  const { labels, cells, biggest } = confusionChanges(a, b);
  assert.deepEqual(labels, ["0", "1"]);
  assert.equal(cells[0][1].a, 2);
  assert.equal(cells[0][1].b, 1);
  assert.ok(cells[0][1].change < 0, "B confuses 0 with 1 less often");
  assert.ok(cells[1][0].change > 0, "and 1 with 0 more often");
  assert.deepEqual(biggest.map((c) => `${c.truth}${c.predicted}`), ["10", "01"]);
});

test("settings: differences first, in the training screen's order", () => {
  const base = { architecture: "mlp", activation: "relu", epochs_run: 5, dataset: { train: { 0: 40, 1: 40 }, test: { 0: 5, 1: 5 } },
    summary: { total_params: 100, layers: [{ kind: "dense", output_shape: [10], activation: "softmax" }] },
    settings: { epochs: 5, batch_size: 32, learning_rate: 0.001, seed: 0 } };
  const other = { ...base, settings: { ...base.settings, seed: 1, learning_rate: 0.01 } };
  const rows = settingsDiff(base, other);
  assert.deepEqual(rows.filter((r) => !r.same).map((r) => r.key), ["learning_rate", "seed"]);
  assert.equal(rows.find((r) => r.key === "train_samples")?.a, "80");
  assert.ok(rows.slice(2).every((r) => r.same));
});

test("the compare address names two trainings", () => {
  assert.deepEqual(comparedIds("12-9"), [12, 9]);
  assert.equal(comparedIds("12"), null);
  assert.equal(comparedIds(undefined), null);
});
