"""OpenAPI generation: every operation documents the error responses it can give."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from predictions.models import PUBLIC_ID_LENGTH


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: invalid_input, not_found…")
    message = serializers.CharField(help_text="One sentence for a person.")
    details = serializers.DictField(help_text="Field errors, retry delay… (may be empty).")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    "400": "Invalid input (see error.details.fields).",
    "401": "The API token is invalid.",
    "404": "Unknown id, or not yours.",
    "405": "Method not allowed.",
    "406": "Only JSON (or the download's own type) is served.",
    "413": "Request body too large.",
    "415": "Unsupported Content-Type.",
    "429": "Too many anonymous requests: wait error.details.retry_after_seconds, or use a token.",
}
BODY_ERRORS = ("413", "415")
PUBLIC_ID_PATTERN = f"^[a-z2-7]{{{PUBLIC_ID_LENGTH}}}$"


class ApiSchema(AutoSchema):
    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter["name"] == "public_id" and parameter["in"] == "path":
                parameter["schema"]["pattern"] = PUBLIC_ID_PATTERN
                parameter["description"] = "The random link id (24 characters a-z, 2-7)."
        return parameters

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        for code, description in ERROR_DESCRIPTIONS.items():
            if code in BODY_ERRORS and self.method not in ("POST", "PUT", "PATCH"):
                continue
            if code not in bodies:
                body = self._get_response_for_code(
                    ErrorSerializer, code, ["application/json"], direction
                )
                bodies[code] = {**body, "description": description}
        return bodies
