"""LTI 1.3: the learning platforms an admin registered, the tool's own signing keys, who a platform's user is
here, which course became which class, the activities teachers placed in their courses, and the grades waiting
to be sent back.

People from a platform are keyed by (issuer, subject) exactly as the platform names them; no name or e-mail is
stored unless the platform sends them and the admin switched `store_names` on for that platform.
"""

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


class LtiPlatform(SQLModel, table=True):
    """A learning platform (one registration of Digit Lab in a Moodle, Canvas ...)."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    issuer: str = Field(max_length=255, index=True)
    client_id: str = Field(max_length=255)
    auth_login_url: str = Field(max_length=1000)  # the platform's OIDC authorization endpoint
    auth_token_url: str = Field(max_length=1000)  # its OAuth 2 token endpoint (grades, roster)
    jwks_url: str = Field(max_length=1000)  # its public keys
    enabled: bool = True  # switched off: every launch from it is refused, nothing is sent to it
    store_names: bool = False  # keep the names (never e-mails) the platform sends; off by default
    created_at: datetime = Field(default_factory=utcnow)


class LtiDeployment(SQLModel, table=True):
    """A deployment id the platform uses for us: launches naming any other are refused."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="lti_platforms.id", index=True, ondelete="CASCADE")
    deployment_id: str = Field(max_length=255)


class LtiKey(SQLModel, table=True):
    """One of the tool's RSA key pairs. The newest unretired key signs; a retired key stays published in the
    JWKS until every token signed with it has expired (`drop_after`), then it is deleted. The private key is
    never part of any answer."""

    __tablename__ = "lti_keys"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    kid: str = Field(max_length=64, unique=True)
    private_pem: str = Field(sa_column=Column(Text, nullable=False))
    public_jwk: str = Field(sa_column=Column(Text, nullable=False))  # JSON, with kid, alg and use
    created_at: datetime = Field(default_factory=utcnow)
    retired_at: datetime | None = None
    drop_after: datetime | None = None


class LtiNonce(SQLModel, table=True):
    """A nonce that a launch used: each is accepted once (rows are pruned once their launch could not be
    replayed anyway, its state having expired)."""

    __tablename__ = "lti_nonces"
    __table_args__ = (UniqueConstraint("platform_id", "nonce"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="lti_platforms.id", index=True, ondelete="CASCADE")
    nonce: str = Field(max_length=128)
    expires_at: datetime = Field(index=True)


class LtiUser(SQLModel, table=True):
    """A platform's user as a Digit Lab account: pseudonymous (a generated username)."""

    __tablename__ = "lti_users"
    __table_args__ = (UniqueConstraint("issuer", "subject"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    platform_id: int = Field(foreign_key="lti_platforms.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", unique=True, ondelete="CASCADE")
    name: str | None = Field(default=None, max_length=100)  # only with the platform's store_names on
    created_at: datetime = Field(default_factory=utcnow)


class LtiContext(SQLModel, table=True):
    """A platform's course, and the class it became at its first launch."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("issuer", "context_id"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=255)
    context_id: str = Field(max_length=255)
    platform_id: int = Field(foreign_key="lti_platforms.id", index=True, ondelete="CASCADE")
    deployment_id: str = Field(max_length=255)
    class_id: int = Field(foreign_key="classes.id", unique=True, ondelete="CASCADE")
    # The services' URLs as the latest launch gave them (they may change, e.g. after a course backup/restore).
    memberships_url: str | None = Field(default=None, max_length=1000)  # NRPS
    lineitems_url: str | None = Field(default=None, max_length=1000)  # AGS
    ags_scopes: str = Field(default="", max_length=1000)  # space-separated, as the platform granted them
    roster_synced_at: datetime | None = None


class LtiActivity(SQLModel, table=True):
    """A resource link a teacher placed in a course (by deep linking, or a plain link to the tool), with
    what students do there and how it is graded."""

    __tablename__ = "lti_activities"
    __table_args__ = (UniqueConstraint("context_row_id", "resource_link_id"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    context_row_id: int = Field(foreign_key="lti_contexts.id", index=True, ondelete="CASCADE")
    resource_link_id: str = Field(max_length=255)
    kind: str = Field(default="digits", max_length=16)  # an ActivityKind
    title: str = Field(default="", max_length=255)
    labels: str | None = Field(default=None, max_length=1000)  # JSON list, for "symbols"
    grading: str = Field(default="none", max_length=16)  # a Grading
    accuracy_threshold: float = 0.9  # the third progress step
    lineitem_url: str | None = Field(default=None, max_length=1000)


class LtiActivityProject(SQLModel, table=True):
    """The project a student works on in an activity (made at their first launch of it)."""

    __tablename__ = "lti_activity_projects"
    __table_args__ = (UniqueConstraint("activity_id", "user_id"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="lti_activities.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    project_id: int = Field(foreign_key="projects.id", ondelete="CASCADE")


class LtiLaunchCode(SQLModel, table=True):
    """The one-time code a launch hands the web app in its redirect: traded once, within a minute, for a web
    session (no cookie of ours is needed, so a launch works in a platform's iframe). Stored as a hash."""

    __tablename__ = "lti_launch_codes"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    # Where the web app goes after the trade: a route such as "/projects/3" or "/lti/deep-link/5".
    target: str = Field(default="/", max_length=200)
    expires_at: datetime
    used_at: datetime | None = None


class LtiDeepLink(SQLModel, table=True):
    """A teacher's deep-linking request, waiting for their choice in the web app."""

    __tablename__ = "lti_deep_links"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="lti_platforms.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    deployment_id: str = Field(max_length=255)
    return_url: str = Field(max_length=1000)
    data: str | None = Field(default=None, max_length=2000)  # echoed back to the platform untouched
    accept_lineitem: bool = False
    expires_at: datetime
    answered_at: datetime | None = None


class LtiRegistrationLink(SQLModel, table=True):
    """A single-use address an admin pastes into a platform for dynamic registration (stored as a hash)."""

    __tablename__ = "lti_registration_links"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    expires_at: datetime
    used_at: datetime | None = None
    platform_id: int | None = Field(default=None, foreign_key="lti_platforms.id", ondelete="SET NULL")


class LtiGradeOutbox(SQLModel, table=True):
    """A score to send to a platform: written in the same transaction as the change it reports, deleted by
    nobody, sent until the platform accepted it. One row per (activity, user, change): the same change is
    never queued twice; a send is claimed before it is made, so two senders never post the same row."""

    __tablename__ = "lti_grade_outbox"
    __table_args__ = (UniqueConstraint("activity_id", "user_id", "change_key"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="lti_activities.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    change_key: str = Field(max_length=64)  # what changed: the score's value, hashed with the activity's setup
    score_given: float
    score_maximum: float
    activity_progress: str = Field(max_length=16)  # AGS: Initialized / Started / InProgress / Submitted / Completed
    grading_progress: str = Field(max_length=16)  # AGS: FullyGraded / Pending / ...
    created_at: datetime = Field(default_factory=utcnow)  # the score's timestamp on the platform
    status: str = Field(default="pending", max_length=16, index=True)  # pending / sending / sent / failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    claimed_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = None
