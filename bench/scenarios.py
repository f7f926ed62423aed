"""The page scenarios of BENCH.md, timed through Django's test client: the whole
middleware stack (sessions, authentication, CSRF, messages, axes), as a logged-in
operator (or, for the admin peer, an admin) would fetch them."""

import gc
import resource
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.roles import assign_role
from bench.dataset import HEAVY_SYNC, vacuum
from synchronizations.models import DEFAULT_SYNC_ORDER, LAST_PROCESSED_DESC, SyncCursor, Synchronization

SEARCH_WORD = "tracker"  # in 9 of the 40 error templates
MAPPING = 7


@dataclass
class Page:
    name: str
    url: str
    target_ms: float | None = None
    stat: str = "p95"
    user: str = "operator"
    note: str = ""


def syncs_tab_cursor(rows: int = 10_000) -> str:
    """The Syncs tab's Next cursor after ``rows`` rows in its default order: the
    page a user reaches by pressing Next 200 times (keyset, so as cheap as any)."""
    sync = Synchronization.objects.order_by(LAST_PROCESSED_DESC, "-id")[rows - 1]
    return str(SyncCursor.of(DEFAULT_SYNC_ORDER, sync))


def pages() -> list[Page]:
    today = timezone.localdate()
    start = today - timedelta(days=30)
    period = f"start={start.isoformat()}&end={today.isoformat()}"
    admin = "/sync/admin/synchronizations/synchronization/"
    return [
        Page("syncs_error_page1", "/sync/syncs/?status=error", 100),
        Page("syncs_mapping_status", f"/sync/syncs/?mapping={MAPPING}&status=ok", 100),
        Page("syncs_search", f"/sync/syncs/?q={SEARCH_WORD}", 50),
        Page("syncs_all_page1", "/sync/syncs/", None, note="the baseline of the deep page"),
        Page(
            "syncs_deep_page",
            f"/sync/syncs/?after={quote(syncs_tab_cursor())}",
            None,
            note="rows 10,001-10,050 (keyset)",
        ),
        Page("admin_syncs_error_page1", f"{admin}?status__exact=error", user="admin"),
        Page("admin_syncs_mapping_status", f"{admin}?mapping__id__exact={MAPPING}&status__exact=ok", user="admin"),
        Page("admin_syncs_search", f"{admin}?q={SEARCH_WORD}", user="admin"),
        Page("sync_detail_heavy", f"/sync/syncs/{HEAVY_SYNC}/", 50, note="the sync with the most log entries"),
        Page("metrics_page", f"/sync/metrics/?{period}", 50, note="31 days and the 31 before, all mappings"),
        Page("metrics_daily_data", f"/sync/metrics/daily.json?{period}", 50),
        Page("metrics_grouped_data", f"/sync/metrics/grouped.json?{period}", 50),
        Page("dashboard", "/sync/", 150),
        # The JSON API's lists, held to the Syncs tab's targets.
        Page("api_syncs_error_page1", "/sync/api/v1/syncs/?status=error", 100),
        Page("api_syncs_mapping_status", f"/sync/api/v1/syncs/?mapping={MAPPING}&status=ok", 100),
        Page("api_syncs_search", f"/sync/api/v1/syncs/?q={SEARCH_WORD}", 50),
        Page("api_syncs_all_page1", "/sync/api/v1/syncs/", None, note="the baseline of the API's deep page"),
        Page("api_syncs_deep_page", f"/sync/api/v1/syncs/?cursor={api_cursor()}", None, note="rows 10,001-10,050"),
        Page("api_logs_page1", "/sync/api/v1/logs/", 100),
    ]


def api_cursor(rows: int = 10_000) -> str:
    """The API's cursor after the first ``rows`` syncs of its default order (what
    following ``next`` 200 times gives), URL-encoded: the Syncs tab's own cursor,
    which the API pages by."""
    return quote(syncs_tab_cursor(rows))


def clients() -> dict[str, Client]:
    users = {}
    for role in ("operator", "admin"):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{role}")
        assign_role(user, role)
        client = Client()
        client.force_login(user)
        users[role] = client
    return users


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class QueryCounter:
    """Counts the statements a request runs (CaptureQueriesContext does not survive
    the request_started signal, which empties the query log)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __len__(self) -> int:
        return self.count


def time_page(client: Client, page: Page, runs: int) -> dict:
    # One untimed fetch warms caches and counts the queries.
    queries = QueryCounter()
    with connection.execute_wrapper(queries):
        response = client.get(page.url)
    if response.status_code != 200:
        raise RuntimeError(f"{page.name}: {page.url} answered {response.status_code}")
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(page.url)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    return {
        "name": page.name,
        "url": page.url,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "queries": len(queries),
        "runs": runs,
        "bytes": len(response.content),
    }


def run_pages(runs: int) -> dict:
    vacuum()  # as autovacuum would have after an earlier run's bulk scenario
    gc.collect()
    by_role = clients()
    results = []
    for page in pages():
        result = time_page(by_role[page.user], page, runs)
        result.update({"target_ms": page.target_ms, "stat": page.stat, "note": page.note})
        results.append(result)
        print(f"  {page.name:28} p50 {result['p50_ms']:8.1f} ms  p95 {result['p95_ms']:8.1f} ms  "
              f"{result['queries']:3} queries", flush=True)  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"pages": results, "peak_memory_mb": round(peak_mb, 1)}
