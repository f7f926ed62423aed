"""The webhook endpoint: /sync/hooks/<repository id>/. No login and no CSRF token:
the signature or secret token of the delivery is its authentication
(hooks/receive.py). Every answer is JSON: a success as {"status", "detail", ...},
an error as problem details (RFC 9457, as the API's)."""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from api.problems import problem_response
from hooks import receive as receiving
from syncweb.inputs import MAX_ID, parse_int

logger = logging.getLogger(__name__)


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The request's body, or None when it is longer than ``limit`` bytes (said by
    its Content-Length, or found reading at most ``limit`` + 1 bytes: never more is
    read). A Content-Length that is not a number counts as none."""
    declared = parse_int(request.META.get("CONTENT_LENGTH") or "0", minimum=0, maximum=MAX_ID)
    if declared is not None and declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@login_not_required
@csrf_exempt
@never_cache
def receive(request: HttpRequest, repository: str = "") -> JsonResponse:
    """A delivery POSTed by GitHub, GitLab or Jira for the repository whose id is in
    the address. 405 for another method; 413 for a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE (read no further); 503 with Retry-After when the
    database does not answer; the rest is hooks.receive.receive()'s answer."""
    if request.method != "POST":
        response = problem_response(
            request, 405, "Webhook deliveries are POSTed; nothing else is answered here.", code="method_not_allowed"
        )
        response["Allow"] = "POST"
        return response
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = _read_body(request, limit)
    if body is None:
        return problem_response(request, 413, f"The body is larger than {limit:,} bytes.", code="too_large")
    try:
        answer = receiving.receive(parse_int(repository, minimum=1, maximum=MAX_ID), request.headers, body)
    except DatabaseError:
        logger.warning("webhook to repository %r: the database failed", repository, exc_info=True)
        answer = receiving.Answer(
            503, "unavailable", "syncweb's database does not answer: deliver it again later.", retry_after=60
        )
    if answer.status >= 400:
        response = problem_response(request, answer.status, answer.detail, code=answer.code)
    else:
        response = JsonResponse({"status": answer.code, "detail": answer.detail, **answer.data}, status=answer.status)
    if answer.retry_after:
        response["Retry-After"] = str(answer.retry_after)
    return response


@login_not_required
@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other address under /sync/hooks/: a JSON 404."""
    return problem_response(
        request,
        404,
        "Webhooks are delivered to /sync/hooks/<repository id>/: see the repository in syncweb's admin.",
        code="not_found",
    )
