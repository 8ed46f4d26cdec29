"""Training speed of digitlab.ml.train on synthetic digits, next to a plain Keras script doing the same fit.

    .venv/bin/python benchmarks/train_speed.py [--samples 4000] [--epochs 30] [--presets mlp cnn]

Every run happens in a freshly spawned process (as the service runs training jobs), so each one
pays its own TensorFlow start-up outside the timed part and gets a clean thread configuration.
The split is 80/10/10, so 4,000 samples train on 3,200 and validate on 400 each epoch.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time


def _data(samples: int):
    from digitlab.ml.data import split_dataset
    from digitlab.ml.synthetic import make_digits

    x, y = make_digits(samples // 10, seed=0)
    return split_dataset(x, y, n_labels=10, seed=0)


def _digitlab(preset: str, samples: int, epochs: int, queue) -> None:
    from digitlab.ml import _tf, architectures, train

    splits = _data(samples)
    progress = []
    _tf.keras()  # import TensorFlow before the clock starts, as the plain script does

    cpu = time.process_time()
    result = train.train(architectures.preset(preset, 10), splits, epochs=epochs, seed=0,
                         on_epoch=progress.append, on_batch_progress=lambda e, f: None, should_stop=lambda: False)
    last = result.history[-1]
    queue.put({"seconds": result.seconds, "cpu": time.process_time() - cpu, "val_accuracy": last["val_accuracy"]})


def _plain_keras(preset: str, samples: int, epochs: int, queue) -> None:
    # What a student's notebook would do, with TensorFlow's default threading.
    import keras

    splits = _data(samples)
    keras.utils.set_random_seed(0)
    if preset == "mlp":
        layers = [keras.layers.Flatten(), keras.layers.Dense(100, activation="relu"),
                  keras.layers.Dense(100, activation="relu")]
    else:
        layers = [keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                  keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                  keras.layers.Flatten(), keras.layers.Dense(128, activation="relu")]
    model = keras.Sequential([keras.Input((28, 28, 1)), *layers, keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    started, cpu = time.perf_counter(), time.process_time()
    history = model.fit(splits.x_train, splits.y_train, validation_data=(splits.x_val, splits.y_val),
                        epochs=epochs, batch_size=32, verbose=0)
    queue.put({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
               "val_accuracy": history.history["val_accuracy"][-1]})


def _tf_cores() -> int:
    from digitlab.ml._tf import available_cores

    return available_cores()


def _run(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--presets", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant, alternating (median shown)")
    args = parser.parse_args()

    print(f"{args.samples} synthetic samples (80/10/10 split), {args.epochs} epochs, batch 32; "
          f"{_tf_cores()} cores, load average {os.getloadavg()[0]:.1f} (other work slows every figure)")
    for preset in args.presets:
        variants = (("digitlab.ml.train", _digitlab), ("plain Keras fit", _plain_keras))
        runs: dict[str, list[dict]] = {name: [] for name, _ in variants}
        for _ in range(args.repeat):  # alternate, so drifting load hits both alike
            for name, target in variants:
                runs[name].append(_run(target, preset, args.samples, args.epochs))
        for name, results in runs.items():
            seconds = statistics.median(r["seconds"] for r in results)
            cpu = statistics.median(r["cpu"] for r in results)
            print(f"{preset:4s} {name:18s} {seconds:6.1f} s wall  {cpu:6.1f} s CPU   "
                  f"final val_accuracy {results[-1]['val_accuracy']:.3f}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
