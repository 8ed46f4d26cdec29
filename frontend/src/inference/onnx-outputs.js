// @ts-check
// The values "before the activation function": the exported network (one ONNX output per layer, after its
// activation) is given one more output per layer, the input of that layer's activation node, so the
// playground can show negative values with ReLU too. Works on the .onnx bytes with a minimal protobuf reader
// (only the fields named below), so networks trained before this view existed gain it as well. Pure: no DOM.

// onnx.proto field numbers used here.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_OP_TYPE = 4;
const FLOAT = 1; // TensorProto.DataType.FLOAT

/** Activation functions as ONNX operators (tf2onnx's names for Keras's activations). */
export const ACTIVATION_OPS = new Set(["Relu", "Sigmoid", "Tanh", "Softmax", "LeakyRelu", "Elu", "Selu", "Softplus", "HardSigmoid"]);
/**
 * Operators between an activation and the layer's named output that only reorder values (tf2onnx's channel
 * order). Not Identity: a dropout layer is an Identity of the layer before, and has no activation of its own.
 */
const LAYOUT_OPS = new Set(["Transpose"]);

/** @typedef {{field: number, wire: number, start: number, dataStart: number, end: number}} Field */
/** @typedef {{opType: string, inputs: string[], outputs: string[]}} Node */
/**
 * One layer's values before its activation: the ONNX tensor's name, and whether that tensor is in
 * channels-first order (a Transpose sits between it and the layer's channels-last output).
 * @typedef {{tensor: string, channelsFirst: boolean}} PreActivation
 */

/**
 * @param {Uint8Array} b
 * @param {number} pos
 * @returns {[number, number]} value and the position after it
 */
function varint(b, pos) {
  let value = 0;
  let mul = 1;
  for (;;) {
    if (pos >= b.length) throw new Error("truncated ONNX file");
    const byte = b[pos++];
    value += (byte & 0x7f) * mul;
    if (byte < 0x80) return [value, pos];
    mul *= 128;
  }
}

/**
 * The top-level fields of one message in b[start, end).
 * @param {Uint8Array} b
 * @param {number} start
 * @param {number} end
 * @returns {Field[]}
 */
export function readFields(b, start, end) {
  /** @type {Field[]} */
  const fields = [];
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const [key, p] = varint(b, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    let dataStart = p;
    let next;
    if (wire === 0) next = varint(b, p)[1];
    else if (wire === 1) next = p + 8;
    else if (wire === 5) next = p + 4;
    else if (wire === 2) {
      const [len, q] = varint(b, p);
      dataStart = q;
      next = q + len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (next > end) throw new Error("truncated ONNX file");
    fields.push({ field, wire, start: fieldStart, dataStart, end: next });
    pos = next;
  }
  return fields;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
/** @param {Uint8Array} b @param {Field} f */
const text = (b, f) => decoder.decode(b.subarray(f.dataStart, f.end));

/**
 * The graph's nodes and output names.
 * @param {Uint8Array} model  the .onnx bytes
 */
export function readGraph(model) {
  const graph = readFields(model, 0, model.length).find((f) => f.field === MODEL_GRAPH && f.wire === 2);
  if (!graph) throw new Error("no graph in the ONNX file");
  /** @type {Node[]} */
  const nodes = [];
  /** @type {string[]} */
  const outputs = [];
  for (const f of readFields(model, graph.dataStart, graph.end)) {
    if (f.wire !== 2) continue;
    if (f.field === GRAPH_NODE) {
      /** @type {Node} */
      const node = { opType: "", inputs: [], outputs: [] };
      for (const g of readFields(model, f.dataStart, f.end)) {
        if (g.wire !== 2) continue;
        if (g.field === NODE_INPUT) node.inputs.push(text(model, g));
        else if (g.field === NODE_OUTPUT) node.outputs.push(text(model, g));
        else if (g.field === NODE_OP_TYPE) node.opType = text(model, g);
      }
      nodes.push(node);
    } else if (f.field === GRAPH_OUTPUT) {
      const name = readFields(model, f.dataStart, f.end).find((g) => g.field === 1 && g.wire === 2);
      if (name) outputs.push(text(model, name));
    }
  }
  return { graph, nodes, outputs };
}

/**
 * For each named output, the tensor that goes into its activation (walking back over layout operators);
 * outputs without an activation (pooling, flatten, the input) are left out.
 * @param {Node[]} nodes
 * @param {readonly string[]} names
 * @returns {Map<string, PreActivation>}
 */
export function preActivations(nodes, names) {
  /** @type {Map<string, Node>} */
  const producer = new Map();
  for (const node of nodes) for (const out of node.outputs) producer.set(out, node);
  /** @type {Map<string, PreActivation>} */
  const found = new Map();
  for (const name of names) {
    let node = producer.get(name);
    let transposes = 0;
    while (node && LAYOUT_OPS.has(node.opType) && node.inputs.length) {
      if (node.opType === "Transpose") transposes += 1;
      node = producer.get(node.inputs[0]);
    }
    if (node && ACTIVATION_OPS.has(node.opType) && node.inputs.length) {
      found.set(name, { tensor: node.inputs[0], channelsFirst: transposes % 2 === 1 });
    }
  }
  return found;
}

/** @param {number} n @returns {number[]} */
function varintBytes(n) {
  const out = [];
  while (n >= 0x80) { out.push((n % 128) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return out;
}

/** @param {number} field @param {Uint8Array | number[]} data  a length-delimited field */
function lengthField(field, data) {
  return [...varintBytes(field * 8 + 2), ...varintBytes(data.length), ...data];
}

/**
 * The model with `tensors` as extra graph outputs (float tensors of any shape).
 * @param {Uint8Array} model
 * @param {readonly string[]} tensors
 * @returns {Uint8Array}
 */
export function withOutputs(model, tensors) {
  if (!tensors.length) return model;
  const { graph } = readGraph(model);
  // ValueInfoProto {name: 1, type: 2 = TypeProto {tensor_type: 1 = {elem_type: 1}}}
  const typeProto = lengthField(1, [...varintBytes(1 * 8 + 0), FLOAT]);
  const extra = tensors.flatMap((name) => lengthField(GRAPH_OUTPUT, [...lengthField(1, encoder.encode(name)), ...lengthField(2, typeProto)]));
  const oldGraph = model.subarray(graph.dataStart, graph.end);
  const graphHead = varintBytes(MODEL_GRAPH * 8 + 2).concat(varintBytes(oldGraph.length + extra.length));
  const out = new Uint8Array(graph.start + graphHead.length + oldGraph.length + extra.length + (model.length - graph.end));
  let pos = 0;
  out.set(model.subarray(0, graph.start), pos); pos += graph.start;
  out.set(graphHead, pos); pos += graphHead.length;
  out.set(oldGraph, pos); pos += oldGraph.length;
  out.set(extra, pos); pos += extra.length;
  out.set(model.subarray(graph.end), pos);
  return out;
}

/**
 * Channels-first [1, C, H, W] values reordered to the layers' channels-last [1, H, W, C].
 * @param {Float32Array} data
 * @param {readonly number[]} dims  [1, C, H, W]
 * @param {Float32Array} [out]
 */
export function toChannelsLast(data, dims, out = new Float32Array(data.length)) {
  const [, C, H, W] = dims;
  const plane = H * W;
  for (let c = 0; c < C; c++) {
    const src = c * plane;
    for (let p = 0; p < plane; p++) out[p * C + c] = data[src + p];
  }
  return out;
}
