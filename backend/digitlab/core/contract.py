"""The sample preprocessing contract's constants (shared/preprocessing/CONTRACT.md): their one source in Python.

Every module that needs the sample side or the fit side imports it from here: the pipeline that makes samples
(pipeline.normalize), the dataset files, the quotas, the networks' input shape (ml), the training job.
No imports, so the light modules (ml.architectures, pure Python) can use it without numpy or OpenCV.

shared/preprocessing/contract.json records these values for the other implementations (the browser's
frontend/src/inference/preprocess.js): make_vectors.py writes it from here, and tests on both sides check
their constants against it.
"""

CONTRACT_VERSION = "1"

INK_THRESHOLD = 0.2  # a pixel belongs to the ink's bounding box when its intensity is above this
FIT_SIDE = 26  # the longer side of the ink's bounding box after scaling
CANVAS_SIDE = 28  # a sample's side, the network's input side; the 1 px frame mirrors MNIST's empty border
SAMPLE_PIXELS = CANVAS_SIDE * CANVAS_SIDE  # one stored sample: this many uint8 bytes


def as_json() -> dict[str, object]:
    """The constants as shared/preprocessing/contract.json holds them."""
    return {
        "contract_version": CONTRACT_VERSION,
        "ink_threshold": INK_THRESHOLD,
        "fit_side": FIT_SIDE,
        "canvas_side": CANVAS_SIDE,
    }
