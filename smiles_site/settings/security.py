"""Who may use the site and how: key, DEBUG, hosts, HTTPS, CSP, login lockout, throttles."""

from csp.constants import NONE, SELF, UNSAFE_HASHES, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str
from .queue import REDIS_URL

DEBUG = env_bool("DJANGO_DEBUG", False)


def secret_key(debug: bool) -> str:
    """DJANGO_SECRET_KEY; without it only DEBUG may run (a fixed, public development key)."""
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    if not debug:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it (production) or set DJANGO_DEBUG=true "
            "for local development."
        )
    return "insecure-development-key-only-used-when-DJANGO_DEBUG-is-true"


ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")


def https(secure: bool) -> dict:
    """HTTPS hardening, all on with `secure` (DJANGO_SECURE; default: on unless DEBUG)."""
    return {
        "SECURE": secure,
        "SESSION_COOKIE_SECURE": secure,
        "CSRF_COOKIE_SECURE": secure,
        "SECURE_SSL_REDIRECT": env_bool("DJANGO_SECURE_SSL_REDIRECT", secure),
        "SECURE_HSTS_SECONDS": env_int("DJANGO_HSTS_SECONDS", 31536000 if secure else 0, minimum=0),
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": secure,
        "SECURE_HSTS_PRELOAD": secure,
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https") if secure else None,
    }


globals().update(https(env_bool("DJANGO_SECURE", not DEBUG)))
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy on every response (django-csp 4): scripts, images and requests
# from this site only; no inline script, no eval, no plugins, no framing. The vendored htmx
# and JSME run under it: htmx's own indicator <style> is switched off (base.html); JSME's
# code runs from blob: URLs (static/js/editor.js). Two allowances, both for JSME (GWT):
# its two fixed handler attributes, allowed by their hashes (JSME_HANDLERS), and styles: it
# injects <style> elements and style attributes at run time, so styles may be inline (they
# cannot run script; our own templates have none: tests/site/test_http_hygiene.py).
# Responses that set their own policy (SVG downloads) keep it.
JSME_HANDLERS = [
    "'sha256-g7wg5CBiTBg4MgIAay55gUlhimBUFQMQ7aF7FDBNvos='",  # this.__gwtLastUnhandledEvent="load";
    "'sha256-i+qr4lq34KgNHiW62lWi9aInEBwiEOrfCzaNPCvkqD8='",  # return;  (its touch-support probe)
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, "blob:"],
        "script-src-attr": [UNSAFE_HASHES, *JSME_HANDLERS],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Admin login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# username from one client address, further logins of that username from that address are
# refused with HTTP 429 for AXES_COOLOFF_MINUTES. Attempts are counted in Redis when
# REDIS_URL is set (shared by every web worker, and no models used: the way on MongoDB),
# else in axes' tables (SQLite).
if REDIS_URL:
    AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
else:
    AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_ENABLE_ADMIN = not REDIS_URL  # lockouts are listed in the admin when stored as rows
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15, minimum=0) / 60  # hours, as a float
# Locked out: that username from that address. Per address alone, one attacker behind a
# proxy (or DJANGO_PROXY_COUNT unset behind one) locked out every curator; per username alone,
# anyone could lock a curator out from anywhere. Each username gets AXES_FAILURE_LIMIT tries
# per address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind a reverse proxy, the client address is the last proxy's X-Forwarded-For entry.
# DJANGO_PROXY_COUNT: how many proxies of ours add an entry (docker-compose.yml: nginx, 1);
# 0 (the default): X-Forwarded-For is ignored, the client is the connection's address. The
# API throttle (REST_FRAMEWORK["NUM_PROXIES"]) and the admin lockout read the same count.
PROXY_COUNT = env_int("DJANGO_PROXY_COUNT", 0, minimum=0)
AXES_IPWARE_PROXY_COUNT = PROXY_COUNT or None
if AXES_IPWARE_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

# Throttles, counted in the default cache (queue.py: Redis, else files shared by the workers
# of this host) per client: the connection's address, or with DJANGO_PROXY_COUNT proxies the
# entry the last one added. Requests without an API token: this many per minute, "60/min".
API_ANON_RATE = env_str("API_ANON_RATE", "60/min")
# Per visitor (API tokens and signed-in staff are not counted), answered 429 with
# Retry-After; "off" turns one off. Batch uploads from the batch page, a pasted list or the
# API, counted together:
BATCH_UPLOAD_RATE = env_str("BATCH_UPLOAD_RATE", "10/hour")
# Report cards (report.png, report.pdf), bundle.zip and captioned plots (?download=1): seconds
# of CPU each, drawn once per version (the render cache) but different molecules are not.
HEAVY_DOWNLOAD_RATE = env_str("HEAVY_DOWNLOAD_RATE", "10/min")
