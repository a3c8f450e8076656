"""Refuse oversized request bodies from their Content-Length, before a byte is read.

Django limits form fields (DATA_UPLOAD_MAX_MEMORY_SIZE) but streams file uploads of any
size to disk before the form can refuse them; this stops a 2 GB POST at the header.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .batch.parsing import mib


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
            context = {"size": mib(length), "limit": mib(settings.BATCH_MAX_UPLOAD_BYTES)}
            response = render(request, "413.html", context, status=413)
            response["Connection"] = "close"  # the unread body must not be taken as a request
            return response
        return self.get_response(request)
