import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from digitlab.api.deps import CurrentUser, Id, RunnerDep, SessionDep, SettingsDep, StorageDep
from digitlab.api.errors import ApiError
from digitlab.auth import service as auth_service
from digitlab.auth.models import User
from digitlab.jobs.models import Job
from digitlab.projects import service as projects_service
from digitlab.training import evaluation, service
from digitlab.training.models import Training
from digitlab.training.schemas import EvaluationPublic, NetworkChoice, NetworkSummaryPublic, SampleImage, TrainingCreate, TrainingPublic

router = APIRouter(prefix="/api/projects/{project_id}/trainings", tags=["training"])

STREAM_POLL_SECONDS = 0.25


@router.post("/summary", response_model=NetworkSummaryPublic)
def network_summary(project_id: Id, body: NetworkChoice, session: SessionDep, settings: SettingsDep,
                    user: CurrentUser):
    """Each layer's name, kind, output shape and parameters, without training (like model.summary())."""
    project = projects_service.get_project(session, user, project_id)
    _, summary = service.network(body, project.labels, settings)
    return service.summary_public(summary)


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=TrainingPublic)
def start_training(project_id: Id, body: TrainingCreate, session: SessionDep, runner: RunnerDep,
                   settings: SettingsDep, user: CurrentUser):
    """Queue a training on the project's dataset; watch it on `websocket_url` or poll `/history`."""
    project = projects_service.get_project(session, user, project_id)
    return service.to_public(session, service.start(session, runner, settings, project, body))


@router.get("", response_model=list[TrainingPublic])
def list_trainings(project_id: Id, session: SessionDep, user: CurrentUser):
    """All trainings of the project, newest first, with settings and final figures."""
    project = projects_service.get_project(session, user, project_id)
    return [service.to_public(session, t) for t in service.list_trainings(session, project)]


def _training(session: Session, user: User, project_id: int, training_id: int):  # noqa: ANN202
    return service.get_training(session, projects_service.get_project(session, user, project_id), training_id)


@router.get("/{training_id}", response_model=TrainingPublic)
def get_training(project_id: Id, training_id: Id, session: SessionDep, user: CurrentUser):
    return service.to_public(session, _training(session, user, project_id, training_id))


@router.get("/{training_id}/history")
def training_history(project_id: Id, training_id: Id, session: SessionDep, user: CurrentUser) -> list[dict]:
    """Every stream message so far (the same JSON the WebSocket sends), for clients that poll."""
    return service.history(session, _training(session, user, project_id, training_id))


@router.post("/{training_id}/cancel", response_model=TrainingPublic)
def cancel_training(project_id: Id, training_id: Id, session: SessionDep, runner: RunnerDep, user: CurrentUser):
    training = _training(session, user, project_id, training_id)
    return service.to_public(session, service.cancel(session, runner, training))


@router.get("/{training_id}/evaluation", response_model=EvaluationPublic)
def get_evaluation(project_id: Id, training_id: Id, session: SessionDep, storage: StorageDep, user: CurrentUser):
    """Test loss and accuracy, accuracy per label, confusion matrix, misclassified samples, gallery."""
    training = _training(session, user, project_id, training_id)
    service.require_finished(session, training)
    return evaluation.public(storage, training)


@router.get("/{training_id}/confusion/{true_index}/{predicted_index}", response_model=list[SampleImage])
def confusion_cell(project_id: Id, training_id: Id, true_index: int, predicted_index: int, session: SessionDep,
                   storage: StorageDep, user: CurrentUser):
    """The test samples behind one confusion matrix cell (label indices)."""
    training = _training(session, user, project_id, training_id)
    service.require_finished(session, training)
    return evaluation.confusion_cell(storage, training, true_index, predicted_index)


@router.websocket("/{training_id}/ws")
async def training_stream(websocket: WebSocket, project_id: Id, training_id: Id,
                          token: Annotated[str | None, Query()] = None):
    """Live messages (shared/schemas/training-message.schema.json): first everything so far, then new ones.

    Browsers cannot set headers on a WebSocket, so the bearer token comes as `?token=`.
    """
    engine = websocket.app.state.engine

    def authorise() -> bool:
        with Session(engine) as session:
            auth = auth_service.authenticate_token(session, token) if token else None
            user = session.get(User, auth.user_id) if auth else None
            if user is None:
                return False
            try:
                _training(session, user, project_id, training_id)
            except ApiError:
                return False
            return True

    if not await run_in_threadpool(authorise):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return
    await websocket.accept()

    def poll(after_seq: int) -> tuple[list[dict], dict | None, dict | None]:
        with Session(engine) as session:
            training = session.get(Training, training_id)
            if training is None:  # the project was deleted while someone watched
                return [], service.deleted_end_message(training_id), None
            job = session.get(Job, training.job_id)
            end = service.end_message(session, training, job)  # read before the events: none can be missed
            messages = [service.event_message(training, e) for e in service.events(session, training, after_seq)]
            return messages, end, service.status_message(training, job)

    try:
        messages, end, status_message = await run_in_threadpool(poll, -1)
        if status_message is not None:
            await websocket.send_json(status_message)
        last_seq = -1
        while True:
            for message in messages:
                await websocket.send_json(message)
                last_seq = message["seq"]
            if end is not None:
                await websocket.send_json(end)
                await websocket.close()
                return
            await asyncio.sleep(STREAM_POLL_SECONDS)
            messages, end, _ = await run_in_threadpool(poll, last_seq)
    except WebSocketDisconnect:
        return
