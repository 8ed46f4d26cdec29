"""What every WebSocket route shares: where the bearer token comes from, and the close codes of a refusal."""

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket

from digitlab.auth import service as auth_service
from digitlab.auth.tables import User
from digitlab.core.db import unit_of_work

# The browser's WebSocket cannot set headers: it offers ["digitlab.bearer", <token>] as subprotocols and we
# answer with the first one only (never echo the token).
BEARER_SUBPROTOCOL = "digitlab.bearer"
# Close codes a client can act on (4000-4999 are the application's own).
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


def socket_token(websocket: WebSocket, query_token: str | None = None) -> tuple[str | None, str | None]:
    """The bearer token (Authorization header, subprotocol, or where a route still takes it the older
    `?token=`) and the subprotocol to accept."""
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    subprotocol = BEARER_SUBPROTOCOL if BEARER_SUBPROTOCOL in offered else None
    scheme, _, credentials = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip(), subprotocol
    if subprotocol is not None:
        position = offered.index(BEARER_SUBPROTOCOL)
        if position + 1 < len(offered):
            return offered[position + 1], subprotocol
    return query_token, subprotocol


async def socket_user_id(engine: Engine, raw_token: str | None) -> int | None:
    """The id of the user the token belongs to; None for no token or one that is not (or no longer) valid."""

    def look_up() -> int | None:
        with unit_of_work(engine) as session:
            token = auth_service.authenticate_token(session, raw_token) if raw_token else None
            user = session.get(User, token.user_id) if token else None
            # A login with a teacher's one-time password may do nothing until the password is changed.
            return user.id if user is not None and not user.password_is_temporary else None

    return await run_in_threadpool(look_up)
