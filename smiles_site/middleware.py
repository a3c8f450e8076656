"""Site-wide middleware.

BodySizeLimitMiddleware refuses oversized request bodies from their Content-Length, before a
byte is read: Django limits form fields (DATA_UPLOAD_MAX_MEMORY_SIZE) but streams file uploads
of any size to disk before the form can refuse them; this stops a 2 GB POST at the header.

ApiJsonErrorsMiddleware keeps every error under /api/ JSON whatever DEBUG says: with DEBUG on,
Django answers an unknown URL or an uncaught exception with its HTML debug page instead of
handler404/handler500 (api.errors), which only run with DEBUG off.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from api.errors import is_api, json_error
from molfiles.parsing import mib


def max_body_bytes() -> int:
    """The largest legitimate body: a batch file at its limit plus the other form fields."""
    return settings.BATCH_MAX_UPLOAD_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class BodySizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > max_body_bytes():
            size, limit = mib(length), mib(settings.BATCH_MAX_UPLOAD_BYTES)
            if is_api(request):
                message = f"The request body is {size} MiB; the limit is {limit} MiB."
                response = json_error("payload_too_large", message, 413)
            else:
                context = {"size": size, "limit": limit}
                response = render(request, "413.html", context, status=413)
            response["Connection"] = "close"  # the unread body must not be taken as a request
            return response
        return self.get_response(request)


# Error codes of the API's error body (api.errors) by HTTP status.
API_ERROR_CODES = {
    400: "invalid_input",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    500: "server_error",
}
API_ERROR_MESSAGES = {
    404: "No such API endpoint or object.",
    500: "Something went wrong on our side.",
}


class ApiJsonErrorsMiddleware:
    """An HTML error page (Django's debug pages included) answering an /api/ URL becomes the
    API's JSON error body with the same status. The server error is still logged by Django
    (with its traceback) before this sees the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            is_api(request)
            and response.status_code >= 400
            and response.get("Content-Type", "").startswith("text/html")
        ):
            status = response.status_code
            try:
                phrase = HTTPStatus(status).phrase + "."
            except ValueError:
                phrase = "Error."
            code = API_ERROR_CODES.get(status, "server_error" if status >= 500 else "error")
            response = json_error(code, API_ERROR_MESSAGES.get(status, phrase), status)
        return response
