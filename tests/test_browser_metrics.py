"""The Metrics tab in a real browser: both charts drawn, Total/Created, the Grouped
tab, and a change of period."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from metrics import rollup
from tests import factories
from tests.test_browser_frame import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def chart_values(page, canvas_id):
    """The values of the chart's visible dataset, as Chart.js holds them."""
    return page.evaluate(
        """(id) => {
            const chart = Chart.getChart(document.getElementById(id));
            if (!chart) return null;
            const visible = chart.data.datasets.find((d) => !d.hidden);
            return {label: visible.label, values: visible.data.map((p) => (typeof p === "object" ? p.v : p))};
        }""",
        canvas_id,
    )


@pytest.fixture
def events(viewer):
    mapping = factories.mapping()
    now = timezone.now()
    for days_ago, kind in [(1, "created"), (1, "updated"), (2, "updated"), (3, "created"), (40, "updated")]:
        rollup.record(mapping_id=mapping.pk, kind=kind, sync_id=None, when=now - timedelta(days=days_ago))


def test_metrics_charts_tabs_and_period(page, live_server, events):
    log_in(page, live_server, "viewer")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Metrics").click()
    expect(page.get_by_test_id("current-all-synchronizations")).to_have_text("4")
    # Chart.js may not be loaded yet: the predicate must not throw (that fails at once).
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('daily-chart'))")
    daily = chart_values(page, "daily-chart")
    assert daily["label"] == "Total" and sum(daily["values"]) == 4 and len(daily["values"]) == 31
    measure = page.get_by_role("group", name="Measure")
    measure.get_by_text("Created").click()
    assert sum(chart_values(page, "daily-chart")["values"]) == 2
    assert chart_values(page, "daily-chart")["label"] == "Created"

    page.get_by_role("tab", name="Grouped").click()
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('grouped-chart'))")
    expect(page.locator("#grouped-chart")).to_be_visible()
    assert sum(chart_values(page, "grouped-chart")["values"]) == 2
    measure.get_by_text("Total").click()
    assert sum(chart_values(page, "grouped-chart")["values"]) == 4

    # Changing the length moves the end date; changing the start does too.
    today = timezone.localdate()
    page.get_by_label("Length (days)").fill("90")
    later = today - timedelta(days=30) + timedelta(days=89)
    expect(page.get_by_label("End date")).to_have_value(later.isoformat())
    page.get_by_label("Start date").fill((today - timedelta(days=89)).isoformat())
    page.get_by_label("Start date").dispatch_event("change")
    expect(page.get_by_label("End date")).to_have_value(today.isoformat())
    # A 90-day period also holds the event of 40 days ago.
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("current-all-synchronizations")).to_have_text("5")
