"""The one set of value checks: integers, lists of integers, fractions.

Constructors (models, nets, datamodules, callbacks) raise a plain ``ValueError`` that
starts with ``name=value``; ``litexp.config.build`` prefixes the config group
(``model.dropout=1.5 is invalid: ...``). Checks on whole-run keys (``preflight``) pass
``error=ConfigError`` and the full key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def is_int(value: object) -> bool:
    """An integer, and not a bool (YAML's ``true`` is no count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(
    name: str,
    value: object,
    minimum: int = 1,
    *,
    also: tuple[Any, ...] = (),
    error: type[ValueError] = ValueError,
) -> None:
    """Raise ``error`` naming ``name`` unless ``value`` is an int >= ``minimum`` (or in ``also``)."""
    if not isinstance(value, bool) and value in also:
        return
    if not is_int(value) or value < minimum:  # type: ignore[operator]
        extra = "".join(f" or {a!r}" for a in also)
        raise error(f"{name}={value!r} is invalid: must be an integer >= {minimum}{extra}")


def positive_ints(name: str, values: Iterable[Any], hint: str, minimum: int = 1) -> list[int]:
    """``values`` as a list, or a ValueError naming ``name`` (and ``hint``, the fix) unless
    it is non-empty and all are ints >= ``minimum``."""
    values = list(values)
    if not values or any(not is_int(v) or v < minimum for v in values):
        raise ValueError(f"{name}={values!r} is invalid: {hint}")
    return values


def fraction(name: str, value: object, *, allow_zero: bool = True) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a number in [0, 1) (or (0, 1))."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not (0 <= value < 1 if allow_zero else 0 < value < 1):  # type: ignore[operator]
        bound = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name}={value!r} is invalid: must be a fraction in {bound}")
