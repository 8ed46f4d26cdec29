"""The label check job: k small networks, each judging the samples it did not train on (TensorFlow: training lane)."""

import numpy as np
from sqlalchemy import delete, insert
from sqlmodel import col, select

from digitlab.challenges.tables import outside_challenges
from digitlab.core.clock import utcnow
from digitlab.core.contract import CANVAS_SIDE
from digitlab.datasets.tables import Cell
from digitlab.jobs import limits
from digitlab.jobs.context import JobContext
from digitlab.jobs.worker import JobError
from digitlab.label_checks.tables import LabelCheck, SampleScore
from digitlab.ml.data import DatasetTooSmall, check_label_counts
from digitlab.projects.tables import Project

INSERT_BATCH = 2000  # score rows per INSERT


def run_label_check(ctx: JobContext) -> dict:
    limits.apply_memory_limit(ctx.settings.training_memory_limit_mb)
    from digitlab.ml import label_quality  # TensorFlow and cleanlab: only in this process

    check_id = ctx.params["check_id"]
    with ctx.unit_of_work() as session:
        check = session.get(LabelCheck, check_id)
        project = session.get(Project, ctx.project_id)
        if check is None or project is None:
            raise JobError("This label check was deleted.", "label_check_deleted")
        labels = list(project.labels)
        settings = dict(check.settings)
        stored = session.exec(
            select(Cell.id, Cell.label, Cell.image)
            .where(Cell.project_id == ctx.project_id, Cell.included, outside_challenges(), col(Cell.label).in_(labels))
            .order_by(col(Cell.id))
        ).all()
    rows = [(cell_id, label, image) for cell_id, label, image in stored if image is not None and cell_id is not None]
    # The networks learn only the labels that have samples (an empty label would be a class no one can fit).
    present = [label for label in labels if any(row[1] == label for row in rows)]
    index = {label: i for i, label in enumerate(present)}
    try:
        check_label_counts([sum(row[1] == label for row in rows) for label in labels], labels)
    except DatasetTooSmall as exc:
        raise JobError(f"The dataset is too small to check: {exc}", "dataset_too_small") from None
    y = np.array([index[label] for _, label, _ in rows], dtype=np.int64)
    images = np.frombuffer(b"".join(image for _, _, image in rows), dtype=np.uint8).reshape(
        -1, CANVAS_SIDE, CANVAS_SIDE
    )

    ctx.progress(0.0, "Training the checking networks", force=True)
    report = label_quality.check_labels(
        images,
        y,
        len(present),
        folds=settings["folds"],
        epochs=settings["epochs"],
        threads=ctx.settings.training_threads or None,
        on_progress=lambda fraction: ctx.progress(0.97 * fraction, "Training the checking networks"),
    )
    scores = [
        {
            "check_id": check_id,
            "cell_id": cell_id,
            "label": label,
            "quality": float(report.quality[i]),
            "suggested": present[int(report.suggested[i])],
            "issue": bool(report.issue[i]),
        }
        for i, (cell_id, label, _) in enumerate(rows)
    ]
    with ctx.unit_of_work() as session:
        check = session.get(LabelCheck, check_id)
        if check is None:
            raise JobError("This label check was deleted.", "label_check_deleted")
        # Only the newest finished check counts: the older ones of the project go (their scores with them).
        older = select(LabelCheck.id).where(LabelCheck.project_id == ctx.project_id, col(LabelCheck.id) < check_id)
        session.exec(delete(SampleScore).where(col(SampleScore.check_id).in_(older)))
        session.exec(delete(LabelCheck).where(col(LabelCheck.id).in_(older)))
        # Samples deleted while the networks trained have no row to score any more.
        alive = set(session.exec(select(Cell.id).where(Cell.project_id == ctx.project_id)).all())
        scores = [row for row in scores if row["cell_id"] in alive]
        for first in range(0, len(scores), INSERT_BATCH):
            session.exec(insert(SampleScore), params=scores[first : first + INSERT_BATCH])
        check.samples = len(scores)
        check.issues = sum(row["issue"] for row in scores)
        check.agreement = report.accuracy
        check.finished_at = utcnow()
        session.add(check)
    return {"check_id": check_id, "samples": len(scores), "issues": sum(row["issue"] for row in scores)}
