"""Typed readers for settings that come from the environment.

Each helper returns the default when the variable is unset or empty, and raises
``ImproperlyConfigured`` naming the variable when its value cannot be read, so a
typo in a deployment fails at start-up instead of running with a silent default.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from syncweb.inputs import parse_float, parse_int

LARGEST = 2**63 - 1

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use one of {sorted(_TRUE | _FALSE)}.")


def _env_number(name, default, parse, what: str, minimum, maximum):
    """The variable ``name`` read by ``parse`` (syncweb.inputs), within [minimum,
    maximum] (an unbounded side: what a 64-bit integer holds); ``what`` says what
    it must look like. ImproperlyConfigured naming the variable otherwise."""
    value = _raw(name)
    if value is None:
        return default
    low = -LARGEST if minimum is None else minimum
    high = LARGEST if maximum is None else maximum
    number = parse(value, minimum=-LARGEST, maximum=LARGEST)
    if number is None:
        raise ImproperlyConfigured(f"{name}={value!r} is not {what}.")
    if number < low:
        raise ImproperlyConfigured(f"{name}={number:g} is below the minimum of {low:g}.")
    if number > high:
        raise ImproperlyConfigured(f"{name}={number:g} is above the maximum of {high:g}.")
    return number


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number in ASCII digits (syncweb.inputs.parse_int) within
    [minimum, maximum] (unbounded sides: what a 64-bit integer holds)."""
    return _env_number(name, default, parse_int, "an integer (ASCII digits)", minimum, maximum)


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """A finite decimal number in ASCII (syncweb.inputs.parse_float: no inf, nan or
    exponent) within [minimum, maximum]."""
    return _env_number(name, default, parse_float, "a number (ASCII digits, a point, no exponent)", minimum, maximum)


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blanks around items are dropped, empty items refused."""
    value = _raw(name)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name}={value!r} has an empty item in its comma-separated list.")
    return items


def env_url(name: str, default: str, *, schemes: tuple[str, ...]) -> str:
    """A URL whose scheme must be one of ``schemes`` (e.g. ``("redis", "rediss")``)."""
    value = env_str(name, default)
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in schemes or not rest:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a URL starting with one of: {', '.join(s + '://' for s in schemes)}."
        )
    return value
