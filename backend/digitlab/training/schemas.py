from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

Architecture = Literal["mlp", "cnn", "custom"]
Activation = Literal["relu", "tanh", "sigmoid"]


class NetworkChoice(BaseModel):
    architecture: Architecture = "mlp"
    activation: Activation = Field(default="relu", description="Hidden layers' activation (presets)")
    layers: list[dict[str, Any]] | None = Field(
        default=None, max_length=50,
        description="For `custom`: the hidden layers, e.g. [{\"kind\": \"flatten\"}, {\"kind\": \"dense\", "
                    "\"units\": 64, \"activation\": \"relu\"}]; the softmax output layer is added for you")

    @model_validator(mode="after")
    def layers_only_for_custom(self) -> "NetworkChoice":
        if self.architecture == "custom" and not self.layers:
            raise ValueError("a custom network needs a list of layers")
        if self.architecture != "custom" and self.layers is not None:
            raise ValueError("layers are only for architecture 'custom'")
        return self


class TrainingCreate(NetworkChoice):
    epochs: int = Field(default=30, ge=1, le=500)
    batch_size: int = Field(default=32, ge=1, le=4096)
    learning_rate: float = Field(default=0.001, gt=0, le=1)
    val_fraction: float = Field(default=0.1, ge=0.01, le=0.5)
    test_fraction: float = Field(default=0.1, ge=0.01, le=0.5)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    early_stopping: int | None = Field(default=None, ge=0, le=100,
                                       description="Patience in epochs on validation loss; null = off")


class LayerInfo(BaseModel):
    index: int
    name: str
    kind: str
    output_shape: list[int]
    params: int
    activation: str | None


class NetworkSummaryPublic(BaseModel):
    input_shape: list[int]
    layers: list[LayerInfo]
    total_params: int


class TrainingPublic(BaseModel):
    id: int
    project_id: int
    job_id: int
    status: str
    progress: float
    error: str | None
    architecture: str
    activation: str
    settings: dict
    summary: NetworkSummaryPublic
    labels: list[str]
    dataset: dict | None
    epochs_run: int
    stopped: str | None
    test_loss: float | None
    test_accuracy: float | None
    final_epoch: dict | None = Field(description="The last epoch's loss/accuracy figures")
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
