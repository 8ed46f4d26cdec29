"""Classes: teachers make them and manage their members, students join them with a code.

Routes under /api/classes/{class_id} are for the class's members: most for its teachers only (404 for everyone
else, its students too); a student reads the class (its name and their own writer number) and leaves it.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status

from digitlab.api.deps import (
    CurrentUser,
    Id,
    MemberClassDep,
    RunnerDep,
    SessionDep,
    SettingsDep,
    StorageDep,
    TaughtClassDep,
)
from digitlab.api.paging import PageDep
from digitlab.api.turns import PASSWORD_TURN
from digitlab.auth.router import ClientDep, LimiterDep
from digitlab.auth.service import start_session
from digitlab.classes import service
from digitlab.classes.login_cards import Card, qr_svg, render_login_cards
from digitlab.classes.schemas import (
    ClassCreate,
    ClassPublic,
    ClassUpdate,
    JoinCodeCreate,
    JoinCodeInfo,
    JoinCodePublic,
    JoinedSession,
    JoinRequest,
    JoinWithNewAccount,
    MemberPublic,
    StudentsCreate,
    TeacherAdd,
)
from digitlab.classes.tables import JoinCode, SchoolClass
from digitlab.core import codes
from digitlab.core.config import Settings

router = APIRouter(prefix="/api/classes", tags=["classes"])
join_router = APIRouter(prefix="/api/join", tags=["classes"])

CardLanguageQuery = Annotated[Literal["en", "de"], Query(description="The language printed on the cards")]
_PDF: dict[str, Any] = {"content": {"application/pdf": {}}}  # the media type; openapi.py adds its schema


def app_url(request: Request, settings: Settings) -> str:
    """The web app's address for what leaves the screen (login cards, QR codes): DIGITLAB_APP_URL, else the
    address this request came to (the embedded default serves the app and the API together)."""
    return settings.app_url or str(request.base_url)


def _absolute(request: Request, settings: Settings, link: str) -> str:
    return app_url(request, settings).rstrip("/") + link


def _cards_pdf(school_class: SchoolClass, cards: list[Card], url: str, language: str, status_code: int) -> Response:
    pdf = render_login_cards(school_class.name, cards, url, language)
    return Response(
        pdf,
        status_code=status_code,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="login-cards-class-{school_class.id}.pdf"'},
    )


def _join_code_public(school_class: SchoolClass, join_code: JoinCode) -> JoinCodePublic:
    return JoinCodePublic(
        id=join_code.id,
        code=codes.display(join_code.code),
        link=service.join_link(join_code),
        qr_svg_url=f"/api/classes/{school_class.id}/join-codes/{join_code.id}/qr.svg",
        status=service.join_code_status(join_code),
        created_at=join_code.created_at,
        expires_at=join_code.expires_at,
        revoked_at=join_code.revoked_at,
    )


# --- classes --------------------------------------------------------------------------------------------------
@router.post("", status_code=status.HTTP_201_CREATED, response_model=ClassPublic)
def create_class(body: ClassCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser):
    """Teachers and admins (403 `teachers_only`): a new class with you as its teacher. Its data is deleted
    `retention_days` from now (default 365; at most 730: 422 `invalid_retention`)."""
    school_class = service.create_class(session, settings, user, body)
    return service.class_public(session, user, school_class)


@router.get("", response_model=list[ClassPublic])
def list_classes(session: SessionDep, user: CurrentUser, page: PageDep):
    """The classes you teach or learn in, with your role in each; teachers' classes with their details."""
    return service.list_classes(session, user, page)


@router.post("/join", status_code=status.HTTP_201_CREATED, response_model=ClassPublic)
def join_class(
    body: JoinRequest,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    client: ClientDep,
    user: CurrentUser,
):
    """Join another class as a student with its join code (your account and projects stay yours). 422
    `join_code_unknown` / `join_code_expired` / `join_code_revoked`, 409 `class_closed` or `already_member`;
    wrong codes are limited per network address (429 `too_many_attempts` with Retry-After)."""
    school_class = service.join_with_code(session, settings, limiter, client, user, body.code)
    return service.class_public(session, user, school_class)


@router.get("/{class_id}", response_model=ClassPublic)
def read_class(school_class: MemberClassDep, session: SessionDep, user: CurrentUser):
    """For its members: students see its name and their own writer number, teachers also `details`."""
    return service.class_public(session, user, school_class)


@router.patch("/{class_id}", response_model=ClassPublic)
def update_class(
    body: ClassUpdate, school_class: TaughtClassDep, session: SessionDep, settings: SettingsDep, user: CurrentUser
):
    """Teachers: rename, keep the data `retention_days` from now, close (`closed: true`: no new students, no new
    join codes or accounts) or reopen."""
    service.update_class(session, settings, school_class, body)
    return service.class_public(session, user, school_class)


@router.delete("/{class_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_class(school_class: TaughtClassDep, session: SessionDep, storage: StorageDep, runner: RunnerDep):
    """Teachers: deletes the class, its memberships and join codes, and the accounts made for it (login cards)
    with their projects. Students with their own account keep it and their projects."""
    service.delete_class(session, storage, runner, school_class)


@router.post("/{class_id}/leave", status_code=status.HTTP_204_NO_CONTENT)
def leave_class(school_class: MemberClassDep, session: SessionDep, user: CurrentUser):
    """Leave the class (your account and projects stay). 409 `account_made_for_class` for an account made for it
    (the teacher removes those), 409 `last_teacher` for its only teacher."""
    service.leave_class(session, user, school_class)


# --- members --------------------------------------------------------------------------------------------------
@router.get("/{class_id}/members", response_model=list[MemberPublic])
def list_members(school_class: TaughtClassDep, session: SessionDep, page: PageDep):
    """Teachers: the class's teachers, then its students by writer number."""
    return service.list_members(session, school_class, page)


@router.post("/{class_id}/teachers", status_code=status.HTTP_201_CREATED, response_model=MemberPublic)
def add_teacher(body: TeacherAdd, school_class: TaughtClassDep, session: SessionDep):
    """Teachers: add a co-teacher by the username of their teacher's (or admin's) account (422 `unknown_teacher`
    for any other name, 409 `already_member`). Every teacher of a class sees and manages all of it."""
    return service.add_teacher(session, school_class, body.username)


@router.delete("/{class_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(
    user_id: Id, school_class: TaughtClassDep, session: SessionDep, storage: StorageDep, runner: RunnerDep
):
    """Teachers: remove a student (or a co-teacher; 409 `last_teacher` for the only one). An account made for
    the class is deleted with its projects; any other keeps its account and projects."""
    service.remove_member(session, storage, runner, school_class, user_id)


@router.post(
    "/{class_id}/students",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    responses={201: _PDF},
    dependencies=[PASSWORD_TURN],
)
def create_students(
    body: StudentsCreate,
    school_class: TaughtClassDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    language: CardLanguageQuery = "en",
):
    """Teachers: make up to 50 student accounts for the class at once (`count`, with nicknames `prefix`01,
    `prefix`02 ..., or `usernames`) and answer their login cards as a PDF: 10 cards to an A4 page with cut
    lines, each with the class, the username, a one-time password and the web app's address (also as a QR code).
    The passwords are in this PDF only; each student chooses their own at the first login. All or nothing: 409
    `username_taken` (with `taken`), 409 `class_closed`, 422 `duplicate_usernames`."""
    created = service.create_students(session, school_class, body)
    cards = [Card(user.username, password) for user, password in created]
    return _cards_pdf(school_class, cards, app_url(request, settings), language, status.HTTP_201_CREATED)


@router.post(
    "/{class_id}/members/{user_id}/password-reset",
    response_class=Response,
    responses={200: _PDF},
    dependencies=[PASSWORD_TURN],
)
def reset_student_password(
    user_id: Id,
    school_class: TaughtClassDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    language: CardLanguageQuery = "en",
):
    """Teachers: a new one-time password for a student of the class, answered as a login card (PDF); the
    student's sessions end and they choose a new password at the next login. 403 `not_a_student_account` for an
    account that is also a teacher's or admin's."""
    user, password = service.reset_student_password(session, school_class, user_id)
    card = Card(user.username, password)
    return _cards_pdf(school_class, [card], app_url(request, settings), language, status.HTTP_200_OK)


# --- join codes -----------------------------------------------------------------------------------------------
@router.post("/{class_id}/join-codes", status_code=status.HTTP_201_CREATED, response_model=JoinCodePublic)
def create_join_code(body: JoinCodeCreate, school_class: TaughtClassDep, session: SessionDep, settings: SettingsDep):
    """Teachers: a new join code, valid for `valid_days` (default 14, at most 180: 422 `invalid_days`); a class may
    have several (409 `too_many_codes` beyond 20 active ones, 409 `class_closed`)."""
    return _join_code_public(school_class, service.create_join_code(session, settings, school_class, body.valid_days))


@router.get("/{class_id}/join-codes", response_model=list[JoinCodePublic])
def list_join_codes(school_class: TaughtClassDep, session: SessionDep, page: PageDep):
    """Teachers: the class's join codes, newest first, with their status (active, expired, revoked)."""
    return [_join_code_public(school_class, code) for code in service.list_join_codes(session, school_class, page)]


@router.delete("/{class_id}/join-codes/{code_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_join_code(code_id: Id, school_class: TaughtClassDep, session: SessionDep):
    """Teachers: nobody joins with this code any more (it stays in the list as revoked)."""
    service.revoke_join_code(session, service.get_join_code(session, school_class, code_id))


@router.get("/{class_id}/join-codes/{code_id}/qr.svg", response_class=Response)
def join_code_qr(
    code_id: Id, school_class: TaughtClassDep, session: SessionDep, settings: SettingsDep, request: Request
):
    """Teachers: the code's join link with the web app's address as a QR code (SVG), to show on a projector."""
    join_code = service.get_join_code(session, school_class, code_id)
    return Response(qr_svg(_absolute(request, settings, service.join_link(join_code))), media_type="image/svg+xml")


# --- joining without an account (public) ----------------------------------------------------------------------
@join_router.post("/lookup", response_model=JoinCodeInfo)
def look_up_join_code(
    body: JoinRequest, session: SessionDep, settings: SettingsDep, limiter: LimiterDep, client: ClientDep
):
    """No login needed: the name of the class a join code leads to, for the join page to show before anyone
    types a nickname. The same refusals and limits as joining."""
    join_code, school_class = service.class_for_join_code(session, settings, limiter, client, body.code)
    return JoinCodeInfo(class_name=school_class.name, expires_at=join_code.expires_at)


@join_router.post("", status_code=status.HTTP_201_CREATED, response_model=JoinedSession, dependencies=[PASSWORD_TURN])
def join_with_new_account(
    body: JoinWithNewAccount, session: SessionDep, settings: SettingsDep, limiter: LimiterDep, client: ClientDep
):
    """No login needed: a new student's account (a nickname, never a real name or e-mail, and a password of
    their own) in the class the join code leads to, logged in at once (the answer is a login's). 422
    `join_code_unknown` / `join_code_expired` / `join_code_revoked` / `weak_password`, 409 `class_closed` /
    `username_taken`; wrong codes and new accounts are limited per network address (429)."""
    user, school_class = service.join_with_new_account(
        session, settings, limiter, client, body.code, body.username, body.password
    )
    token, raw = start_session(session, settings, user)
    return JoinedSession.of(user, token, raw, joined_class=service.class_public(session, user, school_class))
