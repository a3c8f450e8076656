"""One error shape for the whole API: `{"error": {"code", "message", "details"}}`.

DRF's exceptions, Django's Http404/PermissionDenied, the 413 from the body-size middleware,
unknown URLs and server errors under /api/ all answer JSON in this shape, never HTML.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"

# DRF's exception codes, renamed where ours say more.
CODES = {
    "invalid": "invalid_input",
    "parse_error": "malformed_body",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "unsupported_media_type": "unsupported_media_type",
    "throttled": "throttled",
    "not_acceptable": "not_acceptable",
    "authentication_failed": "authentication_failed",
    "not_authenticated": "not_authenticated",
    "permission_denied": "permission_denied",
}


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def json_error(code: str, message: str, status_code: int, details=None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status_code)


def _message(detail) -> str:
    """The first human sentence in a DRF error detail (a string, list or dict of them)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            text = _message(value)
            return text if key == "non_field_errors" else f"{key}: {text}"
        return "Invalid input."
    if isinstance(detail, list):
        return _message(detail[0]) if detail else "Invalid input."
    return str(detail)


def exception_handler(exc, context):
    """DRF's handler (it maps Http404 and PermissionDenied too), reshaped to our error body."""
    if isinstance(exc, RequestDataTooBig):  # a JSON body over DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(error_body("payload_too_large", str(exc)), status=413)
    if isinstance(exc, Http404):  # from a selector: keep its sentence as the message
        exc = exceptions.NotFound(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handler answers (JSON under /api/)
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    raw_code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    if isinstance(exc, exceptions.ValidationError) or not isinstance(raw_code, str):
        code, details = "invalid_input", {"fields": detail}
    else:
        code, details = CODES.get(raw_code, raw_code), {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details = {"retry_after_seconds": int(exc.wait + 0.999)}
    if response.status_code == status.HTTP_404_NOT_FOUND:
        code = "not_found"
    response.data = error_body(code, _message(detail), details)
    return response


def not_found(request: HttpRequest, exception=None):
    """handler404: JSON for /api/ URLs, the site's page for the rest."""
    if is_api(request):
        return json_error("not_found", "No such API endpoint or object.", 404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request: HttpRequest):
    """handler500: JSON for /api/ URLs, the site's page for the rest."""
    if is_api(request):
        return json_error("server_error", "Something went wrong on our side.", 500)
    from django.views.defaults import server_error as page

    return page(request)
