"""Parse and format physical quantities: the only place in hwsim that does unit arithmetic.

Inside Python every quantity is a float in SI base units (s, B, FLOP, B/s, FLOP/s, Hz, W). In YAML
and on the command line every dimensional value is a string with its unit ("989 TFLOP/s",
"3.35 TB/s", "80 GiB", "400 Gb/s", "2 us"). Decimal (kB, MB, GB, TB) and binary (KiB, MiB, GiB, TiB)
byte units are different and never confused; "b" is a bit and "B" a byte. A byte rate may be written
as a bit rate ("400 Gb/s" is 50 GB/s) because network links are quoted that way; a byte count may not.

This module imports nothing from hwsim but hwsim.limits (a parsed quantity is finite and normal):
it raises `QuantityError`, which callers turn into a file-and-key error (see hwsim.errors).
"""

from __future__ import annotations

import math
import re

from hwsim.limits import float_problem

__all__ = [
    "KINDS",
    "QuantityError",
    "describe",
    "format_quantity",
    "parse_quantity",
]

_SI_UP = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_SI_DOWN = {"m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
_BITS_PER_BYTE = 8.0


def _units(bases: dict[str, float], prefixes: dict[str, float]) -> dict[str, float]:
    return {p + b: pf * bf for b, bf in bases.items() for p, pf in prefixes.items()}


# kind -> {unit text: factor to the SI base of that kind}
_TABLE: dict[str, dict[str, float]] = {
    "flop": _units({"FLOP": 1.0}, _SI_UP),
    "flop_rate": _units({"FLOP/s": 1.0, "OP/s": 1.0}, _SI_UP),
    "bytes": _units({"B": 1.0}, _SI_UP | _BINARY),
    "byte_rate": _units({"B/s": 1.0}, _SI_UP | _BINARY) | _units({"b/s": 1.0 / _BITS_PER_BYTE}, _SI_UP),
    "time": _units({"s": 1.0}, {"": 1.0} | _SI_DOWN),
    "frequency": _units({"Hz": 1.0}, _SI_UP),
    "power": _units({"W": 1.0}, _SI_UP | {"m": 1e-3}),
}
KINDS: tuple[str, ...] = tuple(_TABLE)

_EXAMPLES = {
    "flop": ("a FLOP count", "2.5 TFLOP"),
    "flop_rate": ("a compute rate", "989 TFLOP/s"),
    "bytes": ("a size in bytes", "80 GiB"),
    "byte_rate": ("a byte rate", "3.35 TB/s"),
    "time": ("a time", "2 us"),
    "frequency": ("a frequency", "1.98 GHz"),
    "power": ("a power", "700 W"),
}

# What a unit of the wrong kind is, so the hint can say so ("b is a bit", "that is a byte rate").
_UNIT_KIND = {unit: kind for kind, units in _TABLE.items() for unit in units}
_BIT_COUNT = _units({"b": 1.0}, _SI_UP | _BINARY)

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([^\s\d].*?)?\s*$")


class QuantityError(ValueError):
    """A value that is not a quantity of the asked kind; says what was expected and what was got."""

    def __init__(self, *, expected: str, got: str, hint: str = "") -> None:
        self.expected = expected
        self.got = got
        self.hint = hint
        super().__init__(f"expected {expected}, got {got}" + (f" ({hint})" if hint else ""))


def describe(kind: str) -> str:
    """What a value of `kind` looks like, for error messages: 'a byte rate like "3.35 TB/s"'."""
    what, example = _EXAMPLES[kind]
    return f'{what} like "{example}"'


def _shown(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def parse_quantity(value: object, kind: str) -> float:
    """Return `value` ("3.35 TB/s") as a float in the SI base unit of `kind` (B/s).

    Raises QuantityError naming what was expected and what was received, with a hint when the unit
    belongs to another kind, is a bit count where bytes are needed, or is missing.
    """
    if kind not in _TABLE:
        raise KeyError(f"unknown quantity kind {kind!r}; known: {', '.join(KINDS)}")
    expected = describe(kind)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(expected=expected, got=_shown(value), hint="a quantity is a number and a unit")
    if not isinstance(value, str):
        raise QuantityError(expected=expected, got=_shown(value), hint="a bare number has no unit")
    match = _QUANTITY.match(value)
    if match is None:
        raise QuantityError(expected=expected, got=_shown(value), hint="write a number, then its unit")
    number, unit = float(match.group(1)), (match.group(2) or "")
    if not unit:
        raise QuantityError(expected=expected, got=_shown(value), hint="a bare number has no unit")
    factor = _TABLE[kind].get(unit)
    if factor is None:
        raise QuantityError(expected=expected, got=_shown(value), hint=_unit_hint(unit, kind))
    result = number * factor
    problem = float_problem(result)
    if problem:
        raise QuantityError(expected=expected, got=_shown(value), hint=problem)
    return result


def _unit_hint(unit: str, kind: str) -> str:
    if kind == "bytes" and unit in _BIT_COUNT:
        return f'"{unit}" is bits; a size in bytes is written with B, e.g. "80 GB" or "80 GiB"'
    other = _UNIT_KIND.get(unit)
    if other is not None:
        return f'"{unit}" is {_EXAMPLES[other][0]}, not {_EXAMPLES[kind][0]}'
    if unit.upper() != unit and unit.upper() in {u.upper() for u in _TABLE[kind]}:
        near = sorted(u for u in _TABLE[kind] if u.upper() == unit.upper())
        return f'unknown unit "{unit}"; units are case-sensitive, did you mean "{near[0]}"?'
    if unit[:1] == "K" and ("k" + unit[1:]) in _TABLE[kind]:
        return f'unknown unit "{unit}"; write "k{unit[1:]}" (1000) or "Ki{unit[1:]}" (1024)'
    base = sorted({u.lstrip("KkMGTPEmunpµ").removeprefix("i") for u in _TABLE[kind]})
    return f'unknown unit "{unit}"; {_EXAMPLES[kind][0]} uses {", ".join(base)} with a prefix'


def format_quantity(value: float, kind: str, *, binary: bool = False, digits: int = 3) -> str:
    """Format an SI float of `kind` with the largest prefix that keeps the number >= 1.

    `binary=True` uses KiB/MiB/GiB for byte counts and byte rates. `digits` is the number of
    significant digits, trailing zeros dropped: format_quantity(3.35e12, "byte_rate") == "3.35 TB/s".
    """
    base = {
        "flop": "FLOP",
        "flop_rate": "FLOP/s",
        "bytes": "B",
        "byte_rate": "B/s",
        "time": "s",
        "frequency": "Hz",
        "power": "W",
    }[kind]
    if binary and kind in ("bytes", "byte_rate"):
        prefixes = {"": 1.0} | _BINARY
    elif kind == "time":
        prefixes = {"": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
    else:
        prefixes = dict(_SI_UP)
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {base}"
    ordered = sorted(prefixes.items(), key=lambda item: item[1])
    prefix, factor = ordered[0]
    for name, size in ordered:
        if abs(value) >= size:
            prefix, factor = name, size
    return f"{value / factor:.{digits}g} {prefix}{base}"
