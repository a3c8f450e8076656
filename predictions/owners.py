"""Who owns a batch: the keys a request may act as.

An owner key is a string, "<kind>:<id>", so any kind of owner fits one indexed field:
"user:<pk>" for a signed-in user, "session:<hash>" for an anonymous browser, and (once the
API exists) "token:<id>" for an API token. Anonymous ownership rests on a random token kept
in the session's data, not on the session key: the data survives `cycle_key()` at login, so
batches started before signing in stay visible after it. Only a hash of the token is stored.
"""

from __future__ import annotations

import hashlib
import secrets

from django.http import HttpRequest

SESSION_TOKEN = "batch_owner_token"


def session_owner_key(token: str) -> str:
    """The owner key of an anonymous browser holding this session token."""
    return "session:" + hashlib.sha256(token.encode("ascii")).hexdigest()[:40]


def user_key(user_pk) -> str:
    return f"user:{user_pk}"


def request_owner_keys(request: HttpRequest) -> list[str]:
    """Every key whose batches this request may see; empty for a first-time visitor."""
    keys = []
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        keys.append(user_key(user.pk))
    token = request.session.get(SESSION_TOKEN)
    if token:
        keys.append(session_owner_key(token))
    return keys


def request_owner_key(request: HttpRequest) -> str:
    """The key a new batch is stored under; gives an anonymous browser its session first."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user_key(user.pk)
    token = request.session.get(SESSION_TOKEN)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_TOKEN] = token  # modified: the middleware saves it, sets the cookie
    return session_owner_key(token)
