"""The OpenAPI schema's common parts: every operation documents the problem
details it can answer (api/problems.py), and the bearer token scheme."""

from http import HTTPStatus

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from api.problems import MEDIA_TYPE


class FaultSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What is wrong.")
    parameter = serializers.CharField(required=False, help_text="The query parameter at fault.")
    pointer = serializers.CharField(required=False, help_text="The body member at fault (JSON Pointer, e.g. #/ids/0).")


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem details object."""

    type = serializers.CharField(help_text='"about:blank": the status and title say what the problem is.')
    title = serializers.CharField(help_text="The HTTP status's phrase.")
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong, naming the parameter at fault.")
    instance = serializers.CharField(help_text="The request's path and query.")
    code = serializers.CharField(
        help_text="Machine-readable: invalid, not_authenticated, authentication_failed, permission_denied, "
        "not_found, method_not_allowed, unsupported_media_type, parse_error, throttled, action_refused."
    )
    errors = FaultSerializer(many=True, required=False, help_text="With invalid input: each fault.")
    retry_after = serializers.IntegerField(required=False, help_text="With 429: seconds to wait.")


PROBLEMS = {
    "400": "Invalid input: a query parameter or body member is not valid (each one named in `errors`).",
    "401": "No credentials, or a token that is unknown, revoked or expired, or whose user is inactive.",
    "403": "The user's role does not allow it (a Viewer cannot act; a user without a role sees nothing).",
    "404": "No such object.",
    "429": "Too many requests for this token (SYNCWEB_API_RATE): wait `retry_after` seconds.",
}
WRITE_PROBLEMS = {
    "409": "The action breaks a rule for the syncs chosen; nothing was changed, and `detail` says why.",
    "415": "The body is not JSON (send Content-Type: application/json).",
}
CODES = {
    "400": "invalid", "401": "not_authenticated", "403": "permission_denied", "404": "not_found",
    "409": "action_refused", "415": "unsupported_media_type", "429": "throttled",
}  # fmt: skip


def example(code: str, description: str) -> dict:
    """A problem as the API answers it with status ``code``."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(int(code)).phrase,
        "status": int(code),
        "detail": description,
        "instance": "/sync/api/v1/syncs/?status=broken",
        "code": CODES[code],
    }
    if code == "400":
        body["detail"] = "Invalid query input. parameter 'status': \"broken\" is not a valid choice."
        body["errors"] = [{"parameter": "status", "detail": '"broken" is not a valid choice.'}]
    return body


class ProblemAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, adding the problem answers of PROBLEMS (and
    WRITE_PROBLEMS for a POST) to every operation that does not describe them."""

    def _resolve_path_parameters(self, variables) -> list[dict]:
        """An object's id in a path is a positive integer (the routes take any text
        so that one that is not an id is a 404 problem, not Django's HTML page)."""
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["name"] == "id":
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = "The object's id."
        return parameters

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        wanted = PROBLEMS | (WRITE_PROBLEMS if self.method == "POST" else {})
        for code, description in wanted.items():
            responses.setdefault(
                code,
                {
                    "description": description,
                    "content": {MEDIA_TYPE: {"schema": problem, "example": example(code, description)}},
                },
            )
        return responses


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The schema's name for api.authentication.BearerTokenAuthentication."""

    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "swt_<prefix>_<secret>",
            "description": "A personal API token, from the console's API tokens page (or an admin).",
        }
