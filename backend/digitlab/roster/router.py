from collections.abc import Awaitable

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from digitlab.api.deps import Id, SessionDep, TaughtClassDep
from digitlab.api.websockets import CLOSE_NOT_AUTHENTICATED, CLOSE_NOT_FOUND, socket_token, socket_user_id
from digitlab.auth.tables import User
from digitlab.classes import service as classes_service
from digitlab.core.db import unit_of_work
from digitlab.core.errors import DomainError
from digitlab.roster import service
from digitlab.roster.schemas import RosterPublic
from digitlab.roster.watch import Latest, RosterWatchers

router = APIRouter(prefix="/api/classes/{class_id}/roster", tags=["roster"])


@router.get("", response_model=RosterPublic)
def get_roster(school_class: TaughtClassDep, session: SessionDep):
    """For the class's teachers: every student with pages uploaded, samples kept, trainings, best test accuracy,
    last activity, where they are stuck, and their projects (each readable by the teacher). Live:
    `/api/classes/{class_id}/roster/ws`."""
    return service.roster(session, school_class)


def watchers(websocket: WebSocket) -> RosterWatchers:
    """This process's roster watchers (made with the first roster socket)."""
    state = websocket.app.state
    if getattr(state, "roster_watchers", None) is None:
        state.roster_watchers = RosterWatchers(state.engine)
    return state.roster_watchers


@router.websocket("/ws")
async def roster_stream(websocket: WebSocket, class_id: Id):
    """The roster (the same JSON as GET `/api/classes/{class_id}/roster`) at once, then again whenever it changes
    (within about two seconds of a student's upload, extraction, edit or training), for the class's teachers.

    The bearer token comes as the `Authorization` header, or (browsers) as the subprotocols
    `["digitlab.bearer", "<token>"]`. Refusals close with 4401 (log in again) or 4404 (no such class of yours);
    a teacher who leaves the class, or a class that is deleted, ends the stream with 4404.
    """
    engine = websocket.app.state.engine
    raw_token, subprotocol = socket_token(websocket)
    await websocket.accept(subprotocol=subprotocol)
    user_id = await socket_user_id(engine, raw_token)
    if user_id is None:
        await websocket.close(code=CLOSE_NOT_AUTHENTICATED, reason="not_authenticated")
        return

    def teaches() -> bool:
        with unit_of_work(engine) as session:
            user = session.get(User, user_id)
            try:
                return user is not None and classes_service.get_taught_class(session, user, class_id) is not None
            except DomainError:
                return False

    if not await run_in_threadpool(teaches):
        await websocket.close(code=CLOSE_NOT_FOUND, reason="not_found")
        return
    async with watchers(websocket).subscribe(class_id) as mailbox, anyio.create_task_group() as tasks:

        async def until_either_ends(step: Awaitable[None]) -> None:
            await step
            tasks.cancel_scope.cancel()

        tasks.start_soon(until_either_ends, _forward(websocket, mailbox, user_id))
        tasks.start_soon(until_either_ends, _until_disconnect(websocket))


async def _forward(websocket: WebSocket, mailbox: Latest, user_id: int) -> None:
    """Each new roster to the socket; the end (4404) once this user may no longer see it."""
    sent = None
    try:
        while True:
            update = await mailbox.get()
            if update.roster is None or user_id not in update.teacher_ids:
                await websocket.close(code=CLOSE_NOT_FOUND, reason="not_found")
                return
            if update.roster != sent:
                await websocket.send_json(update.roster)
                sent = update.roster
    except (WebSocketDisconnect, RuntimeError):  # the client went while we were sending
        return


async def _until_disconnect(websocket: WebSocket) -> None:
    """Reads (and ignores) what the client sends, to notice at once when it goes."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
