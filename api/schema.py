"""The OpenAPI schema's common parts: every operation documents the problem
details it can answer (api/problems.py), and the bearer token scheme."""

from http import HTTPStatus

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework import serializers

from api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.problems import MEDIA_TYPE
from metrics.periods import MAX_DAYS
from synchronizations.models import SYNC_ORDERS, LogEntry, SyncStatus


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
        message = "Select a valid choice. broken is not one of the available choices."
        body["detail"] = f"Invalid query input. parameter 'status': {message}"
        body["errors"] = [{"parameter": "status", "detail": message}]
    return body


def _query(name: str, kind, description: str, *examples, **extra) -> OpenApiParameter:
    """A query parameter with its description and examples (the first one is the
    parameter's ``example``)."""
    named = [OpenApiExample(f"{name}={value}", value=value) for value in examples]
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description, examples=named, **extra)


# Every query parameter of the API, described once. An endpoint documents those
# its view takes (api/views.py StrictQuery.query_parameters), so that the schema
# and the refusal of unknown parameters never disagree.
QUERY_PARAMETERS = {
    parameter.name: parameter
    for parameter in [
        _query("status", str, "Only syncs in this status.", "error", enum=SyncStatus.values),
        _query("mapping", int, "Only those of this mapping (its id; GET mappings/ lists them).", 3),
        _query("q", str, "Text in the title, either artifact's key or the error message (case-insensitive).",
               "timed out", "WEB-12"),
        _query("pattern", str, "An error kind as the Dashboard's most frequent errors name it (`top_errors`): the "
               "message with its keys and numbers taken out.", "Connection to QA timed out after <n> s"),
        _query("ordering", str, "The Syncs tab's orders: a column (status, mapping, left, right, title, "
               "last_processed_at) ascending, or descending with a leading `-`. Default `-last_processed_at` (last "
               "processed first). Never processed syncs come last in both directions of last_processed_at; ties go "
               "by id.", "-last_processed_at", "title", enum=list(SYNC_ORDERS), default="-last_processed_at"),
        _query("cursor", str, "Where the page starts: copy it from the previous page's `next` link, never build "
               "it.", "2026-11-28T14:05:00+00:00|4711"),
        _query("limit", int, f"Rows per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).", 100,
               default=DEFAULT_LIMIT),
        _query("level", str, "Only log entries of this level.", "error", enum=LogEntry.Level.values),
        _query("sync", int, "Only the log entries of this sync (its id).", 4711),
        _query("since", OpenApiTypes.DATETIME, "Entries at or after this time (ISO 8601 with its offset).",
               "2026-11-28T00:00:00+01:00"),
        _query("until", OpenApiTypes.DATETIME, "Entries before this time (ISO 8601 with its offset).",
               "2026-11-29T00:00:00+01:00"),
        _query("start", OpenApiTypes.DATE, "The period's first day (YYYY-MM-DD), with `days` or `end`.",
               "2026-11-01"),
        _query("end", OpenApiTypes.DATE, "The period's last day (YYYY-MM-DD), with `days` or `start`; not both "
               "(give two of start, end and days).", "2026-11-28"),
        _query("days", int, f"The period's length in days, 1 to {MAX_DAYS}, with `start` or `end` (alone: the "
               "days ending today).", 7, 31),
    ]
}  # fmt: skip
# The Logs tab's own meaning of some.
LOG_PARAMETERS = {
    "q": _query("q", str, "Text in the message, or the user who acted (exact).", "Retried", "alice"),
    "mapping": _query("mapping", int, "Only the log entries of this mapping (its id).", 3),
}
METRICS_PARAMETERS = {"mapping": _query("mapping", int, "Only this mapping's synchronizations (its id).", 3)}


class ProblemAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, adding the problem answers of PROBLEMS (and
    WRITE_PROBLEMS for a POST) to every operation that does not describe them, and
    documenting each query parameter the view takes (its ``query_parameters`` for
    the action; ``parameter_docs`` for a view's own meaning of one) from
    QUERY_PARAMETERS, with a description and examples."""

    def get_override_parameters(self) -> list:
        """extend_schema's parameters, then the view's query parameters (which win)."""
        taken = getattr(self.view, "query_parameters", {}).get(getattr(self.view, "action", None), ())
        documented = {**QUERY_PARAMETERS, **getattr(self.view, "parameter_docs", {})}
        return [*super().get_override_parameters(), *(documented[name] for name in taken)]

    def _resolve_path_parameters(self, variables) -> list[dict]:
        """An object's id in a path is a positive integer (the routes take any text
        so that one that is not an id is a 404 problem, not Django's HTML page)."""
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["name"] == "id":
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = "The object's id (as the list's `id` gives it)."
                parameter["example"] = 3
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


def canonical_paths(endpoints: list[tuple], **kwargs) -> list[tuple]:
    """SPECTACULAR_SETTINGS' preprocessing hook: the endpoints at their canonical
    path (with the trailing slash), not the slash-less twins (api/urls.py
    slash_optional) that answer the same."""
    return [endpoint for endpoint in endpoints if endpoint[0].endswith("/")]


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
