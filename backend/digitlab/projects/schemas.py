from datetime import datetime

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from digitlab.pipeline.template import DIGIT_LABELS, LABEL_COUNT

MAX_LABEL_LENGTH = 8
# Labels become file names in exports (`<label>_<n>.png`): no path separators. Other characters that some
# file systems refuse are escaped in those names (datasets.formats).
FORBIDDEN_LABEL_CHARACTERS = set("/\\")


def validate_labels(labels: list[str]) -> list[str]:
    cleaned = [label.strip() for label in labels]
    if len(cleaned) != LABEL_COUNT:
        raise ValueError(f"a project needs exactly {LABEL_COUNT} labels, one per group of three rows")
    for label in cleaned:
        if not label or len(label) > MAX_LABEL_LENGTH:
            raise ValueError(f"each label needs 1 to {MAX_LABEL_LENGTH} characters (got {label!r})")
        if any(not ch.isprintable() or ch in FORBIDDEN_LABEL_CHARACTERS for ch in label):
            raise ValueError(f"label {label!r} contains a character that is not allowed")
    if len(set(cleaned)) != len(cleaned):
        raise ValueError("labels must all be different")
    return cleaned


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValueError("name must not be blank")
    return name


Labels = Annotated[list[str], AfterValidator(validate_labels)]
ProjectName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(clean_name)]


class ProjectCreate(BaseModel):
    name: ProjectName
    labels: Labels = Field(default_factory=lambda: list(DIGIT_LABELS),
                           description='Ten short strings; default "0".."9"')


class ProjectUpdate(BaseModel):
    name: ProjectName | None = None
    labels: Labels | None = Field(default=None, description="Only while the project has no samples")


class ProjectPublic(BaseModel):
    id: int
    name: str
    labels: list[str]
    created_at: datetime
    updated_at: datetime
    scan_count: int = 0
    sample_count: int = 0
