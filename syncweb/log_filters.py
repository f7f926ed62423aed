"""Logging filters of the project's LOGGING (syncweb/settings.py)."""

import logging


class WithoutTraceback(logging.Filter):
    """Keeps a record's message and drops its traceback: for Django's
    ``django.security`` loggers, which log every request with a bad Host header or a
    body over DATA_UPLOAD_MAX_MEMORY_SIZE with the whole traceback of the refusal —
    scanners on the Internet send those all day, and the answer (400) is already
    the whole story."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True
