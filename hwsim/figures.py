"""The output contract: every figure hwsim shows a user is finite and non-negative, checked in one place.

An Estimate's figures are sums and ratios of per-op times, and float arithmetic leaves residue: a
wait computed as start - previous end can come out at -5e-18 s where it is zero. Times below a
femtosecond (FEMTOSECOND; no kernel or launch is that short, by six orders of magnitude) are
therefore zero. Anything else that is negative, NaN or infinite is a fault in hwsim or an input it
failed to refuse, so `check_figures` raises an `InternalError` naming the figure's key and never
printing its value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from hwsim.errors import InternalError

__all__ = ["FEMTOSECOND", "check_figures", "snap_tiny"]

FEMTOSECOND = 1e-15


def snap_tiny(seconds: Mapping[str, float]) -> dict[str, float]:
    """`seconds` with every value whose magnitude is below a femtosecond set to 0.0."""
    return {key: (0.0 if abs(value) < FEMTOSECOND else value) for key, value in seconds.items()}


def _numbers(doc: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            yield from _numbers(value, f"{prefix}{key}.")
    elif isinstance(doc, (list, tuple)):
        for i, value in enumerate(doc):
            yield from _numbers(value, f"{prefix}{i}.")
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        yield prefix.rstrip("."), doc


def check_figures(doc: Mapping[str, Any], what: str) -> None:
    """Raise InternalError naming the first number in `doc` (a JSON-ready document, e.g. an Estimate's
    to_json()) that is NaN, infinite or negative; `what` says whose figures they are."""
    for key, value in _numbers(doc):
        if isinstance(value, float) and not math.isfinite(value):
            raise InternalError(f"{what}: figure {key} is not finite")
        if value < 0:
            raise InternalError(f"{what}: figure {key} is negative")
