"""Who owns a batch: the keys a request may act as.

An owner key is a string, "<kind>:<id>", so any kind of owner fits one indexed field:
"user:<pk>" for a signed-in user, "session:<hash>" for an anonymous browser, and
"token:<hash>" for an API token (a hash of its key: the key itself is a secret). Anonymous ownership rests on a random token kept
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


def token_owner_key(key: str) -> str:
    """The owner key of an API token: batches made with it are listed only for it."""
    return "token:" + hashlib.sha256(key.encode("ascii")).hexdigest()[:40]


def _api_token(request: HttpRequest) -> str | None:
    """The API token key a DRF request authenticated with, if any."""
    auth = getattr(request, "auth", None)
    return getattr(auth, "key", None)


def api_owner_keys(request: HttpRequest) -> list[str]:
    """A token-authenticated API call sees only its token's batches; else as a browser."""
    key = _api_token(request)
    return [token_owner_key(key)] if key else request_owner_keys(request)


def api_owner_key(request: HttpRequest) -> str:
    """The key a batch created through the API is stored under."""
    key = _api_token(request)
    return token_owner_key(key) if key else request_owner_key(request)


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
