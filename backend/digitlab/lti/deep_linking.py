"""Deep Linking 2.0: a teacher adding Digit Lab to a course picks the activity (a digits project, an own symbols
project with its labels, the class challenge) and its grading; we answer the platform with a signed
LtiResourceLink content item (with a line item when it is graded). The choice travels in the link's custom
parameters, so every later launch of the link knows it (digitlab.lti.service._activity)."""

import json
import secrets
import time

from sqlmodel import Session

from digitlab.auth.tables import User
from digitlab.core.clock import utcnow
from digitlab.core.errors import conflict, invalid, not_found
from digitlab.lti import keys
from digitlab.lti.schemas import ActivityKind, DeepLinkAnswer, DeepLinkChoice, Grading
from digitlab.lti.service import ToolUrls
from digitlab.lti.tables import LtiDeepLink, LtiPlatform
from digitlab.lti.validation import DEEP_LINKING, LTI, LTI_VERSION

RESPONSE_SECONDS = 600
# What the platform's grade book shows as the maximum: a percentage, or the four progress steps.
SCORE_MAXIMUM = {Grading.CHALLENGE: 100.0, Grading.PROGRESS: 4.0}


def get_request(session: Session, user: User, deep_link_id: int) -> LtiDeepLink:
    """The teacher's open deep-linking request; 404 for anyone else, and once it is answered or expired."""
    request = session.get(LtiDeepLink, deep_link_id)
    if (
        request is None
        or request.user_id != user.id
        or request.answered_at is not None
        or request.expires_at <= utcnow()
    ):
        raise not_found("Deep-linking request")
    return request


def custom_parameters(choice: DeepLinkChoice) -> dict[str, str]:
    custom = {
        "digitlab_activity": choice.kind.value,
        "digitlab_grading": choice.grading.value,
        "digitlab_threshold": f"{choice.accuracy_threshold:g}",
    }
    if choice.kind == ActivityKind.SYMBOLS and choice.labels:
        custom["digitlab_labels"] = json.dumps(list(choice.labels), ensure_ascii=False)
    return custom


def answer(session: Session, request: LtiDeepLink, choice: DeepLinkChoice, urls: ToolUrls) -> DeepLinkAnswer:
    """The signed LtiDeepLinkingResponse for the browser to post to the platform (once)."""
    if choice.kind == ActivityKind.SYMBOLS and not choice.labels:
        raise invalid("A symbols project needs its ten labels.", "labels_required")
    platform = session.get(LtiPlatform, request.platform_id)
    if platform is None or not platform.enabled:
        raise conflict("The learning platform of this request is no longer registered.", "platform_unavailable")
    item: dict = {
        "type": "ltiResourceLink",
        "title": choice.title,
        "url": urls.launch,
        "custom": custom_parameters(choice),
        "iframe": {"width": 1366, "height": 768},
    }
    if choice.grading != Grading.NONE and request.accept_lineitem:
        item["lineItem"] = {
            "scoreMaximum": SCORE_MAXIMUM[choice.grading],
            "label": choice.title,
            "resourceId": f"digitlab-{choice.kind.value}",
            "tag": choice.grading.value,
        }
    now = int(time.time())
    claims = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + RESPONSE_SECONDS,
        "nonce": secrets.token_urlsafe(16),
        LTI + "message_type": "LtiDeepLinkingResponse",
        LTI + "version": LTI_VERSION,
        LTI + "deployment_id": request.deployment_id,
        DEEP_LINKING + "content_items": [item],
    }
    if request.data is not None:
        claims[DEEP_LINKING + "data"] = request.data
    request.answered_at = utcnow()
    session.add(request)
    session.flush()
    return DeepLinkAnswer(return_url=request.return_url, jwt=keys.sign(session, claims))
