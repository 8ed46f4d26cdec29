from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonDict

from digitlab.auth.schemas import Password, SessionTokenPublic, TypedCode, Username
from digitlab.core.schemas import RequestBody
from digitlab.core.text import NON_BLANK_PATTERN, SafeStr, SchemaPattern

MAX_STUDENTS_AT_ONCE = 50  # login cards per request: a class and more (~1.5 s of password hashing)
# A prefix for nicknames made in bulk: "7b-" gives 7b-01, 7b-02 ...
PREFIX_PATTERN = r"^[A-Za-z0-9_.\-]{1,40}$"

CardLanguage = Literal["en", "de"]


def _strip_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("name must not be blank")
    return value


ClassName = Annotated[
    SafeStr, Field(min_length=1, max_length=100), AfterValidator(_strip_name), SchemaPattern(NON_BLANK_PATTERN)
]
RetentionDays = Annotated[
    int, Field(ge=1, description="Delete the class's data this many days from now (default 365, at most 730)")
]


class ClassCreate(RequestBody):
    name: ClassName
    retention_days: RetentionDays | None = None


class ClassUpdate(RequestBody):
    """Only the fields given change."""

    name: ClassName | None = None
    retention_days: RetentionDays | None = None
    closed: bool | None = Field(default=None, description="A closed class takes no new students")


class ClassDetails(BaseModel):
    """What only the class's teachers see."""

    created_at: datetime
    closed_at: datetime | None
    delete_after: datetime = Field(description="The service deletes the class's data after this moment")
    student_count: int
    teachers: list[str] = Field(description="The usernames of the class's teachers")


class ClassPublic(BaseModel):
    id: int
    name: str
    role: str = Field(description="Your role in this class: teacher or student")
    writer_number: int | None = Field(description="Students: your number; other students see you as writer N")
    closed: bool
    details: ClassDetails | None = Field(description="For the class's teachers; null for students")


class MemberPublic(BaseModel):
    user_id: int
    username: str
    role: str = Field(description="teacher or student")
    writer_number: int | None
    joined_at: datetime
    account_made_for_class: bool = Field(description="Made with a login card: deleted with the class")
    password_change_required: bool = Field(description="Has not yet replaced the one-time password of a card")


class TeacherAdd(RequestBody):
    username: Annotated[SafeStr, Field(min_length=1, max_length=64)] = Field(
        description="The username of a teacher's (or admin's) account"
    )


class JoinCodeCreate(RequestBody):
    valid_days: int | None = Field(default=None, ge=1, description="Days until it expires (default 14, at most 180)")


class JoinCodePublic(BaseModel):
    id: int
    code: str = Field(description="As students type it, e.g. ABCD-EFGH (case, dashes and spaces do not matter)")
    link: str = Field(description="The web app's join page, relative to the app's address: /#/join/ABCD-EFGH")
    qr_svg_url: str = Field(description="A QR code of the link with the app's address (SVG)")
    status: str = Field(description="active, expired or revoked")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class JoinRequest(RequestBody):
    code: TypedCode = Field(description="The join code as typed")


class JoinWithNewAccount(RequestBody):
    code: TypedCode = Field(description="The join code as typed")
    username: Username = Field(description="A nickname (no real name, no e-mail): 3-64 letters, digits, '.', '_', '-'")
    password: Password = Field(description="At least 8 characters and not easy to guess (checked with zxcvbn)")


class JoinCodeInfo(BaseModel):
    class_name: str
    expires_at: datetime


class JoinedSession(SessionTokenPublic):
    """The new student's login, as POST /api/auth/login answers it, with the class they joined."""

    joined_class: ClassPublic


# Either a count (with an optional prefix) or a list of nicknames (the validator below), said in JSON Schema.
_COUNT_OR_USERNAMES: JsonDict = {
    "oneOf": [
        {"required": ["count"], "properties": {"count": {"type": "integer"}, "usernames": {"type": "null"}}},
        {
            "required": ["usernames"],
            "properties": {"usernames": {"type": "array"}, "count": {"type": "null"}, "prefix": {"type": "null"}},
        },
    ]
}


class StudentsCreate(RequestBody):
    """Either `count` (nicknames `prefix` + 01, 02, ... skipping names already taken) or `usernames`."""

    model_config = ConfigDict(json_schema_extra=_COUNT_OR_USERNAMES)

    count: int | None = Field(default=None, ge=1, le=MAX_STUDENTS_AT_ONCE)
    prefix: Annotated[SafeStr, Field(pattern=PREFIX_PATTERN)] | None = Field(
        default=None, description="With `count`; default: the class's name in letters and digits, then '-'"
    )
    usernames: list[Username] | None = Field(default=None, min_length=1, max_length=MAX_STUDENTS_AT_ONCE)

    @model_validator(mode="after")
    def _one_way(self) -> "StudentsCreate":
        if (self.count is None) == (self.usernames is None):
            raise ValueError("give either count or usernames")
        if self.prefix is not None and self.count is None:
            raise ValueError("prefix goes with count")
        return self
