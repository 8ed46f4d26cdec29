"""Assignment and Grade Services 2.0: scores go back to the platform through a durable outbox.

`queue_changes` compares every graded activity's current scores with the last one queued for each student and
writes a row for each change, in the same transaction that reads the state (so a change is never lost); a
sender claims due rows one by one with a conditional UPDATE (so two senders, in two API replicas, never post the
same row), posts them with the platform's access token, and marks them sent, or due again later with back-off
when the platform is down or refuses. What is posted follows the teacher's choice per activity:
- challenge: the challenge score of the student's best network, as a percentage;
- progress: how many of four steps are done (scans extracted; a training finished; its test accuracy at or
  above the teacher's threshold; a network scored on the class challenge), out of 4.

A row whose post reached the platform but whose "sent" mark was lost (the process died in between) is posted
once more after its claim times out, with the same timestamp: AGS platforms keep one score per timestamp.
"""

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from digitlab.challenges import service as challenges_service
from digitlab.classes.tables import ClassMember, ClassRole
from digitlab.core.clock import utcnow
from digitlab.core.db import stored_id, unit_of_work
from digitlab.datasets.tables import Cell
from digitlab.lti import service, tokens
from digitlab.lti.deep_linking import SCORE_MAXIMUM
from digitlab.lti.outbound import PlatformUnreachable, request_json
from digitlab.lti.schemas import Grading
from digitlab.lti.tables import LtiActivity, LtiActivityProject, LtiContext, LtiGradeOutbox, LtiPlatform, LtiUser
from digitlab.training.tables import Training

log = logging.getLogger(__name__)

LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
PENDING, SENDING, SENT, FAILED, SUPERSEDED = "pending", "sending", "sent", "failed", "superseded"
SEND_INTERVAL_SECONDS = 2.0
PRUNE_EVERY_ROUNDS = 150  # about every five minutes
CLAIM = timedelta(minutes=2)  # a sender that died mid-post gives its row back after this
FIRST_RETRY = timedelta(seconds=5)
LAST_RETRY = timedelta(hours=1)
# 5 s doubling to an hour, then hourly: about three days of trying before a row is given up (and shown failed).
MAX_ATTEMPTS = 80


@dataclass(frozen=True)
class Score:
    given: float
    maximum: float
    activity_progress: str
    grading_progress: str = "FullyGraded"

    def digest(self) -> str:
        text = json.dumps([self.given, self.maximum, self.activity_progress, self.grading_progress])
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def progress_steps(session: Session, activity: LtiActivity, class_id: int, user_id: int, project_id: int) -> int:
    extracted = (
        session.exec(
            select(Cell.id).where(Cell.project_id == project_id, col(Cell.scan_id).is_not(None)).limit(1)
        ).first()
        is not None
    )
    best_accuracy = session.exec(
        select(func.max(Training.test_accuracy)).where(Training.project_id == project_id)
    ).one()
    trained = best_accuracy is not None
    accurate = best_accuracy is not None and best_accuracy >= activity.accuracy_threshold
    scored = challenges_service.best_score(session, class_id, user_id) is not None
    return sum((extracted, trained, accurate, scored))


def current_score(session: Session, activity: LtiActivity, class_id: int, user_id: int) -> Score | None:
    if activity.grading == Grading.CHALLENGE:
        best = challenges_service.best_score(session, class_id, user_id)
        if best is None:
            return None
        return Score(round(best * 100, 2), SCORE_MAXIMUM[Grading.CHALLENGE], "Completed")
    project_id = session.exec(
        select(LtiActivityProject.project_id).where(
            LtiActivityProject.activity_id == activity.id, LtiActivityProject.user_id == user_id
        )
    ).first()
    if project_id is None:
        return None
    steps = progress_steps(session, activity, class_id, user_id, project_id)
    state = "Completed" if steps == 4 else "InProgress" if steps else "Initialized"
    return Score(float(steps), SCORE_MAXIMUM[Grading.PROGRESS], state)


def _students(session: Session, context: LtiContext) -> list[int]:
    """The class's students who came from this platform (only they have a platform id to send a score to)."""
    return list(
        session.exec(
            select(ClassMember.user_id)
            .join(LtiUser, col(LtiUser.user_id) == col(ClassMember.user_id))
            .where(
                ClassMember.class_id == context.class_id,
                ClassMember.role == ClassRole.STUDENT,
                LtiUser.issuer == context.issuer,
            )
        )
    )


def queue_changes(session: Session) -> int:
    """Queue a row for every student whose score changed since the last row; returns how many."""
    queued = 0
    graded = session.exec(
        select(LtiActivity, LtiContext)
        .join(LtiContext, col(LtiContext.id) == col(LtiActivity.context_row_id))
        .join(LtiPlatform, col(LtiPlatform.id) == col(LtiContext.platform_id))
        .where(col(LtiActivity.grading) != Grading.NONE, col(LtiPlatform.enabled).is_(True))
    ).all()
    for activity, context in graded:
        for user_id in _students(session, context):
            score = current_score(session, activity, context.class_id, user_id)
            if score is None:
                continue
            last = session.exec(
                select(LtiGradeOutbox)
                .where(LtiGradeOutbox.activity_id == activity.id, LtiGradeOutbox.user_id == user_id)
                .order_by(col(LtiGradeOutbox.id).desc())
            ).first()
            if last is not None and last.change_key.endswith(score.digest()):
                continue
            # The key names the change (from the last row, to this score): two senders seeing the same change
            # write one row, and a score that returns to an earlier value is a new change.
            change_key = f"{last.id if last else 0}-{score.digest()}"
            row = LtiGradeOutbox(
                activity_id=stored_id(activity),
                user_id=user_id,
                change_key=change_key,
                score_given=score.given,
                score_maximum=score.maximum,
                activity_progress=score.activity_progress,
                grading_progress=score.grading_progress,
            )
            session.add(row)
            # Another sender queuing the same change at once: the unique key fails this whole round (rolled back),
            # and the next round finds the change queued.
            session.flush()
            # Older rows not sent yet would only put a stale score on top of this one: this row replaces them.
            session.exec(
                update(LtiGradeOutbox)
                .where(
                    col(LtiGradeOutbox.activity_id) == activity.id,
                    col(LtiGradeOutbox.user_id) == user_id,
                    col(LtiGradeOutbox.id) < row.id,
                    col(LtiGradeOutbox.status) == PENDING,
                )
                .values(status=SUPERSEDED)
            )
            queued += 1
    session.flush()
    return queued


def claim_due(session: Session, limit: int = 50) -> list[int]:
    """Rows due now (and rows whose sender died), each claimed by a conditional UPDATE: only one sender wins."""
    now = utcnow()
    candidates = session.exec(
        select(LtiGradeOutbox.id)
        .where(
            (col(LtiGradeOutbox.status) == PENDING) & (col(LtiGradeOutbox.next_attempt_at) <= now)
            | (col(LtiGradeOutbox.status) == SENDING) & (col(LtiGradeOutbox.claimed_until) < now)
        )
        .order_by(col(LtiGradeOutbox.id))
        .limit(limit)
    ).all()
    claimed: list[int] = []
    for row_id in candidates:
        assert row_id is not None
        result = session.exec(
            update(LtiGradeOutbox)
            .where(
                col(LtiGradeOutbox.id) == row_id,
                (col(LtiGradeOutbox.status) == PENDING)
                | (col(LtiGradeOutbox.status) == SENDING) & (col(LtiGradeOutbox.claimed_until) < now),
            )
            .values(status=SENDING, claimed_until=now + CLAIM)
        )
        if result.rowcount == 1:
            claimed.append(row_id)
    session.flush()
    return claimed


def _scores_url(lineitem_url: str) -> str:
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _line_item(session: Session, platform: LtiPlatform, activity: LtiActivity, context: LtiContext) -> str:
    """The activity's line item: the one the launch named, else found by resource link, else made."""
    if activity.lineitem_url:
        return activity.lineitem_url
    if not context.lineitems_url:
        raise PlatformUnreachable("the platform gave no line items address for this course")
    token = tokens.access_token(session, platform, [LINEITEM_SCOPE])
    auth = {"Authorization": f"Bearer {token}"}
    separator = "&" if "?" in context.lineitems_url else "?"
    found, _ = request_json(
        "GET",
        f"{context.lineitems_url}{separator}resource_link_id={activity.resource_link_id}",
        headers=auth | {"Accept": "application/vnd.ims.lis.v2.lineitemcontainer+json"},
    )
    items = [item for item in found or [] if isinstance(item, dict) and isinstance(item.get("id"), str)]
    if not items:
        body = {
            "scoreMaximum": SCORE_MAXIMUM[Grading(activity.grading)],
            "label": activity.title or "Digit Lab",
            "resourceLinkId": activity.resource_link_id,
            "tag": activity.grading,
        }
        made, _ = request_json(
            "POST",
            context.lineitems_url,
            content=json.dumps(body).encode(),
            headers=auth | {"Content-Type": "application/vnd.ims.lis.v2.lineitem+json"},
        )
        if not isinstance(made, dict) or not isinstance(made.get("id"), str):
            raise PlatformUnreachable("the platform did not make the line item")
        items = [made]
    return items[0]["id"][:1000]


def send(engine: Engine, row_id: int) -> bool:
    """Post one claimed row; True when the platform accepted it."""
    error = None
    lineitem = None
    with unit_of_work(engine) as session:
        row = session.get(LtiGradeOutbox, row_id)
        if row is None or row.status != SENDING:
            return False
        activity = session.get(LtiActivity, row.activity_id)
        context = session.get(LtiContext, activity.context_row_id) if activity else None
        platform = session.get(LtiPlatform, context.platform_id) if context else None
        person = session.exec(select(LtiUser).where(LtiUser.user_id == row.user_id)).first()
        try:
            if activity is None or context is None or platform is None or person is None:
                raise PlatformUnreachable("the activity, course or platform is gone")
            if not platform.enabled:
                raise PlatformUnreachable("the platform is switched off")
            lineitem = _line_item(session, platform, activity, context)
            token = tokens.access_token(session, platform, [SCORE_SCOPE])
            body = {
                "userId": person.subject,
                "scoreGiven": row.score_given,
                "scoreMaximum": row.score_maximum,
                "activityProgress": row.activity_progress,
                "gradingProgress": row.grading_progress,
                "timestamp": row.created_at.isoformat(),
            }
            request_json(
                "POST",
                _scores_url(lineitem),
                content=json.dumps(body).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/vnd.ims.lis.v1.score+json"},
            )
        except PlatformUnreachable as exc:
            error = str(exc)
            if exc.status == 401 and platform is not None:
                tokens.forget(platform)
    with unit_of_work(engine) as session:
        row = session.get(LtiGradeOutbox, row_id)
        activity = session.get(LtiActivity, row.activity_id) if row else None
        if row is None:
            return False
        if activity is not None and lineitem and activity.lineitem_url != lineitem:
            activity.lineitem_url = lineitem
            session.add(activity)
        row.attempts += 1
        row.claimed_until = None
        if error is None:
            row.status, row.sent_at, row.last_error = SENT, utcnow(), None
        else:
            wait = min(LAST_RETRY, FIRST_RETRY * 2 ** min(row.attempts - 1, 20))
            row.status = FAILED if row.attempts >= MAX_ATTEMPTS else PENDING
            row.next_attempt_at, row.last_error = utcnow() + wait, error[:500]
            log.warning("grade %s not sent (attempt %s): %s", row_id, row.attempts, error)
        session.add(row)
    return error is None


def run_once(engine: Engine) -> int:
    """Queue what changed, then send what is due; returns how many were sent."""
    with unit_of_work(engine) as session:
        queue_changes(session)
    with unit_of_work(engine) as session:
        claimed = claim_due(session)
    return sum(send(engine, row_id) for row_id in claimed)


class GradeSender:
    """Runs run_once every SEND_INTERVAL_SECONDS in a thread of the API process (every replica may run one:
    the claims keep them apart), and now and then deletes the LTI rows whose time is over (service.prune)."""

    def __init__(self, engine: Engine, interval: float = SEND_INTERVAL_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lti-grades", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        rounds = 0
        while not self._stop.wait(self._interval):
            try:
                if rounds % PRUNE_EVERY_ROUNDS == 0:
                    with unit_of_work(self._engine) as session:
                        service.prune(session)
                rounds += 1
                run_once(self._engine)
            except Exception:
                log.exception("sending grades failed")
