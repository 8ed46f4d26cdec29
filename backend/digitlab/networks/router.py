from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile

from digitlab.api.deps import ReadableFinishedTrainingDep, StorageDep
from digitlab.core.errors import too_large
from digitlab.networks import service
from digitlab.networks.schemas import PredictionPublic

router = APIRouter(prefix="/api/projects/{project_id}/trainings/{training_id}", tags=["networks"])

MAX_DRAWING_BYTES = 5 * 1024 * 1024


@router.get("/files/{name}", response_class=Response)
def download_model(training: ReadableFinishedTrainingDep, name: str, storage: StorageDep):
    """`model.onnx` (every layer's activation an output, metadata inside), `model.keras` or `card.json`."""
    data = service.download(storage, training, name)
    filename = f"digitlab-{training.project_id}-{training.id}-{name}"
    return Response(
        data, media_type=service.DOWNLOADS[name], headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.post("/predict", response_model=PredictionPublic, response_model_exclude_none=True)
def predict(
    training: ReadableFinishedTrainingDep,
    storage: StorageDep,
    image: Annotated[UploadFile, File(description="PNG of a drawn character, any size")],
    activations: Annotated[bool, Query(description="also return every layer's activation")] = False,
):
    """Run the model server-side (onnxruntime) on a drawing, preprocessed by the shared contract. It changes
    nothing, so whoever may read the training may use it (a teacher in a student's playground)."""
    data = image.file.read(MAX_DRAWING_BYTES + 1)
    if len(data) > MAX_DRAWING_BYTES:
        raise too_large("The drawing is larger than 5 MB.", "file_too_large")
    return service.predict(storage, training, data, activations)
