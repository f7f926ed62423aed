"""The rules every installation starts with (created once, by the data migration
alerts/0002_default_rules): one per kind, with thresholds an operator of a sync
engine would pick, and no channel yet (their alerts show on the Dashboard until an
admin adds a channel to them)."""

# name, kind, threshold (N), window_minutes (M), repeat_minutes
DEFAULT_RULES = [
    ("New kind of error", "new_error_kind", 1, 0, 0),
    ("Errors in a mapping", "mapping_errors", 10, 15, 60),
    ("Repository unhealthy", "repository_unhealthy", 1, 5, 60),
    ("No worker alive", "no_worker", 1, 5, 30),
    ("Backlog", "backlog", 1, 30, 60),
    ("Operation failed", "operation_failed", 1, 60, 0),
]


def create_defaults(rule_model, using: str = "default") -> int:
    """Creates the default rules whose name is free, with ``rule_model`` (the real
    Rule or a migration's historical one). Returns how many were created."""
    created = 0
    for name, kind, threshold, window, repeat in DEFAULT_RULES:
        _, made = rule_model.objects.using(using).get_or_create(
            name=name,
            defaults={"kind": kind, "threshold": threshold, "window_minutes": window, "repeat_minutes": repeat},
        )
        created += made
    return created
