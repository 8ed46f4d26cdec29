from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, TypeAdapter, ValidationError, WithJsonSchema

from digitlab.core.schemas import RequestBody
from digitlab.core.text import NON_BLANK_PATTERN, SafeStr, SchemaPattern
from digitlab.pipeline.template import DIGIT_LABELS, LABEL_COUNT

MAX_LABEL_LENGTH = 8
# Labels become file names in exports (`<label>_<n>.png`): no path separators. Other characters that some
# file systems refuse are escaped in those names (datasets.formats).
# What a label may be, exactly as the OpenAPI document says (JSON Schema `pattern`, also checked with a regex
# engine of the same kind as schema validators use): 1-8 characters, no control characters, no / or \, no
# space at either end (a label is shown and stored as sent: " 1" and "1" would look the same).
_NOT_IN_LABEL = r"/\\\x00-\x1f\x7f-\x9f\u2028\u2029"
LABEL_PATTERN = rf"^[^\s{_NOT_IN_LABEL}](?:[^{_NOT_IN_LABEL}]*[^\s{_NOT_IN_LABEL}])?$"
_LABEL_CHECK = TypeAdapter(Annotated[str, StringConstraints(max_length=MAX_LABEL_LENGTH, pattern=LABEL_PATTERN)])


def _label_problem(label: str) -> str:
    if not 1 <= len(label) <= MAX_LABEL_LENGTH:
        return f"each label needs 1 to {MAX_LABEL_LENGTH} characters (got {label!r})"
    if label != label.strip() or not label.strip():
        return f"label {label!r} must not start or end with a space"
    return f"label {label!r} contains a character that is not allowed (no control characters, / or \\)"


def validate_labels(labels: list[str]) -> list[str]:
    if len(labels) != LABEL_COUNT:
        raise ValueError(f"a project needs exactly {LABEL_COUNT} labels, one per group of three rows")
    for label in labels:
        try:
            _LABEL_CHECK.validate_python(label)
        except ValidationError:
            raise ValueError(_label_problem(label)) from None
    if len(set(labels)) != len(labels):
        raise ValueError("labels must all be different")
    return labels


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValueError("name must not be blank")
    return name


Labels = Annotated[
    list[str],
    AfterValidator(validate_labels),
    WithJsonSchema(
        {
            "type": "array",
            "minItems": LABEL_COUNT,
            "maxItems": LABEL_COUNT,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_LABEL_LENGTH, "pattern": LABEL_PATTERN},
        }
    ),
]
ProjectName = Annotated[
    SafeStr, Field(min_length=1, max_length=100), AfterValidator(clean_name), SchemaPattern(NON_BLANK_PATTERN)
]


class ProjectCreate(RequestBody):
    name: ProjectName
    labels: Labels = Field(
        default_factory=lambda: list(DIGIT_LABELS), description='Ten short strings; default "0".."9"'
    )


class ProjectUpdate(RequestBody):
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
