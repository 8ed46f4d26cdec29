"""LTI Dynamic Registration 1.0: an admin makes a single-use address here and pastes it into the platform (Moodle
3.10+, Canvas ...). The platform opens it in the admin's browser with its OpenID configuration's address and a
registration token; we read the configuration, register Digit Lab at the platform's registration endpoint, and
store the platform with the client id and deployment id it answered. The page then asks the platform to close it.
"""

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from pydantic import ValidationError
from sqlmodel import Session, select

from digitlab.auth.tables import User
from digitlab.core import security
from digitlab.core.clock import utcnow
from digitlab.core.db import stored_id
from digitlab.lti import service
from digitlab.lti.grades import LINEITEM_SCOPE, SCORE_SCOPE
from digitlab.lti.outbound import PlatformUnreachable, request_json
from digitlab.lti.roster import NRPS_SCOPE
from digitlab.lti.schemas import PlatformCreate, PlatformUpdate, RegistrationLinkPublic
from digitlab.lti.tables import LtiPlatform, LtiRegistrationLink
from digitlab.lti.validation import LaunchRefused

LINK_LIFETIME = timedelta(hours=24)
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
RESULT_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"


def create_link(session: Session, admin: User, urls: service.ToolUrls) -> RegistrationLinkPublic:
    token = secrets.token_urlsafe(24)
    link = LtiRegistrationLink(
        token_hash=security.hash_token(token), created_by=stored_id(admin), expires_at=utcnow() + LINK_LIFETIME
    )
    session.add(link)
    session.flush()
    return RegistrationLinkPublic(url=f"{urls.registration}?{urlencode({'token': token})}", expires_at=link.expires_at)


def _refuse(message: str) -> LaunchRefused:
    return LaunchRefused("registration_failed", message)


def tool_registration(urls: service.ToolUrls) -> dict[str, Any]:
    """What we tell the platform about Digit Lab (IMS LTI Dynamic Registration 1.0, 3.5)."""
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": "Digit Lab",
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join([LINEITEM_SCOPE, SCORE_SCOPE, RESULT_SCOPE, NRPS_SCOPE]),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(urls.base).netloc,
            "target_link_uri": urls.launch,
            "description": "Students turn scans of their handwriting into a trained neural network.",
            # Pseudonymous by design: no name or e-mail is asked for.
            "claims": ["iss", "sub"],
            "messages": [
                {"type": "LtiDeepLinkingRequest", "target_link_uri": urls.launch, "label": "Digit Lab"},
                {"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch, "label": "Digit Lab"},
            ],
        },
    }


def register(
    session: Session, token: str, openid_configuration: str, registration_token: str | None, urls: service.ToolUrls
) -> LtiPlatform:
    link = session.exec(
        select(LtiRegistrationLink).where(LtiRegistrationLink.token_hash == security.hash_token(token))
    ).first()
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        raise _refuse("This registration address was already used or has expired. Please make a new one in Digit Lab.")
    try:
        configuration, _ = request_json("GET", openid_configuration)
    except PlatformUnreachable as exc:
        raise _refuse(f"The platform's configuration could not be read ({exc}).") from exc
    if not isinstance(configuration, dict):
        raise _refuse("The platform's configuration is not an OpenID configuration.")
    issuer = configuration.get("issuer")
    needed = ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
    if not isinstance(issuer, str) or not all(isinstance(configuration.get(name), str) for name in needed):
        raise _refuse("The platform's configuration lacks its issuer or endpoints.")
    # The configuration must come from the issuer's own site (Dynamic Registration 1.0, 3.5.1).
    if service.origin(openid_configuration) != service.origin(issuer):
        raise _refuse("The platform's configuration is not served by its issuer.")
    headers = {"Authorization": f"Bearer {registration_token}"} if registration_token else {}
    try:
        answer, _ = request_json(
            "POST", configuration["registration_endpoint"], json_body=tool_registration(urls), headers=headers
        )
    except PlatformUnreachable as exc:
        raise _refuse(f"The platform refused the registration ({exc}).") from exc
    client_id = answer.get("client_id") if isinstance(answer, dict) else None
    tool_configuration = answer.get(TOOL_CONFIGURATION) if isinstance(answer, dict) else None
    deployment = tool_configuration.get("deployment_id") if isinstance(tool_configuration, dict) else None
    if not isinstance(client_id, str) or not client_id:
        raise _refuse("The platform answered without a client id.")
    product = configuration.get(PLATFORM_CONFIGURATION, {})
    family = product.get("product_family_code") if isinstance(product, dict) else None
    name = f"{family or 'Platform'} at {urlsplit(issuer).netloc}"[:100]
    try:
        body = PlatformCreate.model_validate(
            {
                "name": name,
                "issuer": issuer[:255],
                "client_id": client_id[:255],
                "deployment_ids": [deployment[:255]] if isinstance(deployment, str) and deployment else ["1"],
                "auth_login_url": configuration["authorization_endpoint"],
                "auth_token_url": configuration["token_endpoint"],
                "jwks_url": configuration["jwks_uri"],
            },
            strict=False,
        )
    except ValidationError as exc:
        raise _refuse("The platform's configuration has values Digit Lab cannot use.") from exc
    existing = service.find_platform(session, issuer, client_id)
    if existing is not None:  # registered again (e.g. after the admin removed the tool): take the new values
        platform = service.update_platform(
            session,
            existing,
            PlatformUpdate.model_validate(
                body.model_dump(include={"deployment_ids", "auth_login_url", "auth_token_url", "jwks_url"}),
                strict=False,
            ),
        )
    else:
        platform = service.create_platform(session, body)
    link.used_at, link.platform_id = utcnow(), platform.id
    session.add(link)
    session.flush()
    return platform
