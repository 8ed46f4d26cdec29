from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, AliasChoices, BaseModel, Field

from digitlab.auth.tables import AuthToken, User
from digitlab.core.schemas import RequestBody
from digitlab.core.text import NON_BLANK_PATTERN, SafeStr, SchemaPattern

USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]{3,64}$"
MIN_PASSWORD_LENGTH = 8  # the default of settings.password_min_length, which the service enforces
MAX_PASSWORD_LENGTH = 256

# A login name as typed: matched case-insensitively (`Mia` and `mia` are one account).
LoginName = Annotated[SafeStr, Field(max_length=64)]
# A new password (registration, change); the service also refuses easy-to-guess ones (zxcvbn).
Password = Annotated[SafeStr, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
# A new account's name: a nickname, never a real name or an e-mail address (3-64 of letters, digits, . _ -).
Username = Annotated[
    SafeStr,
    Field(
        pattern=USERNAME_PATTERN, description="3-64 letters, digits, '.', '_' or '-'; not case-sensitive (Mia = mia)"
    ),
]
# A code as typed: case and dashes or spaces do not matter (the service normalises it).
TypedCode = Annotated[SafeStr, Field(min_length=1, max_length=64)]


def _strip_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("name must not be blank")
    return value


class UserCreate(RequestBody):
    username: Username
    password: Password = Field(description="At least 8 characters and not easy to guess (checked with zxcvbn)")
    invite_code: TypedCode | None = Field(
        default=None, description="A teacher invitation from an admin: the new account is a teacher's"
    )


class LoginRequest(RequestBody):
    username: LoginName
    password: Annotated[SafeStr, Field(max_length=MAX_PASSWORD_LENGTH)]


class PasswordChange(RequestBody):
    current_password: Annotated[SafeStr, Field(max_length=MAX_PASSWORD_LENGTH)]
    new_password: Password = Field(description="At least 8 characters and not easy to guess (checked with zxcvbn)")


class PasswordRulePublic(BaseModel):
    """What a new password needs, for the forms to say before the first try."""

    min_length: int = Field(description="At least this many characters")
    max_length: int = Field(description="At most this many characters")
    hard_to_guess: bool = Field(description="Common passwords, keyboard patterns, dates and the username are refused")


class UserPublic(BaseModel):
    id: int
    username: str
    role: str = Field(description="admin, teacher or student (what the account may do on the whole instance)")
    created_at: datetime
    password_change_required: bool = Field(
        validation_alias=AliasChoices("password_change_required", "password_is_temporary"),
        description="The password is a one-time password (login card, reset): until it is changed with "
        "POST /api/auth/password, every other route answers 403 `password_change_required`",
    )


class SessionTokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserPublic
    password_change_required: bool = Field(
        default=False, description="Choose a new password (POST /api/auth/password) before anything else"
    )

    @classmethod
    def of(cls, user: User, token: AuthToken, raw: str, **more: Any) -> Self:
        """A login's answer: the bearer token, the user, whether a new password must be chosen first."""
        return cls(
            access_token=raw,
            expires_at=token.expires_at,
            user=UserPublic.model_validate(user, from_attributes=True),
            password_change_required=user.password_is_temporary,
            **more,
        )


class InviteRedeem(RequestBody):
    code: TypedCode = Field(description="The teacher invitation's code as typed (or from its link)")


class TeacherInviteCreate(RequestBody):
    valid_days: int | None = Field(default=None, ge=1, description="Days until it expires (default 14)")


class TeacherInvitePublic(BaseModel):
    """An invitation without its code (stored only as a hash)."""

    id: int
    status: str = Field(description="active, used, expired or revoked")
    created_at: datetime
    expires_at: datetime
    created_by: str | None = Field(description="The admin's username (null: made with the command line)")
    used_at: datetime | None
    used_by: str | None = Field(description="The username of the account that became a teacher with it")
    revoked_at: datetime | None


class TeacherInviteCreated(TeacherInvitePublic):
    code: str = Field(description="Shown only this once, e.g. ABCD-EFGH-JKMN-PQRS; single use")
    link: str = Field(description="The web app's page for it, relative to the app's address: /#/teacher-invite/CODE")


class SessionPublic(BaseModel):
    """A web session (a login), without its secret."""

    id: int
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most every few minutes")
    expires_at: datetime
    current: bool = Field(description="The session making this request")


class SessionsEnded(BaseModel):
    ended: int = Field(description="How many sessions were ended")


class ApiTokenCreate(RequestBody):
    name: Annotated[
        SafeStr, Field(min_length=1, max_length=100), AfterValidator(_strip_name), SchemaPattern(NON_BLANK_PATTERN)
    ]


class ApiTokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class ApiTokenCreated(ApiTokenPublic):
    token: str = Field(description="Shown only this once; store it safely.")
