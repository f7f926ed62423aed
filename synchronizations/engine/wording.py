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


def detection_failed(error: str) -> str:
    return f"Change detection failed: {error}"


def nothing_to_carry() -> str:
    return "No changes to carry over."


def already_matches(key: str, source: str) -> str:
    """``source`` is an origin()."""
    return f"{key} already matches {source}; nothing written."


def created(key: str, repository: str, source: str) -> str:
    """``source`` is an origin()."""
    return f"Created {key} in '{repository}' from {source}."


def updated(key: str, repository: str, source: str, fields: list[str]) -> str:
    """``source`` is an origin(); ``fields`` the names written, listed sorted."""
    return f"Updated {key} in '{repository}' from {source}: {', '.join(sorted(fields))}."


def conflict(left_key: str, right_key: str, policy: str, chosen_key: str, side: str) -> str:
    return (
        f"Both {left_key} and {right_key} changed since the last sync; conflict policy "
        f"'{policy}' chose {chosen_key} ({side} side)."
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
