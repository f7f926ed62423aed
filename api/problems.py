"""Every error of the API as an RFC 9457 problem details object
(``application/problem+json``): ``type``, ``title``, ``status``, ``detail``,
``instance``, and two extension members: ``code`` (DRF's error code, e.g.
"invalid", "not_authenticated", "throttled", "action_refused") and, for invalid
input, ``errors``, one per fault, naming the query ``parameter`` or the body
member (``pointer``, a JSON Pointer as RFC 9457 §3 shows) at fault."""

from http import HTTPStatus

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
        f"{'parameter' if 'parameter' in e else 'member'} '{e.get('parameter') or e['pointer'][2:]}': {e['detail']}"
        if "parameter" in e or "pointer" in e
        else e["detail"]
        for e in errors
    ]
    return "Invalid " + ("query " if as_parameters else "") + "input. " + " ".join(named), errors


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: DRF's own answer (status and headers such as
    WWW-Authenticate and Retry-After, Http404 and PermissionDenied included) with
    its body turned into a problem. Anything else is left to raise: bad input is
    caught where it is read, so an unexpected exception is a bug to see, not to
    dress as a problem."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    instance = request.get_full_path() if request is not None else ""
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
