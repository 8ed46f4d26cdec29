// Types of the self-hosted onnxruntime-web build that the web app imports as "/vendor/ort/ort.wasm.min.mjs"
// (served from node_modules/onnxruntime-web/dist): tsconfig.json's rootDirs lays typings/ over the app.
export * from "onnxruntime-web/wasm";
