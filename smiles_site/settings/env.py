"""Reading the environment: each variable once, with its default and a check.

Only this module touches os.environ. A variable that is unset (or blank, for numbers and
paths) takes its default; a value that cannot mean anything stops the start with an
ImproperlyConfigured naming the variable.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"", "0", "false", "no", "off"}


def _bad(name: str, value: str, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{name}={value!r} is not valid: expected {expected}.")


def env_str(name: str, default: str = "") -> str:
    """The raw text (set but empty: empty)."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """1/true/yes/on or 0/false/no/off (any case); set but empty: false."""
    value = env_str(name, str(default)).strip().lower()
    if value not in TRUE | FALSE:
        raise _bad(name, value, "true or false (1/0, yes/no, on/off)")
    return value in TRUE


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = env_str(name).strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _bad(name, value, "a whole number") from None
    if minimum is not None and number < minimum:
        raise _bad(name, value, f"a whole number of at least {minimum}")
    return number


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    value = env_str(name).strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise _bad(name, value, "a number (seconds)") from None
    if not number >= minimum:  # also refuses nan
        raise _bad(name, value, f"a number of at least {minimum:g}")
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (any case; unset or blank: the default)."""
    value = env_str(name).strip().lower() or default
    if value not in choices:
        raise _bad(name, value, " or ".join(choices))
    return value


def env_path(name: str, default: Path | None) -> Path | None:
    value = env_str(name)
    return Path(value) if value.strip() else default


def env_list(name: str, default: str = "") -> list[str]:
    """Comma-separated; blank items dropped."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]
