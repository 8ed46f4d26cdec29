// The playground's pure parts: the values before the activation function (ONNX outputs added to the file),
// the layers' names and the verdict in the student's words, and where the outputs and the flatten layer go.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readGraph, preActivations, withOutputs, toChannelsLast } from "../../frontend/src/inference/onnx-outputs.js";
import { layerTitles, verdict } from "../../frontend/src/render/words.js";
import { layoutColumns, wrapWords, LABEL_HEIGHT, OUTPUT_LABEL_WIDTH } from "../../frontend/src/render/layout.js";
import { setLanguage } from "../../frontend/src/i18n/index.js";

// A protobuf writer for the few onnx.proto fields the module reads (field numbers from onnx.proto).
const varint = (n) => { const out = []; while (n >= 0x80) { out.push((n % 128) | 0x80); n = Math.floor(n / 128); } out.push(n); return out; };
const bytes = (field, data) => [...varint(field * 8 + 2), ...varint(data.length), ...data];
const str = (field, s) => bytes(field, [...new TextEncoder().encode(s)]);
const node = (op, inputs, outputs) => bytes(1, [...inputs.flatMap((i) => str(1, i)), ...outputs.flatMap((o) => str(2, o)), ...str(4, op)]);
const valueInfo = (name) => bytes(12, str(1, name));

/** tf2onnx's shape of a Keras convolution and dense layer: Conv -> Relu -> Transpose (to channels-last), MatMul -> Add -> Softmax. */
function model() {
  const graph = [
    ...node("Transpose", ["input"], ["x_nchw"]), ...node("Conv", ["x_nchw", "w"], ["conv_pre"]), ...node("Relu", ["conv_pre"], ["conv_act"]),
    ...node("Transpose", ["conv_act"], ["conv2d"]), ...node("Reshape", ["conv2d", "shape"], ["flatten"]),
    ...node("MatMul", ["flatten", "w2"], ["mm"]), ...node("Add", ["mm", "b2"], ["logits"]), ...node("Softmax", ["logits"], ["dense"]),
    ...str(2, "graph name"), ...valueInfo("conv2d"), ...valueInfo("flatten"), ...valueInfo("dense"),
  ];
  // ir_version (1) before the graph and opset_import (8) after it: both must survive the edit.
  return new Uint8Array([...varint(1 * 8), 8, ...bytes(7, graph), ...bytes(8, [...str(1, ""), ...varint(2 * 8), 17])]);
}

test("the values before each activation are found behind layout operators, with their channel order", () => {
  const { nodes, outputs } = readGraph(model());
  assert.deepEqual(outputs, ["conv2d", "flatten", "dense"]);
  const pre = preActivations(nodes, outputs);
  assert.deepEqual(Object.fromEntries(pre), {
    conv2d: { tensor: "conv_pre", channelsFirst: true },
    dense: { tensor: "logits", channelsFirst: false },
  });
  assert.equal(pre.has("flatten"), false, "flatten has no activation function");
});

test("the extra outputs are appended to the graph and the rest of the file is kept", () => {
  const original = model();
  const edited = withOutputs(original, ["conv_pre", "logits"]);
  const { nodes, outputs } = readGraph(edited);
  assert.deepEqual(outputs, ["conv2d", "flatten", "dense", "conv_pre", "logits"]);
  assert.equal(nodes.length, readGraph(original).nodes.length);
  // The fields after the graph (opset_import) are byte for byte the same.
  const tail = original.subarray(original.length - 6);
  assert.deepEqual(edited.subarray(edited.length - 6), tail);
  assert.equal(withOutputs(original, []), original);
  assert.throws(() => readGraph(original.subarray(0, 20)), /truncated/);
});

test("channels-first values are reordered to the layers' channels-last order", () => {
  // C=2, H=1, W=3: channel 0 = 1,2,3; channel 1 = 4,5,6
  const out = toChannelsLast(new Float32Array([1, 2, 3, 4, 5, 6]), [1, 2, 1, 3]);
  assert.deepEqual([...out], [1, 4, 2, 5, 3, 6]);
});

const CNN = [
  { name: "conv2d", kind: "conv2d", output_shape: [26, 26, 32], activation: "relu" },
  { name: "max_pooling2d", kind: "max_pooling2d", output_shape: [13, 13, 32], activation: null },
  { name: "conv2d_1", kind: "conv2d", output_shape: [11, 11, 64], activation: "relu" },
  { name: "flatten", kind: "flatten", output_shape: [7744], activation: null },
  { name: "dense", kind: "dense", output_shape: [128], activation: "relu" },
  { name: "dense_1", kind: "dense", output_shape: [10], activation: "softmax" },
];

test("layers are named for what they are, in English and German", () => {
  setLanguage("en");
  const en = layerTitles(CNN, [28, 28, 1]);
  assert.equal(en.get("conv2d").title, "Convolution 1: 32 filters 3×3");
  assert.equal(en.get("conv2d_1").title, "Convolution 2: 64 filters 3×3");
  assert.equal(en.get("max_pooling2d").title, "Pooling 2×2 (largest value)");
  assert.equal(en.get("flatten").title, "Flatten: 7,744 numbers in one row");
  assert.equal(en.get("dense").title, "Dense 1: 128 neurons");
  assert.deepEqual(en.get("dense_1"), { title: "Output: 10 neurons, one per symbol", kind: "output" });
  setLanguage("de");
  const de = layerTitles(CNN, [28, 28, 1]);
  assert.equal(de.get("conv2d").title, "Faltung 1: 32 Filter 3×3");
  assert.equal(de.get("flatten").title, "Flatten: 7.744 Zahlen in einer Reihe");
  setLanguage("en");
});

test("a clear winner is named; a low or close call says the network is not sure", () => {
  setLanguage("en");
  const labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
  const sure = verdict([0, 0, 0, 0, 0, 0, 0, 0.97, 0.03, 0], labels);
  assert.deepEqual([sure.sure, sure.best], [true, 7]);
  assert.match(sure.text, /“7” \(97\.0\s%\)/);
  // The scribble of the issue: "3" at 52.9 % is not a confident answer.
  const scribble = verdict([0.05, 0, 0, 0.529, 0, 0.2, 0, 0, 0.221, 0], labels);
  assert.equal(scribble.sure, false);
  assert.match(scribble.text, /not sure.*“3”.*“8”/);
  // Ahead, but with a third of the probability left for another symbol.
  assert.equal(verdict([0.65, 0.35, 0, 0, 0, 0, 0, 0, 0, 0], labels).sure, false);
});

test("the outputs get one column with room for their labels; flatten stays a narrow strip; the input is readable", () => {
  const layers = [
    { name: "in", shape: [1, 28, 28, 1], kind: "input" }, { name: "conv", shape: [1, 26, 26, 32] },
    { name: "flat", shape: [1, 5408], kind: "flatten" }, { name: "dense", shape: [1, 128] },
    { name: "out", shape: [1, 10], kind: "output" },
  ];
  const cols = layoutColumns(layers, 800, 450);
  const [input, , flat, , out] = cols;
  assert.ok(input.drawW >= 3 * 28, `the input is drawn at least 3x (${input.drawW})`);
  assert.equal(out.grid.cols, 1);
  assert.ok(out.x - OUTPUT_LABEL_WIDTH >= cols[3].x + cols[3].drawW, "the labels do not overlap the layer before");
  assert.ok(out.y + out.drawH <= 450 - LABEL_HEIGHT + 1e-6 && out.x + out.drawW <= 800 + 1e-6);
  assert.ok(flat.drawW < 90 && flat.drawH > 300, `flatten is a tall strip (${flat.drawW}x${flat.drawH})`);
  assert.ok(flat.grid.cols * flat.grid.rows >= 5408, "every flattened value has a place");
});

test("long titles wrap between words and never run past their lines", () => {
  const measure = (s) => 7 * s.length;
  assert.deepEqual(wrapWords("Convolution 1: 32 filters 3×3", measure, 100, 3), ["Convolution 1:", "32 filters 3×3"]);
  const cut = wrapWords("a b c d e f g h", measure, 10, 2);
  assert.equal(cut.length, 2);
  assert.ok(cut[1].endsWith("…"));
});
