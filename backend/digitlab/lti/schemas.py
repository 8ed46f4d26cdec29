from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, Field, Strict

from digitlab.auth.schemas import SessionTokenPublic
from digitlab.core.schemas import RequestBody
from digitlab.core.text import SafeStr
from digitlab.projects.schemas import Labels


class ActivityKind(StrEnum):
    DIGITS = "digits"  # a project with the digits 0-9
    SYMBOLS = "symbols"  # a project with ten labels of the teacher's choice
    CHALLENGE = "challenge"  # the class challenge


class Grading(StrEnum):
    NONE = "none"  # not graded
    CHALLENGE = "challenge"  # the challenge score of the student's best network
    PROGRESS = "progress"  # fraction of the four steps (extracted, trained, accurate enough, scored)


PlatformText = Annotated[SafeStr, Field(min_length=1, max_length=255)]


def _http_url(value: str) -> str:
    """An http(s) address, kept as given: parsing may lengthen it (a trailing slash, percent-encoding), and the
    stored address must stay within the documented 1000 characters."""
    AnyHttpUrl(value)
    return value


PlatformUrl = Annotated[
    str, Field(min_length=1, max_length=1000, json_schema_extra={"format": "uri"}), AfterValidator(_http_url)
]


class PlatformCreate(RequestBody):
    name: Annotated[SafeStr, Field(min_length=1, max_length=100)]
    issuer: PlatformText = Field(description="The platform's issuer (`iss`), e.g. https://moodle.school.example")
    client_id: PlatformText = Field(description="The client id the platform gave Digit Lab")
    deployment_ids: list[PlatformText] = Field(min_length=1, max_length=50)
    auth_login_url: PlatformUrl = Field(description="The platform's OIDC authorization endpoint")
    auth_token_url: PlatformUrl = Field(description="The platform's OAuth 2 access-token endpoint")
    jwks_url: PlatformUrl = Field(description="The platform's public key set (JWKS)")
    store_names: bool = Field(default=False, description="Keep the names the platform sends (never e-mails)")


class PlatformUpdate(RequestBody):
    name: Annotated[SafeStr, Field(min_length=1, max_length=100)] | None = None
    deployment_ids: list[PlatformText] | None = Field(default=None, min_length=1, max_length=50)
    auth_login_url: PlatformUrl | None = None
    auth_token_url: PlatformUrl | None = None
    jwks_url: PlatformUrl | None = None
    enabled: bool | None = None
    store_names: bool | None = None


class PlatformPublic(BaseModel):
    id: int
    name: str
    issuer: str
    client_id: str
    deployment_ids: list[str]
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    enabled: bool
    store_names: bool
    created_at: datetime


class JwksPublic(BaseModel):
    """The tool's public keys (RFC 7517 key set): RSA keys with kid, alg RS256 and use sig."""

    keys: list[dict[str, Any]]


class ToolConfiguration(BaseModel):
    """What an admin enters in the platform when registering Digit Lab by hand."""

    login_url: str
    launch_url: str
    deep_linking_url: str
    jwks_url: str
    dynamic_registration: str = Field(description="Create a single-use address with POST /api/lti/registration-links")


class RegistrationLinkPublic(BaseModel):
    url: str = Field(description="Paste it into the platform's tool registration (single use)")
    expires_at: datetime


class KeyPublic(BaseModel):
    kid: str
    created_at: datetime
    retired_at: datetime | None
    drop_after: datetime | None


class LaunchCodeTrade(RequestBody):
    code: Annotated[SafeStr, Field(min_length=1, max_length=100)]


class LtiSessionPublic(SessionTokenPublic):
    target: str = Field(description="The web app's route to open, e.g. /projects/3")


class DeepLinkPublic(BaseModel):
    id: int
    accept_lineitem: bool
    expires_at: datetime


class DeepLinkChoice(RequestBody):
    kind: Annotated[ActivityKind, Strict(False)]  # from its JSON string (the body is strict otherwise)
    title: Annotated[SafeStr, Field(min_length=1, max_length=255)]
    labels: Labels | None = Field(default=None, description="The ten labels of a symbols project")
    grading: Annotated[Grading, Strict(False)] = Grading.NONE
    accuracy_threshold: float = Field(default=0.9, ge=0, le=1, description="Progress step 3: test accuracy")


class DeepLinkAnswer(BaseModel):
    """Post `jwt` as the form field JWT to `return_url` (the browser's form, so the platform sees its user)."""

    return_url: str
    jwt: str


class RosterSynced(BaseModel):
    teachers: int
    students: int
    removed: int
