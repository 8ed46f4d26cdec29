from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile

from digitlab.api.deps import CurrentUser, Id, SessionDep, StorageDep
from digitlab.api.errors import ApiError
from digitlab.models import service
from digitlab.projects import service as projects_service
from digitlab.training import service as training_service

router = APIRouter(prefix="/api/projects/{project_id}/trainings/{training_id}", tags=["models"])

MAX_DRAWING_BYTES = 5 * 1024 * 1024


def _finished_training(session, user, project_id: int, training_id: int):  # noqa: ANN001, ANN202
    project = projects_service.get_project(session, user, project_id)
    training = training_service.get_training(session, project, training_id)
    training_service.require_finished(session, training)
    return training


@router.get("/files/{name}", response_class=Response)
def download_model(project_id: Id, training_id: Id, name: str, session: SessionDep, storage: StorageDep,
                   user: CurrentUser):
    """`model.onnx` (every layer's activation an output, metadata inside), `model.keras` or `card.json`."""
    training = _finished_training(session, user, project_id, training_id)
    data = service.download(storage, training, name)
    filename = f"digitlab-{training.project_id}-{training.id}-{name}"
    return Response(data, media_type=service.DOWNLOADS[name],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/predict")
def predict(project_id: Id, training_id: Id, session: SessionDep, storage: StorageDep, user: CurrentUser,
            image: Annotated[UploadFile, File(description="PNG of a drawn character, any size")],
            activations: Annotated[bool, Query(description="also return every layer's activation")] = False):
    """Run the model server-side (onnxruntime) on a drawing, preprocessed by the shared contract."""
    training = _finished_training(session, user, project_id, training_id)
    data = image.file.read(MAX_DRAWING_BYTES + 1)
    if len(data) > MAX_DRAWING_BYTES:
        raise ApiError(413, "The drawing is larger than 5 MB.", "file_too_large")
    return service.predict(storage, training, data, activations)
