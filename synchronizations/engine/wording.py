"""What the engine writes into the operators' log, in one place. The engine, the
operations and the demo's made-up history all take their sentences from here, so
that a change of wording cannot make the demo tell a different story than the
engine does. Each function returns one log message (a str)."""


def origin(key: str, repository: str) -> str:
    """An artifact and where it lives: ``WEB-12 in 'Jira · Web shop'``."""
    return f"{key} in '{repository}'"


def new_artifact(key: str, mapping: str) -> str:
    return f"New artifact {key} in scope of '{mapping}': sync created."


def change_detected(key: str) -> str:
    return f"Change detected on {key}."


def linked_elsewhere(key: str, mapping: str, count: int) -> str:
    """``key``: the first of ``count`` artifacts skipped; ``mapping``: the one whose sync holds it."""
    return (
        f"{count} artifact(s) in scope already belong to a sync elsewhere and were not taken as new, such as "
        f"{key} (held by mapping '{mapping}'): the scopes of two mapping sides overlap; give each its own."
    )


def detection_failed(error: str) -> str:
    return f"Change detection failed: {error}"


def nothing_to_carry() -> str:
    return "No changes to carry over."


def created(key: str, repository: str, source: str) -> str:
    """``source`` is an origin()."""
    return f"Created {key} in '{repository}' from {source}."


def updated(key: str, repository: str, source: str, fields: list[str]) -> str:
    """``source`` is an origin(); ``fields`` the names written, listed sorted."""
    return f"Updated {key} in '{repository}' from {source}: {', '.join(sorted(fields))}."


def field_conflict(
    left_field: str, right_field: str, left_key: str, left_value, right_key: str, right_value, winner, how: str
) -> str:
    """Both sides changed one field to values that do not agree. ``winner``: the side
    whose value was kept (None: left for an operator); ``how``: what chose it (the
    policy's label, or "operator's choice")."""
    fields = left_field if left_field == right_field else f"{left_field} ↔ {right_field}"
    both = f"{left_key} has {left_value!r}, {right_key} has {right_value!r}"
    if winner is None:
        return f"Conflict on {fields}: {both}; nothing written, an operator chooses the side."
    kept = left_value if winner == "left" else right_value
    return f"Conflict on {fields}: {both}; {how}: kept the {winner} side's {kept!r}."


def conflicts_left(fields: list[str]) -> str:
    """The error message of a sync whose conflicts wait for an operator."""
    return f"Conflict: {', '.join(fields)} changed on both sides; choose a side per field"


def one_way_restored(name: str, key: str, edited, restored, source_repository: str) -> str:
    return (
        f"{name} of {key} was edited to {edited!r}, but it is synced one way from '{source_repository}': "
        f"set back to {restored!r}."
    )


def deleted(key: str, repository: str) -> str:
    """The error message of a sync whose artifact is gone: its own error kind."""
    return f"{key} was deleted in '{repository}' (or our account can no longer see it)"


def both_deleted(left_key: str, left_repository: str, right_key: str, right_repository: str) -> str:
    """The error of a sync both of whose artifacts are gone."""
    return (
        f"{left_key} was deleted in '{left_repository}' and {right_key} in '{right_repository}' "
        "(or our account can no longer see them)"
    )


def conflict_resolved(actor: str, choices: str) -> str:
    return f"Conflict resolved by {actor}: {choices}; processing again."


def recreate_requested(actor: str, key: str, repository: str) -> str:
    return f"Recreate requested by {actor}: {key} in '{repository}' is to be created again from the other side."


def unlinked(actor: str, key: str, repository: str) -> str:
    return (
        f"Unlinked by {actor}: {key} was deleted in '{repository}'; the other artifact is no longer synced "
        "(Retry links it again by creating a new counterpart)."
    )


def changed_while_processing() -> str:
    return "Changed again while being processed; queued once more."


def attempt_failed(attempt: int, limit: int, error: str, delay_seconds: float) -> str:
    return f"Attempt {attempt} of {limit} failed: {error}. Next attempt in {delay_seconds:.0f} s."


def gave_up(error: str, attempts: int) -> str:
    return f"{error} (gave up after {attempts} attempts)"


def processing_failed(error: str) -> str:
    return f"Processing failed: {error}"


def processing_lost(timeout_seconds: float, attempt: int, limit: int, delay_seconds: float) -> str:
    return (
        f"Processing was lost (its worker stopped or did not finish within {timeout_seconds:.0f} s): "
        f"attempt {attempt} of {limit}. Next attempt in {delay_seconds:.0f} s."
    )


def processing_lost_gave_up(lost: int, attempts: int) -> str:
    """The error of a sync the reaper gives up on: its processing was lost ``lost``
    times, and ``attempts`` attempts (lost or failed) were made in all."""
    times = "once" if lost == 1 else f"{lost} times"
    return (
        f"Processing was lost {times} (its worker stopped or exceeded the processing timeout); "
        f"gave up after {attempts} attempts."
    )


def reprocess_requested(actor: str) -> str:
    return f"Processing of all artifacts requested by {actor}."


def rescan_requested(actor: str) -> str:
    return f"Full rescan requested by {actor}: change detection reads both sides from the start."


def full_scan_due(hours: int) -> str:
    return f"Periodic full rescan (every {hours} h) requested: change detection reads both sides from the start."


def retry_requested(actor: str) -> str:
    return f"Retry requested by {actor}."


def error_cleared(actor: str, *, ignore_changes: bool) -> str:
    return f"Error cleared by {actor}" + ("; new changes are ignored." if ignore_changes else ".")


def repository_unhealthy(repository: str, error: str) -> str:
    return (
        f"Repository '{repository}' is unhealthy: {error}. The mapping is paused; it resumes by itself once a "
        "call succeeds (fix the credentials or permissions in the admin, then use Test connection)."
    )


def repository_recovered(repository: str) -> str:
    return f"Repository '{repository}' answers again; the mapping resumed."
