"""Per-visitor throttles on the Django cache (the default cache: Redis with REDIS_URL, else
files shared by the workers of one host), keyed by the client address as DRF's `get_ident`
reads it (`DJANGO_PROXY_COUNT` proxies: the entry the last one added).

- `AnonymousThrottle`: every API call without an API token (`API_ANON_RATE`).
- `BatchUploadThrottle` / `visitor_throttle("batch_upload", ...)`: batch uploads, from the form,
  a paste of several lines or the API, one count per visitor (`BATCH_UPLOAD_RATE`).
- `visitor_throttle("heavy_download", ...)`: report cards, bundles and captioned plots, the
  downloads that cost seconds of CPU each (`HEAVY_DOWNLOAD_RATE`).
Refused: HTTP 429 with `Retry-After` (seconds). A rate of "" (or "off") turns a throttle off.
"""

from __future__ import annotations

import math
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle


def _rate(name: str) -> str | None:
    rate = (getattr(settings, name, "") or "").strip()
    return None if rate.lower() in ("", "off", "none") else rate


class AnonymousThrottle(AnonRateThrottle):
    """`settings.API_ANON_RATE` per client address for every call without an API token.

    The rate is read per request (not at import), so tests and deployments can change it.
    A signed-in browser session is throttled too: only tokens, made by curators, lift it.
    """

    scope = "anon"
    rate_setting = "API_ANON_RATE"

    def get_rate(self) -> str | None:
        return _rate(self.rate_setting)

    def allow_request(self, request, view) -> bool:
        if getattr(request.auth, "key", None):
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class BatchUploadThrottle(AnonymousThrottle):
    """API batch uploads, counted with the form's (`settings.BATCH_UPLOAD_RATE`)."""

    scope = "batch_upload"
    rate_setting = "BATCH_UPLOAD_RATE"


class VisitorThrottle(SimpleRateThrottle):
    """`rate` requests per client address in `scope`, for plain Django views."""

    def __init__(self, scope: str, rate: str):  # no THROTTLE_RATES look-up
        self.scope, self.rate = scope, rate
        self.num_requests, self.duration = self.parse_rate(rate)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def too_many(seconds: float, what: str) -> HttpResponse:
    wait = max(1, math.ceil(seconds))
    response = HttpResponse(
        f"Too many {what} from your address: try again in {wait} s.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(wait)
    return response


def refused(request: HttpRequest, scope: str, setting: str, what: str) -> HttpResponse | None:
    """Count this request in `scope`; a 429 answer if over `settings.<setting>`, else None.

    Staff (curators) signed in are not counted.
    """
    rate = _rate(setting)
    user = getattr(request, "user", None)
    if rate is None or getattr(user, "is_staff", False):
        return None
    throttle = VisitorThrottle(scope, rate)
    if throttle.allow_request(request, None):
        return None
    return too_many(throttle.wait() or 1, what)


def visitor_throttle(scope: str, setting: str, what: str, *, when=None):
    """Decorate a Django view: requests for which `when(request, *args, **kwargs)` is true
    (all, without it) are counted per visitor and refused with 429 over the rate."""

    def decorate(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if when is None or when(request, *args, **kwargs):
                answer = refused(request, scope, setting, what)
                if answer is not None:
                    return answer
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
