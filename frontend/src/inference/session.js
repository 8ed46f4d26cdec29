// The main thread's side of the inference worker: promise-based load/run, one request at a time.

export class ModelSession {
  constructor() {
    this.worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    this.pending = new Map();
    this.nextId = 1;
    this.worker.onmessage = (e) => {
      const { id } = e.data;
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      if (e.data.type === "error") p.reject(new Error(e.data.message));
      else p.resolve(e.data);
    };
    this.worker.onerror = (e) => {
      for (const p of this.pending.values()) p.reject(new Error(e.message || "worker failed"));
      this.pending.clear();
    };
  }

  call(message, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** @param {ArrayBuffer} model  the .onnx bytes (transferred to the worker) */
  load(model) { return this.call({ type: "load", model }, [model]); }

  /** @param {Float32Array} input  784 values, row-major 28x28, 0 = paper, 1 = ink */
  run(input) { return this.call({ type: "run", input }, [input.buffer]); }

  terminate() { this.worker.terminate(); }
}
