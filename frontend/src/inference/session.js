// @ts-check
// Runs the ONNX network with onnxruntime-web (self-hosted WASM, one thread: an LMS iframe has no cross-origin
// isolation) on the page's own thread. The CNN takes 0.3-2 ms, and a run started in a pointer event finishes
// in the same task, so its activations are painted in the very frame of the pointer event; a worker's
// round trip lands after that frame's paint and shows every result one frame late.
import * as ort from "../../vendor/ort/ort.wasm.min.mjs";
import { readGraph, preActivations, withOutputs, toChannelsLast } from "./onnx-outputs.js";

ort.env.wasm.wasmPaths = new URL("../../vendor/ort/", import.meta.url).href;
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

/**
 * The network is ready: `inputShape` is one sample's input as the network declares it, batch 1 (e.g.
 * [1, 28, 28, 1]); `outputNames` its layers' outputs; `preNames` the layers that have values before an
 * activation function (see onnx-outputs.js).
 * @typedef {{inputShape: number[], outputNames: readonly string[], preNames: readonly string[], ms: number}} Loaded
 */
/**
 * One run: every layer's output (after its activation) and, for the layers in `preNames`, the values before
 * the activation, in the same channels-last order. `ms` is the network's own time.
 * @typedef {{outputs: Record<string, {data: Float32Array, dims: number[]}>, pre: Record<string, Float32Array>, ms: number}} RunResult
 */

/**
 * The shape of one sample's input, read from the loaded network: the batch axis (symbolic) becomes 1.
 * @param {ort.InferenceSession} loaded
 * @returns {number[]}
 */
function sampleInputShape(loaded) {
  const meta = loaded.inputMetadata[0];
  const dims = meta && meta.isTensor ? meta.shape.slice(1) : [];
  if (!dims.length || !dims.every((d) => typeof d === "number" && d > 0)) {
    throw new Error(`the network's input has no fixed size (${meta && meta.isTensor ? JSON.stringify(meta.shape) : "no tensor"})`);
  }
  return [1, .../** @type {number[]} */ (dims)];
}

export class ModelSession {
  constructor() {
    /** @type {ort.InferenceSession | null} */
    this.session = null;
    /** @type {number[]} */
    this.inputShape = [];
    /** @type {string[]} the layers' own outputs, in the file's order */
    this.layerOutputs = [];
    /** @type {Map<string, import("./onnx-outputs.js").PreActivation>} */
    this.pre = new Map();
    /** @type {Map<string, Float32Array>} reused buffers for channels-first values turned channels-last */
    this.reordered = new Map();
  }

  /**
   * @param {ArrayBuffer} model  the .onnx bytes
   * @returns {Promise<Loaded>}
   */
  async load(model) {
    const started = performance.now();
    const bytes = new Uint8Array(model);
    const graph = readGraph(bytes);
    this.layerOutputs = graph.outputs;
    this.pre = preActivations(graph.nodes, graph.outputs);
    const extra = [...this.pre.values()].map((p) => p.tensor).filter((n) => !graph.outputs.includes(n));
    const created = await ort.InferenceSession.create(withOutputs(bytes, extra), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    try { this.inputShape = sampleInputShape(created); }
    catch (error) { await created.release(); throw error; }
    this.session = created;
    return { inputShape: this.inputShape, outputNames: this.layerOutputs, preNames: [...this.pre.keys()], ms: performance.now() - started };
  }

  /**
   * @param {Float32Array} input  one sample of the loaded network's inputShape, row-major, 0 = paper, 1 = ink
   * @param {boolean} [withPre]  also the values before the activation functions (copied out only when asked)
   * @returns {Promise<RunResult>}
   */
  async run(input, withPre = false) {
    const session = this.session;
    if (!session) throw new Error("no model loaded");
    const started = performance.now();
    const fetches = withPre ? [...this.layerOutputs, ...[...this.pre.values()].map((p) => p.tensor)] : this.layerOutputs;
    const results = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", input, this.inputShape) }, [...new Set(fetches)]);
    /** @type {RunResult["outputs"]} */
    const outputs = {};
    for (const name of this.layerOutputs) {
      outputs[name] = { data: /** @type {Float32Array} */ (results[name].data), dims: Array.from(results[name].dims) };
    }
    /** @type {Record<string, Float32Array>} */
    const pre = {};
    for (const [name, { tensor, channelsFirst }] of withPre ? this.pre : []) {
      const data = /** @type {Float32Array} */ (results[tensor].data);
      if (!channelsFirst) { pre[name] = data; continue; }
      let buffer = this.reordered.get(name);
      if (!buffer || buffer.length !== data.length) this.reordered.set(name, buffer = new Float32Array(data.length));
      pre[name] = toChannelsLast(data, results[tensor].dims, buffer);
    }
    return { outputs, pre, ms: performance.now() - started };
  }

  terminate() {
    const session = this.session;
    this.session = null;
    if (session) session.release().catch(() => {});
  }
}
