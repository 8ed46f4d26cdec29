// Runs the ONNX model with onnxruntime-web (self-hosted WASM, one thread: an LMS iframe has no
// cross-origin isolation) off the main thread, so drawing stays smooth.
import * as ort from "../../vendor/ort/ort.wasm.min.mjs";

ort.env.wasm.wasmPaths = new URL("../../vendor/ort/", import.meta.url).href;
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

let session = null;

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    if (msg.type === "load") {
      const started = performance.now();
      if (session) await session.release();
      session = await ort.InferenceSession.create(new Uint8Array(msg.model), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
      self.postMessage({ type: "loaded", id: msg.id, inputNames: session.inputNames, outputNames: session.outputNames,
        ms: performance.now() - started });
    } else if (msg.type === "run") {
      const started = performance.now();
      const input = new ort.Tensor("float32", msg.input, [1, 28, 28, 1]);
      const results = await session.run({ [session.inputNames[0]]: input });
      const outputs = {};
      const transfer = [];
      for (const name of session.outputNames) {
        const data = Float32Array.from(results[name].data); // our own copy, safe to transfer
        outputs[name] = { data, dims: Array.from(results[name].dims) };
        transfer.push(data.buffer);
      }
      self.postMessage({ type: "result", id: msg.id, outputs, ms: performance.now() - started }, transfer);
    }
  } catch (error) {
    self.postMessage({ type: "error", id: msg.id, message: String(error && error.message ? error.message : error) });
  }
};
