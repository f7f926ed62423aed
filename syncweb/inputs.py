"""One parser for numbers that come from outside: query strings, forms, cursors,
command options. ``str.isdigit()`` accepts "²" and other Unicode digits that
``int()`` then refuses, and ``int()`` takes any size; this accepts only ASCII digits
and only values within the bounds the caller can handle."""

import argparse
import re

# The largest value a database id (a signed 64-bit integer) holds.
MAX_ID = 2**63 - 1
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Longer text than this cannot be a number we accept (and is not worth converting).
_MAX_CHARS = 25


def parse_int(text: str | None, *, minimum: int, maximum: int) -> int | None:
    """The integer ``text`` spells in ASCII digits (an optional sign, surrounding
    white space allowed), if it lies within [minimum, maximum]; otherwise None.
    Never raises."""
    if text is None:
        return None
    text = text.strip()
    if len(text) > _MAX_CHARS or not _INTEGER.fullmatch(text):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


def parse_id(text: str | None) -> int | None:
    """A database id (1 to MAX_ID) from ``text``, or None."""
    return parse_int(text, minimum=1, maximum=MAX_ID)


def parse_float(text: str | None, *, minimum: float, maximum: float) -> float | None:
    """The finite decimal number ``text`` spells in ASCII (e.g. "2", "0.5", "-3.25";
    no exponent, no "inf" or "nan"), if it lies within [minimum, maximum];
    otherwise None. Never raises."""
    if text is None:
        return None
    text = text.strip()
    if len(text) > _MAX_CHARS or not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if minimum <= value <= maximum else None


_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _option(parse, kind: str, minimum, maximum):
    """An argparse ``type``: ``parse(text, minimum=, maximum=)``, or a usage error
    saying that the value is not a ``kind`` within the range."""

    def option(text: str):
        value = parse(text, minimum=minimum, maximum=maximum)
        if value is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind} from {minimum:g} to {maximum:g}")
        return value

    option.__name__ = kind
    return option


def int_option(minimum: int, maximum: int):
    """An argparse ``type`` for a command option: an ASCII whole number within
    [minimum, maximum], else a clear usage error naming the range."""
    return _option(parse_int, "whole number", minimum, maximum)


def float_option(minimum: float, maximum: float):
    """An argparse ``type`` for a command option: an ASCII decimal number within
    [minimum, maximum], else a clear usage error naming the range."""
    return _option(parse_float, "number", minimum, maximum)
