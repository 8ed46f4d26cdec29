"""The class challenge: a teacher's hidden test set, every class training's score on it, and the leaderboard.

Students see only that there is a challenge (its labels and size) and the leaderboard (nicknames, network kind,
parameters, best score); its samples and sheets are for the class's teachers only. `best_score` is what a
learning platform receives as the grade.
"""

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from digitlab.auth.tables import User
from digitlab.challenges.schemas import (
    ChallengePublic,
    ChallengeSamplePage,
    ChallengeSamplePublic,
    ChallengeScorePublic,
    ChallengeSet,
    ChallengeSheetPublic,
    LeaderboardEntry,
    LeaderboardPublic,
)
from digitlab.challenges.tables import Challenge, ChallengeSample, ChallengeScore, ChallengeSheet
from digitlab.class_datasets import service as class_datasets
from digitlab.class_datasets.schemas import LabelTally
from digitlab.class_datasets.tables import ClassDataset, ClassSample
from digitlab.core.clock import utcnow
from digitlab.core.db import stored_id
from digitlab.core.errors import conflict, invalid, not_found
from digitlab.core.paging import Page
from digitlab.datasets.tables import Cell
from digitlab.jobs import service as jobs_service
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.tables import FINISHED_STATES, Job, JobStatus
from digitlab.projects.tables import Project
from digitlab.scans.tables import Scan
from digitlab.training import service as training_service
from digitlab.training.tables import Training

KIND = "challenge_scoring"
# Setting a challenge scores the trainings the class already has: each student's newest ones, at most this many.
MAX_SCORED_PER_STUDENT = 30


def challenge_of(session: Session, class_id: int) -> Challenge | None:
    return session.exec(select(Challenge).where(Challenge.class_id == class_id)).first()


def get_challenge(session: Session, class_id: int) -> Challenge:
    challenge = challenge_of(session, class_id)
    if challenge is None:
        raise not_found("Challenge")
    return challenge


def eligible(challenge: Challenge, training: Training) -> bool:
    """A network can be scored when it knows every label of the challenge."""
    return set(challenge.labels) <= set(training.labels)


# --- setting it ----------------------------------------------------------------------------------------------
def set_challenge(
    session: Session, runner: JobRunner, user: User, class_id: int, body: ChallengeSet
) -> ChallengePublic:
    """Mark sheets as the class's challenge (replacing an earlier one and its scores): their samples are copied,
    taken out of every class data set, and the class's finished trainings are scored on them."""
    viewer = class_datasets.teacher_of(session, user, class_id)
    class_datasets.require_open(viewer.school_class)
    scan_ids = list(dict.fromkeys(body.scan_ids))
    owners = {stored_id(user)} | set(class_datasets.students(session, class_id))
    rows = session.exec(
        select(Scan, Project).join(Project, col(Project.id) == Scan.project_id).where(col(Scan.id).in_(scan_ids))
    ).all()
    sheets = {stored_id(scan): project for scan, project in rows if project.owner_id in owners}
    strangers = [scan_id for scan_id in scan_ids if scan_id not in sheets]
    if strangers:
        raise invalid(
            "Only sheets of your own projects or of the class's students' projects can be challenge sheets.",
            "not_a_class_sheet",
            scan_ids=strangers,
        )
    if len({frozenset(project.labels) for project in sheets.values()}) > 1:
        raise invalid("All challenge sheets need the same labels.", "mixed_labels")
    cells = (
        sa.select(col(Cell.scan_id), col(Cell.label), col(Cell.image))
        .where(col(Cell.scan_id).in_(scan_ids), col(Cell.included), col(Cell.image).is_not(None))
        .order_by(col(Cell.id))
    )
    if not session.exec(select(func.count()).select_from(cells.subquery())).one():
        raise invalid("These sheets have no samples yet: extract them first.", "empty_challenge")
    previous = challenge_of(session, class_id)
    if previous is not None:
        session.delete(previous)  # its sheets, samples and scores go with it
        session.flush()
    challenge = Challenge(class_id=class_id, labels=list(sheets[scan_ids[0]].labels), created_by=user.id)
    session.add(challenge)
    class_datasets.flush_or_busy(session, "The challenge")
    session.add_all(ChallengeSheet(challenge_id=stored_id(challenge), scan_id=scan_id) for scan_id in scan_ids)
    rows_to_copy = cells.add_columns(sa.literal(stored_id(challenge), sa.Integer))
    session.exec(sa.insert(ChallengeSample).from_select(["scan_id", "label", "image", "challenge_id"], rows_to_copy))
    # Hidden from students from now on: out of every class data set that holds them (whose figures, such as
    # evaluations on other writers, are then out of date: a new version).
    holding = col(ClassSample.cell_id).in_(select(Cell.id).where(col(Cell.scan_id).in_(scan_ids)))
    changed = select(ClassSample.dataset_id).where(holding).distinct()
    session.exec(update(ClassDataset).where(col(ClassDataset.id).in_(changed)).values(version=ClassDataset.version + 1))
    session.exec(delete(ClassSample).where(holding))
    session.flush()
    _score_existing_trainings(session, runner, class_id, challenge)
    return view(session, viewer, challenge)


def _score_existing_trainings(session: Session, runner: JobRunner, class_id: int, challenge: Challenge) -> None:
    """One light job per project that holds finished trainings of the class's students."""
    student_ids = list(class_datasets.students(session, class_id))
    trainings = session.exec(
        select(Training)
        .join(Job, col(Job.id) == Training.job_id)
        .where(col(Training.owner_id).in_(student_ids), Job.status == JobStatus.SUCCEEDED)
        .order_by(col(Training.id).desc())
    ).all()
    per_student: dict[int, int] = defaultdict(int)
    per_project: dict[int, list[Training]] = defaultdict(list)
    for training in trainings:
        if eligible(challenge, training) and per_student[training.owner_id] < MAX_SCORED_PER_STUDENT:
            per_student[training.owner_id] += 1
            per_project[training.project_id].append(training)
    for project_id, project_trainings in per_project.items():
        project = session.get(Project, project_id)
        if project is not None:
            _enqueue_scoring(session, runner, project, challenge, project_trainings)


def _enqueue_scoring(
    session: Session, runner: JobRunner, project: Project, challenge: Challenge, trainings: list[Training]
) -> None:
    job = jobs_service.enqueue(
        session,
        runner,
        project,
        KIND,
        {"challenge_id": challenge.id, "training_ids": [training.id for training in trainings]},
    )
    for training in trainings:
        score = _score(session, stored_id(challenge), stored_id(training)) or ChallengeScore(
            challenge_id=stored_id(challenge), training_id=stored_id(training), user_id=training.owner_id
        )
        score.job_id, score.accuracy, score.correct, score.count, score.scored_at = job.id, None, None, None, None
        session.add(score)
    class_datasets.flush_or_busy(session, "The score")


def delete_challenge(session: Session, user: User, class_id: int) -> None:
    class_datasets.teacher_of(session, user, class_id)
    session.delete(get_challenge(session, class_id))
    session.flush()


# --- reading it ----------------------------------------------------------------------------------------------
def public(session: Session, user: User, class_id: int) -> ChallengePublic:
    viewer = class_datasets.member_of(session, user, class_id)
    return view(session, viewer, get_challenge(session, class_id))


def view(session: Session, viewer: class_datasets.Membership, challenge: Challenge) -> ChallengePublic:
    per_sheet = dict(
        session.exec(
            select(ChallengeSample.scan_id, func.count())
            .where(ChallengeSample.challenge_id == challenge.id)
            .group_by(col(ChallengeSample.scan_id))
        ).all()
    )
    scored = session.exec(
        select(func.count())
        .select_from(ChallengeScore)
        .where(ChallengeScore.challenge_id == challenge.id, col(ChallengeScore.accuracy).is_not(None))
    ).one()
    per_label = sheets = None
    if viewer.is_teacher:
        counts = dict(
            session.exec(
                select(ChallengeSample.label, func.count())
                .where(ChallengeSample.challenge_id == challenge.id)
                .group_by(col(ChallengeSample.label))
            ).all()
        )
        per_label = [LabelTally(label=label, samples=counts.get(label, 0)) for label in challenge.labels]
        sheets = _sheets(session, challenge, per_sheet)
    return ChallengePublic(
        class_id=challenge.class_id,
        labels=challenge.labels,
        created_at=challenge.created_at,
        sample_count=sum(per_sheet.values()),
        scored_trainings=scored,
        per_label=per_label,
        sheets=sheets,
    )


def _sheets(session: Session, challenge: Challenge, per_sheet: dict[int, int]) -> list[ChallengeSheetPublic]:
    rows = session.exec(
        select(Scan, Project, User.username)
        .join(ChallengeSheet, col(ChallengeSheet.scan_id) == Scan.id)
        .join(Project, col(Project.id) == Scan.project_id)
        .join(User, col(User.id) == Project.owner_id)
        .where(ChallengeSheet.challenge_id == challenge.id)
        .order_by(col(ChallengeSheet.id))
    ).all()
    return [
        ChallengeSheetPublic(
            scan_id=stored_id(scan),
            project_id=stored_id(project),
            project_name=project.name,
            owner=owner,
            filename=scan.filename,
            page_index=scan.page_index,
            samples=per_sheet.get(stored_id(scan), 0),
        )
        for scan, project, owner in rows
    ]


def sample_page(session: Session, user: User, class_id: int, page: Page) -> ChallengeSamplePage:
    """(Teachers) The challenge's samples; students never get them."""
    class_datasets.teacher_of(session, user, class_id)
    challenge = get_challenge(session, class_id)
    query = select(ChallengeSample).where(ChallengeSample.challenge_id == challenge.id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    items = [
        ChallengeSamplePublic(
            scan_id=sample.scan_id, label=sample.label, image=class_datasets.sample_data_url(sample.image)
        )
        for sample in session.exec(page.apply(query.order_by(col(ChallengeSample.id))))
    ]
    return ChallengeSamplePage(total=total, offset=page.offset, limit=page.limit, items=items)


def challenge_rows(session: Session, challenge_id: int) -> list[tuple[str, bytes]]:
    """(label, image) of every sample of the challenge, in a fixed order."""
    query = select(ChallengeSample.label, ChallengeSample.image).where(ChallengeSample.challenge_id == challenge_id)
    return [(label, image) for label, image in session.exec(query.order_by(col(ChallengeSample.id)))]


# --- scores --------------------------------------------------------------------------------------------------
def _score(session: Session, challenge_id: int, training_id: int) -> ChallengeScore | None:
    return session.exec(
        select(ChallengeScore).where(
            ChallengeScore.challenge_id == challenge_id, ChallengeScore.training_id == training_id
        )
    ).first()


def request_score(
    session: Session, runner: JobRunner, user: User, class_id: int, training_id: int
) -> ChallengeScorePublic:
    """Score a finished training on the class's challenge (a light job), unless it is scored or being scored."""
    found = class_datasets.class_training(session, user, class_id, training_id)
    class_datasets.require_open(found.viewer.school_class)
    training_service.require_finished(session, found.training)
    challenge = challenge_of(session, class_id)
    if challenge is None:
        raise conflict("This class has no challenge yet.", "no_challenge")
    if not eligible(challenge, found.training):
        raise conflict(
            "This network does not know all the challenge's labels: "
            f"the challenge is about {', '.join(challenge.labels)}.",
            "labels_do_not_match",
        )
    score = _score(session, stored_id(challenge), training_id)
    if score is None or (score.accuracy is None and _job_status(session, score) in (*FINISHED_STATES, None)):
        project = session.get(Project, found.training.project_id)
        if project is None:
            raise not_found("Training")
        _enqueue_scoring(session, runner, project, challenge, [found.training])
        score = _score(session, stored_id(challenge), training_id)
    return _score_public(session, class_id, training_id, score)


def get_score(session: Session, user: User, class_id: int, training_id: int) -> ChallengeScorePublic:
    class_datasets.class_training(session, user, class_id, training_id)
    challenge = get_challenge(session, class_id)
    return _score_public(session, class_id, training_id, _score(session, stored_id(challenge), training_id))


def _job_status(session: Session, score: ChallengeScore) -> JobStatus | None:
    """The status of the job scoring it; None when it has none (scored at the end of its training, or the job
    was deleted)."""
    job = session.get(Job, score.job_id) if score.job_id is not None else None
    return JobStatus(job.status) if job is not None else None


def _score_public(
    session: Session, class_id: int, training_id: int, score: ChallengeScore | None
) -> ChallengeScorePublic:
    status, error, error_code, error_params = "not_scored", None, None, None
    if score is not None and score.accuracy is not None:
        status = "scored"
    elif score is not None and score.job_id is not None:
        job = session.get(Job, score.job_id)
        if job is not None and job.status != JobStatus.SUCCEEDED:
            status, error, error_code, error_params = job.status, job.error, job.error_code, job.error_params
    scored = score if score is not None and score.accuracy is not None else None
    return ChallengeScorePublic(
        class_id=class_id,
        training_id=training_id,
        status=status,
        error=error,
        error_code=error_code,
        error_params=error_params,
        score=scored.accuracy if scored else None,
        correct=scored.correct if scored else None,
        count=scored.count if scored else None,
        scored_at=scored.scored_at if scored else None,
    )


def record_score(session: Session, challenge_id: int, training: Training, correct: int, count: int) -> None:
    """Store a training's score (found by its job, or at the end of the training itself)."""
    score = _score(session, challenge_id, stored_id(training)) or ChallengeScore(
        challenge_id=challenge_id, training_id=stored_id(training), user_id=training.owner_id
    )
    score.accuracy, score.correct, score.count, score.scored_at = correct / count, correct, count, utcnow()
    session.add(score)
    session.flush()


def leaderboard(session: Session, user: User, class_id: int) -> LeaderboardPublic:
    """Each student's best score, best first (fewer parameters first on equal scores, then the earlier)."""
    viewer = class_datasets.member_of(session, user, class_id)
    challenge = get_challenge(session, class_id)
    class_students = class_datasets.students(session, class_id)
    rows = session.exec(
        select(ChallengeScore, Training)
        .join(Training, col(Training.id) == ChallengeScore.training_id)
        .where(
            ChallengeScore.challenge_id == challenge.id,
            col(ChallengeScore.accuracy).is_not(None),
            col(ChallengeScore.user_id).in_(list(class_students)),
        )
    ).all()

    def order(row: tuple[ChallengeScore, Training]) -> tuple:
        score, training = row
        return (-(score.accuracy or 0), training.summary["total_params"], score.scored_at, score.id)

    best: dict[int, tuple[ChallengeScore, Training]] = {}
    for row in sorted(rows, key=order):
        best.setdefault(row[0].user_id, row)
    entries: list[LeaderboardEntry] = []
    for score, training in best.values():  # in order: dicts keep insertion order
        rank = entries[-1].rank if entries and entries[-1].score == score.accuracy else len(entries) + 1
        visible = viewer.is_teacher or score.user_id == user.id
        entries.append(
            LeaderboardEntry(
                rank=rank,
                nickname=class_students[score.user_id].nickname,
                you=score.user_id == user.id,
                architecture=training.architecture,
                total_params=training.summary["total_params"],
                score=score.accuracy or 0.0,
                correct=score.correct or 0,
                count=score.count or 0,
                scored_at=score.scored_at or challenge.created_at,
                training_id=training.id if visible else None,
                project_id=training.project_id if visible else None,
            )
        )
    sample_count = session.exec(
        select(func.count()).select_from(ChallengeSample).where(ChallengeSample.challenge_id == challenge.id)
    ).one()
    return LeaderboardPublic(class_id=class_id, labels=challenge.labels, sample_count=sample_count, entries=entries)


def best_score(session: Session, class_id: int, user_id: int) -> float | None:
    """The user's best score (0..1) on the class's current challenge, or None: what a learning platform
    receives as the grade (grade passback)."""
    challenge = challenge_of(session, class_id)
    if challenge is None:
        return None
    return session.exec(
        select(func.max(ChallengeScore.accuracy)).where(
            ChallengeScore.challenge_id == challenge.id, ChallengeScore.user_id == user_id
        )
    ).one()
