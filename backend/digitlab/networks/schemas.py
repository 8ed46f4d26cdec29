from pydantic import BaseModel, Field


class LayerActivation(BaseModel):
    shape: list[int] = Field(description="The layer's output shape for one sample, e.g. [26, 26, 32] or [100]")
    values: list[float] = Field(description="The activations, flattened in row-major (C) order")


class PredictionPublic(BaseModel):
    training_id: int
    labels: list[str] = Field(description="The network's labels, in the order of `probabilities`")
    probabilities: list[float] = Field(description="One per label, summing to 1")
    predicted: str = Field(description="The most probable label")
    confidence: float = Field(ge=0, le=1, description="Its probability")
    input: list[list[float]] = Field(description="The 28x28 input the drawing became (ink = 1), row by row")
    activations: dict[str, LayerActivation] | None = Field(
        default=None, description="With ?activations=true: every layer's output, by layer name"
    )
