"""The engine's error types. Connectors translate whatever their tracker does into
one of these; the engine decides from the type what happens to the sync."""


class SyncError(Exception):
    """Base of the engine's errors. ``detail`` carries a response body or similar."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class TransientError(SyncError):
    """Worth trying again later: connection refused, timeout, rate limit, HTTP 5xx.
    The sync goes back to pending with a backoff, up to the attempt limit."""


class ConflictError(TransientError):
    """The artifact changed between our read and our write. Nothing was overwritten;
    processing again reads the new version."""


class PermanentError(SyncError):
    """Will fail again until someone changes something: validation, an unmappable
    value, HTTP 4xx. The sync goes to the error queue at once."""


class UnmappableValue(PermanentError):
    def __init__(self, *, field: str, target: str, value, mapping: str):
        super().__init__(
            f"Field '{field}' value {value!r} has no mapping to '{target}' in mapping '{mapping}'",
            "Add the value to the rule's value map (or give the rule a default) in the mapping, then Retry.",
        )
        self.field = field
        self.value = value
