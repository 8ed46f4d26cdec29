from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema, model_validator
from pydantic.json_schema import JsonDict

from digitlab.core.schemas import RequestBody
from digitlab.jobs.schemas import JobErrorCode, JobErrorParams, QueuePlace
from digitlab.jobs.tables import JobStatus
from digitlab.ml.augment import Augmentation
from digitlab.ml.train import StopReason

Architecture = Literal["mlp", "cnn", "custom"]
# One hidden layer of a custom network (digitlab.ml.architectures checks it and names it in a 422).
_LAYER_SCHEMA = {
    "type": "object",
    "required": ["kind"],
    "properties": {"kind": {"enum": ["dense", "conv2d", "max_pooling2d", "flatten", "dropout"]}},
}
Activation = Literal["relu", "tanh", "sigmoid"]


# `layers` exactly when the architecture is custom (the validator below), said in JSON Schema.
_LAYERS_ONLY_FOR_CUSTOM: JsonDict = {
    "if": {"properties": {"architecture": {"const": "custom"}}, "required": ["architecture"]},
    "then": {"required": ["layers"], "properties": {"layers": {"type": "array", "minItems": 1}}},
    "else": {"properties": {"layers": {"type": "null"}}},
}


class NetworkChoice(RequestBody):
    model_config = ConfigDict(json_schema_extra={"allOf": [_LAYERS_ONLY_FOR_CUSTOM]})

    architecture: Architecture = "mlp"
    activation: Activation = Field(default="relu", description="Hidden layers' activation (presets)")
    layers: list[Annotated[dict[str, Any], WithJsonSchema(_LAYER_SCHEMA)]] | None = Field(
        default=None,
        max_length=50,
        description='For `custom`: the hidden layers, e.g. [{"kind": "flatten"}, {"kind": "dense", '
        '"units": 64, "activation": "relu"}]; the softmax output layer is added for you',
    )

    @model_validator(mode="after")
    def layers_only_for_custom(self) -> "NetworkChoice":
        if self.architecture == "custom" and not self.layers:
            raise ValueError("a custom network needs a list of layers")
        if self.architecture != "custom" and self.layers is not None:
            raise ValueError("layers are only for architecture 'custom'")
        return self


# Samples per training step. The memory a training needs grows with it (every layer's output is kept for
# each sample of a batch), so it is checked with the network (issue 8).
BatchSize = Annotated[
    int,
    Field(
        ge=1,
        le=4096,
        description="Samples per training step; the memory a training needs grows with it (see the summary's `memory`)",
    ),
]


# Where a training's samples come from: the project's own, or the data set of a class its student is in.
ClassDataSource = Annotated[
    int | None,
    Field(
        ge=1,
        le=2**31 - 1,
        description="Train on the class data set of this class (one you are in) instead of the project's own "
        "samples; the network then has the class data set's labels",
    ),
]


class NetworkSummaryRequest(NetworkChoice):
    """The network, and the batch size the summary estimates the training's memory for."""

    batch_size: BatchSize = 32
    class_id: ClassDataSource = None


_RANGES, _LIMITS = Augmentation(), Augmentation.LIMITS


class AugmentationSettings(BaseModel):
    """Random changes of the training samples, new in every epoch (digitlab.ml.augment); the network's
    validation and test samples and the exported model are unchanged."""

    model_config = ConfigDict(extra="forbid")

    rotation: float = Field(default=_RANGES.rotation, ge=0, le=_LIMITS["rotation"], description="Degrees either way")
    shift: float = Field(
        default=_RANGES.shift, ge=0, le=_LIMITS["shift"], description="Fraction of the image's side either way"
    )
    zoom: float = Field(
        default=_RANGES.zoom, ge=0, le=_LIMITS["zoom"], description="Size change either way (0.1: 90-110 %)"
    )
    stroke: float = Field(
        default=_RANGES.stroke, ge=0, le=_LIMITS["stroke"], description="Pen thickness change either way, in pixels"
    )
    elastic: float = Field(
        default=_RANGES.elastic,
        ge=0,
        le=_LIMITS["elastic"],
        description="Largest move, in pixels, of a smooth random warp that bends the strokes",
    )


class TrainingCreate(NetworkChoice):
    epochs: int = Field(default=30, ge=1, le=500)
    batch_size: BatchSize = 32
    learning_rate: float = Field(default=0.002, gt=0, le=1)
    val_fraction: float = Field(default=0.1, ge=0.01, le=0.5)
    test_fraction: float = Field(default=0.1, ge=0.01, le=0.5)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    early_stopping: int | None = Field(
        default=10,
        ge=0,
        le=100,
        description="Stop when the validation loss has not improved for this many epochs, and keep the network "
        "of the best epoch; null = off (run every epoch, keep the last)",
    )
    augmentation: AugmentationSettings | None = Field(
        default_factory=AugmentationSettings, description="Random changes of the training samples; null = off"
    )
    lr_schedule: Literal["constant", "cosine"] = Field(
        default="cosine", description="`cosine`: the learning rate falls smoothly to 5 % of its start by the last epoch"
    )
    class_id: ClassDataSource = None


class LayerInfo(BaseModel):
    index: int
    name: str
    kind: str
    output_shape: list[int]
    params: int
    activation: str | None


class TrainingMemoryPublic(BaseModel):
    """The estimated peak memory of a training of this network (digitlab.ml.architectures), in MB."""

    batch_size: int
    samples: int = Field(description="Samples in the project's dataset, counted in the estimate")
    estimated_mb: int
    limit_mb: int | None = Field(description="Trainings estimated above this are refused (null: no limit)")
    activations_mb: int = Field(description="Every layer's output for one batch, with gradients and temporaries")
    parameters_mb: int = Field(description="Weights, gradients, the optimizer's state and the ONNX export")
    dataset_mb: int
    overhead_mb: int = Field(description="TensorFlow itself")


class NetworkSummaryPublic(BaseModel):
    input_shape: list[int]
    layers: list[LayerInfo]
    total_params: int
    memory: TrainingMemoryPublic | None = Field(
        default=None, description="Estimated memory of the training (trainings stored before it was added: null)"
    )


class TrainingPublic(BaseModel):
    id: int
    project_id: int
    job_id: int
    status: JobStatus
    progress: float
    error: str | None
    error_code: JobErrorCode = None
    error_params: JobErrorParams = None
    architecture: str
    activation: str
    settings: dict
    summary: NetworkSummaryPublic
    labels: list[str]
    dataset: dict | None
    epochs_run: int
    stopped: StopReason | None
    test_loss: float | None
    test_accuracy: float | None
    final_epoch: dict | None = Field(description="The last epoch's loss/accuracy figures")
    best_epoch: int | None = Field(
        default=None,
        description="The epoch with the lowest validation loss (a finished training); with early stopping on, "
        "the network kept is that epoch's",
    )
    queue: QueuePlace | None = Field(default=None, description="While the training waits: its place and estimates")
    created_at: datetime
    finished_at: datetime | None
    websocket_url: str


class SampleImage(BaseModel):
    test_index: int
    cell_id: int | None
    true: str
    predicted: str
    confidence: float
    correct: bool
    image: str = Field(description="data: URL of the 28x28 PNG (dark ink on white)")


class EvaluationPublic(BaseModel):
    training_id: int
    labels: list[str]
    count: int
    loss: float
    accuracy: float
    per_label: list[dict]
    confusion: list[list[int]] = Field(description="confusion[true][predicted]")
    misclassified: list[SampleImage]
    gallery: list[SampleImage]


# --- the live stream of a training (shared/schemas/training-message.schema.json) ---------------------------
class TrainingEventType(StrEnum):
    STATUS = "status"  # sent first on every connection: where the training stands now
    QUEUE = "queue"  # while it waits: its place in the queue and estimated start and end (not stored)
    STARTED = "started"  # stored: the worker has the data and starts fitting
    PROGRESS = "progress"  # stored: within an epoch, a few per second at most
    EPOCH = "epoch"  # stored: a finished epoch
    END = "end"  # the last message, derived from the job


FinishedStatus = Literal[JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED]


class StreamMessage(BaseModel):
    type: TrainingEventType  # each message narrows it to its own
    training_id: int = Field(ge=1)


class StoredMessage(StreamMessage):
    """A message the worker stored: numbered 0, 1, 2 ... per training."""

    seq: int = Field(ge=0)


class StatusMessage(StreamMessage):
    type: Literal[TrainingEventType.STATUS] = TrainingEventType.STATUS
    status: JobStatus
    epochs: int = Field(ge=1)


class QueueMessage(QueuePlace, StreamMessage):
    """While the training waits: sent after `status`, and again whenever its place or the estimates change."""

    type: Literal[TrainingEventType.QUEUE] = TrainingEventType.QUEUE


class StartedMessage(StoredMessage):
    type: Literal[TrainingEventType.STARTED] = TrainingEventType.STARTED
    epochs: int = Field(ge=1)
    train_samples: int = Field(ge=1)
    val_samples: int = Field(ge=1)
    test_samples: int = Field(ge=1)
    total_params: int = Field(ge=1)


class ProgressMessage(StoredMessage):
    type: Literal[TrainingEventType.PROGRESS] = TrainingEventType.PROGRESS
    epoch: int = Field(ge=1)
    fraction: float = Field(ge=0, le=1)
    seconds_left: float | None = Field(ge=0)


class EpochMessage(StoredMessage):
    type: Literal[TrainingEventType.EPOCH] = TrainingEventType.EPOCH
    epoch: int = Field(ge=1)
    loss: float
    accuracy: float = Field(ge=0, le=1)
    val_loss: float
    val_accuracy: float = Field(ge=0, le=1)
    seconds: float = Field(ge=0)


class HeldOutScores(BaseModel):
    """Loss and accuracy on the test set."""

    loss: float
    accuracy: float = Field(ge=0, le=1)


class EndMessage(StreamMessage):
    type: Literal[TrainingEventType.END] = TrainingEventType.END
    status: FinishedStatus
    error: str | None
    error_code: JobErrorCode = None
    error_params: JobErrorParams = None
    epochs_run: int = Field(ge=0)
    stopped: StopReason | None
    test: HeldOutScores | None


TrainingMessage = Annotated[
    StatusMessage | QueueMessage | StartedMessage | ProgressMessage | EpochMessage | EndMessage,
    Field(discriminator="type"),
]
training_message = TypeAdapter(TrainingMessage)
