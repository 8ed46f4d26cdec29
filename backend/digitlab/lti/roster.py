"""Names and Role Provisioning Services 2.0: a teacher syncs the class's roster from the platform's membership
list. Members become (pseudonymous) Digit Lab users of the class with the platform's role, as if each had
launched once; platform students no longer listed (or listed as inactive) leave the class (their own accounts
and work stay). Names are kept only with the platform's store_names on."""

import re

from sqlmodel import Session, select

from digitlab.auth.tables import User
from digitlab.classes import service as classes_service
from digitlab.classes.tables import ClassMember, ClassRole
from digitlab.core.clock import utcnow
from digitlab.core.errors import conflict
from digitlab.lti import service, tokens
from digitlab.lti.outbound import MAX_ROSTER_BYTES, PlatformUnreachable, request_json
from digitlab.lti.schemas import RosterSynced
from digitlab.lti.tables import LtiContext, LtiPlatform, LtiUser
from digitlab.lti.validation import is_teaching

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEMBERSHIP_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 100
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _members(session: Session, platform: LtiPlatform, url: str) -> list[dict]:
    token = tokens.access_token(session, platform, [NRPS_SCOPE])
    members: list[dict] = []
    next_url: str | None = url
    for _ in range(MAX_PAGES):
        if next_url is None:
            break
        page, headers = request_json(
            "GET",
            next_url,
            headers={"Authorization": f"Bearer {token}", "Accept": MEMBERSHIP_MEDIA_TYPE},
            max_bytes=MAX_ROSTER_BYTES,
        )
        listed = page.get("members") if isinstance(page, dict) else None
        if not isinstance(listed, list):
            raise PlatformUnreachable("the membership list is not NRPS 2.0")
        members += [m for m in listed if isinstance(m, dict) and isinstance(m.get("user_id"), str)]
        found = _NEXT.search(headers.get("link", ""))
        next_url = found.group(1) if found else None
    return members


def sync(session: Session, teacher: User, class_id: int) -> RosterSynced:
    classes_service.get_class(session, teacher, class_id, role=ClassRole.TEACHER)  # 404 for anyone else
    context = session.exec(select(LtiContext).where(LtiContext.class_id == class_id)).first()
    if context is None or not context.memberships_url:
        raise conflict("This class was not made by a learning platform that offers its roster.", "no_roster_service")
    platform = session.get(LtiPlatform, context.platform_id)
    if platform is None or not platform.enabled:
        raise conflict("The learning platform of this class is switched off.", "platform_unavailable")
    try:
        members = _members(session, platform, context.memberships_url)
    except PlatformUnreachable as exc:
        raise conflict(
            f"The learning platform's roster could not be read ({exc}). Please try again later.", "platform_unreachable"
        ) from exc
    listed: set[int] = set()
    teachers = students = 0
    for member in members:
        if member.get("status", "Active") != "Active":
            continue
        roles = [r for r in member.get("roles", []) if isinstance(r, str)]
        teaching = is_teaching(roles)
        claims = {"sub": member["user_id"][:255], "name": member.get("name")}
        user = service.platform_user(session, platform, claims, teaching)
        service.join_class(session, class_id, user, teaching)
        listed.add(user.id or 0)
        teachers, students = teachers + teaching, students + (not teaching)
    removed = 0
    platform_students = session.exec(
        select(ClassMember)
        .join(LtiUser, LtiUser.user_id == ClassMember.user_id)  # type: ignore[arg-type]
        .where(
            ClassMember.class_id == class_id, ClassMember.role == ClassRole.STUDENT, LtiUser.issuer == platform.issuer
        )
    ).all()
    for membership in platform_students:
        if membership.user_id not in listed:
            session.delete(membership)
            removed += 1
    context.roster_synced_at = utcnow()
    session.add(context)
    session.flush()
    return RosterSynced(teachers=teachers, students=students, removed=removed)
