"""Machine learning for Digit Lab: Keras networks, training, evaluation and ONNX export.

No web code and no database: usable from a notebook. Importing any module here is cheap — TensorFlow
(~3 s, ~600 MB, not fork-safe) is imported only inside the functions that need it, so the API
process can validate layer lists, summarise networks and run ONNX models without it.

- ``architectures``  layer specs, presets (mlp, cnn), validate() -> NetworkSummary   (pure Python)
- ``data``           prepare_images(), split_dataset() -> DatasetSplits               (numpy)
- ``train``          build_model(), train() -> TrainResult                            (TensorFlow)
- ``evaluate``       evaluate_probabilities(), accuracy_by_group() (numpy), evaluate_model() (TensorFlow)
- ``export``         save_keras(), load_keras(), to_onnx(), export_onnx()             (TensorFlow, tf2onnx)
- ``onnx_runtime``   OnnxModel, read_metadata(), benchmark_latency()                  (onnxruntime, numpy)
- ``synthetic``      make_digits(): drawn digits for tests, benchmarks and demos      (OpenCV)
"""
