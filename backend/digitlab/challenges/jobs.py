"""Scoring trainings on a class challenge: a light job (onnxruntime only), and right at the end of a training."""

import logging

import numpy as np
from sqlmodel import Session, col, select

from digitlab.challenges import service
from digitlab.challenges.tables import Challenge, ChallengeScore
from digitlab.class_datasets.jobs import images_of, load_model
from digitlab.classes.tables import ClassMember, ClassRole, SchoolClass
from digitlab.core.db import stored_id
from digitlab.jobs.context import JobContext
from digitlab.jobs.worker import JobError
from digitlab.ml.onnx_runtime import OnnxModel
from digitlab.training.tables import Training

log = logging.getLogger(__name__)

BATCH_SIZE = 256


class ChallengeSamples:
    """A challenge's samples, loaded once, scored against any network that knows its labels."""

    def __init__(self, session: Session, challenge: Challenge):
        rows = service.challenge_rows(session, stored_id(challenge))
        self.challenge = challenge
        self.labels = [label for label, _ in rows]
        self.images = images_of([image for _, image in rows])

    def correct(self, model: OnnxModel, training: Training) -> int:
        """How many samples the network reads right."""
        index = {label: i for i, label in enumerate(training.labels)}
        y = np.array([index[label] for label in self.labels], dtype=np.int64)
        return int(np.sum(model.predict(self.images, batch_size=BATCH_SIZE).argmax(axis=1) == y))


def run_challenge_scoring(ctx: JobContext) -> dict:
    challenge_id, training_ids = ctx.params["challenge_id"], ctx.params["training_ids"]
    with ctx.unit_of_work() as session:
        challenge = session.get(Challenge, challenge_id)
        if challenge is None:
            raise JobError("The challenge was replaced or removed.", "challenge_replaced")
        samples = ChallengeSamples(session, challenge)
    if not samples.labels:
        raise JobError("The challenge has no samples left.", "challenge_empty")
    scored = []
    for position, training_id in enumerate(training_ids):
        ctx.progress(position / len(training_ids), f"Network {position + 1} of {len(training_ids)}", force=True)
        with ctx.unit_of_work() as session:
            training = session.get(Training, training_id)
            score = session.exec(
                select(ChallengeScore).where(
                    ChallengeScore.challenge_id == challenge_id, ChallengeScore.training_id == training_id
                )
            ).first()
        # Gone, or asked for again by a newer job: nothing to do here.
        if training is None or score is None or score.job_id != ctx.job_id or not service.eligible(challenge, training):
            continue
        correct = samples.correct(load_model(ctx.storage, training), training)
        with ctx.unit_of_work() as session:
            if session.get(Challenge, challenge_id) is None:
                raise JobError("The challenge was replaced or removed.", "challenge_replaced")
            service.record_score(session, challenge_id, training, correct, len(samples.labels))
        scored.append({"training_id": training_id, "score": correct / len(samples.labels)})
    return {"challenge_id": challenge_id, "scored": scored}


def score_finished_training(ctx: JobContext, training_id: int, onnx: bytes) -> None:
    """At the end of a training: its score on the challenge of every open class its student is in, so the
    leaderboard is up to date when the student looks. A failure here never fails the training."""
    try:
        with ctx.unit_of_work() as session:
            training = session.get(Training, training_id)
            if training is None:
                return
            challenges = session.exec(
                select(Challenge)
                .join(ClassMember, col(ClassMember.class_id) == Challenge.class_id)
                .join(SchoolClass, col(SchoolClass.id) == Challenge.class_id)
                .where(
                    ClassMember.user_id == training.owner_id,
                    ClassMember.role == ClassRole.STUDENT,
                    col(SchoolClass.closed_at).is_(None),
                )
            ).all()
            challenge_samples = [
                ChallengeSamples(session, challenge)
                for challenge in challenges
                if service.eligible(challenge, training)
            ]
        model = OnnxModel(onnx) if challenge_samples else None
        for samples in challenge_samples:
            if model is None or not samples.labels:
                continue
            correct = samples.correct(model, training)
            with ctx.unit_of_work() as session:
                if session.get(Challenge, samples.challenge.id) is not None:
                    service.record_score(session, stored_id(samples.challenge), training, correct, len(samples.labels))
    except Exception:
        log.exception("scoring training %s on its classes' challenges failed", training_id)
