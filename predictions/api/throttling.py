"""Anonymous API calls are throttled on the Django cache; a request with an API token is not."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle


class AnonymousThrottle(AnonRateThrottle):
    """`settings.API_ANON_RATE` per client address for every call without an API token.

    The rate is read per request (not at import), so tests and deployments can change it.
    A signed-in browser session is throttled too: only tokens, made by curators, lift it.
    """

    scope = "anon"

    def get_rate(self) -> str:
        return settings.API_ANON_RATE

    def allow_request(self, request, view) -> bool:
        if getattr(request.auth, "key", None):
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
