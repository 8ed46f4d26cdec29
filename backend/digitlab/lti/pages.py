"""The few HTML pages of the LTI browser flow (a platform's login and launch are browser navigations, so a
refusal is a page a person reads, not JSON). Each page's one inline script is fixed text, allowed by its hash in
the page's own Content-Security-Policy; what varies is passed in data attributes."""

from collections.abc import Sequence
from html import escape

from fastapi.responses import HTMLResponse

from digitlab.api.headers import source_hash

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.3rem}code{color:#666}"
)

# 1. login: remember the browser secret in the page's (partitioned) sessionStorage, then go to the platform.
LOGIN_SCRIPT = (
    "const d=document.getElementById('lti').dataset;"
    "try{sessionStorage.setItem('digitlab.lti.'+d.sid,d.secret)}catch(e){}"
    "location.replace(d.url);"
)
# 2. launch without our cookie: post the launch again with the secret this browser kept.
PROOF_SCRIPT = (
    "const f=document.getElementById('lti');let s='';"
    "try{s=sessionStorage.getItem('digitlab.lti.'+f.dataset.sid)||'';"
    "sessionStorage.removeItem('digitlab.lti.'+f.dataset.sid)}catch(e){}"
    "f.elements.browser_secret.value=s;f.submit();"
)
# Dynamic registration finished: tell the platform's page (it opened ours in an iframe or a window) to close it.
CLOSE_SCRIPT = "const m={subject:'org.imsglobal.lti.close'};(window.opener||window.parent).postMessage(m,'*');"


def _policy(script: str | None, framing: Sequence[str]) -> str:
    scripts = f"script-src {source_hash(script)}" if script else "script-src 'none'"
    ancestors = " ".join(["'self'", *framing])
    return (
        f"default-src 'none'; {scripts}; style-src 'unsafe-inline'; form-action 'self'; "
        f"base-uri 'none'; frame-ancestors {ancestors}"
    )


def _page(title: str, body: str, framing: Sequence[str], status: int = 200, script: str | None = None) -> HTMLResponse:
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<meta name='viewport' content='width=device-width'><style>{_STYLE}</style></head>"
        f"<body>{body}{f'<script>{script}</script>' if script else ''}</body></html>"
    )
    response = HTMLResponse(html, status_code=status)
    # Framed by the registered platforms only, like the web app (digitlab.api.headers).
    response.headers["Content-Security-Policy"] = _policy(script, framing)
    response.headers["Cache-Control"] = "no-store"
    return response


def login_redirect(url: str, state_id: str, secret: str, framing: Sequence[str]) -> HTMLResponse:
    body = (
        f"<p id='lti' data-url='{escape(url)}' data-sid='{escape(state_id)}' data-secret='{escape(secret)}'>"
        f"Opening Digit Lab … <a href='{escape(url)}'>continue</a></p>"
    )
    return _page("Digit Lab", body, framing, script=LOGIN_SCRIPT)


def browser_proof(id_token: str, state: str, state_id: str, framing: Sequence[str]) -> HTMLResponse:
    body = (
        f"<form id='lti' method='post' action='/api/lti/launch' data-sid='{escape(state_id)}'>"
        f"<input type='hidden' name='id_token' value='{escape(id_token)}'>"
        f"<input type='hidden' name='state' value='{escape(state)}'>"
        "<input type='hidden' name='browser_secret' value=''>"
        "<input type='hidden' name='proof' value='1'>"
        "<noscript>Digit Lab needs JavaScript.</noscript></form>"
    )
    return _page("Digit Lab", body, framing, script=PROOF_SCRIPT)


def refused(code: str, message: str, framing: Sequence[str], status: int = 400) -> HTMLResponse:
    body = (
        "<h1>Digit Lab could not be opened</h1>"
        f"<p>{escape(message)}</p>"
        "<p>If this keeps happening, please tell your teacher or your school's learning platform administrator."
        f"</p><p><code>{escape(code)}</code></p>"
    )
    return _page("Digit Lab: launch refused", body, framing, status=status)


def registration_done(platform_name: str, framing: Sequence[str]) -> HTMLResponse:
    body = f"<h1>Digit Lab is registered</h1><p>{escape(platform_name)} can now launch Digit Lab.</p>"
    return _page("Digit Lab registered", body, framing, script=CLOSE_SCRIPT)
