"""Every error of the API as an RFC 9457 problem details object
(``application/problem+json``): ``type``, ``title``, ``status``, ``detail``,
``instance``, and two extension members: ``code`` (DRF's error code, e.g.
"invalid", "not_authenticated", "throttled", "action_refused") and, for invalid
input, ``errors``, one per fault, naming the query ``parameter`` or the body
member (``pointer``, a JSON Pointer as RFC 9457 §3 shows) at fault."""

import re
from http import HTTPStatus
from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

MEDIA_TYPE = "application/problem+json"


class InvalidParameters(exceptions.ValidationError):
    """Query parameters that are not valid: ``detail`` is {parameter: [messages]}.
    Answered 400, each fault naming its ``parameter``."""


class ActionRefused(exceptions.APIException):
    """An action that breaks a rule (synchronizations.operations.ActionRefused):
    nothing was changed. 409: the syncs' current state forbids it."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "action_refused"


class BodyTooLarge(exceptions.APIException):
    """A request body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django's RequestDataTooBig). 413."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is larger than the server accepts."


# What never goes back into an answer: anything shaped like an API token, and the
# value of a query parameter named like a secret.
TOKEN_SHAPED = re.compile(r"swt_[A-Za-z0-9_\-]+")
SECRET_NAME = re.compile(r"token|key|secret|passw|auth|credential|session|csrf", re.IGNORECASE)
MASK = "[removed]"


def shown_path(request: HttpRequest) -> str:
    """The request's path and query, for a problem's ``instance``, with every value
    that may be a secret replaced by "[removed]": anything like a token
    (``swt_…``) and the values of parameters named like token, key, secret or
    password."""
    path = TOKEN_SHAPED.sub(MASK, request.path)
    query = request.META.get("QUERY_STRING", "")
    if not query:
        return path
    pairs = [
        (TOKEN_SHAPED.sub(MASK, name), MASK if SECRET_NAME.search(name) else TOKEN_SHAPED.sub(MASK, value))
        for name, value in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{path}?{urlencode(pairs, safe='[]/:,')}"


def problem_response(request: HttpRequest, status_code: int, detail: str, *, code: str, **extra) -> JsonResponse:
    """A problem details answer made outside DRF's views (Django's error views,
    the catch-all route, the Prometheus endpoint)."""
    body = problem(status_code, detail, code=code, instance=shown_path(request), **extra)
    return JsonResponse(body, status=status_code, content_type=MEDIA_TYPE, json_dumps_params={"ensure_ascii": False})


def _faults(detail, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """(path, message) of every message in a ValidationError's nested detail."""
    if isinstance(detail, dict):
        return [fault for key, value in detail.items() for fault in _faults(value, (*path, str(key)))]
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [(path, str(item)) for item in detail]
        return [fault for index, value in enumerate(detail) for fault in _faults(value, (*path, str(index)))]
    return [(path, str(detail))]


def _pointer(path: tuple[str, ...]) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in path)


def problem(status_code: int, detail: str, *, code: str, instance: str = "", errors: list | None = None, **extra):
    """The problem details object (a dict) for ``status_code``."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return body | extra


def _validation(exc: exceptions.ValidationError) -> tuple[str, list[dict]]:
    as_parameters = isinstance(exc, InvalidParameters)
    errors = []
    for path, message in _faults(exc.detail):
        if not path or path == ("non_field_errors",):
            errors.append({"detail": message})
        elif as_parameters:
            errors.append({"parameter": ".".join(path), "detail": message})
        else:
            errors.append({"pointer": _pointer(path), "detail": message})
    named = [
        f"parameter '{e['parameter']}': {e['detail']}"
        if "parameter" in e
        else f"member '{e['pointer'][2:]}': {e['detail']}"
        if "pointer" in e
        else e["detail"]
        for e in errors
    ]
    return "Invalid " + ("query " if as_parameters else "") + "input. " + " ".join(named), errors


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: DRF's own answer (status and headers such as
    WWW-Authenticate and Retry-After, Http404 and PermissionDenied included) with
    its body turned into a problem. Anything else is left to raise: bad input is
    caught where it is read, so an unexpected exception is a bug to see, not to
    dress as a problem (Django's handler500 then answers a 500 problem,
    api.problems.server_error). A body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413."""
    if isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    instance = shown_path(request) if request is not None else ""
    if isinstance(exc, exceptions.ValidationError):
        detail, errors = _validation(exc)
        body = problem(response.status_code, detail, code="invalid", instance=instance, errors=errors)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        message = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = problem(response.status_code, str(message), code=code, instance=instance)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            body["retry_after"] = int(exc.wait)
    response.data = body
    response.content_type = MEDIA_TYPE
    return response


# --- Django's error views: problems under /sync/api/, the console's pages elsewhere --

API_PREFIX = "/sync/api/"
# The console's own pages under /sync/api/ (HTML for a browser): their errors are pages too.
CONSOLE_PAGES = ("/sync/api/tokens/", "/sync/api/docs/")


def is_api_path(request: HttpRequest) -> bool:
    """Whether ``request`` is for the API's part of the site, where every answer
    is JSON: /sync/api/ but the API tokens page and the documentation page."""
    path = request.path
    in_api = path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")
    return in_api and not path.startswith(CONSOLE_PAGES)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    """handler404: a 404 problem under /sync/api/, Django's page elsewhere."""
    if is_api_path(request):
        return problem_response(request, 404, "No such path in the API (see /sync/api/schema/).", code="not_found")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a 500 problem under /sync/api/ (the error is logged, never
    shown), Django's page elsewhere."""
    if is_api_path(request):
        return problem_response(request, 500, "The server failed to answer; the error is logged.", code="error")
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    """handler400: a 400 problem under /sync/api/ (a request refused before any
    view, e.g. a malformed one), Django's page elsewhere."""
    if is_api_path(request):
        return problem_response(request, 400, "The request cannot be read.", code="invalid")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    """handler403: a 403 problem under /sync/api/, the console's page elsewhere."""
    if is_api_path(request):
        return problem_response(request, 403, "You may not do this.", code="permission_denied")
    return defaults.permission_denied(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a 403 problem under /sync/api/, Django's page elsewhere."""
    if is_api_path(request):
        return problem_response(request, 403, f"CSRF Failed: {reason}", code="permission_denied")
    return csrf.csrf_failure(request, reason)
