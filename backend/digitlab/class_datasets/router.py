from typing import Annotated

from fastapi import APIRouter, Query, status

from digitlab.api.deps import CurrentUser, Id, RunnerDep, SessionDep
from digitlab.api.paging import PageDep
from digitlab.class_datasets import evaluation, service
from digitlab.class_datasets.schemas import ClassDatasetBuild, ClassDatasetPublic, ClassSamplePage, OtherWritersPublic
from digitlab.core.text import SafeStr

router = APIRouter(prefix="/api/classes/{class_id}", tags=["class data set"])


@router.put("/dataset", response_model=ClassDatasetPublic)
def build_class_dataset(class_id: Id, body: ClassDatasetBuild, session: SessionDep, user: CurrentUser):
    """(Teachers) Build or rebuild the class data set: a snapshot of the included samples of all or the chosen
    students' projects. Samples are pooled by label text; projects with other labels are listed in `skipped`.
    Later edits in the projects change it only when it is rebuilt; deleted samples and students who leave the
    class leave it at once."""
    return service.build(session, user, class_id, body)


@router.get("/dataset", response_model=ClassDatasetPublic)
def get_class_dataset(class_id: Id, session: SessionDep, user: CurrentUser):
    """Samples per label and per writer. Students see writers as numbers ("writer 3"); teachers also see
    nicknames, the projects the samples come from and the projects left out."""
    return service.public(session, user, class_id)


@router.delete("/dataset", status_code=status.HTTP_204_NO_CONTENT)
def delete_class_dataset(class_id: Id, session: SessionDep, user: CurrentUser):
    """(Teachers) Delete the class data set (trainings made from it keep their networks)."""
    service.delete_dataset(session, user, class_id)


@router.get("/dataset/samples", response_model=ClassSamplePage)
def class_dataset_samples(
    class_id: Id,
    session: SessionDep,
    user: CurrentUser,
    page: PageDep,
    label: Annotated[SafeStr | None, Query(max_length=16)] = None,
):
    """The samples page by page (at most `limit`, default and maximum 1000): anonymous images for students,
    with writer number and nickname for teachers."""
    return service.sample_page(session, user, class_id, label, page)


@router.post(
    "/trainings/{training_id}/other-writers", status_code=status.HTTP_202_ACCEPTED, response_model=OtherWritersPublic
)
def evaluate_on_other_writers(class_id: Id, training_id: Id, session: SessionDep, user: CurrentUser, runner: RunnerDep):
    """Test a finished training of a student of the class (the student's own, or any, for teachers) on the class
    data set's samples of everyone else. Runs as a job; poll the GET until `status` is `succeeded`."""
    return evaluation.request(session, runner, user, class_id, training_id)


@router.get("/trainings/{training_id}/other-writers", response_model=OtherWritersPublic)
def get_other_writers_evaluation(class_id: Id, training_id: Id, session: SessionDep, user: CurrentUser):
    """Accuracy on the other writers overall, per writer and per label, next to the accuracy on the student's
    own test split, and the gap. Students see "writer 3"; teachers also see nicknames."""
    return evaluation.get(session, user, class_id, training_id)
