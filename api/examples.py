"""Examples of the API's answers, for the OpenAPI schema (each 2xx answer of
each operation has one; tests/test_api_docs.py checks it)."""

from drf_spectacular.utils import OpenApiExample

BASE = "https://sync.example.com/sync"

SYNC = {
    "id": 4711,
    "url": f"{BASE}/api/v1/syncs/4711/",
    "status": "error",
    "mapping": {"id": 3, "name": "Web ↔ QA"},
    "left": {"key": "WEB-12", "url": "https://redmine.example.com/issues/12"},
    "right": {"key": "QA-7", "url": "https://roundup.example.com/issue7"},
    "title": "Login page times out",
    "last_processed_at": "2026-11-28T14:05:00Z",
    "error_message": "Connection to QA timed out after 30 s",
    "error_at": "2026-11-28T14:05:00Z",
    "retry_count": 2,
}
SYNC_DETAIL = {
    **SYNC,
    "error_detail": "httpx.ConnectTimeout: timed out",
    "error_context": {},
    "attempts": 3,
    "next_retry_at": "2026-11-28T14:35:00Z",
    "ignore_changes": False,
    "created_at": "2026-09-01T08:00:00Z",
    "updated_at": "2026-11-28T14:05:00Z",
    "log": f"{BASE}/api/v1/syncs/4711/log/",
    "console_url": f"{BASE}/syncs/4711/",
}
LOG_ENTRY = {
    "id": 90210,
    "timestamp": "2026-11-28T14:05:00Z",
    "level": "error",
    "message": "Processing failed: Connection to QA timed out after 30 s",
    "detail": "httpx.ConnectTimeout: timed out",
    "actor": "",
    "sync": 4711,
    "mapping": 3,
    "operation": None,
}
COUNTS = {"ok": 9000, "pending": 200, "processing": 10, "error": 600, "ignored": 190}
OPERATION = {
    "id": 52,
    "url": f"{BASE}/api/v1/operations/52/",
    "console_url": f"{BASE}/operations/52/",
    "action": "retry",
    "action_label": "Retry",
    "state": "running",
    "source": "api",
    "requested_by": "alice",
    "requested_at": "2026-11-28T14:10:00Z",
    "total": 600,
    "done": 240,
    "skipped": 0,
    "progress_percent": 40,
    "finished_at": None,
    "error": "",
    "filter_params": {"status": "error", "mapping": "3"},
    "max_sync_id": 9876,
    "unknown_ids": [],
}
REPOSITORY_REF = {"id": 1, "name": "Redmine", "kind": "redmine", "healthy": True}
MAPPING = {
    "id": 3,
    "name": "Web ↔ QA",
    "enabled": True,
    "left": REPOSITORY_REF,
    "left_scope": "web",
    "right": {"id": 2, "name": "Roundup", "kind": "roundup", "healthy": True},
    "right_scope": "qa",
    "conflict_policy": "newest",
    "detection_interval": 60,
    "last_detection_at": "2026-11-28T14:09:00Z",
    "last_detection_error": "",
    "paused_reason": "",
    "counts": COUNTS,
}
REPOSITORY = {
    "id": 1,
    "name": "Redmine",
    "kind": "redmine",
    "base_url": "https://redmine.example.com",
    "enabled": True,
    "healthy": True,
    "unhealthy_since": None,
    "last_success_at": "2026-11-28T14:09:00Z",
    "last_failure_at": "2026-11-27T03:00:00Z",
    "last_failure": "502 Bad Gateway",
}
DASHBOARD = {
    "now": "2026-11-28T14:10:00Z",
    "status_counts": COUNTS,
    "errors_24h": 120,
    "throughput": {"hour": 340, "day": 8200},
    "queue": {"waiting": 4, "workers": {"celery@web1": 1.2}, "error": "", "pending": 200},
    "top_errors": [{"pattern": "Connection to QA timed out after <n> s", "count": 410}],
    "latest_errors": [
        {
            "id": 4711,
            "mapping": "Web ↔ QA",
            "left_key": "WEB-12",
            "right_key": "QA-7",
            "title": "Login page times out",
            "error_message": "Connection to QA timed out after 30 s",
            "error_at": "2026-11-28T14:05:00Z",
        }
    ],
    "latest_operations": [OPERATION],
    "mappings_in_trouble": [{"id": 3, "name": "Web ↔ QA", "errors": 600, "detection_error": "", "paused": ""}],
    "alerts": {
        "firing": [
            {
                "id": 8,
                "title": "Web ↔ QA: 50 syncs went into error in 10 minutes",
                "detail": "",
                "rule": "Errors per mapping",
                "key": "mapping:3",
                "value": 50.0,
                "started_at": "2026-11-28T13:58:00Z",
                "fired_at": "2026-11-28T13:59:00Z",
                "link": f"{BASE}/syncs/?status=error&mapping=3",
            }
        ],
        "more": False,
        "failing_rules": [],
        "history_url": f"{BASE}/alerts/",
    },
}
METRICS = {
    "period": {"start": "2026-11-22", "end": "2026-11-28", "days": 7},
    "previous": {"start": "2026-11-15", "end": "2026-11-21", "days": 7},
    "mapping": None,
    "totals": [
        {"name": "Created", "current": 120, "previous": 100, "change": 20.0},
        {"name": "Updated", "current": 880, "previous": 900, "change": -2.2},
        {"name": "All synchronizations", "current": 1000, "previous": 1000, "change": 0.0},
    ],
    "daily": [{"date": "2026-11-28", "created": 20, "updated": 130, "total": 150}],
    "grouped": [{"weekday": 6, "hour": 14, "created": 3, "updated": 12, "total": 15}],
}
DRY_RUN = {"action": "retry", "count": 600, "unknown_ids": [], "max_id": 9876, "confirmation_in_console": True}
ACCEPTED = {"operation": {**OPERATION, "state": "queued", "done": 0, "progress_percent": 0}, "url": OPERATION["url"],
            "queued": True}  # fmt: skip


def example(summary: str, value) -> list[OpenApiExample]:
    """One answer example, for ``OpenApiResponse(examples=...)``."""
    return [OpenApiExample(summary, value=value, response_only=True)]
