import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from digitlab.api.deps import (
    Id,
    ProjectDep,
    ReadableFinishedTrainingDep,
    ReadableProjectDep,
    ReadableTrainingDep,
    RunnerDep,
    SessionDep,
    SettingsDep,
    StorageDep,
    TrainingDep,
)
from digitlab.api.paging import PageDep
from digitlab.api.websockets import CLOSE_NOT_AUTHENTICATED, CLOSE_NOT_FOUND, socket_token, socket_user_id
from digitlab.auth.tables import User
from digitlab.core.db import unit_of_work
from digitlab.core.errors import DomainError
from digitlab.jobs.tables import Job
from digitlab.projects import service as projects_service
from digitlab.training import evaluation, service
from digitlab.training.schemas import (
    EvaluationPublic,
    NetworkSummaryPublic,
    NetworkSummaryRequest,
    SampleImage,
    TrainingCreate,
    TrainingMessage,
    TrainingPublic,
)
from digitlab.training.tables import Training

router = APIRouter(prefix="/api/projects/{project_id}/trainings", tags=["training"])

# How often a stream looks for news: quickly while its training runs (epochs stream in), slowly while it waits
# (only its place in the queue changes). Thirty open streams polling at the quick pace took a good part of the
# API process's time in a class of 30, slowing everyone's clicks.
STREAM_POLL_SECONDS = 0.25
QUEUED_POLL_SECONDS = 1.0


@router.post("/summary", response_model=NetworkSummaryPublic)
def network_summary(project: ProjectDep, body: NetworkSummaryRequest, session: SessionDep, settings: SettingsDep):
    """Each layer's name, kind, output shape and parameters, without training (like model.summary()), and the
    memory a training with `batch_size` would need. The same checks as starting a training: a network that
    would need more memory than the service allows is a 422 `training_memory_too_large`."""
    return service.preview(session, settings, project, body)


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=TrainingPublic)
def start_training(
    project: ProjectDep, body: TrainingCreate, session: SessionDep, runner: RunnerDep, settings: SettingsDep
):
    """Queue a training on the project's dataset; watch it on `websocket_url` or poll `/history`."""
    return service.to_public(session, service.start(session, runner, settings, project, body), with_queue=False)


@router.get("", response_model=list[TrainingPublic])
def list_trainings(project: ReadableProjectDep, session: SessionDep, page: PageDep):
    """All trainings of the project, newest first, with settings and final figures."""
    return service.public_list(session, service.list_trainings(session, project, page))


@router.get("/{training_id}", response_model=TrainingPublic)
def get_training(training: ReadableTrainingDep, session: SessionDep):
    return service.to_public(session, training)


@router.get("/{training_id}/history", response_model=list[TrainingMessage])
def training_history(training: ReadableTrainingDep, session: SessionDep) -> list[dict]:
    """Every stream message so far (the same JSON the WebSocket sends), for clients that poll."""
    return service.history(session, training)


@router.post("/{training_id}/cancel", response_model=TrainingPublic)
def cancel_training(training: TrainingDep, session: SessionDep, runner: RunnerDep):
    return service.to_public(session, service.cancel(session, runner, training))


@router.get("/{training_id}/evaluation", response_model=EvaluationPublic)
def get_evaluation(training: ReadableFinishedTrainingDep, storage: StorageDep):
    """Test loss and accuracy, accuracy per label, confusion matrix, misclassified samples, gallery."""
    return evaluation.public(storage, training)


@router.get("/{training_id}/confusion/{true_index}/{predicted_index}", response_model=list[SampleImage])
def confusion_cell(training: ReadableFinishedTrainingDep, true_index: int, predicted_index: int, storage: StorageDep):
    """The test samples behind one confusion matrix cell (label indices)."""
    return evaluation.confusion_cell(storage, training, true_index, predicted_index)


@router.websocket("/{training_id}/ws")
async def training_stream(
    websocket: WebSocket,
    project_id: Id,
    training_id: Id,
    token: Annotated[str | None, Query(description="Deprecated: use the subprotocol")] = None,
):
    """Live messages (shared/schemas/training-message.schema.json): first everything so far, then new ones.

    The bearer token comes as the `Authorization` header, or (browsers) as the subprotocols
    `["digitlab.bearer", "<token>"]`. Refusals close with 4401 (log in again) or 4404 (no such training).
    Whoever may read the training may watch it (its owner, their teachers). Access is checked again on every
    read, so a socket never outlives the watcher's access.
    """
    engine = websocket.app.state.engine
    raw_token, subprotocol = socket_token(websocket, token)

    def visible(session: Session, user_id: int) -> bool:
        user = session.get(User, user_id)
        if user is None:
            return False
        try:
            service.get_training(session, projects_service.get_readable_project(session, user, project_id), training_id)
        except DomainError:
            return False
        return True

    await websocket.accept(subprotocol=subprotocol)
    user_id = await socket_user_id(engine, raw_token)
    if user_id is None:
        await websocket.close(code=CLOSE_NOT_AUTHENTICATED, reason="not_authenticated")
        return

    def poll(after_seq: int) -> tuple[list[dict], dict | None, dict, dict | None] | None:
        with unit_of_work(engine) as session:
            if not visible(session, user_id):
                return None
            training = session.get(Training, training_id)
            if training is None:
                return None
            job = session.get(Job, training.job_id)
            if job is None:  # deleted between the two reads (a training goes with its job)
                return None
            end = service.end_message(session, training, job)  # read before the events: none can be missed
            messages = [service.event_message(training, e) for e in service.events(session, training, after_seq)]
            return messages, end, service.status_message(training, job), service.queue_message(session, training, job)

    try:
        first = await run_in_threadpool(poll, -1)
        if first is None:
            await websocket.close(code=CLOSE_NOT_FOUND, reason="not_found")
            return
        messages, end, status_message, waiting = first
        await websocket.send_json(status_message)
        last_seq, last_queue = -1, None
        while True:
            if service.queue_moved(last_queue, waiting):  # while it waits, as the queue moves
                await websocket.send_json(waiting)
                last_queue = waiting
            for message in messages:
                await websocket.send_json(message)
                last_seq = message["seq"]
            if end is not None:
                await websocket.send_json(end)
                await websocket.close()
                return
            await asyncio.sleep(QUEUED_POLL_SECONDS if waiting is not None else STREAM_POLL_SECONDS)
            polled = await run_in_threadpool(poll, last_seq)
            if polled is None:  # deleted, or no longer readable: end the stream, never show anyone else's
                await websocket.send_json(service.deleted_end_message(training_id))
                await websocket.close()
                return
            messages, end, _, waiting = polled
    except WebSocketDisconnect:
        return
