from fastapi import APIRouter, status

from digitlab.api.deps import CurrentUser, Id, RunnerDep, SessionDep
from digitlab.api.paging import PageDep
from digitlab.challenges import service
from digitlab.challenges.schemas import (
    ChallengePublic,
    ChallengeSamplePage,
    ChallengeScorePublic,
    ChallengeSet,
    LeaderboardPublic,
)

router = APIRouter(prefix="/api/classes/{class_id}", tags=["class challenge"])


@router.put("/challenge", response_model=ChallengePublic)
def set_challenge(class_id: Id, body: ChallengeSet, session: SessionDep, user: CurrentUser, runner: RunnerDep):
    """(Teachers) Mark sheets as the class's challenge test set, replacing an earlier challenge and its scores.
    Their samples are hidden from students from now on (out of class data sets and trainings); the class's
    finished trainings are scored on them by light jobs, and every later training when it finishes."""
    return service.set_challenge(session, runner, user, class_id, body)


@router.get("/challenge", response_model=ChallengePublic)
def get_challenge(class_id: Id, session: SessionDep, user: CurrentUser):
    """The challenge's labels and size; teachers also see its sheets and samples per label."""
    return service.public(session, user, class_id)


@router.delete("/challenge", status_code=status.HTTP_204_NO_CONTENT)
def delete_challenge(class_id: Id, session: SessionDep, user: CurrentUser):
    """(Teachers) End the challenge: its copied samples and all scores are deleted."""
    service.delete_challenge(session, user, class_id)


@router.get("/challenge/samples", response_model=ChallengeSamplePage)
def challenge_samples(class_id: Id, session: SessionDep, user: CurrentUser, page: PageDep):
    """(Teachers) The challenge's samples page by page. Students never get them."""
    return service.sample_page(session, user, class_id, page)


@router.get("/challenge/leaderboard", response_model=LeaderboardPublic)
def leaderboard(class_id: Id, session: SessionDep, user: CurrentUser):
    """Each student's best score: nickname, network kind, parameters, score (0..1), best first."""
    return service.leaderboard(session, user, class_id)


@router.post(
    "/trainings/{training_id}/challenge-score",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ChallengeScorePublic,
)
def score_on_challenge(class_id: Id, training_id: Id, session: SessionDep, user: CurrentUser, runner: RunnerDep):
    """Score a finished training (the student's own, or any of the class's, for teachers) on the challenge,
    if it is not scored yet. Trainings that finish while a challenge is set are scored by themselves."""
    return service.request_score(session, runner, user, class_id, training_id)


@router.get("/trainings/{training_id}/challenge-score", response_model=ChallengeScorePublic)
def get_challenge_score(class_id: Id, training_id: Id, session: SessionDep, user: CurrentUser):
    return service.get_score(session, user, class_id, training_id)
