"""The Dashboard's Alerts card, as an inclusion tag: the Dashboard's own summary
(syncweb/dashboard.py) needs no knowledge of the alerts app."""

from django import template

from alerts.models import dashboard_alerts

register = template.Library()


@register.inclusion_tag("alerts/_dashboard_card.html")
def alerts_card(limit: int = 5) -> dict:
    """The firing alerts (up to ``limit``, longest-standing first), whether more fire,
    and the rules that cannot be evaluated (their alerts are not up to date). Two queries."""
    return dashboard_alerts(limit)
